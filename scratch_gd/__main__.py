"""``python -m scratch_gd``: see ``scratch_gd.cli``."""

import gc
import sys

from .cli.main import main

code = main()
# Everything is written by now. Python's last garbage collection at exit would walk every
# object Numba made (about 0.1 s); frozen objects are left to the process's end instead.
gc.freeze()
sys.exit(code)
