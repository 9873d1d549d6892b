"""What hostile input costs the server: upload bombs (issues 17 and 27) and a forged 1 MB component value.

    python -m bench.bench_hostile                  # the uploads, the forged message, the server attacks
    python -m bench.bench_hostile --skip-server    # the uploads only, each in a fresh process
    python -m bench.bench_hostile --attacks-only   # the server attacks only (--settle 60 by default)
    python -m bench.bench_hostile --modes          # peak memory per decoded pixel, by image mode

Uploads: a 7000x7000 progressive JPEG whose smallest scan is repeated to 1,000 scans (each one
decoded over the whole image, 24-31 ms a scan before the scan limit), the same JPEG with only
the 6 scans Pillow wrote, and a 49-megapixel RGB PNG. Each goes through
`core.images.prepare_upload` in a fresh process, which prints its wall seconds and how far the
process's peak memory grew (VmHWM, Linux) while it ran.

Attacks on a real server (127.0.0.1), one after another, each while a bystander session reruns
the Reconstruction page: junk (issue 27, 2a: one session uploads 9.9 MB files of random bytes,
then leaves), tall PNGs (2b: four sessions at once each upload a PNG 1 px wide and 50 million
rows tall, grey and alpha), the JPEG scan bomb with FF D0 after SOI (5) and RLE8 BMPs of 49
megapixels (6: three sessions of 20, each page run twice). A table gives the bystander's
p50/p95 rerun seconds, the server's peak resident memory during the attack, its resident memory
`--settle` seconds after the attackers left, and the server's CPU seconds over the attack.

Forged message: a Streamlit server on 127.0.0.1 and one session on the Generate page's live
sliders, which sends the 16-D pad a 1 MB code of 200,000 values (as a forged browser could), then
reruns the page; the rerun times after it are printed beside those before.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import io
import json
import statistics
import struct
import subprocess
import sys
import time
import urllib.parse
import uuid
import zlib

import numpy as np

JPEG_SIDE, JPEG_SCANS = 7000, 1000
PNG_SIDE = 7000
FORGED_VALUES = 200_000  # "[0.5, 0.5, ...]": 1 MB of JSON


def _segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of each segment of a baseline or progressive JPEG, scans with their data."""
    found, at = [], 2
    while at < len(data):
        marker = data[at + 1]
        if marker == 0xD9:
            found.append((marker, at, at + 2))
            break
        end = at + 2 + int.from_bytes(data[at + 2:at + 4], "big")
        if marker == 0xDA:  # entropy-coded data runs to the next marker that is not stuffing or a restart
            while True:
                end = data.index(b"\xff", end)
                if data[end + 1] == 0 or 0xD0 <= data[end + 1] <= 0xD7:
                    end += 2
                    continue
                break
        found.append((marker, at, end))
        at = end
    return found


def scan_bomb_jpeg(side: int = JPEG_SIDE, scans: int = JPEG_SCANS) -> bytes:
    """A valid progressive JPEG of side x side pixels whose smallest scan is repeated to `scans` scans."""
    from PIL import Image

    page = np.full((side, side), 255, np.uint8)
    page[side // 4:3 * side // 4, side // 2 - side // 20:side // 2 + side // 20] = 0  # a "1"
    buffer = io.BytesIO()
    Image.fromarray(page).save(buffer, "JPEG", progressive=True, quality=90)
    data = buffer.getvalue()
    found = [s for s in _segments(data) if s[0] == 0xDA]
    _, start, end = min(found[1:], key=lambda s: s[2] - s[1])  # a refinement scan, the cheapest to repeat
    return data[:end] + data[start:end] * (scans - len(found)) + data[end:]


def big_png(side: int = PNG_SIDE) -> bytes:
    """A side x side RGB PNG of a dark digit stroke on a light page: a few hundred KB, under the upload limit."""
    from PIL import Image

    page = np.full((side, side, 3), 230, np.uint8)
    page[side // 4:3 * side // 4, side // 2 - side // 20:side // 2 + side // 20] = 20
    buffer = io.BytesIO()
    Image.fromarray(page).save(buffer, "PNG")
    return buffer.getvalue()


def forged_scan_bomb(side: int = JPEG_SIDE, scans: int = JPEG_SCANS, tag: int = 0) -> bytes:
    """The scan bomb with a restart marker (FF D0, which has no length) right after SOI, and a comment
    holding `tag` so that files differ: a counter that read FF D0's "length" jumped past every scan."""
    bomb = scan_bomb_jpeg(side, scans)
    comment = f"bomb {tag}".encode()
    return bomb[:2] + b"\xff\xd0" + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + bomb[2:]


def rle8_bmp_bomb(side: int = JPEG_SIDE, tag: int = 0) -> bytes:
    """A 29 KB RLE8-compressed BMP of side x side pixels (one pixel, then end of line, per row),
    which Pillow decodes in Python, byte by byte; `tag` makes files differ."""
    palette = b"".join(bytes((i, i, i, 0)) for i in range(256))
    body = b"\x01\x00\x00\x00" * side + b"\x00\x01"  # a run of 1 pixel, end of line; end of bitmap
    info = struct.pack("<IiiHHIIiiII", 40, side, side, 1, 8, 1, len(body), 2835, 2835, 256, 0)
    offset = 14 + len(info) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(body), tag & 0xFFFF, 0, offset) + info + palette + body


def tall_png(height: int = 50_000_000, width: int = 1, colour_type: int = 4) -> bytes:
    """A PNG `width` px wide and `height` rows tall (colour type 4: grey and alpha), compressed to ~150 KB."""
    def chunk(kind: bytes, content: bytes) -> bytes:
        return struct.pack(">I", len(content)) + kind + content + struct.pack(">I", zlib.crc32(kind + content))

    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    row = b"\x00" + b"\x80" * (width * channels)
    compressor, compressed = zlib.compressobj(9), []
    block = 1_000_000
    for start in range(0, height, block):
        compressed.append(compressor.compress(row * min(block, height - start)))
    compressed.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(compressed)) + chunk(b"IEND", b"")


MEASURE_ONE = """
import re, sys, time
from pathlib import Path
from core import images

def peak_mb():  # this process's peak resident memory; unlike ru_maxrss, not inherited from the parent
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text())[1]) / 1024

data = sys.stdin.buffer.read()
images.prepare_upload(images.to_png(images.np.eye(28)))  # imports and first-call costs, not counted
before = peak_mb()
started = time.perf_counter()
try:
    images.prepare_upload(data)
    outcome = "accepted"
except ValueError as exc:
    outcome = "refused: " + str(exc)
print(f"{time.perf_counter() - started:.3f} {peak_mb() - before:.0f} {outcome}")
"""


def measure_upload(data: bytes) -> tuple[float, float, str]:
    """(seconds, MB of peak memory growth, outcome) of prepare_upload on `data`, in a fresh process."""
    done = subprocess.run([sys.executable, "-c", MEASURE_ONE], input=data, capture_output=True, timeout=600,
                          check=True)
    seconds, grown, outcome = done.stdout.decode().strip().split(" ", 2)
    return float(seconds), float(grown), outcome


async def _forged_pad(url: str, reruns: int) -> tuple[list[float], list[float], int]:
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    from bench.load_probe import PageCheck, Session

    async with Session(url, run_timeout=300) as session:
        run = await session.open("Generate", query_string="gen_tab=Live+sliders",
                                 check=PageCheck("Generate", ()))
        before = [(await session.rerun("rerun")).seconds for _ in range(reruns)]
        pad = run.widget("gen_vae_live")
        payload = json.dumps({"z": {"values": [0.5] * FORGED_VALUES}})
        session.widgets[pad.id] = WidgetState(id=pad.id, json_value=payload)
        forged = await session.rerun("forged")
        forged.check(PageCheck("Generate", ()))
        after = [(await session.rerun("rerun")).seconds for _ in range(reruns)]
        return before, [forged.seconds, *after], len(payload)


def measure_forged_pad(reruns: int = 5) -> tuple[list[float], list[float], int]:
    """Rerun seconds of a Generate session before and after a forged 1 MB pad value (the first after
    is the run that received it), and the message's size in bytes."""
    from bench.load_probe import run_sync
    from tests.app_server import start_server, stop_server

    process, url = start_server()
    try:
        return run_sync(_forged_pad(url, reruns))
    finally:
        stop_server(process)


# --- peak memory per decoded pixel, by mode ----------------------------------------------------------

def mode_samples(width: int = 5000, height: int = 4000) -> dict[str, bytes]:
    """One file per kind of decode `core.images.DECODE_BYTES_PER_PIXEL` distinguishes, width x height."""
    from PIL import Image

    page = np.full((height, width), 230, np.uint8)
    page[height // 4:3 * height // 4, width // 2 - width // 20:width // 2 + width // 20] = 20
    grey = Image.fromarray(page)

    def encode(image, fmt: str, **options) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        return buffer.getvalue()

    return {"L PNG": encode(grey, "PNG"), "P PNG": encode(grey.convert("P"), "PNG"),
            "RGB PNG": encode(grey.convert("RGB"), "PNG"), "LA PNG": encode(Image.merge("LA", [grey, grey]), "PNG"),
            "RGBA PNG": encode(grey.convert("RGBA"), "PNG"),
            "P PNG with transparency": encode(grey.convert("P"), "PNG", transparency=0),
            "16-bit grey PNG": encode(Image.fromarray(page.astype(np.uint16) * 257), "PNG"),
            "RGB WebP lossless": encode(grey.convert("RGB"), "WEBP", lossless=True, method=0),
            "RGB BMP": encode(grey.convert("RGB"), "BMP"), "GIF": encode(grey.convert("P"), "GIF")}


def print_modes() -> None:
    side = (5000, 4000)
    for what, data in mode_samples(*side).items():
        seconds, grown, outcome = measure_upload(data)
        print(f"{what:>24}: {seconds:5.2f} s, peak memory +{grown:4.0f} MiB = "
              f"{grown * 2**20 / (side[0] * side[1]):4.1f} bytes a pixel, {outcome[:60]}", flush=True)


# --- attacks on a real server, beside a bystander -----------------------------------------------------

async def upload_batch(session, run, key: str, files: list[tuple[str, bytes]], mime: str = "image/png"):
    """Upload `files` into the multiple-file uploader `key` as one batch, as the frontend does (URLs for
    all, a PUT each, one rerun with those the server took); returns (run, HTTP refusals)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.Common_pb2 import FileUploaderState, FileURLs, UploadedFileInfo

    from bench.load_probe import ProbeError

    request = BackMsg()
    request.file_urls_request.request_id = uuid.uuid4().hex
    request.file_urls_request.file_names.extend(name for name, _ in files)
    request.file_urls_request.session_id = session.session_id
    await session._send(request)
    asked = time.perf_counter()
    while True:
        forward = await session._receive(asked + session.run_timeout, "upload URLs")
        if forward.WhichOneof("type") == "file_urls_response" and \
                forward.file_urls_response.response_id == request.file_urls_request.request_id:
            break
    infos, refused = [], 0
    for (name, data), urls in zip(files, forward.file_urls_response.file_urls, strict=True):
        try:
            await asyncio.to_thread(session._put, urls.upload_url, name, data, mime)
        except ProbeError:
            refused += 1
            continue
        infos.append(UploadedFileInfo(name=name, size=len(data), file_id=urls.file_id, file_urls=FileURLs(
            file_id=urls.file_id, upload_url=urls.upload_url, delete_url=urls.delete_url)))
    run = await session.set_widget(run, key, "upload",
                                   file_uploader_state_value=FileUploaderState(uploaded_file_info=infos))
    return run, refused


async def _attacker(url: str, files: list[tuple[str, bytes]], reruns: int, run_timeout: float) -> dict:
    """One hostile session: the Denoising page's Upload tab, one batch of `files`, `reruns` more runs."""
    from bench.load_probe import PageCheck, Session

    async with Session(url, run_timeout=run_timeout) as session:
        tab = await session.open("Denoising", query_string="den_tab=Upload",
                                 check=PageCheck("Denoising", ("file_uploader",)))
        run, refused = await upload_batch(session, tab, "den_upload", files)
        runs = [run.seconds]
        for _ in range(reruns):
            run = await session.rerun("rerun")
            runs.append(run.seconds)
        errors = [e.alert.body for e in run.elements if e.WhichOneof("type") == "alert"]
        return {"refused_http": refused, "runs": runs, "alerts": errors}


async def _bystander(url: str, stop: asyncio.Event, times: list[float], run_timeout: float) -> None:
    from bench.load_probe import Session

    async with Session(url, run_timeout=run_timeout) as session:
        await session.open("Reconstruction")
        while not stop.is_set():
            times.append((await session.rerun("rerun")).seconds)


async def _huge_message(url: str, run_timeout: float, megabytes: float) -> dict:
    """Attack 1: one widget message of `megabytes` of JSON that expands ~20x when parsed ([[],[],...]),
    to the Generate page's live pad, as a forged client can send it."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    from bench.load_probe import PageCheck, ProbeError, Session

    async with Session(url, run_timeout=run_timeout) as session:
        run = await session.open("Generate", query_string="gen_tab=Live+sliders", check=PageCheck("Generate", ()))
        pad = run.widget("gen_vae_live")
        session.widgets[pad.id] = WidgetState(id=pad.id, json_value="[" + ",".join(["[]"] * int(megabytes * 2**20 / 3)) + "]")
        try:
            run = await session.rerun("huge message")
        except (ProbeError, OSError, Exception) as exc:
            return {"refused_http": 1, "runs": [], "alerts": [f"connection closed ({type(exc).__name__})"]}
        return {"refused_http": 0, "runs": [run.seconds], "alerts": ["the message was taken"]}


async def _trainers(url: str, run_timeout: float, tabs: int, epochs: int, same_browser: bool) -> dict:
    """Attacks 3 and 4: `tabs` sessions press Train at once (one browser's tabs, or as many browsers),
    each a `epochs`-epoch cvae run on 5,000 digits; each accepted run is followed to its end."""
    from bench.load_probe import Alert, Session, TrainedRun, alert_texts, follow_run, prepare_training, press

    accepted, refused, seconds = 0, [], []
    async with Session(url, run_timeout) as first:
        sessions = [first] + [Session(url, run_timeout, browser=first.xsrf if same_browser else "")
                              for _ in range(tabs - 1)]
        for session in sessions[1:]:
            await session.__aenter__()
        try:
            ready = [await prepare_training(s, "cvae", epochs, digits="5,000") for s in sessions]
            started = await asyncio.gather(*(press(s, r, "trn_start", "train") for s, r in zip(sessions, ready)))
            followed = []
            for session, run in zip(sessions, started):
                told = alert_texts(run, Alert.ERROR) + alert_texts(run, Alert.WARNING)
                if any("one run" in t or "already" in t or "queue is full" in t for t in told):
                    refused.append(told[0][:90])
                elif "job" not in urllib.parse.parse_qs(session.query_string):
                    # a tab that drew its Train button disabled: the browser's run is in another tab
                    refused.append("Train disabled: your run in another tab is still waiting or training")
                else:
                    accepted += 1
                    followed.append(follow_run(session, run, TrainedRun("cvae"), [], 2.0, 900))
            began = time.perf_counter()
            await asyncio.gather(*followed)
            seconds.append(time.perf_counter() - began)
        finally:
            for session in sessions[1:]:
                await session.__aexit__(None, None, None)
    return {"refused_http": len(refused), "runs": seconds, "alerts": [f"{accepted} of {tabs} runs accepted", *refused[:1]]}


async def run_attack(url: str, pid: int, name: str, batches: list, reruns: int,
                     settle: float, run_timeout: float = 900) -> dict:
    """One attack (a session per batch, all at once; a batch is upload files or a coroutine function of
    (url, run_timeout)) beside a bystander; the row of the table."""
    from bench.load_probe import process_cpu_seconds, quantile, resident_mb, sample_peak_rss

    stop, times, peak = asyncio.Event(), [], {}
    bystander = asyncio.create_task(_bystander(url, stop, times, run_timeout))
    await asyncio.sleep(3)  # its first runs, before the attack
    before_rss, before_cpu, started = resident_mb(pid), process_cpu_seconds(pid), time.perf_counter()
    sampler = asyncio.create_task(sample_peak_rss(pid, peak, every=0.2))
    outcomes = await asyncio.gather(*(batch(url, run_timeout) if callable(batch) else
                                      _attacker(url, batch, reruns, run_timeout) for batch in batches),
                                    return_exceptions=True)
    seconds, cpu = time.perf_counter() - started, process_cpu_seconds(pid) - before_cpu
    stop.set()
    await bystander
    await asyncio.sleep(settle)
    sampler.cancel()
    failures = [repr(o) for o in outcomes if isinstance(o, BaseException)]
    done = [o for o in outcomes if isinstance(o, dict)]
    return {"attack": name, "seconds": seconds, "cpu_s": cpu, "rss_before": before_rss, "rss_peak": peak.get("peak"),
            "rss_settled": resident_mb(pid), "p50": quantile(times, 0.5), "p95": quantile(times, 0.95),
            "bystander_runs": len(times), "refused_http": sum(o["refused_http"] for o in done),
            "attacker_run_s": max((max(o["runs"]) for o in done if o["runs"]), default=None), "failures": failures,
            "alerts": sorted({a[:90] for o in done for a in o["alerts"]})[:3]}


def attacks(junk_files: int = 30, rle_files: int = 20, bombs: int = 3, runs: int = 12) -> dict[str, list]:
    """The batches of each attack, one entry per session: upload files, or a coroutine function."""
    rng = np.random.default_rng(0)
    junk = [(f"junk-{i}.png", rng.bytes(9_900_000)) for i in range(junk_files)]
    return {
        "1: 6 sessions x one 24 MB widget message": [functools.partial(_huge_message, megabytes=24)] * 6,
        f"3: {runs} browsers x a 1-epoch cvae run, all kept": [
            functools.partial(_trainers, tabs=runs, epochs=1, same_browser=False)],
        "4: one browser's 5 tabs press Train at once": [
            functools.partial(_trainers, tabs=5, epochs=1, same_browser=True)],
        f"2a: {junk_files} junk files of 9.9 MB, then leave": [junk],
        "2b: 4 sessions x PNG 1x50,000,000 grey+alpha": [[("tall.png", tall_png())] for _ in range(4)],
        f"5: {bombs} JPEG scan bombs, FF D0 after SOI": [[(f"bomb-{i}.png", forged_scan_bomb(tag=i))
                                                          for i in range(bombs)]],
        f"6: 3 sessions x {rle_files} RLE8 BMPs of 49 MP": [[(f"rle-{s}-{i}.png", rle8_bmp_bomb(tag=s * 100 + i))
                                                            for i in range(rle_files)] for s in range(3)],
    }


def measure_attacks(settle: float = 60.0, reruns: int = 1, only: str = "", **sizes) -> list[dict]:
    """Each attack (whose name holds `only`) in turn on one fresh server; the table's rows."""
    from bench.load_probe import run_sync
    from tests.app_server import start_server, stop_server

    process, url = start_server()
    rows = []
    try:
        for name, batches in attacks(**sizes).items():
            if only not in name:
                continue
            rows.append(run_sync(run_attack(url, process.pid, name, batches, reruns, settle)))
            print(f"  done: {name} ({rows[-1]['seconds']:.0f} s)", flush=True)
    finally:
        stop_server(process)
    return rows


def attack_table(rows: list[dict]) -> str:
    def fmt(value, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    lines = ["| attack | bystander p50 s | p95 s | runs | server RSS before / peak / settled MB | server CPU s "
             "| attack s | HTTP refusals | what the attacker was told |",
             "|---|---:|---:|---:|---|---:|---:|---:|---|"]
    for r in rows:
        told = "; ".join(r["alerts"]) + ("; FAILED: " + "; ".join(r["failures"]) if r["failures"] else "")
        lines.append(f"| {r['attack']} | {fmt(r['p50'], '.3f')} | {fmt(r['p95'], '.3f')} | {r['bystander_runs']} "
                     f"| {fmt(r['rss_before'], '.0f')} / {fmt(r['rss_peak'], '.0f')} / {fmt(r['rss_settled'], '.0f')} "
                     f"| {r['cpu_s']:.1f} | {r['seconds']:.1f} | {r['refused_http']} | {told} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=JPEG_SCANS, help="scans in the JPEG bomb")
    parser.add_argument("--skip-server", action="store_true", help="measure the uploads only")
    parser.add_argument("--attacks-only", action="store_true", help="the attacks on a real server only")
    parser.add_argument("--modes", action="store_true", help="peak memory per pixel by image mode, then stop")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds after an attack before RSS is read")
    parser.add_argument("--junk-files", type=int, default=30, help="9.9 MB junk files in attack 2a")
    parser.add_argument("--rle-files", type=int, default=20, help="RLE8 BMPs per session in attack 6")
    parser.add_argument("--only", default="", help="the attacks whose name holds this, e.g. '2a:'")
    parser.add_argument("--runs", type=int, default=12, help="browsers each training a run in attack 3")
    args = parser.parse_args(argv)
    if args.modes:
        print_modes()
        return 0
    if args.attacks_only:
        rows = measure_attacks(args.settle, only=args.only, junk_files=args.junk_files, rle_files=args.rle_files,
                               runs=args.runs)
        print(attack_table(rows), flush=True)
        return 0

    uploads = {f"scan-bomb JPEG {JPEG_SIDE}x{JPEG_SIDE}, {args.scans:,} scans": scan_bomb_jpeg(scans=args.scans),
               f"progressive JPEG {JPEG_SIDE}x{JPEG_SIDE}, its own 6 scans": scan_bomb_jpeg(scans=6),
               f"PNG {PNG_SIDE}x{PNG_SIDE} RGB ({PNG_SIDE ** 2 / 1e6:.0f} megapixels)": big_png()}
    for what, data in uploads.items():
        seconds, grown, outcome = measure_upload(data)
        print(f"upload {what}, {len(data) / 1e6:.2f} MB: {seconds:.2f} s, peak memory +{grown:.0f} MB, {outcome}",
              flush=True)
    if not args.skip_server:
        before, after, size = measure_forged_pad()
        print(f"forged latent-pad message of {size / 1e6:.1f} MB: that run {after[0]:.2f} s; reruns after it "
              f"{statistics.median(after[1:]):.3f} s median (before: {statistics.median(before):.3f} s)")
        rows = measure_attacks(args.settle, only=args.only, junk_files=args.junk_files, rle_files=args.rle_files,
                               runs=args.runs)
        print(attack_table(rows), flush=True)
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"total {time.perf_counter() - started:.0f} s")
    raise SystemExit(code)
