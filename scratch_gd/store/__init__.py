"""Everything that touches files: data sets (CSV), checkpoints, run records, atomic writes."""
