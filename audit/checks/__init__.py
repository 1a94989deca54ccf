"""The rule groups of `repro-audit check`, one module each (see audit/check.py)."""
