"""Anomaly detection with a VAE trained on one digit: scores, ROC curve, precision and recall.

A VAE that has only seen sevens explains other digits badly, so their negative ELBO (nats) is
high: the score is `core.inference.negative_elbo`, the one `evaluate_model`'s ROC AUC uses, so the
figures here equal the checkpoint's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from torch import nn

from core import metrics
from core.data import Digits
from core.inference import negative_elbo

FALSE_ALARM_RATE = 0.05  # the default threshold flags 5% of the known digit


@dataclass(frozen=True)
class AnomalyScores:
    """Per-digit anomaly scores of a split under a one-digit VAE."""

    scores: np.ndarray  # (N,) negative ELBO in nats: higher = more anomalous
    recon: np.ndarray   # (N,) its reconstruction part (Bernoulli negative log-likelihood, nats)
    labels: np.ndarray  # (N,) true digits
    digit: int          # the digit the model was trained on

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


def score_digits(model: nn.Module, digits: Digits, digit: int) -> AnomalyScores:
    """Anomaly scores of every digit in a split (the whole split, as `evaluate_model` scores it)."""
    if not getattr(model, "is_variational", False):
        raise ValueError("Anomaly scores need a variational autoencoder (its ELBO is the score).")
    parts = negative_elbo(model, digits.floats(), digits.label_tensor())
    return AnomalyScores(parts["nelbo"], parts["recon"], digits.labels, int(digit))


def score_image(model: nn.Module, image: np.ndarray) -> float:
    """The anomaly score of one image (28, 28) in [0, 1]."""
    x = torch.as_tensor(np.asarray(image, dtype=np.float32)).reshape(1, 1, 28, 28)
    return float(negative_elbo(model, x)["nelbo"][0])


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


def most_anomalous(result: AnomalyScores, count: int = 24) -> np.ndarray:
    """Positions of the `count` highest scores, highest first."""
    return np.argsort(-result.scores, kind="stable")[:count]
