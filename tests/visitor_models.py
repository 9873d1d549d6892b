"""Visitors' models for tests, saved the way the Train page saves a run (core.pipeline.save_for_visitor)."""

from pathlib import Path

from core import pipeline
from core.registry import create_model, get_spec


def save_visitor_model(text: str, model=None, model_name: str = "dense", limits=None,
                       replace_shipped: bool = False) -> Path:
    """Save an untrained `model_name` (or `model`) as a visitor's model named `text`; returns the path."""
    trained = pipeline.Trained(model_name, get_spec(model_name).recipe, model or create_model(model_name), None, {})
    return pipeline.save_for_visitor(trained, text, limits, replace_shipped)
