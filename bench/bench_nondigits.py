"""Things that are not digits, through the pages' paths: how often does the lab call one a digit?

    python -m bench.bench_nondigits             # the corpus below, and the digits it must not refuse
    python -m bench.bench_nondigits --per-kind 40

The corpus is made here, nothing downloaded: capital and small letters in Pillow's own font at
several sizes and weights, Gaussian and uniform noise, blank pages (white, black, grey), scribbles
(random pen walks), shapes (circles, squares, triangles, stars, lines, crosses) and a tiny flick in
a corner. Each is encoded as a PNG and goes through `core.images.prepare_upload`, then through what
each page does with it: the Denoising page (denoise, read; a digit unless it says the denoiser is
out of its depth or the image is no digit), the Anomaly page (scored by `vae_one`; "passes as a 7"
calls it a seven) and the Latent space page (placed among its neighbours unless it is no digit).
Printed: per kind and page, the share called a digit; and, for the same check, the share of real
digits refused: MNIST's test digits and the person-like variants of `bench.bench_upload`.
"""

from __future__ import annotations

import argparse
import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core import checkpoints, data, denoise, images

KINDS = ("letters", "noise", "blank", "scribbles", "shapes", "flick")


def png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def letters(rng: np.random.Generator, count: int) -> list[bytes]:
    """Letters (not O, I, l, S, Z, B, G, g, q: they pass for digits in some hands) in black on white."""
    alphabet = "ACDEFHJKLMNPRTUVWXYabcdefhkmnprtuvwxy"
    made = []
    for i in range(count):
        size = int(rng.integers(60, 160))
        font = ImageFont.load_default(size=size)
        page = Image.new("L", (size * 2, size * 2), 255)
        draw = ImageDraw.Draw(page)
        draw.text((size // 2, size // 3), alphabet[i % len(alphabet)], fill=0, font=font,
                  stroke_width=int(rng.integers(0, max(1, size // 12))), stroke_fill=0)
        made.append(png(page))
    return made


def noise(rng: np.random.Generator, count: int) -> list[bytes]:
    made = []
    for i in range(count):
        side = int(rng.choice([28, 28, 64, 200]))
        pixels = rng.normal(0.5, 0.3, (side, side)) if i % 2 else rng.random((side, side))
        made.append(png(Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8))))
    return made


def blank(rng: np.random.Generator, count: int) -> list[bytes]:
    return [png(Image.new("L", (int(rng.integers(28, 300)),) * 2, int(rng.choice([0, 255, 128, 230]))))
            for _ in range(count)]


def scribbles(rng: np.random.Generator, count: int) -> list[bytes]:
    made = []
    for _ in range(count):
        page = Image.new("L", (200, 200), 255)
        draw = ImageDraw.Draw(page)
        point = rng.uniform(40, 160, 2)
        path = [tuple(point)]
        for _ in range(int(rng.integers(15, 60))):
            point = np.clip(point + rng.normal(0, 25, 2), 10, 190)
            path.append(tuple(point))
        draw.line(path, fill=0, width=int(rng.integers(4, 14)))
        made.append(png(page))
    return made


def shapes(rng: np.random.Generator, count: int) -> list[bytes]:
    made = []
    for i in range(count):
        page = Image.new("L", (200, 200), 255)
        draw = ImageDraw.Draw(page)
        width = int(rng.integers(5, 14))
        kind = i % 6
        if kind == 0:
            draw.ellipse((40, 40, 160, 160), outline=0, width=width)
        elif kind == 1:
            draw.rectangle((45, 45, 155, 155), outline=0, width=width)
        elif kind == 2:
            draw.polygon([(100, 30), (170, 160), (30, 160)], outline=0, width=width)
        elif kind == 3:
            angles = np.linspace(0, 4 * np.pi, 6)
            draw.line([(100 + 70 * np.sin(a), 100 - 70 * np.cos(a)) for a in angles], fill=0, width=width)
        elif kind == 4:
            draw.line((30, 100, 170, 100), fill=0, width=width)  # a dash
        else:
            draw.line((40, 40, 160, 160), fill=0, width=width)
            draw.line((160, 40, 40, 160), fill=0, width=width)
        made.append(png(page.rotate(float(rng.uniform(-30, 30)), fillcolor=255)))
    return made


def flick(rng: np.random.Generator, count: int) -> list[bytes]:
    """A short stroke in a corner of a drawing canvas, as a stray touch leaves."""
    made = []
    for _ in range(count):
        page = Image.new("RGBA", (280, 280), (255, 255, 255, 255))
        draw = ImageDraw.Draw(page)
        x, y = rng.uniform(5, 40, 2)
        draw.line((x, y, x + rng.uniform(5, 20), y + rng.uniform(-5, 10)), fill=(0, 0, 0, 255), width=18)
        made.append(png(page))
    return made


def corpus(per_kind: int = 24, seed: int = 0) -> dict[str, list[bytes]]:
    """PNG files of things that are not digits, `per_kind` of each kind."""
    rng = np.random.default_rng(seed)
    return {kind: globals()[kind](rng, per_kind) for kind in KINDS}


def called_a_digit(files: list[bytes], models: dict) -> dict[str, float]:
    """The share of `files` each page presents as a digit: Denoising (a read digit with no out-of-depth
    sentence), Anomaly ("passes as a 7" at the page's default threshold) and Latent space (placed)."""
    from core import anomaly

    prepared = []
    for file in files:
        try:
            upload = images.prepare_upload(file)
        except ValueError:  # refused with a sentence: not called a digit
            continue
        if not upload.blank:  # a blank page is said to be blank
            prepared.append(upload.image)
    if not prepared:
        return {"denoising": 0.0, "anomaly": 0.0, "latent space": 0.0}
    stack = np.stack(prepared)
    cleaned = denoise.clean_up(models["denoising"], stack, models["classifier"], judge=models["vae"])
    scores = np.array([anomaly.score_image(models["vae_one"], image, models["vae"]) for image in stack])
    return {"denoising": sum(result.verdict is None for result in cleaned) / len(files),
            "anomaly": float((scores <= models["threshold"]).sum()) / len(files),
            "latent space": len(prepared) / len(files)}


def main(argv: list[str] | None = None) -> int:
    from core import anomaly

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-kind", type=int, default=24)
    args = parser.parse_args(argv)
    models = {name: checkpoints.load(name)[0] for name in ("denoising", "classifier", "vae_one", "vae")}
    test = data.load("mnist", "test")
    models["threshold"] = anomaly.default_threshold(
        anomaly.likelihood_ratio(anomaly.score_digits(models["vae_one"], test, 7), models["vae"], test))
    print(f"{'kind':<10} {'files':>5}  " + "  ".join(f"{page:>12}" for page in ("denoising", "anomaly", "latent space")))
    for kind, files in corpus(args.per_kind).items():
        shares = called_a_digit(files, models)
        print(f"{kind:<10} {len(files):>5}  " + "  ".join(f"{share:>12.0%}" for share in shares.values()))
    digits = [png(Image.fromarray(image)) for image in test.images[:200]]
    shares = called_a_digit(digits, models)
    print(f"{'MNIST':<10} {len(digits):>5}  " + "  ".join(f"{share:>12.0%}" for share in shares.values())
          + "   (real digits: the share should stay high; Anomaly passes only sevens)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
