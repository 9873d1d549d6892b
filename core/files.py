"""The one atomic file writer: a reader never sees half a file, of a checkpoint, a map or a curve."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomic(path: Path, content: bytes | Callable[[BinaryIO], None], overwrite: bool = True,
                 exists_message: str | None = None) -> Path:
    """Write to a temporary file beside `path`, then rename (or link, when not overwriting) it into place.

    Args:
        content: the bytes, or a function that writes them to an open binary file.
        overwrite: replace an existing file; otherwise an existing one raises FileExistsError
            (atomically: of two writers of the same new path, exactly one wins).
        exists_message: the sentence of that FileExistsError.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes it private; these files are for every reader
        with os.fdopen(fd, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(content)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # atomic "create if absent"
            except FileExistsError:
                raise FileExistsError(exists_message or f"{path} already exists.") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
