"""The fused, compiled twin of ``scratch_gd/reference``: a whole chunk of SGD steps in one
Numba call. Opt in with ``train(..., engine="compiled")``; tests prove it equal to the
reference loop."""
