"""Argument parsing for the top-level scripts (which stay thin)."""
