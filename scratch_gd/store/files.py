"""Write output files atomically, so a killed run never leaves half a file behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

# The process's umask, read once (reading it means setting it, so do it before any threads).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place.

    A rename within one folder is atomic: readers see the old file or the new one, never
    a partial one. The temporary file is removed if ``write`` fails (or Ctrl-C lands). The
    new file gets the usual permissions (those of the file it replaces, else 0666 less
    the umask), not mkstemp's private 0600.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            # mkstemp makes the file private (0600); give it the permissions a plain open()
            # would have, or keep those of the file it replaces.
            os.fchmod(file.fileno(), _mode_for(path))
            write(file)
            file.flush()
            os.fsync(file.fileno())  # the bytes reach the disk before the name points at them
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_UMASK


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda file: file.write(text.encode("utf-8")))
