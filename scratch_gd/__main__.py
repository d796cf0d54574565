"""``python -m scratch_gd``: see ``scratch_gd.cli``."""

import gc
import sys

from .startup import collection_paused

with collection_paused():  # the command line's own modules, like the package's
    from .cli.main import main
# All that is loaded now lives as long as the process: later collections can skip it.
gc.freeze()
code = main()
# Everything is written by now. Python's last garbage collection at exit would walk every
# object Numba made (about 0.1 s); frozen objects are left to the process's end instead.
gc.freeze()
sys.exit(code)
