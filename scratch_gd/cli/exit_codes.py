"""Exit codes of the command line, so scripts can tell outcomes apart (docs/robustness.md)."""

OK = 0
CHECK_FAILED = 1  # gradcheck: backprop and finite differences disagree beyond the tolerance
USAGE = 2  # a bad flag or input file: nothing was run
DIVERGED = 3  # a run's loss became NaN or infinite; figures were still written
# An output file could not be written (full disk, read-only or deleted folder): one line
# names the file and the cause; the files written before it are whole, no temporary is left.
IO_ERROR = 4
# Stopped by a signal: 128 + its number, by shell convention (Ctrl-C = SIGINT 2 -> 130,
# SIGTERM 15 -> 143, SIGHUP 1 -> 129); what was computed was still written, whole.
SIGNAL_BASE = 128
INTERRUPTED = 130
