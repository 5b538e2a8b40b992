"""The node's health endpoint: 200 while the last report passed and is recent, 503 otherwise.

Azure's Application Health extension and Google Cloud's autohealing health check probe it; the
body follows the extension's rich health states (`{"ApplicationHealthState": "Healthy"}`)."""

from __future__ import annotations

import json
import os
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Tuple

from . import HEALTH_PATH


def verdict(report_path: str, max_age_s: float, now: float = 0.0) -> Tuple[bool, str]:
    """Whether the node is healthy according to the report at `report_path`, and why."""
    try:
        with open(report_path, encoding="utf-8") as f:
            report = json.load(f)
        age = (now or time.time()) - os.path.getmtime(report_path)
    except (OSError, ValueError) as e:
        return False, "no readable report at %s (%s)" % (report_path, e.__class__.__name__)
    if age > max_age_s:
        return False, "the last report is %.0f s old (more than %.0f s)" % (age, max_age_s)
    if report.get("passed") is not True:
        return False, "failed: " + ", ".join(report.get("failed") or ["?"])
    return True, "passed"


def serve(port: int, report_path: str, max_age_s: float) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path.split("?")[0] != HEALTH_PATH:
                self.send_error(404)
                return
            healthy, why = verdict(report_path, max_age_s)
            body = json.dumps({"ApplicationHealthState": "Healthy" if healthy else "Unhealthy", "reason": why})
            self.send_response(200 if healthy else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args) -> None:
            pass

    HTTPServer(("0.0.0.0", port), Handler).serve_forever()
