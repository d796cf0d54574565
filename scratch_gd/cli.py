"""The command line: ``python -m scratch_gd COMMAND [flags]``.

Every flag is checked before any work starts; a bad value gets one line on stderr that
names the flag, the value and what is allowed, and exit code 2 (no traceback).
"""

from __future__ import annotations

import argparse
import re
import sys

from . import exit_codes
from .commands import COMMANDS


class CleanParser(argparse.ArgumentParser):
    """argparse, but an error is a single line: 'scratch_gd compare: error: ...'."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(exit_codes.USAGE, f"{self.prog}: error: {message}\n")


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
    parser, subparsers = build_parser()
    argv = join_negative_values(sys.argv[1:] if argv is None else list(argv))
    args = parser.parse_args(argv)
    command = next(c for c in COMMANDS if c.NAME == args.command)
    return command.run(args, subparsers[args.command])
