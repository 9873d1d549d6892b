"""What a training run costs before it starts: seconds on one core, from measured per-digit costs.

The Train page shows the cost before a visitor presses Train, the queue adds up the waiting
runs' costs into an expected wait, and `quick_recipe` picks defaults whose run fits in a minute.
"""

from __future__ import annotations

import dataclasses
import math

from core.registry import Recipe, get_spec

# CPU milliseconds of one training step at the registry recipe's batch size (its augmentation and
# noise included), one torch thread, AMD EPYC: `python -m bench.bench_train --cost-table`
# (median of 20 steps; thread CPU time, so other work on the machine inflates it less than wall time).
STEP_MS = {  # the larger of two runs on a shared machine, so estimates err on the long side
    "dense": 1.23, "dense_mse": 1.08, "sparse": 1.08, "deep": 3.28, "conv": 21.95, "tied": 0.92,
    "ae2": 7.73, "ae20": 7.68, "denoising": 54.03, "vae2": 20.23, "vae": 14.63, "cvae": 15.51,
    "vae_one": 12.00, "classifier": 89.81,
    "unet": 125.0,  # 8 epochs of 938 steps took 955 CPU-s with validation and evaluation (core.train --model unet)
}
STEP_OVERHEAD_MS = 0.4     # per step whatever its size: the optimizer's update and Python
# per step on top of STEP_MS: the trainer's bookkeeping (running sums, events, the job's records).
# Measured: dense's default run (35,644 steps) took 68.3 CPU-s against 44.1 s estimated without it.
LOOP_OVERHEAD_MS = 0.7
FORWARD_SHARE = 1 / 3      # a forward pass without gradients costs about a third of a training step
VALIDATION_DIGITS = 1_000  # core.trainer.VALIDATION_SIZE: measured after every epoch
EVALUATION_DIGITS = 10_000  # the test split, measured once at the end
UNKNOWN_MODEL_STEP_MS = 40.0  # a model missing from the table: a conservative guess

TRAINING_DIGIT_CHOICES = (5_000, 20_000, 60_000)  # what the Train page offers
QUICK_RUN_SECONDS = 45.0   # a default visitor's run: a minute on one core, with room for evaluation
MIN_QUICK_EPOCHS = 5       # fewer digits rather than fewer epochs than this (a loss curve needs points)


def digit_ms(model_name: str, batch_size: int) -> float:
    """Milliseconds of training per digit at a batch size (small batches pay the step overhead more often)."""
    recipe = get_spec(model_name).recipe
    step = STEP_MS.get(model_name, UNKNOWN_MODEL_STEP_MS)
    per_digit = max(step - STEP_OVERHEAD_MS, 0.0) / recipe.batch_size
    return per_digit + (STEP_OVERHEAD_MS + LOOP_OVERHEAD_MS) / batch_size


def training_digits(model_name: str, recipe: Recipe) -> int:
    """How many digits one epoch of the recipe passes over (a one-digit model sees a tenth of them)."""
    total = 60_000 if recipe.digit is None else 6_000
    return min(total, recipe.train_digits or total)


def estimate_seconds(model_name: str, recipe: Recipe, config=None) -> float:
    """Seconds on one core for a run: every epoch's training and validation, then the test split.

    `config` is accepted for the future (a wider code costs a little more); the registry model's
    cost is used.
    """
    per_digit = digit_ms(model_name, recipe.batch_size) / 1000
    per_epoch = training_digits(model_name, recipe) * per_digit + VALIDATION_DIGITS * per_digit * FORWARD_SHARE
    return recipe.epochs * per_epoch + EVALUATION_DIGITS * per_digit * FORWARD_SHARE


def quick_recipe(model_name: str, budget_seconds: float = QUICK_RUN_SECONDS) -> Recipe:
    """The registry recipe cut to fit `budget_seconds`: as many training digits as allow at least
    MIN_QUICK_EPOCHS epochs (or the recipe's own, if fewer), then as many epochs as fit."""
    recipe = get_spec(model_name).recipe
    wanted = min(MIN_QUICK_EPOCHS, recipe.epochs)
    for digits in sorted(TRAINING_DIGIT_CHOICES, reverse=True):
        trial = dataclasses.replace(recipe, train_digits=digits, epochs=1)
        one_epoch = estimate_seconds(model_name, trial) - estimate_seconds(model_name, dataclasses.replace(trial, epochs=0))
        fixed = estimate_seconds(model_name, dataclasses.replace(trial, epochs=0))
        epochs = min(recipe.epochs, math.floor((budget_seconds - fixed) / one_epoch))
        if epochs >= wanted or digits == min(TRAINING_DIGIT_CHOICES):
            return dataclasses.replace(recipe, train_digits=digits, epochs=max(1, epochs))
    raise AssertionError("unreachable: the smallest choice always returns")
