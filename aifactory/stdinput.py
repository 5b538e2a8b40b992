"""Standard input, read once: a command may look at it twice (`aifactory diff -` first asks which
format the document is, then reads it)."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

STDIN = "-"


@cache
def text() -> str:
    return sys.stdin.read()


def read(arg: str, encoding: str = "utf-8") -> str:
    """The text of `arg`: a path, or `-` for standard input."""
    return text() if arg == STDIN else Path(arg).read_text(encoding=encoding)
