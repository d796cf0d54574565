"""One module per subcommand of ``python -m scratch_gd``.

Each module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args, parser)``
returning an exit code. Adding a subcommand means adding its name to ``NAMES``. A
command's module is imported when that command runs (``load``), so starting one command
does not load every other experiment.

A ``run`` checks every flag first (``parser.error``: one line, exit 2, no output folder),
then works, prints, and ends with ``cli.finish.finish``: the one epilogue that writes the
records before the figures and picks the exit code (docs/robustness.md).
"""

from __future__ import annotations

import importlib
from types import ModuleType

# The commands' names on the command line, in the order --help lists them; each is a module
# here, spelled with "_" for "-".
NAMES = (
    "compare",
    "sweep-batch",
    "noise",
    "momentum",
    "lr-grid",
    "landscape",
    "gradcheck",
    "trace",
)


def load(name: str) -> ModuleType:
    """The module of the command called ``name`` on the command line."""
    return importlib.import_module(f".{name.replace('-', '_')}", __name__)


def all_commands() -> list[ModuleType]:
    """Every command's module (this imports them all: for --help and the tests)."""
    return [load(name) for name in NAMES]
