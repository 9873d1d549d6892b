"""Seconds per training epoch on the Train page's path, and what a running job costs other sessions.

    python -m bench.bench_train                 # dense and conv, 3 epochs each
    python -m bench.bench_train --epochs 5 --models dense conv vae
    python -m bench.bench_train --cost-table    # CPU ms per training step of every model (core.training_cost)
    python -m bench.bench_train --quick-runs --models conv denoising   # the Train page's default runs, timed
    python -m bench.bench_train --first-pictures   # every default run until its first live picture

Each model trains as the page trains it: a `core.jobs` job in a background thread with one
torch thread (ui.py's setting), its registry recipe otherwise unchanged. An epoch here is one
pass over the training digits plus the validation loss and the ten snapshots the page shows.
The last line times a single VAE decode in the main thread, idle and while a conv job trains,
which is what a slider on another page feels.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np
import torch

import core  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)
from core import jobs, training_cost
from core.catalogue import headline
from core.data import corrupt
from core.registry import create_model, get_spec, list_models
from core.trainer import augment, make_optimizer, prepare_data


def epoch_seconds(name: str, epochs: int) -> tuple[list[float], jobs.TrainJob]:
    """Per-epoch wall-clock seconds of one job training `name` for `epochs` epochs."""
    recipe = dataclasses.replace(get_spec(name).recipe, epochs=epochs)
    job = jobs.start(name, recipe)
    job.wait()
    if job.state != jobs.DONE:
        raise SystemExit(f"{name}: {job.error}")
    ends = [row["seconds"] for row in job.history]
    return list(np.diff([0.0, *ends])), job


def step_cpu_ms(name: str, steps: int = 24, warm_up: int = 4) -> float:
    """Median thread-CPU milliseconds of one training step of `name` at its recipe's batch size,
    with its augmentation and noise: CPU time, so other work on a shared machine does not inflate it."""
    recipe = get_spec(name).recipe
    data = prepare_data(dataclasses.replace(recipe, train_digits=steps * recipe.batch_size))
    model = create_model(name)
    optimizer = make_optimizer(model, recipe)
    generator = torch.Generator().manual_seed(0)
    memory_format = torch.channels_last if any(isinstance(m, torch.nn.Conv2d) for m in model.modules()) \
        else torch.contiguous_format
    model.to(memory_format=memory_format).train()
    times = []
    for step in range(steps):
        started = time.thread_time()
        clean = data.train_x[step * recipe.batch_size:(step + 1) * recipe.batch_size]
        labels = data.train_y[step * recipe.batch_size:(step + 1) * recipe.batch_size]
        if recipe.augment:
            clean = augment(clean, recipe.augment, generator)
        inputs = clean if recipe.noise is None else corrupt(clean, recipe.noise, recipe.noise_strength, generator)
        terms = model.loss(model(inputs.to(memory_format=memory_format), labels),
                           clean.to(memory_format=memory_format), labels)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()
        times.append(time.thread_time() - started)
    return 1000 * statistics.median(times[warm_up:])


def quick_run(name: str, until_first_picture: bool = False) -> dict:
    """A visitor's default run of `name` (core.training_cost.quick_recipe) as the page starts it:
    seconds to the first live picture, to the first loss point, and to the end (evaluation included);
    `until_first_picture` cancels it once the first picture is there."""
    recipe = training_cost.quick_recipe(name)
    started, cpu_started = time.perf_counter(), time.process_time()
    job = jobs.start(name, recipe)
    first_picture = first_point = first_picture_cpu = None
    pictures = get_spec(name).kind != "classifier"  # a classifier rebuilds no digits to show
    while job.running:
        if first_picture is None and job.preview is not None:
            first_picture, first_picture_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        if first_point is None and job.live_loss:
            first_point = time.perf_counter() - started
        if until_first_picture and (first_picture is not None or (first_point is not None and not pictures)):
            job.cancel()
        time.sleep(0.05)
    if job.state != jobs.DONE:
        raise SystemExit(f"{name}: {job.error}")
    return {"model": name, "digits": recipe.train_digits, "epochs": recipe.epochs,
            "estimate_s": round(training_cost.estimate_seconds(name, recipe), 1),
            "first_picture_s": first_picture, "first_picture_cpu_s": first_picture_cpu,
            "first_loss_point_s": first_point,
            "total_s": round(time.perf_counter() - started, 1),
            # what one idle core would take: this process does little else while the job runs
            "cpu_s": round(time.process_time() - cpu_started, 1), "headline": headline(job.metrics, recipe.noise is not None)}


def decode_ms(repeats: int = 300) -> float:
    """Median milliseconds of one 16-D VAE decode of a single code, in this thread."""
    model = create_model("vae").eval()
    z = torch.zeros(1, model.config.latent)
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            start = time.perf_counter()
            model.decode(z)
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per model (the first one is kept)")
    parser.add_argument("--models", nargs="+", default=["dense", "conv"], help="registry models to time")
    parser.add_argument("--cost-table", action="store_true",
                        help="print core.training_cost.STEP_MS measured here, for every registry model")
    parser.add_argument("--quick-runs", action="store_true",
                        help="time the Train page's default run of each of --models, start to end")
    parser.add_argument("--first-pictures", action="store_true",
                        help="every model's default run until its first live picture (then cancelled)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.first_pictures:
        for name in list_models():
            row = quick_run(name, until_first_picture=True)
            if row["first_picture_s"] is None:  # the classifier rebuilds no digits: its loss point is the first figure
                print(f"{name:>10}: no pictures; first loss point after {row['first_loss_point_s']:.1f} s", flush=True)
                continue
            print(f"{name:>10}: first live picture after {row['first_picture_s']:.1f} s "
                  f"({row['first_picture_cpu_s']:.1f} CPU-s)", flush=True)
        return 0
    if args.quick_runs:
        for name in args.models:
            row = quick_run(name)
            print(f"{name:>10}: {row['digits']:,} digits x {row['epochs']} epochs (estimate {row['estimate_s']} s): "
                  f"first picture after {row['first_picture_s']:.1f} s, first loss point {row['first_loss_point_s']:.1f} s, "
                  f"done in {row['total_s']} s ({row['cpu_s']} CPU-s); {row['headline']}", flush=True)
        return 0
    if args.cost_table:
        measured = {name: round(step_cpu_ms(name), 2) for name in list_models()}
        print(f"STEP_MS = {measured}")
        print("in core.training_cost now:", training_cost.STEP_MS)
        return 0

    start = time.perf_counter()
    data = prepare_data(get_spec("dense").recipe)  # loaded once per process, as on the server
    print(f"data: {data.source}, {len(data.train_x):,} training digits; first load {time.perf_counter() - start:.1f} s")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, training slots: {jobs.TRAINING_SLOTS}")
    for name in args.models:
        seconds, job = epoch_seconds(name, args.epochs)
        recipe = job.recipe
        print(f"{name:>8}: {statistics.median(seconds):5.2f} s per epoch (median of {len(seconds)}: "
              f"{', '.join(f'{s:.2f}' for s in seconds)}), batch {recipe.batch_size}, "
              f"augment {recipe.augment:g} px")

    idle = decode_ms()
    busy_job = jobs.start("conv", dataclasses.replace(get_spec("conv").recipe, epochs=1000))
    while busy_job.state != jobs.TRAINING or busy_job.latest is None:
        time.sleep(0.05)
    busy = decode_ms()
    busy_job.cancel()
    busy_job.wait()
    print(f"one VAE decode in another thread: {idle:.2f} ms idle, {busy:.2f} ms while conv trains")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
