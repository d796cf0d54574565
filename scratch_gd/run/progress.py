"""The progress bar: tqdm's, a widget in a notebook and a line of text in a terminal.

``tqdm.auto`` chooses the same way but also loads asyncio for its ``async for`` support;
nothing here is asynchronous.
"""

from __future__ import annotations

import warnings

from tqdm import TqdmExperimentalWarning

with warnings.catch_warnings():  # as tqdm.auto does: the notebook bar is no experiment here
    warnings.simplefilter("ignore", TqdmExperimentalWarning)
    from tqdm.autonotebook import tqdm  # (tqdm.auto's asyncio: about 40 ms of each start)

__all__ = ["tqdm"]
