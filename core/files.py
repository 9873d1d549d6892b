"""The one atomic file writer: a reader never sees half a file, of a checkpoint, a map or a curve."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


class WriteError(OSError, ValueError):
    """A file could not be written (a full disk, no permission, a symlink loop): its message is a
    sentence for people that names no server path. An OSError for code that copes with any failed
    write, a ValueError for pages, which show those as sentences."""


def _sentence(what: str, exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{what} could not be saved: the server's disk is full."
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{what} could not be saved: the server may not write to its folder."
    return f"{what} could not be saved ({exc.strerror or type(exc).__name__})."


def write_atomic(path: Path, content: bytes | Callable[[BinaryIO], None], overwrite: bool = True,
                 exists_message: str | None = None, what: str = "The file") -> Path:
    """Write to a temporary file beside `path`, then rename (or link, when not overwriting) it into place.

    Whatever fails, the temporary file is removed: nothing half-written stays behind.

    Args:
        content: the bytes, or a function that writes them to an open binary file.
        overwrite: replace an existing file; otherwise an existing one raises FileExistsError
            (atomically: of two writers of the same new path, exactly one wins).
        exists_message: the sentence of that FileExistsError.
        what: the subject of a WriteError's sentence, e.g. "The checkpoint 'mine'".

    Raises:
        FileExistsError: `path` exists and overwrite is False.
        WriteError: the file system refused (ENOSPC, EACCES, ELOOP, ...).
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            os.chmod(tmp, 0o644)  # mkstemp makes it private; these files are for every reader
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
                raise FileExistsError(exists_message or f"{path.name} already exists.") from None
    except OSError as exc:
        if isinstance(exc, FileExistsError) and exc.errno is None:  # raised above: the name is taken
            raise
        error = WriteError(_sentence(what, exc))
        error.errno = exc.errno
        raise error from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)  # after a rename or a link the file lives on under `path`
            except FileNotFoundError:
                pass
    return path
