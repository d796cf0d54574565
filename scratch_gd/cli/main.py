"""The command line: ``python -m scratch_gd COMMAND [flags]``.

Every flag is checked before any work starts; a bad value gets one line on stderr that
names the flag, the value and what is allowed, and exit code 2 (no traceback). The other
outcomes, and the tests that prove them, are listed in docs/robustness.md.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import warnings
from typing import IO

from ..store.files import OutputError
from . import exit_codes, finish
from .arguments import DefaultsHelpFormatter, one_line
from .commands import NAMES, load


class CleanParser(argparse.ArgumentParser):
    """argparse, but an error is a single line: 'scratch_gd compare: error: ...'."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(exit_codes.USAGE, f"{self.prog}: error: {one_line(message)}\n")


class WarningPrinter:
    """Warnings as one line, 'scratch_gd: warning: ...', without Python's source echo; and
    each kind once: ten overflow warnings from one plot are one fact, not ten lines."""

    def __init__(self) -> None:
        self.seen: set[type[Warning]] = set()

    def __call__(self, message, category, filename, lineno, file=None, line=None) -> None:
        if category in self.seen:
            return
        self.seen.add(category)
        print(f"scratch_gd: warning: {one_line(str(message))}", file=sys.stderr)


class ClosedPipeSafe:
    """A text stream that survives its reader going away (``... | head -1``).

    The first write to a closed pipe points the stream at /dev/null, so the run goes on and
    writes its files, and Python's final flush at exit has nothing to complain about.
    """

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.closed_pipe = False

    def write(self, text: str) -> int:
        if not self.closed_pipe:
            try:
                self.stream.write(text)
            except OSError:  # BrokenPipeError, or EIO after the terminal hung up
                self._to_devnull()
        return len(text)

    def flush(self) -> None:
        if not self.closed_pipe:
            try:
                self.stream.flush()
            except OSError:
                self._to_devnull()

    def _to_devnull(self) -> None:
        self.closed_pipe = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def build_parser(
    only: str | None = None,
) -> tuple[CleanParser, dict[str, argparse.ArgumentParser]]:
    """The parser of every command, and each command's own. With ``only``, the other
    commands are bare names (enough to parse a command line that runs ``only``), so
    starting one command does not import the others' modules."""
    parser = CleanParser(
        prog="scratch_gd",
        formatter_class=DefaultsHelpFormatter,
        description="Gradient descent from scratch: race the regimes, check the maths.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CleanParser)
    commands.required = True
    subparsers = {}
    for name in NAMES:
        if only is not None and name != only:
            commands.add_parser(name)
            continue
        command = load(name)
        sub = commands.add_parser(
            command.NAME,
            help=command.HELP,
            description=command.HELP,
            formatter_class=DefaultsHelpFormatter,
        )
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

    Ctrl-C, SIGTERM and SIGHUP during training stop it cleanly (the loop notices and the
    command writes what was computed), exit code 128 + the signal. A stop anywhere else, e.g.
    while loading or drawing, still ends with one line and that code instead of a traceback;
    so does a file that cannot be written (``exit_codes.IO_ERROR``). Output to a closed pipe
    is dropped, not fatal: the run's files are still written.
    """
    streams = sys.stdout, sys.stderr
    # A stream closed before start (`2>&-`) is None: give it /dev/null, so neither print
    # nor the progress bar has to know.
    opened = [open(os.devnull, "w") for stream in streams if stream is None]  # noqa: SIM115
    spare = iter(opened)
    sys.stdout, sys.stderr = (ClosedPipeSafe(s if s is not None else next(spare)) for s in streams)
    try:
        return _main(argv)
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        sys.stdout, sys.stderr = streams
        for file in opened:
            file.close()


def _main(argv: list[str] | None) -> int:
    argv = join_negative_values(sys.argv[1:] if argv is None else list(argv))
    # 'scratch_gd compare ...' needs compare's flags only; anything else (--help, a typo)
    # gets the whole parser.
    parser, subparsers = build_parser(only=argv[0] if argv and argv[0] in NAMES else None)
    args = parser.parse_args(argv)
    command = load(args.command)
    name = f"scratch_gd {args.command}"
    with warnings.catch_warnings(), finish.stop_signals():
        warnings.showwarning = WarningPrinter()
        try:
            code = command.run(args, subparsers[args.command])
        except KeyboardInterrupt:
            print(f"{name}: {_stop_name()}", file=sys.stderr)
            return finish.stop_code()
        except OSError as error:  # full disk, read-only or vanished folder, ...
            where = f"{error.filename}: " if error.filename else ""
            what = "cannot write" if isinstance(error, OutputError) else "I/O error on"
            print(
                f"{name}: {what} {one_line(where)}{error.strerror or error}; "
                "the files written before it are whole and no temporary file is left",
                file=sys.stderr,
            )
            return exit_codes.IO_ERROR
    if finish.stopped_by() is not None:
        return finish.stop_code()
    return code


def _stop_name() -> str:
    received = finish.stopped_by()
    if received is None or received == signal.SIGINT:
        return "interrupted (Ctrl-C)"
    return f"interrupted ({signal.Signals(received).name})"
