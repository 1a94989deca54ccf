"""Output formats: pure functions of data to text (no I/O), one module per format."""
