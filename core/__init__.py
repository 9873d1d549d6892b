"""Autoencoder Lab's library: data, models, training, checkpoints, metrics. No Streamlit here."""

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]  # the checkout: shipped checkpoints, maps, curves
KERAS_NOISE_FACTOR = 0.5  # the Keras blog's noise factor: the denoising recipe, its evaluation, the lab's default

# OpenMP threads that spin-wait for work starve every other process on a 2-core machine
# (training ran 30-60x slower beside a busy process); this must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
