"""The learning lab: experiments the lesson only suggests, each one module.

Every experiment is a plain function that returns its numbers (no printing, no files), beside
a function that draws them; the subcommands in ``scratch_gd/commands/`` glue the two to the
command line and record each run (``scratch_gd/record.py``).
"""
