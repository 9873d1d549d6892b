"""Images in and out: digit grids, upscaling for display, PNG encoding, and uploads made MNIST-like."""

from __future__ import annotations

import base64
import io
import threading
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter, ImageOps
from scipy import ndimage


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] (any shape) -> uint8 0-255."""
    return (np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def tile(images: np.ndarray, columns: int | None = None, pad: int = 1, fill: float = 1.0) -> np.ndarray:
    """Lay out images (N, H, W) or (R, C, H, W) in one 2-D array, `pad` pixels of `fill` between.

    A 3-D input becomes rows of `columns` images (default: all in one row).
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        n = images.shape[0]
        columns = columns or n
        rows = -(-n // columns)
        blank = np.full((rows * columns - n, *images.shape[1:]), fill, dtype=np.float32)
        images = np.concatenate([images, blank]).reshape(rows, columns, *images.shape[1:])
    r, c, h, w = images.shape
    out = np.full((r * (h + pad) - pad, c * (w + pad) - pad), fill, dtype=np.float32)
    for i in range(r):
        for j in range(c):
            out[i * (h + pad):i * (h + pad) + h, j * (w + pad):j * (w + pad) + w] = images[i, j]
    return out


def to_png(image: np.ndarray, scale: int = 1) -> bytes:
    """PNG bytes of a grey image in [0, 1], optionally upscaled (pixel-sharp).

    zlib level 1: a row of ten digits encodes in 1.2 ms instead of 4.9 ms at Pillow's default
    level 6, for 17% more bytes; pages draw dozens of these on every run.
    """
    picture = Image.fromarray(to_uint8(image), mode="L")
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def dots_png(points: np.ndarray, colours: np.ndarray, reach: float, size: int = 480, dot: int = 3,
             opacity: float = 0.3) -> bytes:
    """PNG bytes (RGBA, transparent ground) of 2-D points as faint square dots of their own colours,
    the square [-reach, reach]^2 drawn `size` px across, y up. A fixed cloud of thousands of points drawn
    once: behind a chart it costs the browser one picture, not thousands of markers.

    `colours` is (N, 3) uint8; dots are painted one over another, each at `opacity`.
    """
    points = np.asarray(points, dtype=np.float64)
    pixel = np.floor((points + reach) / (2 * reach) * size).astype(int)
    col, row = pixel[:, 0], size - 1 - pixel[:, 1]
    inside = (col >= 0) & (col < size) & (row >= 0) & (row < size)
    rgb = np.zeros((size, size, 3), dtype=np.float64)
    alpha = np.zeros((size, size), dtype=np.float64)
    half = dot // 2
    for dr in range(-half, dot - half):
        for dc in range(-half, dot - half):
            r, c = row[inside] + dr, col[inside] + dc
            keep = (r >= 0) & (r < size) & (c >= 0) & (c < size)
            for (y, x), paint in zip(zip(r[keep], c[keep]), colours[inside][keep]):
                rgb[y, x] = opacity * paint + (1 - opacity) * rgb[y, x]   # "over", in premultiplied form
                alpha[y, x] = opacity + (1 - opacity) * alpha[y, x]
    straight = np.where(alpha[..., None] > 0, rgb / np.maximum(alpha[..., None], 1e-9), 0)
    picture = np.dstack([straight, alpha * 255]).round().clip(0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(picture, mode="RGBA").save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def data_url(png: bytes) -> str:
    """PNG bytes as a data: URL, which st.image and plotly show without a separate HTTP request."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def png_data_url(image: np.ndarray, scale: int = 1) -> str:
    """A grey image in [0, 1] as a PNG data: URL."""
    return data_url(to_png(image, scale))


# --- uploads: any image file -> a 28x28 digit the way MNIST was made ---------------------------

UPLOAD_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")  # Pillow's only decoders we let near an upload
MAX_UPLOAD_PIXELS = 50_000_000  # a 48-megapixel phone photo fits; a decompression bomb does not
# Pillow keeps a pointer per row for every copy of an image: a PNG 1 px wide and 50 million rows
# tall cost 1.7 GB while it was prepared. A phone's 48-megapixel photo is 8,000 px on its long side.
MAX_UPLOAD_SIDE = 10_000
MAX_ASPECT = 20         # long side / short side, checked beyond WORK_SIDE: no digit needs a longer strip
# Peak memory of decoding and greying, per decoded pixel, measured at 20 megapixels
# (`python -m bench.bench_hostile --modes`) and rounded up: a copy or two of 1-4 bytes a pixel in
# Pillow, more where transparency, 16-bit grey or WebP's own buffer are converted.
DECODE_BYTES_PER_PIXEL = {"grey": 3.0, "colour": 6.0, "alpha": 15.0, "deep": 15.0, "webp": 18.0}
DECODE_ROW_BYTES = 64   # row pointers of those copies, per row
DECODE_FIXED_BYTES = 8 * 2**20  # what any decode costs beside its pixels (a 7-megapixel RGBA PNG: +95 MB)
DECODE_MEMORY = 400 * 2**20  # what one upload may need; 2 at once (DECODES_AT_ONCE) bound the server's share
DECODES_AT_ONCE = 2     # uploads decoded at the same time in this process, all visitors together
DECODE_WAIT_SECONDS = 10.0  # how long an upload waits for a free slot before "busy, try again"
# Pillow's decoders written in Python (BMP's RLE4/RLE8) hold the GIL for the whole file: a 29 KB RLE8
# BMP of 49 megapixels took 4.5 s. Beyond this many pixels they are refused.
PYTHON_DECODER_PIXELS = 1_000_000
# A progressive JPEG is decoded scan by scan over its whole resolution (scaled decoding does not
# help): 24-31 ms a scan at 49 megapixels on one core. Encoders write 6 (grey) to about 12 scans,
# so these allow a 48-megapixel photo with 13 scans and refuse a file that repeats a scan.
MAX_JPEG_SCANS = 100
MAX_SCAN_MEGAPIXELS = 640      # scans x megapixels
DECODE_SECONDS = 8.0           # wall-clock budget to decode one file (a 49-megapixel PNG: 0.4-1.4 s)
DECODE_BLOCK = 16_384          # bytes fed to a decoder at a time, so the budget is checked often
WORK_SIDE = 1024        # larger images are shrunk to this first: plenty for a 20-px digit, and fast
MNIST_SIDE = 28
DIGIT_BOX = 20          # MNIST scaled each digit's longer side to 20 px, then centred it in 28x28
MIN_INK_CONTRAST = 0.15  # paper and darkest ink closer than this (of full scale): a blank page
INK_FLOOR = 0.2         # below this fraction of the ink's contrast a pixel is paper texture or shadow
MASS_TRIM = 0.005       # rows / columns holding less ink than this fraction at an edge are specks
PREVIEW_SIDE = 112
WORK_SCALE = 4          # strokes are measured and reshaped at 4x the 20-px box: quarter-pixel steps
# MNIST's stroke widths in the 20-px box (`stroke_width(digit >= 0.5)` of the 60,000 training
# digits; `python -m bench.bench_upload --stroke-widths` measures them): 1st, 10th, 50th, 90th
# and 99th percentile. Strokes outside the 10-90% band are brought to the median; a 28x28 image
# inside the 1-99% band (and MNIST's size and place) counts as MNIST already.
STROKE_WIDTHS = {1: 1.21, 10: 1.60, 50: 2.27, 90: 3.30, 99: 4.53}
SOFT_EDGES = 0.2        # share of ink pixels in grey between ink and paper: MNIST's lowest 1% have 0.29,
                        # a crisp paint-program drawing 0
NOISE_SPECKS = 6        # a 28x28 image with this many separate bits of ink or more is noisy (every
                        # clean MNIST digit is 1; Gaussian noise 0.5 gives 10+, salt and pepper 0.05 gives 3+)


@dataclass(frozen=True)
class UploadedDigit:
    """An upload turned into an MNIST digit, with what was done to it and what a person should know."""

    image: np.ndarray               # (28, 28) float32 in [0, 1], light ink on black like MNIST
    preview: np.ndarray             # the upload in grey, at most 112 px a side, before inversion
    steps: tuple[str, ...] = ()     # what the preprocessing did, in order, for a caption
    notes: tuple[str, ...] = ()     # warnings: only the first frame used, no ink found
    blank: bool = False             # no ink at all: `image` is all zeros


def prepare_upload(data: bytes) -> UploadedDigit:
    """Turn image file bytes into an MNIST digit, as LeCun et al. made MNIST from NIST scans.

    Decode (first frame of an animation, camera rotation applied), composite transparency on a
    background, grey, invert dark ink on light paper, subtract the paper's shading, crop to the ink,
    bring strokes to MNIST's width, scale the longer side to 20 px keeping the aspect ratio,
    stretch the contrast and centre the centre of mass in 28x28 (`mnist_digit`). A 28x28 image
    that is noisy or already MNIST is only inverted when needed, so its noise reaches the model
    as it is (`_mnist_sized`).

    At most DECODES_AT_ONCE uploads are decoded at a time in this process; another waits up to
    DECODE_WAIT_SECONDS for a turn.

    Raises:
        ServerBusy: (a ValueError) no turn came in time: the file may be fine, try again shortly.
        ValueError: the file is empty, not an image, damaged, too large or fully transparent; the
            message is one sentence for the person who uploaded it.
    """
    if not data:
        raise ValueError("The file is empty (0 bytes).")
    if not _decode_slots.acquire(timeout=DECODE_WAIT_SECONDS):
        raise ServerBusy("The server is busy preparing other uploads; try again in a minute.")
    try:
        image, steps, notes = _decode(data)
        grey, alpha, clear_grey = _grey_and_alpha(image)
        del image  # the full-size decode: freed before the slot is
    finally:
        _decode_slots.release()
    return _digit_from_grey(grey, alpha, clear_grey, steps, notes)


def _digit_from_grey(grey: np.ndarray, alpha: np.ndarray | None, clear_grey: float | None,
                     steps: list[str], notes: list[str]) -> UploadedDigit:
    """`prepare_upload` after decoding: grey (and opacity) at most WORK_SIDE a side -> the digit."""
    if alpha is not None:
        grey = _flatten_transparency(grey, alpha, clear_grey)
        steps.append("transparent parts filled with the background")
    preview = _resize(grey, min(1.0, PREVIEW_SIDE / max(grey.shape)))
    if np.median(_frame(grey)) > 0.5:  # dark ink on light paper; MNIST digits are light on black
        grey = 1.0 - grey
        steps.append("dark ink on light paper, so inverted")
    paper = _paper_surface(grey)
    uneven = paper.max() - paper.min() > 0.05
    above_paper = grey - paper
    contrast = float(above_paper.max())
    if contrast < MIN_INK_CONTRAST:
        notes.append("No ink found: the image looks like a blank page, so the digit is empty.")
        return UploadedDigit(np.zeros((MNIST_SIDE, MNIST_SIDE), np.float32), preview, tuple(steps), tuple(notes), True)
    if grey.shape == (MNIST_SIDE, MNIST_SIDE):
        kept = _mnist_sized(grey)
        if kept is not None:
            steps.append(kept)
            return UploadedDigit(grey.astype(np.float32), preview, tuple(steps), tuple(notes))
    if uneven:  # said only where it is done: a 28x28 image kept as it is keeps its shading too
        steps.append("uneven lighting evened out")
    ink = np.clip(above_paper / contrast, 0.0, 1.0)
    ink[ink < INK_FLOOR] = 0.0
    digit, fit_steps = mnist_digit(ink)
    return UploadedDigit(digit, preview, tuple(steps + fit_steps), tuple(notes))


def mnist_digit(ink: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Light ink on black (H, W) in [0, 1] -> (28x28 MNIST digit, the steps taken as phrases).

    Crops to the ink (ignoring specks), scales it to 4x MNIST's 20-px box, brings stroke widths
    outside MNIST's usual range to its median (thin pen lines thickened, marker strokes thinned),
    shrinks to 20 px by area averaging (anti-aliased edges, as MNIST's), stretches the contrast to
    full white and puts the centre of mass at the centre of 28x28.
    """
    rows, cols = _ink_span(ink.sum(1)), _ink_span(ink.sum(0))
    crop = ink[rows, cols]
    steps = [f"cropped to the ink, {crop.shape[1]}x{crop.shape[0]} px"]
    work = _resize(crop, WORK_SCALE * DIGIT_BOX / max(crop.shape))
    work = np.clip(work / work.max(), 0.0, 1.0)
    width = stroke_width(work >= 0.5) / WORK_SCALE  # in pixels of the 20-px box, as STROKE_WIDTHS
    change = round((STROKE_WIDTHS[50] - width) * WORK_SCALE / 2)  # a 3x3 step moves each edge 1 px
    if width < STROKE_WIDTHS[10] and change > 0:
        work = _dilate(work, change)
        steps.append(f"thin strokes thickened from {width:.1f} to {STROKE_WIDTHS[50]:.1f} px, MNIST's usual width")
    elif width > STROKE_WIDTHS[90] and change < 0:
        work = _erode(work, -change)
        steps.append(f"thick strokes thinned from {width:.1f} to {STROKE_WIDTHS[50]:.1f} px, MNIST's usual width")
    digit = _resize(work, DIGIT_BOX / max(work.shape))
    digit = np.clip(digit / digit.max(), 0.0, 1.0)
    steps.append(f"scaled to {digit.shape[1]}x{digit.shape[0]} px with soft edges, contrast stretched, "
                 "centred by centre of mass in 28x28")
    return _centre_by_mass(digit), steps


class DecodeTimeout(Exception):
    """Decoding an upload ran past its time budget."""


class ServerBusy(ValueError):
    """Every decoding slot stayed taken for DECODE_WAIT_SECONDS: a refusal for now, not of the file."""


_decode_slots = threading.BoundedSemaphore(DECODES_AT_ONCE)


class _BudgetedReader(io.BytesIO):
    """File bytes that refuse to be read after a deadline: Pillow's decoders read block by block,
    so an image that takes too long to decode stops at its next block."""

    def __init__(self, data: bytes, seconds: float):
        super().__init__(data)
        self.deadline = time.monotonic() + seconds

    def read(self, size: int | None = -1) -> bytes:
        if time.monotonic() > self.deadline:
            raise DecodeTimeout
        return super().read(size)


_NO_LENGTH = {0x01, 0xD8, *range(0xD0, 0xD8)}  # TEM, SOI, RST0-RST7: markers without a length field


def jpeg_scans(data: bytes) -> int:
    """How many scans (SOS segments) the first image of a JPEG file holds, read as libjpeg reads its markers.

    Segments are skipped by their lengths (an EXIF thumbnail holds scans of its own, a comment may
    hold FF D9); markers without a length (RSTn, TEM, SOI) and fill bytes (FF FF ...) are stepped
    over, as are stray bytes before a marker; a scan's entropy-coded data runs to the first FF that
    is neither stuffing (FF 00) nor a restart marker. Counting stops at the end marker (EOI).
    """
    if data[:2] != b"\xff\xd8":
        return 0
    scans, at, size = 0, 2, len(data)
    while at < size:
        if data[at] != 0xFF:  # libjpeg skips stray bytes to the next marker (with a warning)
            at = data.find(b"\xff", at)
            if at < 0:
                break
        marker_at = at + 1
        while marker_at < size and data[marker_at] == 0xFF:  # fill bytes
            marker_at += 1
        if marker_at >= size:
            break
        marker, at = data[marker_at], marker_at + 1
        if marker in _NO_LENGTH or marker == 0x00:
            continue
        if marker == 0xD9:
            break
        length = int.from_bytes(data[at:at + 2], "big")
        if length < 2:  # libjpeg refuses the file
            break
        at += length
        if marker == 0xDA:
            scans += 1
            at = _entropy_coded_end(data, at)
    return scans


def _entropy_coded_end(data: bytes, at: int) -> int:
    """Where the entropy-coded data that starts at `at` ends: the FF of the next real marker (or the end)."""
    size = len(data)
    while True:
        at = data.find(b"\xff", at)
        if at < 0:
            return size
        after = at + 1
        while after < size and data[after] == 0xFF:
            after += 1
        if after >= size:
            return size
        if data[after] == 0x00 or 0xD0 <= data[after] <= 0xD7:  # stuffing or a restart marker
            at = after + 1
            continue
        return at


def _mnist_sized(grey: np.ndarray) -> str | None:
    """Why a 28x28 image (light ink on black) is used as it is, or None when it is to be made MNIST-like.

    Kept: a noisy image (many separate specks: the denoiser's job, so the noise stays), and one
    that is MNIST already (soft anti-aliased edges, a 20-px digit centred by mass). A crisp drawing
    (a paint program's 1-px pen), or a digit off-centre, too small or too large, is remade like any
    upload. Stroke width is not asked of soft images: masking noise halves it, and the noise stays.
    """
    peak = float(grey.max())
    lit = grey > 0.2 * peak
    if _specks(lit) >= NOISE_SPECKS:
        return "already 28x28 and noisy: used as it is, noise and all"
    ink = grey > 0.1 * peak
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    long_side = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    centre = np.array([grey.sum(1) @ np.arange(28), grey.sum(0) @ np.arange(28)]) / grey.sum()
    soft = float(((grey > 0.1 * peak) & (grey < 0.9 * peak)).sum()) / max(int(ink.sum()), 1)
    if soft >= SOFT_EDGES and DIGIT_BOX - 2 <= long_side <= DIGIT_BOX + 1 and np.abs(centre - 14).max() <= 1.5:
        return "already an MNIST digit (28x28, soft edges, 20-px digit centred): used as it is"
    return None


def _specks(mask: np.ndarray) -> int:
    """How many separate pieces (8-connected) a binary image holds."""
    return int(ndimage.label(mask, structure=np.ones((3, 3), bool))[1])


def _check_shape(width: int, height: int) -> None:
    """Refuse, with a sentence, an image whose header gives too many pixels, a side too long or a strip."""
    if width * height > MAX_UPLOAD_PIXELS:
        raise ValueError(f"The image is {width:,} x {height:,} pixels, more than the "
                         f"{MAX_UPLOAD_PIXELS // 1_000_000} megapixels accepted; scale it down and upload it again.")
    long_side, short_side = max(width, height), max(1, min(width, height))
    if long_side > MAX_UPLOAD_SIDE:
        raise ValueError(f"The image is {width:,} x {height:,} pixels, longer than the {MAX_UPLOAD_SIDE:,} px "
                         "accepted on a side; scale it down and upload it again.")
    if long_side > WORK_SIDE and long_side / short_side > MAX_ASPECT:
        raise ValueError(f"The image is {width:,} x {height:,} pixels, a strip more than {MAX_ASPECT} times "
                         "longer than it is wide rather than a digit; crop it to the digit and upload it again.")


def decode_memory(image: Image.Image) -> int:
    """Bytes an opened (not yet loaded) upload is expected to need at its peak while decoded and greyed."""
    width, height = image.size
    if image.format == "WEBP":
        kind = "webp"
    elif "A" in image.mode or "a" in image.mode or "transparency" in image.info:
        kind = "alpha"
    elif image.mode.startswith("I") or image.mode == "F":
        kind = "deep"
    elif image.mode in ("1", "L", "P"):
        kind = "grey"
    else:
        kind = "colour"
    return int(width * height * DECODE_BYTES_PER_PIXEL[kind] + height * DECODE_ROW_BYTES + DECODE_FIXED_BYTES)


def _decode(data: bytes) -> tuple[Image.Image, list[str], list[str]]:
    """Open, check and load an image file: (first frame as a loaded PIL image, steps, notes).

    What one file may cost is bounded before and while it decodes: pixels (from the header),
    shape, Python-decoded formats, expected memory (DECODE_MEMORY), JPEG scans (from the markers)
    and DECODE_SECONDS of wall clock.
    """
    try:
        return _open_and_load(data)
    except DecodeTimeout:
        raise ValueError(f"This image took longer than the {DECODE_SECONDS:g} s allowed to decode; scale it "
                         "down or save it as a plain PNG or JPEG and upload it again.") from None


def _open_and_load(data: bytes) -> tuple[Image.Image, list[str], list[str]]:
    """`_decode` for non-empty bytes; raises DecodeTimeout when the time budget runs out."""
    try:
        image = Image.open(_BudgetedReader(data, DECODE_SECONDS), formats=UPLOAD_FORMATS)
    except Image.DecompressionBombError as exc:  # Pillow refuses beyond ~179 megapixels on its own
        raise ValueError(f"The image is far larger than the {MAX_UPLOAD_PIXELS // 1_000_000} megapixels "
                         "accepted; scale it down and upload it again.") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # UnidentifiedImageError is an OSError
        raise ValueError("This file is not a PNG, JPEG, BMP, GIF or WebP image.") from exc
    width, height = image.size
    _check_shape(width, height)  # on the header, before any pixel is decoded
    steps = [f"{image.format} {width}x{height}"]
    notes = []
    if image.format in ("JPEG", "MPO"):  # MPO: how the JPEG decoder opens many phone cameras' photos
        scans = jpeg_scans(data)
        if scans > MAX_JPEG_SCANS or scans * width * height / 1e6 > MAX_SCAN_MEGAPIXELS:
            raise ValueError(f"This JPEG is stored in {scans:,} passes (scans), far more than a camera or an "
                             "image editor writes, and would take too long to decode; save it again as a "
                             "plain JPEG or PNG and upload that.")
        image.draft(None, (WORK_SIDE, WORK_SIDE))  # decode big photos at 1/2, 1/4 or 1/8 scale
    if any(tile[0] in Image.DECODERS for tile in image.tile) and width * height > PYTHON_DECODER_PIXELS:
        raise ValueError(f"This {image.format} is stored in a way that is slow to decode (run-length "
                         f"compressed) and is over {PYTHON_DECODER_PIXELS // 1_000_000} megapixel; save it "
                         "as a PNG or JPEG and upload that.")
    needed = decode_memory(image)
    if needed > DECODE_MEMORY:
        raise ValueError(f"This image would need about {needed / 2**20:,.0f} MB of memory to prepare, more than "
                         f"the {DECODE_MEMORY // 2**20} MB one upload may use; scale it down or save it "
                         "without transparency and upload it again.")
    image.decodermaxblock = DECODE_BLOCK
    try:
        frames = getattr(image, "n_frames", 1)  # a GIF's frames are counted by reading through them
        if frames > 1:
            notes.append(f"This is an animation of {frames} frames; only the first frame is used.")
        image.load()
        # Phone photos are stored sideways with a rotation tag; in place, as a copy would double the memory.
        ImageOps.exif_transpose(image, in_place=True)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ValueError("The image data is damaged or incomplete (the file may have been cut off); "
                         "upload the complete file.") from exc
    return image, steps, notes


def _grey_and_alpha(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None, float | None]:
    """Grey levels and opacity in [0, 1], both (H, W) float32 at most WORK_SIDE a side, and the median
    grey of the fully transparent pixels (the colour the file gives its "paper"); no alpha -> None, None.
    """
    if image.mode.startswith("I") or image.mode == "F":  # 16-bit PNGs: Pillow's convert("L") would clip
        pixels = np.asarray(image, dtype=np.float32)
        grey = Image.fromarray(pixels / (65535.0 if pixels.max() > 255 else 255.0), mode="F")
        grey.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
        return np.clip(np.asarray(grey, dtype=np.float32), 0.0, 1.0), None, None
    if not ("A" in image.mode or "a" in image.mode or "transparency" in image.info):
        image = image.convert("RGB").convert("L") if image.mode == "CMYK" else image.convert("L")
        image.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
        return np.asarray(image, dtype=np.float32) / 255.0, None, None
    image = image.convert("RGBA").convert("LA")
    if image.getchannel("A").getextrema()[1] == 0:
        raise ValueError("The image is fully transparent: there is no digit to see.")
    sample = np.asarray(image.resize((min(image.width, 256), min(image.height, 256)), Image.Resampling.NEAREST))
    clear = sample[..., 1] == 0
    clear_grey = float(np.median(sample[..., 0][clear])) / 255.0 if clear.any() else None
    image.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)  # premultiplies alpha for "LA"
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    return pixels[..., 0], pixels[..., 1], clear_grey


def _flatten_transparency(grey: np.ndarray, alpha: np.ndarray, clear_grey: float | None) -> np.ndarray:
    """Composite on a background: the file's own colour for its transparent pixels when that contrasts
    with the drawing (a transparent paper colour), else black or white, whichever contrasts more.
    """
    opaque = alpha >= 0.5
    drawing = float(np.median(grey[opaque] if opaque.any() else grey[alpha > 0]))
    if clear_grey is not None and abs(clear_grey - drawing) >= 0.25:
        background = clear_grey
    else:  # e.g. black strokes whose transparent pixels are stored black too: fill with white
        background = 1.0 if drawing < 0.5 else 0.0
    return grey * alpha + background * (1.0 - alpha)


def _frame(grey: np.ndarray) -> np.ndarray:
    """The pixels of a frame 2% wide around an image (at least one pixel): mostly paper."""
    return grey[_frame_mask(grey.shape)]


def _frame_mask(shape: tuple[int, int]) -> np.ndarray:
    width = max(1, round(0.02 * min(shape)))
    mask = np.zeros(shape, bool)
    mask[:width], mask[-width:], mask[:, :width], mask[:, -width:] = True, True, True, True
    return mask


def _paper_surface(grey: np.ndarray) -> np.ndarray:
    """The paper's grey level at every pixel: a quadratic surface fitted to the frame around the image.

    An evenly lit page gives a flat surface; a lamp's gradient or a camera's vignette is followed,
    so the shadowed side of a photo is not taken for ink. Frame pixels far from the fit (a digit
    touching the edge) are left out of a second fit.
    """
    height, width = grey.shape
    rows, cols = np.nonzero(_frame_mask(grey.shape))
    if rows.size > 2_000:  # plenty for six coefficients
        keep = np.linspace(0, rows.size - 1, 2_000).astype(int)
        rows, cols = rows[keep], cols[keep]
    y, x = rows / height - 0.5, cols / width - 0.5
    design = np.stack([np.ones_like(x), x, y, x * x, y * y, x * y], axis=1)  # a quadratic in x, y
    values = grey[rows, cols].astype(np.float64)
    fitted = np.ones(values.size, bool)
    for _ in range(2):
        a = design[fitted]  # normal equations; the tiny ridge keeps a one-pixel-high image solvable
        coefficients = np.linalg.solve(a.T @ a + 1e-6 * np.eye(6), a.T @ values[fitted])
        residual = np.abs(values - design @ coefficients)
        fitted = residual <= max(3 * np.median(residual), 0.02)
    c0, cx, cy, cxx, cyy, cxy = coefficients
    x = (np.arange(width) / width - 0.5)[None, :]   # (1, W)
    y = (np.arange(height) / height - 0.5)[:, None]  # (H, 1)
    return ((c0 + cx * x + cxx * x * x) + (cy * y + cyy * y * y) + cxy * y * x).astype(np.float32)


def _ink_span(profile: np.ndarray) -> slice:
    """The rows (or columns) holding the ink, without edge rows that hold less than MASS_TRIM of it."""
    cumulative = np.cumsum(profile) / profile.sum()
    first = int(np.searchsorted(cumulative, MASS_TRIM, side="right"))
    last = int(np.searchsorted(cumulative, 1.0 - MASS_TRIM, side="left"))
    return slice(first, min(last, len(profile) - 1) + 1)


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels of a binary drawing: twice its area over its outline length.

    One-pixel gaps are closed first, so salt-and-pepper holes and masking noise inside a stroke do
    not halve the figure.
    """
    mask = ndimage.binary_closing(np.pad(mask, 1), structure=np.ones((3, 3), bool))[1:-1, 1:-1] | mask
    padded = np.pad(mask, 1)
    outline = (padded[1:] != padded[:-1]).sum() + (padded[:, 1:] != padded[:, :-1]).sum()
    return 2.0 * float(mask.sum()) / max(int(outline), 1)


def _resize(image: np.ndarray, factor: float) -> np.ndarray:
    """Resize a float image by `factor` (area averaging when shrinking), at least 1 px a side."""
    height, width = image.shape
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    if size == (width, height):
        return image.astype(np.float32)
    resample = Image.Resampling.BOX if factor < 1 else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(image.astype(np.float32), mode="F").resize(size, resample), dtype=np.float32)


def _dilate(image: np.ndarray, steps: int) -> np.ndarray:
    """Grey dilation: each step widens bright strokes by one pixel on each side."""
    result = Image.fromarray(image.astype(np.float32), mode="F")
    for _ in range(steps):
        result = result.filter(ImageFilter.MaxFilter(3))
    return np.asarray(result, dtype=np.float32)


def _erode(image: np.ndarray, steps: int) -> np.ndarray:
    """Grey erosion: each step narrows bright strokes by one pixel on each side."""
    result = Image.fromarray(image.astype(np.float32), mode="F")
    for _ in range(steps):
        result = result.filter(ImageFilter.MinFilter(3))
    return np.asarray(result, dtype=np.float32)


def _centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """Place a digit (h, w <= 20) in 28x28 so that its centre of mass is at the centre."""
    height, width = digit.shape
    total = digit.sum()
    centre_y = float(digit.sum(1) @ np.arange(height)) / total
    centre_x = float(digit.sum(0) @ np.arange(width)) / total
    middle = MNIST_SIDE / 2  # MNIST's centres of mass lie within half a pixel of (14, 14)
    pad = MNIST_SIDE  # room on every side, so a lopsided digit is clipped only by the final crop
    canvas = np.zeros((MNIST_SIDE + 2 * pad, MNIST_SIDE + 2 * pad), np.float32)
    top, left = pad + round(middle - centre_y), pad + round(middle - centre_x)
    canvas[top:top + height, left:left + width] = digit
    return canvas[pad:pad + MNIST_SIDE, pad:pad + MNIST_SIDE]
