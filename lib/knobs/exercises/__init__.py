"""Exercise checkers, one module per chapter (ch01.py, ...); loaded by knobs.check on first use."""
