"""The command line, ``python -m scratch_gd COMMAND``: flags, commands and exit codes."""
