"""The data lifecycle: retention (five years at most), and later subject access."""
