"""Helpers for scripts/bench.py (the "never a frozen frame" benchmark). Not part of the add-on."""
