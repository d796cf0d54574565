"""``python -m scratch_gd``: see ``scratch_gd.cli``."""

import sys

from .cli import main

sys.exit(main())
