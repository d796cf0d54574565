"""Files in and out, safely: atomic writes, bounded reads, and no stale temporary files.

- ``atomic_write``: a killed run never leaves half a file behind, and a re-run replaces
  each file whole or leaves the old one intact.
- ``read_bounded``: read at most a given number of bytes, whatever the file claims to be
  (``/dev/zero`` and pipes report a size of 0 and never end).
- ``remove_stale_temporaries``: a run killed with SIGKILL cannot tidy up; the next run in
  the same folder removes the temporary files it left.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

try:  # advisory locks mark a temporary file as in use (POSIX; elsewhere nothing is locked)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

# The process's umask, read once (reading it means setting it, so do it before any threads).
_UMASK = os.umask(0o022)
os.umask(_UMASK)

# Our temporary files: '.NAME.' + mkstemp's 8 random characters + '.tmp'.
TEMPORARY_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


class OutputError(OSError):
    """Writing an output file failed; ``filename`` is the file asked for, not the temporary."""


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place.

    A rename within one folder is atomic: readers see the old file or the new one, never
    a partial one. The temporary file is removed if ``write`` fails (or Ctrl-C lands). The
    new file gets the usual permissions (those of the file it replaces, else 0666 less
    the umask), not mkstemp's private 0600. An ``OSError`` (full disk, read-only or
    missing folder) comes out as an ``OutputError`` naming ``path`` itself.
    """
    path = Path(path)
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        with os.fdopen(handle, "wb") as file:
            _lock(file)  # while we hold it, no other run takes this file for stale
            # mkstemp makes the file private (0600); give it the permissions a plain open()
            # would have, or keep those of the file it replaces.
            os.fchmod(file.fileno(), _mode_for(path))
            write(file)
            file.flush()
            os.fsync(file.fileno())  # the bytes reach the disk before the name points at them
        os.replace(temporary, path)
        temporary = None
        _fsync_folder(path.parent)  # ... and the new name itself survives a power cut
    except OSError as error:
        raise OutputError(error.errno, error.strerror or str(error), str(path)) from None
    finally:
        if temporary is not None:  # failed, or interrupted: leave nothing behind
            Path(temporary).unlink(missing_ok=True)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda file: file.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_UMASK


def _lock(file: IO[bytes]) -> None:
    if fcntl is None:
        return
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        pass  # a file system without locks (some network ones): the write still goes on


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable: the folder's entry list goes to disk too."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some systems cannot open a folder; the rename itself still happened
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # file systems that cannot sync a folder (some network ones) refuse: fine
    finally:
        os.close(descriptor)


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove ``.NAME.XXXXXXXX.tmp`` files left in ``folder`` by a killed run; return them.

    A file another running ``atomic_write`` is still writing is locked, and kept: only
    files nobody holds (their writer died) are removed.
    """
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not TEMPORARY_NAME.match(entry.name) or not entry.is_file():
            continue
        try:
            if _in_use(entry):
                continue
            entry.unlink()
            removed.append(entry)
        except OSError:
            continue  # cannot remove it (permissions): not our run's problem
    return removed


def _in_use(path: Path) -> bool:
    if fcntl is None:
        return False
    with path.open("rb") as file:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(file.fileno(), fcntl.LOCK_UN)
    return False


class TooLarge(ValueError):
    """The file holds more bytes than the reader allows."""


def read_bounded(path: str | Path, limit: int) -> bytes:
    """The bytes of ``path``, or ``TooLarge`` as soon as more than ``limit`` are read.

    The size a file reports cannot be trusted: devices and pipes say 0 and never end. So
    count what is actually read, in chunks, and stop one byte past the limit.
    """
    chunks, total = [], 0
    with Path(path).open("rb") as file:
        while total <= limit:
            chunk = file.read(min(1 << 20, limit + 1 - total))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)
    raise TooLarge(f"more than {limit} bytes")
