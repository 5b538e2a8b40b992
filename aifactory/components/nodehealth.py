"""What every cloud's GPU fleet shares for node health: the checker the bootstrap installs, the
expectation of the fleet's instance type, and the timer and endpoint settings (rendered by
`templates/nodecheck.sh.j2`, which each cloud's bootstrap includes).

The checker ships as its own source files (docstrings and comments dropped, which keeps the EC2
user data under 16 KB once compressed); `aifactory.nodecheck` itself imports nothing outside the
standard library, so it runs on the clouds' stock GPU images as they are.
"""

from __future__ import annotations

import ast
import gzip
from functools import cache
from pathlib import Path

from aifactory.nodecheck import HEALTH_PATH, HEALTH_PORT, REPORT_PATH, expect

CHECK_INTERVAL_MINUTES = 10
INSTALL_DIR = "/opt/aifactory/nodecheck"
EXPECT_PATH = "/etc/aifactory/expect.json"
SHIPPED = ("__init__.py", "__main__.py", "checks.py", "cli.py", "expect.py", "host.py", "parse.py", "report.py", "serve.py")
AWS_LIFECYCLE_HOOK = "aifactory-nodecheck"
# How long a node may take to prove itself at boot (driver, fabric, DCGM level 1, NCCL all-reduce)
# before its group gives up on it.
BOOT_CHECK_SECONDS = 1800


def _without_docstrings(source: str) -> str:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return ast.unparse(tree) + "\n"


@cache
def checker_files() -> tuple[tuple[str, str], ...]:
    """(path under INSTALL_DIR, source) of every module the node runs."""
    package = Path(expect.__file__).resolve().parent
    files = [("aifactory/__init__.py", "")]
    files += [(f"aifactory/nodecheck/{name}", _without_docstrings((package / name).read_text())) for name in SHIPPED]
    return tuple(files)


def expectation_json(cloud: str, instance_type: str) -> str:
    """The `--expect` JSON of a catalog type (ValueError for a type the catalog does not know)."""
    try:
        return expect.from_catalog(instance_type, cloud).to_json()
    except expect.ExpectationError as e:
        raise ValueError(f"no node check for {instance_type}: {e}") from None


def context(cloud: str, instance_type: str, interval_minutes: int = CHECK_INTERVAL_MINUTES) -> dict:
    """The variables `templates/nodecheck.sh.j2` renders."""
    if interval_minutes < 1:
        raise ValueError("the node check interval is at least one minute")
    return {
        "nodecheck_cloud": cloud,
        "nodecheck_files": checker_files(),
        "nodecheck_dir": INSTALL_DIR,
        "nodecheck_expect": expectation_json(cloud, instance_type),
        "nodecheck_expect_path": EXPECT_PATH,
        "nodecheck_report": REPORT_PATH,
        "nodecheck_interval": interval_minutes,
        "nodecheck_port": HEALTH_PORT,
        "nodecheck_max_age": 3 * interval_minutes * 60,
        "nodecheck_hook": AWS_LIFECYCLE_HOOK,
    }


def gzip_bytes(text: str) -> bytes:
    """gzip with no timestamp, so the same script always compresses to the same bytes."""
    return gzip.compress(text.encode(), compresslevel=9, mtime=0)


__all__ = ["HEALTH_PATH", "HEALTH_PORT", "CHECK_INTERVAL_MINUTES", "BOOT_CHECK_SECONDS", "AWS_LIFECYCLE_HOOK",
           "checker_files", "expectation_json", "context", "gzip_bytes"]
