"""Attack tests, one file per attack."""
