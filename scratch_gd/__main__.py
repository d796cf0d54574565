"""``python -m scratch_gd``: see ``scratch_gd.cli``."""

import sys

from .cli.main import main

sys.exit(main())
