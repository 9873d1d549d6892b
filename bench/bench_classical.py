"""The classical filters beside the autoencoders, on the same noisy test digits: README's table.

    python -m bench.bench_classical                 # the 10,000 test digits, one thread
    python -m bench.bench_classical --digits 1000   # a quicker look

For each noise (Gaussian 0.5, salt and pepper 0.2, masking 0.5) the same seeded noisy digits go
through each classical filter at its tuned value (core.classical.TUNED) and each shipped denoising
autoencoder; printed: mean PSNR (dB) and SSIM against the clean digits, the shipped classifier's
accuracy on the output, and the filter's time per digit (wall clock, one thread, the batch in one call).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from core import checkpoints, classical, data, denoise, metrics
from core.inference import reconstruct

SETTINGS = (("gaussian", 0.5), ("salt_pepper", 0.2), ("masking", 0.5))
AUTOENCODERS = ("unet", "denoising")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=10_000)
    parser.add_argument("--methods", nargs="+", choices=list(classical.METHODS), default=list(classical.METHODS))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    test = data.load("mnist", "test")
    clean = (test.images[:args.digits] / 255.0).astype(np.float32)
    labels = test.labels[:args.digits]
    classifier = checkpoints.load("classifier")[0]
    models = {}
    for name in AUTOENCODERS:
        try:
            models[name] = checkpoints.load(name)[0]
        except (FileNotFoundError, ValueError) as exc:
            print(f"without {name}: {exc}")
    rows: dict[str, list[str]] = {}
    seconds: dict[str, float] = {}
    subjects = {"noisy input": lambda noisy: noisy,
                **{name: (lambda noisy, m=model: reconstruct(m, noisy)) for name, model in models.items()},
                **{method: (lambda noisy, m=method: classical.denoise(m, noisy)) for method in args.methods}}
    for kind, strength in SETTINGS:
        noisy = data.add_noise(clean, kind, strength, seed=0)
        for subject, run in subjects.items():
            start = time.perf_counter()
            out = run(noisy)
            seconds[subject] = seconds.get(subject, 0.0) + time.perf_counter() - start
            psnr = denoise.psnr_db(out, clean).mean()
            ssim = metrics.ssim(out, clean).mean()
            read = denoise.accuracy(classifier, out, labels)
            rows.setdefault(subject, []).append(f"{psnr:.1f} dB, {ssim:.3f}, {read:.1%}")
            print(f"{kind} {strength:g} {subject:>13}: {rows[subject][-1]}", flush=True)
    print(f"\n{args.digits:,} test digits, each cell PSNR, SSIM, classifier accuracy on the output; "
          "time per digit on one thread\n")
    print("| method | tuned parameter | Gaussian 0.5 | salt and pepper 0.2 | masking 0.5 | time per digit |")
    print("|---|---|---|---|---|---|")
    for subject, cells in rows.items():
        method = classical.METHODS.get(subject)
        parameter = method.describe(classical.TUNED[subject]) if method else ("-" if subject == "noisy input" else "autoencoder")
        label = f"{method.label} (`{subject}`)" if method else subject
        per_digit = 1000 * seconds[subject] / (len(SETTINGS) * args.digits)
        timing = "-" if subject == "noisy input" else f"{per_digit:.2f} ms"
        print(f"| {label} | {parameter} | {' | '.join(cells)} | {timing} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
