"""Run the lab's experiments on one Numba thread.

A product threaded over the two cores of a busy machine spends most of its time waiting
for the other thread: on the 2-core build machine under load, 300 full-batch steps of the
reference loop took 1.7 to 6.5 s on two threads and 0.3 s on one. The lab's networks are
small (a second thread pays only from about 1024 samples per batch), and every kernel
gives the same bits on any number of threads, so the experiments run on one: the same
numbers, in a time that does not depend on what else the machine is doing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numba

from ..engine import compiled


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """``numba.set_num_threads(1)`` and ``compiled.THREADS = 1`` inside (no thread trials
    in the compiled engine either), the previous settings after."""
    threads, pinned = numba.get_num_threads(), compiled.THREADS
    numba.set_num_threads(1)
    compiled.THREADS = 1
    try:
        yield
    finally:
        numba.set_num_threads(threads)
        compiled.THREADS = pinned
