"""Renderings of validation summaries, quotes, previews and diffs."""
