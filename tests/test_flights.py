"""One computation per key among concurrent callers, one key at a time, errors shared; and the
latent maps use it, so sessions asking for the same uncached map compute it once."""

import threading
import time

import numpy as np

from core import data, latent
from core.flights import SingleFlight


def run_together(count, target):
    barrier = threading.Barrier(count)
    results = [None] * count

    def one(i):
        barrier.wait()
        try:
            results[i] = target(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_concurrent_callers_of_one_key_share_one_computation_and_see_its_progress():
    flights, calls, seen = SingleFlight(), [], [[] for _ in range(4)]

    def compute(progress):
        calls.append(1)
        for step in range(4):
            progress(step / 4, f"step {step}")
            time.sleep(0.15)
        return object()

    results = run_together(4, lambda i: flights.run("map", compute, lambda f, t: seen[i].append(t),
                                                    poll_seconds=0.05))
    assert len(calls) == 1 and all(r is results[0] for r in results)
    assert all(any(text.startswith("step") for text in texts) for texts in seen)
    assert flights.followers("map") == 0


def test_different_keys_run_one_at_a_time():
    flights, running, overlap = SingleFlight(slots=1), [], []

    def compute(progress):
        running.append(1)
        overlap.append(len(running))
        time.sleep(0.1)
        running.pop()
        return len(overlap)

    results = run_together(3, lambda i: flights.run(f"map-{i}", compute, poll_seconds=0.02))
    assert sorted(results) == [1, 2, 3] and max(overlap) == 1


def test_an_error_reaches_every_caller_and_the_next_call_tries_again():
    flights = SingleFlight()

    def fail(progress):
        time.sleep(0.2)
        raise ValueError("no such map")

    results = run_together(3, lambda i: flights.run("bad", fail, poll_seconds=0.02))
    assert all(isinstance(r, ValueError) and str(r) == "no such map" for r in results)
    assert flights.run("bad", lambda progress: "fine") == "fine"


def test_concurrent_sessions_compute_one_latent_map_once(tmp_path, monkeypatch):
    monkeypatch.setenv("AE_EMBEDDING_DIR", str(tmp_path))
    digits = data.load("mnist", "test")
    computed = []
    real = latent.compute_map

    def counting(*args, **kwargs):
        computed.append(1)
        time.sleep(0.3)  # long enough for the other callers to arrive while it runs
        return real(*args, **kwargs)

    monkeypatch.setattr(latent, "compute_map", counting)
    results = run_together(4, lambda i: latent.get_map(latent.PIXELS, None, None, digits, "pca", 500))
    assert len(computed) == 1
    assert all(np.array_equal(r.coords, results[0].coords) for r in results)
    assert len(list(tmp_path.glob("*.npz"))) == 1
