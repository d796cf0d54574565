"""The command line: ``python -m scratch_gd COMMAND [flags]``.

Every flag is checked before any work starts; a bad value gets one line on stderr that
names the flag, the value and what is allowed, and exit code 2 (no traceback).
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings

from . import exit_codes
from .arguments import one_line
from .commands import COMMANDS


class CleanParser(argparse.ArgumentParser):
    """argparse, but an error is a single line: 'scratch_gd compare: error: ...'."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(exit_codes.USAGE, f"{self.prog}: error: {one_line(message)}\n")


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line, 'scratch_gd: warning: ...', without Python's source echo."""
    print(f"scratch_gd: warning: {one_line(str(message))}", file=sys.stderr)


def build_parser() -> tuple[CleanParser, dict[str, argparse.ArgumentParser]]:
    parser = CleanParser(
        prog="scratch_gd",
        description="Gradient descent from scratch: race the regimes, check the maths.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CleanParser)
    commands.required = True
    subparsers = {}
    for command in COMMANDS:
        sub = commands.add_parser(command.NAME, help=command.HELP, description=command.HELP)
        command.add_arguments(sub)
        subparsers[command.NAME] = sub
    return parser, subparsers


def join_negative_values(argv: list[str]) -> list[str]:
    """'--momenta -1,0' -> '--momenta=-1,0', so argparse reads a negative list as a value
    (and the check can then say what is wrong with it) instead of as an unknown flag."""
    joined: list[str] = []
    for token in argv:
        previous = joined[-1] if joined else ""
        if re.match(r"^-[\d.]", token) and previous.startswith("--") and "=" not in previous:
            joined[-1] = f"{previous}={token}"
        else:
            joined.append(token)
    return joined


def main(argv: list[str] | None = None) -> int:
    """Parse, check and run a command; return its exit code (see ``exit_codes``).

    Ctrl-C during training stops it cleanly (the engine notices and the command writes what
    was computed); Ctrl-C anywhere else, e.g. while loading or drawing, still ends with one
    line and exit code 130 instead of a traceback.
    """
    parser, subparsers = build_parser()
    argv = join_negative_values(sys.argv[1:] if argv is None else list(argv))
    args = parser.parse_args(argv)
    command = next(c for c in COMMANDS if c.NAME == args.command)
    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        try:
            return command.run(args, subparsers[args.command])
        except KeyboardInterrupt:
            print(f"scratch_gd {args.command}: interrupted (Ctrl-C)", file=sys.stderr)
            return exit_codes.INTERRUPTED
