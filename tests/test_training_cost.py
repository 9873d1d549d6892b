"""The cost of a run before it starts, and the quick defaults a visitor gets on the Train page."""

import dataclasses

import pytest

from core import training_cost
from core.registry import get_spec, list_models


@pytest.mark.parametrize("name", list_models())
def test_every_model_has_a_measured_cost_and_a_quick_run_within_a_minute(name):
    assert name in training_cost.STEP_MS
    quick = training_cost.quick_recipe(name)
    assert quick.train_digits in training_cost.TRAINING_DIGIT_CHOICES
    assert 1 <= quick.epochs <= get_spec(name).recipe.epochs
    assert training_cost.estimate_seconds(name, quick) <= 60
    assert dataclasses.replace(quick, epochs=get_spec(name).recipe.epochs, train_digits=None) == get_spec(name).recipe


def test_cost_grows_with_digits_and_epochs():
    recipe = get_spec("conv").recipe
    costs = [training_cost.estimate_seconds("conv", dataclasses.replace(recipe, train_digits=n, epochs=2))
             for n in training_cost.TRAINING_DIGIT_CHOICES]
    assert costs == sorted(costs) and costs[-1] > 2 * costs[0]
    assert training_cost.estimate_seconds("conv", dataclasses.replace(recipe, epochs=4)) > \
        training_cost.estimate_seconds("conv", dataclasses.replace(recipe, epochs=2))


def test_a_one_digit_model_sees_only_its_digit():
    recipe = get_spec("vae_one").recipe
    assert training_cost.training_digits("vae_one", recipe) == 6_000
    assert training_cost.training_digits("vae_one", dataclasses.replace(recipe, train_digits=5_000)) == 5_000
