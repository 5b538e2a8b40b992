"""One JSON report per run: every check with its value, expectation, verdict and reason."""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import time
from typing import Any, Dict, List

from .checks import FAIL, Check
from .expect import Expectation


def build(checks: List[Check], expect: Expectation, deep: bool) -> Dict[str, Any]:
    failed = [c.name for c in checks if c.status == FAIL]
    return {
        "node": socket.gethostname(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "instance_type": expect.instance_type,
        "deep": deep,
        "passed": not failed,
        "failed": failed,
        "checks": [c.as_dict() for c in checks],
        "expect": json.loads(expect.to_json()),
    }


def write(report: Dict[str, Any], path: str) -> None:
    """`-` prints it; a path is replaced atomically, so a reader (the health endpoint) never sees half."""
    text = json.dumps(report, indent=2, sort_keys=False) + "\n"
    if path == "-":
        sys.stdout.write(text)
        return
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".nodecheck-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
