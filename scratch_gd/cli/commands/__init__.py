"""One module per subcommand of ``python -m scratch_gd``.

Each module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args, parser)``
returning an exit code. Adding a subcommand means adding its module to ``COMMANDS``.

A ``run`` checks every flag first (``parser.error``: one line, exit 2, no output folder),
then works, prints, and ends with ``cli.finish.finish``: the one epilogue that writes the
records before the figures and picks the exit code (docs/robustness.md).
"""

from . import compare, gradcheck, landscape, lr_grid, momentum, noise, sweep_batch, trace

COMMANDS = [compare, sweep_batch, noise, momentum, lr_grid, landscape, gradcheck, trace]
