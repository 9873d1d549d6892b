"""Test-split metrics for every shipped checkpoint.

    python -m core.evaluate          # a table beside the published reference figures
    python -m core.evaluate --json   # one JSON object keyed by model name
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch
from torch import nn

from core import KERAS_NOISE_FACTOR, checkpoints, metrics
from core import data as data_lib
from core.catalogue import REFERENCES
from core.inference import EVAL_SEED, negative_elbo, reconstruct, run_batches
from core.registry import get_spec, list_models

DENOISE_NOISE = ("gaussian", KERAS_NOISE_FACTOR)
WORST_KEPT = 32       # worst-reconstructed test digits kept in a checkpoint's metrics
HISTOGRAM_BINS = 60   # bins of the per-digit BCE histogram kept likewise


def evaluate_model(name: str, model: nn.Module, dataset: str = "mnist", digit: int | None = None) -> dict:
    """The metrics of one model on the test split.

    Args:
        name: the registry model; its recipe's digit applies when `digit` is None.
        digit: for a model trained on one digit: ELBO on that digit, ROC AUC of it vs the rest.
    """
    spec = get_spec(name) if name in list_models() else None
    if digit is None:
        digit = getattr(getattr(spec, "recipe", None), "digit", None)
    test = data_lib.load(dataset, "test")
    x, y = test.floats(), test.label_tensor()
    model.eval()
    result: dict = {"data_source": test.source, "test_digits": len(test),
                    "parameters": sum(p.numel() for p in model.parameters())}
    if not model.is_autoencoder:
        logits = torch.cat(run_batches(lambda xb, yb: model(xb)["logits"], x))
        result["accuracy"] = float((logits.argmax(1) == y).float().mean())
        return result
    test_index = np.arange(len(test))  # positions in the full test split, kept through filtering
    if model.is_variational:
        scores = negative_elbo(model, x, y)
        if digit is not None:
            result["roc_auc"] = metrics.roc_auc(scores["nelbo"], test.labels != digit)
            result["digit"] = digit
            keep = test.labels == digit
            x, y, test_index = x[keep], y[keep], test_index[keep]
            scores = {k: v[keep] for k, v in scores.items()}
        result.update(nelbo=float(scores["nelbo"].mean()), recon_nats=float(scores["recon"].mean()),
                      kl=float(scores["kl"].mean()), active_units=metrics.active_units(scores["mu"]),
                      latent=int(scores["mu"].shape[1]))
    outputs = run_batches(lambda xb, yb: model(xb, yb), x, y)
    recon = torch.cat([out["recon"] for out in outputs])
    codes = torch.cat([out["code"] for out in outputs])
    bce = metrics.bce_per_pixel(recon, x)
    labels = y.numpy()
    worst = np.argsort(bce)[::-1][:WORST_KEPT]
    counts, edges = np.histogram(bce, bins=HISTOGRAM_BINS)
    result.update(
        bce=float(bce.mean()),
        bce_per_class=[float(bce[labels == c].mean()) if (labels == c).any() else None for c in range(10)],
        worst=[[int(test_index[i]), float(bce[i])] for i in worst],  # [test-split index, BCE], worst first
        bce_histogram={"edges": edges.round(5).tolist(), "counts": counts.tolist()},
        mse=float(metrics.mse_per_pixel(recon, x).mean()),
        euclidean_sum=float(metrics.euclidean_error(recon, x).sum()),
        mean_code_activation=float(codes.abs().mean()),
    )
    noisy = data_lib.corrupt(x, *DENOISE_NOISE, torch.Generator().manual_seed(EVAL_SEED))
    result["psnr_noisy"] = float(metrics.psnr(noisy, x).mean())
    result["psnr_denoised"] = float(metrics.psnr(reconstruct(model, noisy, y.numpy()), x).mean())
    return result


def evaluate_all(names: list[str] | None = None) -> dict[str, dict]:
    """Metrics for every registry model with a usable checkpoint; others get {"error": sentence}."""
    results = {}
    for name in names or list_models():
        try:
            model, meta = checkpoints.load(name)
        except (FileNotFoundError, ValueError) as exc:
            results[name] = {"error": str(exc)}
            continue
        results[name] = evaluate_model(meta["model"], model, meta["recipe"].get("dataset", "mnist"),
                                       meta["recipe"].get("digit"))
        results[name]["epochs"] = meta["epochs"]
        results[name]["train_data"] = meta["data_source"]
    return results


def format_table(results: dict[str, dict]) -> str:
    columns = [("bce", "BCE/px", "{:.4f}"), ("mse", "MSE/px", "{:.4f}"), ("euclidean_sum", "sum Eucl.", "{:,.0f}"),
               ("psnr_denoised", f"PSNR@{DENOISE_NOISE[1]:g}", "{:.1f}"), ("nelbo", "-ELBO", "{:.1f}"), ("kl", "KL", "{:.1f}"),
               ("active_units", "active", "{}"), ("roc_auc", "AUC", "{:.3f}"), ("accuracy", "acc", "{:.4f}"),
               ("parameters", "params", "{:,}"), ("epochs", "epochs", "{}")]
    head = ["model"] + [c[1] for c in columns] + ["reference (60k digits)"]
    rows = [head]
    for name, r in results.items():
        if "error" in r:
            rows.append([name, r["error"]])
            continue
        rows.append([name] + [fmt.format(r[key]) if key in r else "" for key, _, fmt in columns]
                    + [REFERENCES.get(name, "")])
    width = [max(len(row[i]) for row in rows if i < len(row) and len(row) > 2) for i in range(len(head))]
    lines = []
    for row in rows:
        if len(row) == 2:
            lines.append(f"| {row[0]} | {row[1]} |")
        else:
            lines.append("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, width)) + " |")
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in width) + "|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate every shipped checkpoint on the test split.")
    parser.add_argument("--json", action="store_true", help="print one JSON object keyed by model name")
    parser.add_argument("--model", action="append", choices=list_models(), help="only this model (repeatable)")
    parser.add_argument("--write", action="store_true", help="store the fresh metrics in each checkpoint")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results = evaluate_all(args.model)
    if args.write:
        for name, result in results.items():
            if "error" not in result:
                stored = {k: v for k, v in result.items() if k not in ("epochs", "train_data")}
                checkpoints.update_metrics(name, stored)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        sources = {r.get("data_source") for r in results.values() if "data_source" in r}
        print(f"test data: {', '.join(sorted(s for s in sources if s))}")
        print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
