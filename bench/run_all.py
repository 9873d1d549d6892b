"""Every benchmark of the lab in one command, one markdown table.

    python -m bench.run_all              # everything (about half an hour on 2 cores)
    python -m bench.run_all --quick      # a few minutes: fewer repeats, 3 models, no t-SNE, one small load level

Runs, one after the other so they do not slow each other down:
- model quality on the test split (`python -m core.evaluate --json`, each model's headline figure);
- cold start to the home page and to the first digit, warm page switches (bench/bench_pages.py);
- live-drag updates per second and slider-release reruns (bench/bench_generate.py);
- upload-to-denoised time (bench/bench_denoise.py);
- person-like digits through the upload path, classifier accuracy before and after denoising
  (bench/bench_upload.py);
- t-SNE cost for 2,000 / 5,000 / 10,000 points and the cached map's rerun (bench/bench_latent.py);
- the browser-drawn latent map: page switch to the map drawn, frames per second while panning,
  hover latency, bytes sent, and t-SNE placement of held-out digits (bench/bench_latent_map.py);
- seconds per training epoch and a decode's latency while a model trains (bench/bench_train.py);
- what hostile input costs: upload bombs, a forged 1 MB component value (bench/bench_hostile.py);
- the load levels of bench/load_probe.py (10, 30 and 100 sessions).

Each benchmark runs as its own process (a fresh server where it needs one) and is read from its
printed figures (the load probe's from its --json output). A benchmark that fails or prints
nothing readable gets a row saying so; the others still run. The table, the machine and the
date are printed, and written with the raw output to bench/results/ (not committed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT / "bench" / "results"


@dataclass(frozen=True)
class Row:
    what: str
    figure: str
    goal: str = ""
    source: str = ""


# --- running and reading the other benchmarks --------------------------------------------------

def run_module(module: str, args: list[str], timeout: float, log: list[str], ok_codes=(0,)) -> str:
    """stdout of `python -m module args`, niced; RuntimeError with the tail of its output on another exit code."""
    command = ["nice", "-n", "10", sys.executable, "-m", module, *args]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"no result within {timeout:.0f} s") from exc
    log.append(f"$ {' '.join(command[3:])}  ({time.perf_counter() - started:.0f} s, exit {done.returncode})\n"
               f"{done.stdout}{done.stderr[-3000:] if done.returncode else ''}")
    if done.returncode not in ok_codes:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"exit {done.returncode}: {tail[0][:200]}")
    return done.stdout


def find(pattern: str, text: str, what: str) -> re.Match:
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {what} in the output")
    return match


def guarded(source: str, benchmark) -> list[Row]:
    """The rows of one benchmark, or one row saying why there are none."""
    try:
        return benchmark()
    except Exception as exc:  # one broken benchmark must not stop the others: its row and the exit status say it
        return [Row(source, f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}",
                    source=source)]


def model_quality(quick: bool, log: list[str]) -> list[Row]:
    from core.catalogue import headline
    from core.registry import get_spec

    models = ["dense", "vae", "classifier"] if quick else []
    args = ["--json", *[a for m in models for a in ("--model", m)]]
    results = json.loads(run_module("core.evaluate", args, 3600, log))
    return [Row(f"quality: {name}", result.get("error")
                or headline(result, get_spec(name).recipe.noise is not None),
                source="core.evaluate --json")
            for name, result in results.items()]


def generate_figures(quick: bool, log: list[str]) -> list[Row]:
    args = ["--moves", "100", "--releases", "3"] if quick else []
    out = run_module("bench.bench_generate", args, 1800, log)
    rows = [Row(f"live drag, {m[1]}", f"{m[2]} digit updates/s", "60/s (one per frame)", "bench_generate")
            for m in re.finditer(r"^(.+?): drag paced by animation frames: (\d+) digit updates/s", out, re.MULTILINE)]
    release = find(r"release -> new server image (\d+) ms median \((.+?)\)", out, "slider release time")
    rows.append(Row("slider release -> new image (server rerun)", f"{release[1]} ms median ({release[2]})",
                    source="bench_generate"))
    return rows


def denoise_figures(quick: bool, log: list[str]) -> list[Row]:
    out = run_module("bench.bench_denoise", ["--uploads", "3" if quick else "10"], 1800, log)
    warm = find(r"upload -> denoised digit on screen, warm: ([\d.]+) s median, (.+?) over", out, "upload time")
    return [Row("upload -> denoised digit on screen", f"{warm[1]} s median ({warm[2]})", "<= 0.5 s", "bench_denoise")]


def upload_figures(quick: bool, log: list[str]) -> list[Row]:
    out = run_module("bench.bench_upload", ["--digits", "100" if quick else "300"], 1800, log)
    rows = [Row(f"person-like uploads: {m[1]}", f"classifier {m[2]} prepared, {m[3]} denoised ({m[4]})",
                ">= 95% denoised, at most 1 point below prepared", "bench_upload")
            for m in re.finditer(r"^\| (.+?) \| ([\d.]+%) \| ([\d.]+%) \| (.+?) \|", out, re.MULTILINE)]
    if not rows:
        raise RuntimeError("no variant rows in the output")
    return rows


def latent_figures(quick: bool, log: list[str]) -> list[Row]:
    if quick:
        return [Row("t-SNE recompute", "skipped with --quick", "10,000 points <= 20 s", "bench_latent")]
    out = run_module("bench.bench_latent", [], 3600, log)
    rows = [Row(f"t-SNE recompute, {m[1]} points", f"{m[2]} s wall, {m[3]} s CPU",
                "<= 20 s" if m[1] == "10,000" else "", "bench_latent")
            for m in re.finditer(r"t-SNE recompute, +([\d,]+) points: +([\d.]+) s wall, +([\d.]+) s CPU", out)]
    rerun = find(r"warm re-run median ([\d.]+) s", out, "latent page rerun")
    rows.insert(0, Row("Latent space page rerun with cached maps", f"{rerun[1]} s median", "<= 1 s", "bench_latent"))
    return rows


def latent_map_figures(quick: bool, log: list[str]) -> list[Row]:
    args = ["--switches", "2", "--hovers", "20", "--no-placement"] if quick else []
    out = run_module("bench.bench_latent_map", args, 1800, log)
    switch = find(r"map drawn: ([\d.]+) s the first time in a tab, ([\d.]+) s median after", out, "map switch time")
    rows = [Row("page switch -> 10,000-point latent map drawn (browser canvas)",
                f"{switch[2]} s median ({switch[1]} s the first time in a tab)", "<= 0.5 s", "bench_latent_map")]
    rows += [Row(f"latent map pan, {m[1]}", f"{m[2]} frames/s ({m[3]} ms a frame)", ">= 30/s", "bench_latent_map")
             for m in re.finditer(r"^pan, (.+?): (\d+) frames/s .*? ([\d.]+) ms;", out, re.MULTILINE)]
    hover = find(r"hover -> digit .*?: ([\d.]+) ms median, ([\d.]+) ms p95 .*?; (\d+) messages", out, "hover latency")
    rows.append(Row("latent map hover -> digit shown", f"{hover[1]} ms median, {hover[2]} ms p95, "
                    f"{hover[3]} server messages", "< 50 ms, none", "bench_latent_map"))
    sent = find(r"first view ([\d.]+) MB .*?, rerun ([\d.]+) kB", out, "bytes sent")
    rows.append(Row("latent map bytes to the browser", f"first view {sent[1]} MB, rerun {sent[2]} kB",
                    "a rerun re-sends nothing large", "bench_latent_map"))
    for m in re.finditer(r"^t-SNE placement (.+?): .*?([\d.]+) ms per digit, 5-NN label agreement ([\d.]+%)", out,
                         re.MULTILINE):
        rows.append(Row(f"new digit placed on a t-SNE map {m[1]}", f"{m[2]} ms per digit, 5-NN agreement {m[3]}",
                        source="bench_latent_map"))
    return rows


def train_figures(quick: bool, log: list[str]) -> list[Row]:
    args = ["--epochs", "1", "--models", "dense"] if quick else []
    out = run_module("bench.bench_train", args, 3600, log)
    rows = [Row(f"training, {m[1]}", f"{m[2]} s per epoch", source="bench_train")
            for m in re.finditer(r"^\s*(\w+): +([\d.]+) s per epoch", out, re.MULTILINE)]
    decode = find(r"one VAE decode in another thread: ([\d.]+) ms idle, ([\d.]+) ms while conv trains", out, "decode time")
    rows.append(Row("one VAE decode while a model trains", f"{decode[2]} ms ({decode[1]} ms idle)", source="bench_train"))
    return rows


def hostile_figures(quick: bool, log: list[str]) -> list[Row]:
    out = run_module("bench.bench_hostile", [], 1800, log)
    rows = [Row(f"upload: {m[1]}", f"{m[2]} s, peak memory +{m[3]} MB, {m[4]}", "<= 8 s", "bench_hostile")
            for m in re.finditer(r"^upload (.+?), [\d.]+ MB: ([\d.]+) s, peak memory \+(\d+) MB, (accepted|refused)",
                                 out, re.MULTILINE)]
    forged = find(r"forged latent-pad message of ([\d.]+) MB: that run ([\d.]+) s; reruns after it ([\d.]+) s "
                  r"median \(before: ([\d.]+) s\)", out, "forged message figures")
    rows.append(Row(f"session rerun after a forged {forged[1]} MB latent-pad message",
                    f"{forged[3]} s median ({forged[4]} s before; that run {forged[2]} s)", "<= 1 s", "bench_hostile"))
    return rows


def load_figures(quick: bool, log: list[str]) -> list[Row]:
    args = ["--json"] + (["--levels", "5", "--think", "0.5", "1"] if quick else [])
    result = json.loads(run_module("bench.load_probe", args, 7200, log, ok_codes=(0, 1)))  # 1: it counted errors
    warm_up = result["warm_up"]
    rows = [Row("load: one visitor through every page, cold server",
                f"{warm_up['runs']} runs, {warm_up['errors']} errors, slowest {warm_up['max_s']:.1f} s",
                source="load_probe")]
    for level in result["levels"]:
        think = "-".join(f"{t:g}" for t in level["think_s"])
        errors = f"{level['errors']} of {level['sessions']} sessions failed"
        rows.append(Row(
            f"load: {level['sessions']} sessions at once ({think} s between steps)",
            f"{errors}; {level['runs']} runs, p50 {level['p50_s']:.2f} s, p95 {level['p95_s']:.2f} s, "
            f"{level['runs_per_s']:.1f} runs/s, server CPU {level['server_cpu_ms_per_run']:.0f} ms per run"
            if level["runs"] else f"{errors}, no run finished",
            "0 errors, p95 <= 2 s" if level["sessions"] == 100 else "0 errors", "load_probe"))
    return rows


def page_figures(quick: bool, log: list[str]) -> list[Row]:
    out = run_module("bench.bench_pages", ["--rounds", "2" if quick else "3"], 1800, log)
    home = find(r"cold home: server launch -> home page fully drawn ([\d.]+) s, a bare one-title page ([\d.]+) s: "
                r"([\d.]+)x", out, "cold home time")
    digit = find(r"cold first digit: server launch -> first reconstruction on screen ([\d.]+) s", out, "first digit time")
    impatient = find(r"impatient first click: .+?: ([\d.]+) s", out, "impatient first click")
    first = list(re.finditer(r"first load of (.+?): ([\d.]+) s", out))
    if not first:
        raise RuntimeError("no first load in the output")
    slowest_first = max(first, key=lambda m: float(m[2]))
    switch = find(r"warm page switch: ([\d.]+) s median, ([\d.]+) s slowest over (\d+)", out, "page switch time")
    slowest = max(re.finditer(r"switch to (.+?): ([\d.]+) s median", out), key=lambda m: float(m[2]))
    return [Row("cold start: server launch -> home page fully drawn, against a bare one-title page",
                f"{home[1]} s against {home[2]} s: {home[3]}x", "<= 1.3x", "bench_pages"),
            Row("cold start: server launch -> first reconstruction on screen", f"{digit[1]} s", source="bench_pages"),
            Row("first load of each page, after 3 s on the home page",
                f"{slowest_first[2]} s slowest ({slowest_first[1]}); "
                + ", ".join(f"{m[1]} {m[2]}" for m in first), "<= 1.5 s", "bench_pages"),
            Row("first page clicked the moment a fresh server's home page is drawn", f"{impatient[1]} s",
                source="bench_pages"),
            Row("warm page switch (sidebar link -> page run and drawn)",
                f"{switch[1]} s median, {switch[2]} s slowest of {switch[3]} ({slowest[1]} {slowest[2]} s median)",
                "<= 1 s", "bench_pages")]


# --- the report --------------------------------------------------------------------------------------

def machine() -> str:
    cpu = platform.processor() or platform.machine()
    memory = ""
    try:  # Linux; elsewhere the platform module's names do
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
        kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
        memory = f", {kb / 2**20:.0f} GiB memory"
    except (OSError, StopIteration):
        pass
    import streamlit
    import torch

    return (f"{cpu}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}; Python "
            f"{platform.python_version()}, torch {torch.__version__}, streamlit {streamlit.__version__}")


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def markdown(rows: list[Row]) -> str:
    lines = ["| what | figure | goal | from |", "|---|---|---|---|"]
    lines += [f"| {r.what} | {r.figure} | {r.goal or '-'} | {r.source} |" for r in rows]
    return "\n".join(lines)


BENCHMARKS = [  # (source, function): lightest first, the load levels last
    ("core.evaluate", model_quality),
    ("bench_pages", page_figures),
    ("bench_generate", generate_figures),
    ("bench_denoise", denoise_figures),
    ("bench_upload", upload_figures),
    ("bench_latent", latent_figures),
    ("bench_latent_map", latent_map_figures),
    ("bench_train", train_figures),
    ("bench_hostile", hostile_figures),
    ("load_probe", load_figures),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast check: fewer repeats, small load, no t-SNE")
    parser.add_argument("--only", nargs="+", choices=[s for s, _ in BENCHMARKS], help="run only these")
    args = parser.parse_args(argv)

    started, load_before = time.time(), os.getloadavg()[0]
    rows, log = [], []
    for source, benchmark in BENCHMARKS:
        if args.only and source not in args.only:
            continue
        print(f"running {source}…", file=sys.stderr, flush=True)
        rows += guarded(source, lambda benchmark=benchmark: benchmark(args.quick, log))
    minutes = (time.time() - started) / 60
    header = (f"Benchmarks{' (--quick)' if args.quick else ''}, {time.strftime('%Y-%m-%d %H:%M %Z', time.localtime(started))}, "
              f"commit {commit()}, {minutes:.0f} min\n"
              f"Machine: {machine()}; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after\n"
              f"Command: python -m bench.run_all{' --quick' if args.quick else ''}")
    report = f"{header}\n\n{markdown(rows)}\n"
    print(report)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
    (RESULTS / f"run_all-{stamp}.md").write_text(report + "\n\nRaw output:\n\n" + "\n\n".join(log) + "\n")
    return 0 if not any(r.figure.startswith("failed") for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
