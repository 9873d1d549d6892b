"""Autoencoder Lab's library: data, models, training, checkpoints, metrics. No Streamlit here."""

import os

# OpenMP threads that spin-wait for work starve every other process on a 2-core machine
# (training ran 30-60x slower beside a busy process); this must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
