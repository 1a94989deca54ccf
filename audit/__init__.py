"""repro-audit: prove that conda + Docker environments reproduce."""

__version__ = "0.1.0"
