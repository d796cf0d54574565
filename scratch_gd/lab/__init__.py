"""The learning lab: experiments the lesson only suggests, each one module.

Every experiment is a plain function that returns its numbers (no printing, no files), beside
a function that draws them; the subcommands in ``scratch_gd/cli/commands/`` glue the two to
the command line and record each run (``scratch_gd/store/record.py``). ``verdict.py`` holds
the rules every experiment judges a run by (diverged, stuck, the noise floor), and
``threads.py`` the one-thread setting the untimed experiments and the fair race run under.
``painter.py`` draws ``compare``'s figures in worker processes while it trains.
"""
