"""A classroom presses Train at the same moment: 30 visitors through nginx, two replicas, a local Ray cluster.

    python -m bench.bench_classroom                    # 30 visitors, dense, 1 epoch of 5,000 digits each
    python -m bench.bench_classroom --visitors 10 --model conv --epochs 1

Starts deploy/run_loopback.sh (a Ray head of --cpus CPUs, two Streamlit replicas sharing a
checkpoint folder, nginx in front) inside a network namespace of its own, as the tests do: Ray
binds to the machine's network address, and this stays on loopback. Each visitor is a websocket
session of bench/load_probe.py: it opens the Train page, picks the run, and all press Train when one
event fires; each then reruns its page every 1.5 s, as the page's live fragment does, until the
result shows. Prints:
- refused: visitors whose Train was refused (the queue's bound is AE_TRAIN_WAITING_PER_CPU x the
  cluster's CPUs; --waiting-per-cpu sets it so that a classroom fits);
- arrival order: whether the runs started training in the order the job table received them;
- finished: runs that ended with their result;
- page runs on the replicas while they train: p50 / p95 seconds (goal p95 <= 1 s);
- each replica's CPU seconds and peak memory over the benchmark (training runs on the cluster, not there);
- CPU seconds per run (from the cluster's clocks: training plus loading and the test-split measure),
  and what that gives on a larger cluster: the last of N runs waits about ceil(N / slots - 1) run times.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.app_server import PROJECT, healthy

NGINX_PORT, REPLICA_PORTS = 8600, (8601, 8602)
RAY_CLIENT_PORT = 20001


def in_own_network() -> bool:
    """True when loopback is this process's only network interface (inside `unshare -n`)."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def wait_healthy(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not healthy(url):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {seconds:g} s")
        time.sleep(0.5)


def start_deployment(folder: Path, checkpoints: Path, cpus: int, waiting_per_cpu: int) -> tuple[subprocess.Popen, dict]:
    """deploy/run_loopback.sh; returns it and {replica port: pid} once nginx and both replicas answer."""
    env = {**os.environ, "AE_CHECKPOINT_DIR": str(checkpoints), "AE_NGINX_PORT": str(NGINX_PORT),
           "AE_REPLICA_PORTS": " ".join(map(str, REPLICA_PORTS)), "AE_RAY_CPUS": str(cpus),
           "AE_TRAIN_WAITING_PER_CPU": str(waiting_per_cpu), "OMP_WAIT_POLICY": "PASSIVE", "AE_WARM_UP": "1"}
    with open(folder / "deploy.log", "wb") as log:  # the child keeps its own copy of the file
        process = subprocess.Popen(["bash", "deploy/run_loopback.sh", str(folder)], cwd=PROJECT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    for port in REPLICA_PORTS:
        wait_healthy(f"http://127.0.0.1:{port}", 300)
    wait_healthy(f"http://127.0.0.1:{NGINX_PORT}", 60)
    log = (folder / "deploy.log").read_text()
    return process, {int(port): int(pid) for pid, port in re.findall(r"replica (\d+) on 127\.0\.0\.1:(\d+)", log)}


def stop_deployment(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


async def wait_trainable(url: str, seconds: float = 300) -> None:
    """Until the Train page at `url` offers Train: its replica has reached the Ray cluster."""
    from bench import load_probe

    deadline = time.monotonic() + seconds
    while True:
        try:
            async with load_probe.Session(url, run_timeout=60) as session:
                await session.open("Train")
            return
        except load_probe.ProbeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(3)


async def classroom(url: str, visitors: int, model: str, epochs: int, digits: str, replicas: dict) -> dict:
    """The visitors set up their runs, press Train together, and follow them to the end."""
    from bench import load_probe

    go, runs = asyncio.Event(), []
    for port in replicas:
        await wait_trainable(f"http://127.0.0.1:{port}")

    async def visitor():
        async with load_probe.Session(url, run_timeout=60) as session:
            ready = await load_probe.prepare_training(session, model, epochs, digits=digits)
            await go.wait()
            started = await load_probe.press(session, ready, "trn_start", "train")
            pressed = time.perf_counter()
            trained = load_probe.TrainedRun(model)
            try:
                await load_probe.follow_run(session, started, trained, runs, 1.5, 3600)
            except load_probe.ProbeError as exc:
                return {"refused": "queue" in str(exc) or "already have a run" in str(exc), "error": str(exc)}
            return {"job": trained.job_id, "position": trained.position, "seconds": trained.done_at - pressed}

    tasks = [asyncio.create_task(visitor()) for _ in range(visitors)]
    await asyncio.sleep(20)  # every visitor has the Train page open with its settings
    cpu_before = {port: load_probe.process_cpu_seconds(pid) for port, pid in replicas.items()}
    peak = {port: {} for port in replicas}
    samplers = [asyncio.create_task(load_probe.sample_peak_rss(pid, peak[port])) for port, pid in replicas.items()]
    go.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    for sampler in samplers:
        sampler.cancel()
    cpu = {port: load_probe.process_cpu_seconds(pid) - cpu_before[port] for port, pid in replicas.items()}
    return {"outcomes": outcomes, "runs": runs, "cpu": cpu, "peak": {p: v.get("peak") for p, v in peak.items()}}


def cluster_timings(job_ids: list[str]) -> list[tuple[float, float, float]]:
    """(arrived, took a training slot, finished) of each run, from the cluster's job table."""
    from core import jobs, ray_jobs

    backend = ray_jobs.use_cluster(f"ray://127.0.0.1:{RAY_CLIENT_PORT}", jobs.JobLimits())
    deadline = time.monotonic() + 120
    while backend.unavailable() is not None:
        if time.monotonic() > deadline:
            raise RuntimeError("the job table did not answer")
        time.sleep(1)
    rows = []
    for job_id in job_ids:
        job = jobs.get(job_id)
        if job is not None and job.finished is not None:
            rows.append((job.started, job.slot_taken, job.finished))
    backend.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visitors", type=int, default=30)
    parser.add_argument("--model", default="dense")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--digits", default="5,000", help="the Train page's 'Training digits' choice")
    parser.add_argument("--cpus", type=int, default=2, help="the local Ray head's CPUs (training slots)")
    parser.add_argument("--waiting-per-cpu", type=int, default=15,
                        help="AE_TRAIN_WAITING_PER_CPU: the queue's bound per cluster CPU")
    parser.add_argument("--cluster", default="4x16", help="a cluster to extrapolate to: MACHINESxCORES")
    args = parser.parse_args(argv)
    if not in_own_network():  # Ray binds to the machine's address: run in a namespace where loopback is all
        if os.environ.get("AE_BENCH_NETNS") == "1":
            raise SystemExit("unshare -n gave a namespace with more than loopback; not running")
        command = f"ip link set lo up && exec {sys.executable} -m bench.bench_classroom {' '.join(sys.argv[1:])}"
        return subprocess.run(["unshare", "-n", "sh", "-c", command], cwd=PROJECT, check=False,
                              env={**os.environ, "RAY_AUTH_MODE": "disabled", "AE_BENCH_NETNS": "1"}).returncode

    folder = Path(tempfile.mkdtemp(prefix="aebench", dir="/tmp"))
    checkpoints = folder / "checkpoints"
    checkpoints.mkdir()
    for path in (PROJECT / "checkpoints").glob("*.safetensors"):
        shutil.copy(path, checkpoints)
    process, replicas = start_deployment(folder, checkpoints, args.cpus, args.waiting_per_cpu)
    try:
        result = asyncio.run(classroom(f"http://127.0.0.1:{NGINX_PORT}", args.visitors, args.model, args.epochs,
                                       args.digits, replicas))
        outcomes = result["outcomes"]
        done = [o for o in outcomes if isinstance(o, dict) and "job" in o]
        refused = [o for o in outcomes if isinstance(o, dict) and o.get("refused")]
        failed = [o for o in outcomes if not (isinstance(o, dict) and "job" in o)]
        timings = cluster_timings([o["job"] for o in done])
    finally:
        stop_deployment(process)

    print(f"{args.visitors} visitors pressed Train at once ({args.model}, {args.epochs} epoch(s), {args.digits} "
          f"digits) through nginx, 2 replicas, a Ray head of {args.cpus} CPUs "
          f"(queue bound {args.waiting_per_cpu} per CPU)")
    print(f"refused: {len(refused)}   finished: {len(done)} of {args.visitors}   other failures: "
          f"{len(failed) - len(refused)}")
    for outcome in failed[:3]:
        print("  e.g.", outcome if not isinstance(outcome, dict) else outcome.get("error"))
    by_arrival = sorted(timings)
    # a slot's time is taken just after the table's lock is left: two freed at once may swap by microseconds
    in_order = all(a[1] <= b[1] + 0.05 for a, b in itertools.pairwise(by_arrival))
    print(f"took their training slots in arrival order: {'yes' if in_order else 'NO'} (within 0.05 s; {len(timings)} "
          "runs timed by the job table)")
    page_runs = [run.seconds for run in result["runs"]]
    if page_runs:
        from bench.load_probe import quantile

        print(f"page runs on the replicas while they train: {len(page_runs)}, p50 {quantile(page_runs, 0.5):.2f} s, "
              f"p95 {quantile(page_runs, 0.95):.2f} s (goal p95 <= 1 s)")
    for port in replicas:
        peak = result["peak"][port]
        print(f"replica :{port}: {result['cpu'][port]:.1f} CPU-s during the benchmark, peak memory "
              f"{peak:.0f} MB" if peak else f"replica :{port}: {result['cpu'][port]:.1f} CPU-s")
    if timings:
        per_run = [finished - started for _, started, finished in timings]
        run_seconds = statistics.median(per_run)
        last = max(f for _, _, f in timings) - min(a for a, _, _ in timings)
        waits = [started - arrived for arrived, started, _ in timings]
        print(f"seconds per run on its CPU (worker start, data, training, test-split measure): median {run_seconds:.1f} s; wait before training: "
              f"median {statistics.median(waits):.0f} s, longest {max(waits):.0f} s; all {len(timings)} done "
              f"{last:.0f} s after the first arrived")
        machines, cores = (int(n) for n in args.cluster.lower().split("x"))
        slots = machines * cores
        waves = math.ceil(args.visitors / slots)
        print(f"on a {machines} x {cores}-core cluster ({slots} slots): {args.visitors} such runs start at once "
              f"if {args.visitors} <= {slots}; the last waits about {(waves - 1) * run_seconds:.0f} s and all are done "
              f"in about {waves * run_seconds:.0f} s (runs / slots x {run_seconds:.1f} s)")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
