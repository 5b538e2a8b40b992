#!/usr/bin/env python3
"""Render the SARIF and JUnit reports of one preview JSON document (run with the project's
environment: `uv run python .github/scripts/render_reports.py PREVIEW.json --sarif F --junit F`).

The preview workflow runs the (slow) offline preview once, to JSON, and renders the other
formats from that file with the same renderers `aifactory preview --format sarif|junit` uses.
The stack file path in the SARIF is made relative to the working directory (the checkout), as
code scanning requires. Exit status 2 when the document cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("preview", type=Path, help="preview JSON (aifactory preview STACK --format json)")
    parser.add_argument("--sarif", type=Path, help="write the SARIF 2.1.0 log here")
    parser.add_argument("--junit", type=Path, help="write the JUnit XML here")
    parser.add_argument("--stack-config", help="stack file path for SARIF locations (default: the document's)")
    args = parser.parse_args(argv)
    try:
        doc = json.loads(args.preview.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        print(f"render_reports: cannot read {args.preview}: {error}", file=sys.stderr)
        return 2
    if args.sarif:
        from aifactory.report import sarif

        path = args.stack_config or doc.get("stack_config") or f"stacks/Pulumi.{doc.get('stack')}.yaml"
        args.sarif.write_text(json.dumps(sarif.render(doc, path), indent=2) + "\n", encoding="utf-8")
    if args.junit:
        from aifactory.report import junit

        args.junit.write_text(junit.render(doc), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
