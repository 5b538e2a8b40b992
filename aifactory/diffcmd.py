"""`aifactory diff BASE HEAD`: what a change to a stack adds in GPUs, money, power and violations.

Registered on the main app by `register(app)`. Imports nothing of Pulumi or the clouds (the
command reads two JSON files and must start fast); the renderers are imported on use.

BASE and HEAD are preview JSON files written by `aifactory preview STACK --format json`, or what
the real CLI writes (`pulumi preview --json`, `pulumi stack export`, a checkpoint), which are first
judged and estimated as `aifactory report` does.
`none` stands for a side that has no preview (BASE of a new stack, HEAD of a deleted one) and
`-` reads that side from standard input. Both documents are checked whole against the preview
JSON's shape, and must be of the same stack unless --allow-different-stacks. Exit status: 0
fine; 1 a new mandatory violation, or a limit given by --max-increase-usd / --max-increase-kw
crossed (or not checkable because a changed line has no price or power figure, or a side has
no estimate lines: limits fail closed); 2 unreadable input or usage; 3 an internal error.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path

import typer


class DiffFormat(str, Enum):
    text = "text"
    markdown = "markdown"
    json = "json"


def register(app: typer.Typer) -> None:
    """Add the `diff` command to the `aifactory` app."""

    @app.command("diff")
    def diff_command(
        base: str = typer.Argument(
            ..., metavar="BASE",
            help="Preview JSON of the stack before the change; 'none' for a new stack, '-' for standard input.",
        ),
        head: str = typer.Argument(
            ..., metavar="HEAD",
            help="Preview JSON of the stack after the change; 'none' for a deleted stack, '-' for standard input.",
        ),
        format: DiffFormat = typer.Option(DiffFormat.text, "--format", "-f", help="text, markdown (a pull-request comment) or json."),
        max_increase_usd: float | None = typer.Option(
            None, "--max-increase-usd", min=0, metavar="USD",
            help="Exit 1 when the monthly cost rises by more than this (USD per month).",
        ),
        max_increase_kw: float | None = typer.Option(
            None, "--max-increase-kw", min=0, metavar="KW",
            help="Exit 1 when the facility power (IT x PUE) rises by more than this (kW).",
        ),
        output: Path | None = typer.Option(None, "--output", "-o", help="Write the report to this file instead of standard output."),
        allow_different_stacks: bool = typer.Option(
            False, "--allow-different-stacks",
            help="Compare previews of two different stacks (refused otherwise: a pull request changes one stack).",
        ),
    ) -> None:
        """Compare two previews of a stack: resources, GPUs, cost, power and policy violations."""
        run(base, head, format, max_increase_usd, max_increase_kw, output, allow_different_stacks)


def fail(message: str) -> typer.Exit:
    sys.stderr.write(f"aifactory diff: {message}\n")
    return typer.Exit(2)


def run(base_arg: str, head_arg: str, format: DiffFormat, max_usd: float | None, max_kw: float | None,
        output: Path | None, allow_different_stacks: bool = False) -> None:
    from aifactory import diff as diffing

    if base_arg == diffing.STDIN and head_arg == diffing.STDIN:
        raise fail("only one side can be read from standard input ('-')")
    if output is not None and (output.is_dir() or not output.parent.is_dir()):
        raise fail(f"cannot write {output}: " + ("it is a directory" if output.is_dir() else f"{output.parent} does not exist"))
    try:
        base = _converted(base_arg) or diffing.load(base_arg)
        head = _converted(head_arg) or diffing.load(head_arg)
        if base is not None and head is not None and base["stack"] != head["stack"] and not allow_different_stacks:
            raise fail(f"the previews are of different stacks (base {base['stack']!r}, head {head['stack']!r}); "
                       "give --allow-different-stacks to compare them anyway")
        result = diffing.diff(base, head, max_increase_usd=max_usd, max_increase_kw=max_kw)
    except diffing.PreviewError as error:
        raise fail(str(error)) from None

    if format is DiffFormat.json:
        text = json.dumps(result, indent=2, allow_nan=False) + "\n"
    elif format is DiffFormat.markdown:
        from aifactory.report.markdown import render_diff

        text = render_diff(result)
    else:
        text = render_text(result)
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as error:
            raise fail(f"cannot write {output}: {error}") from None
    if result["exit_code"]:
        raise typer.Exit(result["exit_code"])


def _converted(arg: str) -> dict | None:
    """A side written by the real Pulumi CLI (preview --json, stack export, checkpoint), judged and
    estimated as `aifactory report` does; None for an aifactory preview document (read as it is)."""
    from aifactory.enginereport import as_preview_document
    from aifactory.problems import SpecError

    try:
        return as_preview_document(arg)
    except SpecError as error:
        raise fail("; ".join(str(p) for p in error.problems)) from None


# --------------------------------------------------------------------------- text


def _table(header: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)] if rows else [len(h) for h in header]
    def fmt(row: list[str]) -> str:
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()
    return [fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows]


def _arrow(before: str, after: str, status: str) -> str:
    if status == "added":
        return after
    if status == "removed":
        return before
    return before if before == after else f"{before} -> {after}"


def render_text(result: dict) -> str:
    """A terminal report of a diff: summary, totals, lines, violations, resource changes."""
    from aifactory import diff as d

    out = [f"{result['stack']}: {d.summary_line(result)}"]
    out += [f"note: {n}" for n in result["notes"]]
    out.append("")
    t = result["totals"]
    rows = []
    for label, key, fmt in (
        ("GPUs", "gpus", lambda v, s=False: d.fmt_int(v, s)),
        ("nodes", "nodes", lambda v, s=False: d.fmt_int(v, s)),
        ("monthly cost", "monthly_usd", lambda v, s=False: d.fmt_usd_exact(v) if not s else d.fmt_usd(v, True)),
        ("IT power", "it_power_kw", d.fmt_kw),
        ("facility power", "facility_power_kw", d.fmt_kw),
        ("energy (at the load factor)", "energy_mwh_month", d.fmt_mwh),
        ("emissions, location-based", "co2e_t_month", d.fmt_t),
        ("emissions, market-based", "co2e_t_month_market_based", d.fmt_t),
        ("dense BF16 compute", "pflops_bf16", d.fmt_pflops),
        ("PFLOPS per MW", "pflops_per_mw", lambda v, s=False: d.fmt_int(None if v is None else round(v), s)),
        ("budget", "budget_usd", lambda v, s=False: d.fmt_usd_exact(v) if not s else d.fmt_usd(v, True)),
        ("resources", "resources", lambda v, s=False: d.fmt_int(v, s)),
        ("mandatory violations", "mandatory_violations", lambda v, s=False: d.fmt_int(v, s)),
        ("advisory violations", "advisory_violations", lambda v, s=False: d.fmt_int(v, s)),
    ):
        row = t[key]
        rows.append([label, "-" if row["base"] is None and result["base"] is None else fmt(row["base"]),
                     "-" if row["head"] is None and result["head"] is None else fmt(row["head"]),
                     fmt(row["delta"], True) if row["delta"] is not None else "n/a"])
    out += _table(["", "before", "after", "change"], rows, right={1, 2, 3})
    out.append("")

    rows = []
    for line in result["lines"]:
        b, h, s = line["base"] or {}, line["head"] or {}, line["status"]
        if line["kind"] == "fleet":
            size = _arrow(d.fmt_int(b.get("nodes")), d.fmt_int(h.get("nodes")), s)
            gpus = _arrow(d.fmt_int(b.get("gpus")), d.fmt_int(h.get("gpus")), s)
        else:
            size = _arrow(d.fmt_gib(b.get("capacity_gib")), d.fmt_gib(h.get("capacity_gib")), s)
            gpus = ""
        rows.append([
            s, f"{line['kind']} {line['name']}",
            _arrow(str(b.get("item")), str(h.get("item")), s),
            _arrow(str(b.get("region")), str(h.get("region")), s),
            size, gpus,
            _arrow(d.fmt_usd_exact(b.get("monthly_usd")), d.fmt_usd_exact(h.get("monthly_usd")), s),
            _arrow(d.fmt_kw(b.get("facility_power_kw")), d.fmt_kw(h.get("facility_power_kw")), s),
            _arrow(d.fmt_t(b.get("co2e_t_month")), d.fmt_t(h.get("co2e_t_month")), s),
        ])
    if rows:
        out += _table(["", "line", "item", "region", "nodes/size", "GPUs", "$/month", "facility power", "tCO2e/month"], rows,
                      right={4, 5, 6, 7, 8})
        out.append("")

    v = result["violations"]
    for title, items in (("new", v["new"]), ("escalated to mandatory", v["escalated"]), ("resolved", v["resolved"])):
        for item in items:
            out.append(f"violation {title}: [{item['enforcement']}] {item['policy']}: {item['message']}"
                       + (f" ({item['urn'].rsplit('::', 1)[-1]})" if item.get("urn") else ""))
    if v["unchanged"]:
        out.append(f"violations still present: {len(v['unchanged'])}")
    r = result["resources"]
    out.append(f"resources: {len(r['added'])} to add, {len(r['removed'])} to delete, {len(r['changed'])} to change, "
               f"{r['unchanged']} unchanged")
    for item in r["added"]:
        out.append(f"  + {item['type']} {item['name']}")
    for item in r["removed"]:
        out.append(f"  - {item['type']} {item['name']}" + ("  (protected)" if item["protect"] else ""))
    for item in r["changed"]:
        out.append(f"  ~ {item['type']} {item['name']}")
        for change in item["changes"][:20]:
            out.append(f"      {change['path']}: {d.short_value(change['base'])} -> {d.short_value(change['head'])}")
        if len(item["changes"]) > 20:
            out.append(f"      ... {len(item['changes']) - 20} more")
    for reason in result["reasons"]:
        out.append(f"FAIL: {reason}")
    return "\n".join(out) + "\n"
