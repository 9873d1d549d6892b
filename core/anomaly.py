"""Anomaly detection with a VAE trained on one digit: scores, ROC curve, precision and recall.

A VAE that has only seen sevens explains other digits badly, so their negative ELBO (nats) is
high: that score is `core.inference.negative_elbo`, the one `evaluate_model`'s ROC AUC uses, so
its figures equal the checkpoint's. But a digit with little ink is cheap for any model: a plain 1
costs the seven-VAE fewer nats than most sevens do. The likelihood ratio (Ren et al. 2019,
"Likelihood Ratios for Out-of-Distribution Detection") subtracts what a VAE of all ten digits
(`BACKGROUND`) pays for the same digit, so that only what is unlike the known digit counts.

    python -m core.anomaly     # both scores' ROC AUC on the test split, overall and per digit
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import torch
from torch import nn

from core import metrics
from core.data import Digits
from core.inference import negative_elbo, reconstruct

FALSE_ALARM_RATE = 0.05  # the default threshold flags 5% of the known digit
BACKGROUND = "vae"  # the all-digit VAE whose negative ELBO the likelihood ratio subtracts
SCORES = ("ratio", "elbo")  # the likelihood ratio against BACKGROUND, or the one-digit VAE's own -ELBO


@dataclass(frozen=True)
class AnomalyScores:
    """Per-digit anomaly scores of a split under a one-digit VAE."""

    scores: np.ndarray  # (N,) in nats, higher = more anomalous: -ELBO, or -ELBO minus BACKGROUND's
    recon: np.ndarray   # (N,) the one-digit VAE's reconstruction part (Bernoulli negative log-likelihood, nats)
    labels: np.ndarray  # (N,) true digits
    digit: int          # the digit the model was trained on
    score: str = "elbo"  # which of SCORES

    @property
    def is_anomaly(self) -> np.ndarray:
        """(N,) True for every digit other than the known one."""
        return self.labels != self.digit

    @cached_property  # computed once: the page reads it on every run of a cached result
    def auc(self) -> float:
        return metrics.roc_auc(self.scores, self.is_anomaly)

    @cached_property
    def roc_curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(false positive rates, true positive rates, thresholds) of flagging scores above a threshold."""
        return metrics.roc_curve(self.scores, self.is_anomaly)


def known_digit(meta: dict) -> int:
    """The digit a checkpoint was trained on, from its recipe; ValueError for an all-digit model."""
    digit = (meta.get("recipe") or {}).get("digit")
    if digit is None:
        raise ValueError(f"The checkpoint {meta.get('name', '')!r} was trained on every digit, so nothing is "
                         "an anomaly to it; pick a model trained on one digit, such as vae_one.")
    return int(digit)


def _check_variational(*models: nn.Module) -> None:
    if not all(getattr(m, "is_variational", False) for m in models):
        raise ValueError("Anomaly scores need variational autoencoders (their ELBO is the score).")


def score_digits(model: nn.Module, digits: Digits, digit: int, background: nn.Module | None = None) -> AnomalyScores:
    """Anomaly scores of every digit in a split (the whole split, as `evaluate_model` scores it):
    the one-digit VAE's negative ELBO, or with `background` (an all-digit VAE) the likelihood ratio."""
    _check_variational(model)
    parts = negative_elbo(model, digits.floats(), digits.label_tensor())
    result = AnomalyScores(parts["nelbo"], parts["recon"], digits.labels, int(digit))
    return result if background is None else likelihood_ratio(result, background, digits)


def likelihood_ratio(elbo: AnomalyScores, background: nn.Module, digits: Digits) -> AnomalyScores:
    """`elbo`'s scores (of `digits`, a split) minus an all-digit VAE's negative ELBO of the same digits."""
    _check_variational(background)
    nelbo = negative_elbo(background, digits.floats(), digits.label_tensor())["nelbo"]
    return replace(elbo, scores=elbo.scores - nelbo, score="ratio")


def score_image(model: nn.Module, image: np.ndarray, background: nn.Module | None = None) -> float:
    """The anomaly score of one image (28, 28) in [0, 1], as `score_digits` scores a split."""
    x = torch.as_tensor(np.asarray(image, dtype=np.float32)).reshape(1, 1, 28, 28)
    score = float(negative_elbo(model, x)["nelbo"][0])
    return score if background is None else score - float(negative_elbo(background, x)["nelbo"][0])


def default_threshold(result: AnomalyScores, false_alarm_rate: float = FALSE_ALARM_RATE) -> float:
    """The score above which only `false_alarm_rate` of the known digit lies."""
    return float(np.quantile(result.scores[~result.is_anomaly], 1.0 - false_alarm_rate))


@dataclass(frozen=True)
class Detection:
    """What flagging every score above a threshold does."""

    threshold: float
    flagged: int            # digits flagged as anomalies
    precision: float        # of the flagged, the share that really are other digits
    recall: float           # of the other digits, the share flagged
    false_alarm_rate: float  # of the known digit, the share flagged


def detect(result: AnomalyScores, threshold: float) -> Detection:
    """Precision, recall and false alarms of flagging scores above `threshold`."""
    flagged = result.scores > threshold
    anomalies = result.is_anomaly
    true_hits = int((flagged & anomalies).sum())
    return Detection(
        threshold=float(threshold),
        flagged=int(flagged.sum()),
        precision=float(true_hits / flagged.sum()) if flagged.any() else 1.0,  # nothing flagged: no false alarm
        recall=float(true_hits / anomalies.sum()) if anomalies.any() else 0.0,
        false_alarm_rate=float((flagged & ~anomalies).sum() / max((~anomalies).sum(), 1)),
    )


def pair_auc(result: AnomalyScores, other: int) -> float:
    """The ROC AUC of telling the known digit from one other digit by the score."""
    pair = (result.labels == result.digit) | (result.labels == other)
    return metrics.roc_auc(result.scores[pair], result.is_anomaly[pair])


def most_anomalous(result: AnomalyScores, count: int = 24) -> np.ndarray:
    """Positions of the `count` highest scores, highest first."""
    return np.argsort(-result.scores, kind="stable")[:count]


@dataclass(frozen=True)
class Gallery:
    """Test digits picked by their scores, with the model's rebuild of each."""

    positions: np.ndarray  # (N,) positions in the test split
    originals: np.ndarray  # (N, 28, 28) in [0, 1]
    rebuilt: np.ndarray    # (N, 28, 28) in [0, 1]
    labels: np.ndarray     # (N,)
    scores: np.ndarray     # (N,)


def gallery(model: nn.Module, result: AnomalyScores, digits: Digits, positions: np.ndarray) -> Gallery:
    """The test digits at `positions` (`most_anomalous`, say) beside `model`'s rebuilds, with labels and scores."""
    originals = digits.images[positions] / np.float32(255)
    return Gallery(positions, originals, reconstruct(model, originals), result.labels[positions],
                   result.scores[positions])


def main(argv: list[str] | None = None) -> int:
    """Print each score's ROC AUC on the test split, overall and against each other digit."""
    import argparse

    from core import checkpoints
    from core.data import load

    parser = argparse.ArgumentParser(description="ROC AUC of the anomaly scores on the test split.")
    parser.add_argument("--model", default="vae_one", help="a VAE checkpoint trained on one digit")
    parser.add_argument("--background", default=BACKGROUND, help="an all-digit VAE checkpoint for the ratio")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model, meta = checkpoints.load(args.model)
    background, _ = checkpoints.load(args.background)
    digits, digit = load("mnist", "test"), known_digit(meta)
    elbo = score_digits(model, digits, digit)
    for result in (elbo, likelihood_ratio(elbo, background, digits)):
        name = f"likelihood ratio against {args.background}" if result.score == "ratio" else "negative ELBO"
        pairs = [f"{other}: {pair_auc(result, other):.3f}" for other in sorted(set(range(10)) - {digit})]
        print(f"{args.model}, {name}: ROC AUC {result.auc:.3f} on {len(result.scores):,} test digits; "
              f"against each other digit: {', '.join(pairs)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
