"""Exit codes of the command line, so scripts can tell outcomes apart."""

OK = 0
CHECK_FAILED = 1  # gradcheck: backprop and finite differences disagree beyond the tolerance
USAGE = 2  # a bad flag or input file: nothing was run
DIVERGED = 3  # a run's loss became NaN or infinite; figures were still written
INTERRUPTED = 130  # Ctrl-C; what was computed was still written (128 + SIGINT, by convention)
