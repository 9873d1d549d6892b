"""The command line that trains registry models and saves their checkpoints:

    python -m core.train --model conv      # one model -> checkpoints/conv.safetensors
    python -m core.train --all --jobs 2    # every model, two at a time
    python -m core.train --all --dry-run   # one epoch of two batches each, nothing saved
    python -m core.train --timeline ae2    # a shipped model's training timeline, by retraining it

An entry point of core's top layer: the train -> evaluate -> save sequence is `core.pipeline`,
the trainer it runs `core.trainer`.
"""

import sys

from core.pipeline import main

if __name__ == "__main__":
    sys.exit(main())
