"""What hostile input costs the server: the upload bombs of issue 17 and a forged 1 MB component value.

    python -m bench.bench_hostile                  # the uploads and the forged message
    python -m bench.bench_hostile --skip-server    # the uploads only

Uploads: a 7000x7000 progressive JPEG whose smallest scan is repeated to 1,000 scans (each one
decoded over the whole image, 24-31 ms a scan before the scan limit), the same JPEG with only
the 6 scans Pillow wrote, and a 49-megapixel RGB PNG. Each goes through
`core.images.prepare_upload` in a fresh process, which prints its wall seconds and how far the
process's peak memory grew (VmHWM, Linux) while it ran.

Forged message: a Streamlit server on 127.0.0.1 and one session on the Generate page's live
sliders, which sends the 16-D pad a 1 MB code of 200,000 values (as a forged browser could), then
reruns the page; the rerun times after it are printed beside those before.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import time

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=JPEG_SCANS, help="scans in the JPEG bomb")
    parser.add_argument("--skip-server", action="store_true", help="measure the uploads only")
    args = parser.parse_args(argv)

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
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"total {time.perf_counter() - started:.0f} s")
    raise SystemExit(code)
