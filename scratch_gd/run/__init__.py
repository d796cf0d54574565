"""``train()``: the reference loop with its service around it (progress bar, chunks,
evaluations with the clock paused, Ctrl-C) and the ``History`` it records."""
