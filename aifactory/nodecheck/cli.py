"""`python -m aifactory.nodecheck`: check this node, or serve its health endpoint.

Exit status: 0 every check passed, 1 a check failed, 2 bad usage or expectation, 3 a bug."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from . import HEALTH_PORT, REPORT_PATH, checks, expect, report
from .host import Host


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nodecheck", description="Check a GPU node against its instance type.")
    sub = p.add_subparsers(dest="command")
    run = sub.add_parser("check", help="run the checks (the default)")
    serve = sub.add_parser("serve", help="serve the health endpoint from the last report")
    for q in (p, run):
        source = q.add_mutually_exclusive_group()
        source.add_argument("--expect", metavar="JSON", help="the expectation as JSON (what the bootstrap passes)")
        source.add_argument("--expect-file", metavar="PATH", help="read the expectation JSON from a file")
        source.add_argument("--expect-type", metavar="TYPE", help="build the expectation from the catalog entry of TYPE")
        q.add_argument("--report", metavar="PATH", default=REPORT_PATH, help="where to write the report; - prints it")
        q.add_argument("--deep", action="store_true", help="also run DCGM diagnostics and NCCL all-reduce when installed")
    serve.add_argument("--port", type=int, default=HEALTH_PORT)
    serve.add_argument("--report", metavar="PATH", default=REPORT_PATH)
    serve.add_argument("--max-age", type=float, default=1800.0, help="seconds after which a report counts as stale")
    return p


def _expectation(args: argparse.Namespace) -> expect.Expectation:
    if args.expect is not None:
        return expect.from_json(args.expect)
    if args.expect_file is not None:
        try:
            with open(args.expect_file, encoding="utf-8") as f:
                return expect.from_json(f.read())
        except OSError as e:
            raise expect.ExpectationError("--expect-file: %s" % e)
    if args.expect_type is not None:
        return expect.from_catalog(args.expect_type)
    raise expect.ExpectationError("one of --expect, --expect-file or --expect-type is required")


def main(argv: Optional[List[str]] = None, host: Optional[Host] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("check", "serve", "-h", "--help"):
        argv = ["check"] + argv
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    try:
        if args.command == "serve":
            from .serve import serve
            serve(args.port, args.report, args.max_age)
            return 0
        try:
            expectation = _expectation(args)
        except expect.ExpectationError as e:
            sys.stderr.write("nodecheck: %s\n" % e)
            return 2
        results = checks.run_all(host or Host(), expectation, deep=args.deep)
        document = report.build(results, expectation, args.deep)
        report.write(document, args.report)
        for c in results:
            if c.status == checks.FAIL:
                sys.stderr.write("nodecheck: FAIL %s: %s\n" % (c.name, c.reason))
        return 0 if document["passed"] else 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug: one line, exit 3
        sys.stderr.write("nodecheck: internal error: %s: %s\n" % (e.__class__.__name__, e))
        return 3
