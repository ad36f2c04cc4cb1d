"""Helpers shared by the test suite (real processes, signing, tokens)."""
