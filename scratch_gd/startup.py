"""Starting fast: no garbage collection while NumPy and Numba are imported.

Importing NumPy and Numba makes a great many objects that live as long as the process.
Python's garbage collector runs every few hundred new objects, so during those imports it
would walk them over and over and free nothing. ``scratch_gd/__init__.py`` imports its
modules inside ``collection_paused``.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """No garbage collection inside the block; afterwards it is on again if it was on.

    What the block made is then filed with the oldest objects, the ones a collection walks
    least often: resuming would otherwise walk all of it at once, and again a few
    collections later. It can still be collected; nothing is frozen for good.
    """
    # Measured on `python -m scratch_gd compare --help`: the pause saves about 0.09 s of its
    # start-up, and filing away (rather than walking) another 0.02 s.
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:  # (unfreeze would release what the caller froze)
            gc.freeze()
            gc.unfreeze()  # frozen objects go back to the oldest generation, unwalked
        if was_on:
            gc.enable()
