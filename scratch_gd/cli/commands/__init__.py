"""One module per subcommand of ``python -m scratch_gd``.

Each module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args, parser)``
returning an exit code. Adding a subcommand means adding its module to ``COMMANDS``.
"""

from . import compare, gradcheck, landscape, lr_grid, momentum, noise, sweep_batch, trace

COMMANDS = [compare, sweep_batch, noise, momentum, lr_grid, landscape, gradcheck, trace]
