"""Train -> evaluate -> save, written once: the command line, the Train page's jobs and the tests
all make a checkpoint through here.

    python -m core.train --model conv [--epochs N] [--dataset mnist|fashion]
    python -m core.train --all          # every registry model, saved to checkpoints/
    python -m core.train --all --dry-run  # one epoch of two batches each, nothing saved
(`python -m core.pipeline` takes the same arguments.)
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from core import checkpoints, evaluate, thumbnails, timeline, visitors
from core import data as data_lib
from core.catalogue import headline
from core.registry import Recipe, get_spec, list_models
from core.trainer import TrainEvent, TrainResult, train_model

log = logging.getLogger(__name__)


@dataclass
class Trained:
    """A freshly trained model with what its checkpoint records."""

    model_name: str       # the registry model it is an instance of
    recipe: Recipe
    model: nn.Module
    result: TrainResult
    metrics: dict         # evaluate.evaluate_model's test-split metrics


def train_and_evaluate(model_name: str, recipe: Recipe | None = None, config=None,
                       on_evaluating: Callable[[], None] = lambda: None, **fit_kwargs) -> Trained:
    """Train a registry model by `recipe` (default: its own), then measure it on the test split.

    Args:
        on_evaluating: called between training and evaluation (the Train page shows the step).
        fit_kwargs: passed to `core.trainer.fit` (data, callbacks, should_stop, max_batches).
    """
    recipe = recipe or get_spec(model_name).recipe
    model, result = train_model(model_name, recipe, config, **fit_kwargs)
    on_evaluating()
    metrics = evaluate.evaluate_model(model_name, model, recipe.dataset, recipe.digit)
    return Trained(model_name, recipe, model, result, metrics)


def save(trained: Trained, name: str | None = None, overwrite: bool = False) -> Path:
    """Save a trained model as checkpoint `name` (default: its registry name); returns the path.

    Then its training timeline (`core.timeline`, when the run recorded one) and its card picture
    (`thumbnails.make_one`): one that cannot be written is logged, and the save stands, since the
    model is saved and usable; its card says "No picture yet" and `python -m core.thumbnails`
    makes it later.

    Raises:
        ValueError: a bad name, or a registry name with other settings.
        FileExistsError: the name is taken and overwrite is False.
    """
    name = name or trained.model_name
    path = checkpoints.save(name, trained.model, trained.recipe, trained.result,
                            trained.metrics, model_name=trained.model_name, overwrite=overwrite)
    save_timeline(name, trained)
    try:
        thumbnails.make_one(name)  # the home page's picture of it, without torch
    except (OSError, ValueError) as exc:  # a full disk, a read-only picture folder (WriteError is both)
        log.warning("checkpoint %r saved, but its picture was not made: %s", name, exc)
    return path


def save_timeline(name: str, trained: Trained) -> Path | None:
    """The timeline file of checkpoint `name` from its run, tied to the weights just saved; None when
    the run recorded none or the file could not be written (logged: the checkpoint stands)."""
    result = trained.result
    if result is None or not result.positions:
        return None
    try:
        recorded = timeline.from_result(result, trained.recipe.dataset, result.timeline_labels,
                                        result.timeline_indices, result.timeline_method)
        return timeline.save(name, recorded, checkpoints.checked_header(name)["sha256"])
    except (OSError, ValueError) as exc:
        log.warning("checkpoint %r saved, but its timeline was not written: %s", name, exc)
        return None


def replay_timeline(name: str, log: Callable[[str], None] = print) -> Path | None:
    """Retrain registry model `name` by its recipe on one thread, as `python -m core.train` trains the
    shipped models, recording its timeline; write the timeline only when the weights come out bit
    for bit those of its checkpoint, which is left untouched either way. Returns the file, or None.

        python -m core.train --timeline ae2 vae2     # one model after another
    """
    torch.set_num_threads(1)
    meta = checkpoints.read_meta(name)
    model, result = train_model(name)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    retrained = checkpoints.weights_hash(state)
    cost = (f"{result.seconds:.0f} s, {result.timeline_seconds:.1f} s of it recording "
            f"({100 * result.timeline_seconds / max(result.seconds, 1e-9):.1f}%)")
    if retrained != meta["sha256"]:
        log(f"{name}: retrained weights {retrained[:12]} differ from the checkpoint's {meta['sha256'][:12]} "
            f"({cost}); no timeline written")
        return None
    log(f"{name}: weights reproduced ({meta['sha256'][:12]}; {cost}); writing its timeline")
    recorded = timeline.from_result(result, meta["recipe"].get("dataset", "mnist"), result.timeline_labels,
                                    result.timeline_indices, result.timeline_method)
    path = timeline.save(name, recorded, meta["sha256"])
    log(f"{name}: {path.name}, {recorded.frames} frames, {path.stat().st_size:,} bytes")
    return path


def save_for_visitor(trained: Trained, text: str, limits: visitors.StoreLimits | None = None,
                     replace_shipped: bool = False) -> Path:
    """Save a trained model as a visitor's model under the name `text` stands for, by the rules of
    `core.visitors.reserve` (a free name, room in the store), with its thumbnail; returns the path.

    Raises:
        ValueError: a bad or shipped name, or no room left.
        FileExistsError: another model has this name.
    """
    with visitors.reserve(text, trained.model, limits or visitors.StoreLimits(), replace_shipped) as (name, overwrite):
        return save(trained, name, overwrite=overwrite)


# --- command line ----------------------------------------------------------------------------

def _progress_line(name: str, live: bool) -> Callable[[TrainEvent], None]:
    """A progress bar redrawn in place (`live`, one job on a terminal), else a line every ~10%."""
    def show(event: TrainEvent) -> None:
        if event.kind == "batch" and not live:
            return
        if event.kind == "epoch" and not live and event.epoch % max(1, event.epochs // 10) and event.epoch != event.epochs:
            return
        done = ((event.epoch - 1) * event.batches + event.batch) / (event.epochs * event.batches)
        val = f" val {event.val['loss']:.4f}" if event.val else ""
        line = (f"{name:>10} [{'#' * int(30 * done):<30}] epoch {event.epoch}/{event.epochs} "
                f"loss {event.train.get('loss', float('nan')):.4f}{val} {event.elapsed:5.0f}s eta {event.eta:4.0f}s")
        if live:
            print("\r" + line, end="\n" if event.kind == "epoch" and event.epoch == event.epochs else "", flush=True)
        else:
            print(line, flush=True)
    return show


def _train_and_save(name: str, changes: dict, dry_run: bool, threads: int, live: bool) -> str:
    """Train one registry model by its recipe (with `changes`), evaluate and save it; returns a summary line."""
    torch.set_num_threads(threads)
    recipe = dataclasses.replace(get_spec(name).recipe, **changes)
    callbacks = [_progress_line(name, live)]
    if dry_run:
        _, result = train_model(name, recipe, callbacks=callbacks, max_batches=2)
        return f"{name:>10} dry run ok: loss {result.history[-1]['train']['loss']:.4f}"
    trained = train_and_evaluate(name, recipe, callbacks=callbacks)
    path = save(trained, overwrite=True)
    recording = f", timeline {trained.result.timeline_seconds:.1f}s" if trained.result.positions else ""
    return (f"{name:>10} saved {path} in {trained.result.seconds:.0f}s{recording}: "
            f"{headline(trained.metrics, recipe.noise is not None)}")


def longest_first(names: list[str]) -> list[str]:
    """Names ordered by how long their last checkpoint took to train, longest first (unknown first).

    With --jobs 2 the long runs start at once and the short ones fill the gaps: when conv (the
    longest) started last, the other worker sat idle for most of its run.
    """
    def last_seconds(name: str) -> float:
        try:
            return float(checkpoints.read_meta(name).get("train_seconds") or float("inf"))
        except (OSError, ValueError):
            return float("inf")

    return sorted(names, key=last_seconds, reverse=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train registry models and save their checkpoints.")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", choices=list_models(), help="the registry model to train")
    which.add_argument("--all", action="store_true", help="train every registry model")
    which.add_argument("--timeline", nargs="+", metavar="MODEL", choices=list_models(),
                       help="record shipped models' training timelines by retraining them one after another; "
                            "each is written only when the weights come out identical, no checkpoint changes")
    parser.add_argument("--epochs", type=int, help="override the recipe's epochs")
    parser.add_argument("--dataset", choices=data_lib.DATASETS, help="override the recipe's dataset")
    parser.add_argument("--dry-run", action="store_true", help="one epoch of two batches; nothing saved")
    parser.add_argument("--jobs", type=int, default=1,
                        help="models trained at once, in separate processes of one thread each "
                             "(small models train faster that way than with threads)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch CPU threads with --jobs 1")
    args = parser.parse_args(argv)

    if args.timeline:
        for name in args.timeline:
            try:
                replay_timeline(name, log=lambda line: print(line, flush=True))
            except (OSError, ValueError) as exc:  # one model's failure does not stop the others
                print(f"{name}: no timeline written: {exc}", flush=True)
        return 0
    names = longest_first(list_models()) if args.all else [args.model]
    changes = {k: v for k, v in {"epochs": args.epochs, "dataset": args.dataset}.items() if v is not None}
    if args.dry_run:
        changes["epochs"] = 1
    overall = time.perf_counter()
    if args.jobs <= 1:
        live = sys.stdout.isatty()
        for name in names:
            print(_train_and_save(name, changes, args.dry_run, args.threads, live), flush=True)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # spawn: a fresh interpreter per worker, no forked torch thread pools
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_train_and_save, name, changes, args.dry_run, 1, False) for name in names]
            for future in as_completed(futures):
                print(future.result(), flush=True)
    print(f"total {time.perf_counter() - overall:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
