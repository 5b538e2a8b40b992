"""Markdown reports (jinja2 templates in `templates/`): a pull-request comment for a diff, and a
report of one preview.

`render_diff(result)` renders the result of `aifactory.diff.diff` as the comment a workflow posts
on a pull request: the summary line first, a hidden marker `<!-- aifactory-preview:<stack> -->`
so the workflow finds and updates its own comment, tables, a Mermaid diagram of the facility
after the change, and collapsible details. GitHub refuses comments over 65,536 characters, so
the details are trimmed step by step until the comment fits; the summary, marker and verdict
are never trimmed.

`render_preview(doc)` renders one preview JSON document the same way, without before/after.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from aifactory import diff as d
from aifactory.report import mermaid

GITHUB_COMMENT_LIMIT = 65_536
TEMPLATES = Path(__file__).resolve().parent / "templates"
MARKER = "<!-- aifactory-preview:{stack} -->"

# Successive detail budgets, from everything to almost nothing; the first that fits is used.
DETAIL_LEVELS: tuple[dict[str, Any], ...] = (
    {"resources": None, "paths": None, "violations": None, "value_width": 80, "diagram": True, "unchanged_lines": True},
    {"resources": 200, "paths": 25, "violations": 100, "value_width": 60, "diagram": True, "unchanged_lines": True},
    {"resources": 80, "paths": 10, "violations": 50, "value_width": 40, "diagram": True, "unchanged_lines": False},
    {"resources": 30, "paths": 5, "violations": 25, "value_width": 30, "diagram": True, "unchanged_lines": False},
    {"resources": 10, "paths": 3, "violations": 10, "value_width": 30, "diagram": False, "unchanged_lines": False},
    {"resources": 0, "paths": 0, "violations": 5, "value_width": 30, "diagram": False, "unchanged_lines": False},
)


def cell(value: Any) -> str:
    """Text safe inside a Markdown table cell: no pipes, no newlines, no raw HTML."""
    text = "" if value is None else str(value)
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|").replace("\r", "").replace("\n", "<br>"))


def code(value: Any) -> str:
    """Inline code for a table cell (backticks in the value are replaced: they would end the span)."""
    text = "" if value is None else str(value)
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.ChainableUndefined,  # previews may lack optional keys
        autoescape=False,  # Markdown, not HTML: every table cell goes through `cell` or `code`
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        cell=cell,
        code=code,
        usd=d.fmt_usd_exact,
        usd_short=d.fmt_usd,
        usd_signed=lambda v: d.fmt_usd(v, signed=True),
        kw=d.fmt_kw,
        kw_signed=lambda v: d.fmt_kw(v, signed=True),
        t=d.fmt_t,
        t_signed=lambda v: d.fmt_t(v, signed=True),
        mwh=d.fmt_mwh,
        mwh_signed=lambda v: d.fmt_mwh(v, signed=True),
        pflops=d.fmt_pflops,
        pflops_signed=lambda v: d.fmt_pflops(v, signed=True),
        ratio=lambda v: "n/a" if v is None else f"{v:,.0f}",
        num=d.fmt_int,
        num_signed=lambda v: d.fmt_int(v, signed=True),
        gib=d.fmt_gib,
        short=d.short_value,
        plural=d.plural,
        resource_name=lambda urn: (urn or "").rsplit("::", 1)[-1] if urn else "(stack)",
    )
    return env


# --------------------------------------------------------------------------- diff


def _change_rows(result: dict) -> list[dict]:
    """Lines for the fleets-and-filesystems table: each figure as `before → after` where it moved."""
    rows = []
    for line in result["lines"]:
        b, h, status = line["base"] or {}, line["head"] or {}, line["status"]

        def show(key: str, fmt) -> str:
            before, after = fmt(b.get(key)), fmt(h.get(key))
            if status == "added":
                return after
            if status == "removed":
                return before
            return before if before == after else f"{before} → {after}"

        fleet = line["kind"] == "fleet"
        rows.append({
            "status": status,
            "kind": line["kind"],
            "name": line["name"],
            "item": show("item", lambda v: v or "n/a"),
            "region": show("region", lambda v: v or "n/a"),
            "capacity": show("capacity", lambda v: v or "") if fleet else "",
            "size": show("nodes", d.fmt_int) if fleet else show("capacity_gib", d.fmt_gib),
            "gpus": show("gpus", d.fmt_int) if fleet else "",
            "monthly_usd": show("monthly_usd", d.fmt_usd_exact),
            "facility_power_kw": show("facility_power_kw", d.fmt_kw),
            "co2e_t_month": show("co2e_t_month", d.fmt_t) if fleet else "",
            "delta_usd": line["delta"]["monthly_usd"],
            "gpu_model": line["gpu_model"],
        })
    return rows


def _diagram_for_diff(result: dict, facility: dict | None) -> str | None:
    base_facility = (result.get("facility") or {}).get("base")
    if facility is None:
        if not base_facility:
            return None
        facility = {"name": f"{base_facility.get('name', result.get('stack'))} (deleted)",
                    "cloud": base_facility.get("cloud"), "region": base_facility.get("region")}
    statuses = {(line["kind"], line["name"]): line["status"] for line in result["lines"]}
    head_budget = facility.get("budget")
    base_budget = (base_facility or {}).get("budget") if result.get("base") else None
    if head_budget and result.get("base") is None:
        statuses[("budget", "budget")] = "added"
    elif head_budget and head_budget != base_budget:
        statuses[("budget", "budget")] = "added" if base_budget is None else "changed"
    lines = [dict(line["head"], kind=line["kind"], name=line["name"]) for line in result["lines"] if line["head"]]
    removed = [dict(line["base"], kind=line["kind"], name=line["name"]) for line in result["lines"] if line["status"] == "removed"]
    models = {line["name"]: line["gpu_model"] for line in result["lines"] if line["kind"] == "fleet" and line["gpu_model"]}
    return mermaid.facility_diagram(facility, lines, statuses, removed, models)


def render_diff(result: dict, facility: dict | None = None, max_chars: int = GITHUB_COMMENT_LIMIT) -> str:
    """The pull-request comment for a diff result, at most `max_chars` characters.

    `facility` is the head's facility spec (the preview's `facility`) for the diagram; when not
    given, the one carried in the result (`result["facility"]["head"]`) is used.
    """
    facility = facility if facility is not None else (result.get("facility") or {}).get("head")
    context = {
        "r": result,
        "summary": d.summary_line(result),
        "marker": MARKER.format(stack=result.get("stack") or "unknown"),
        "rows": _change_rows(result),
        "diagram": _diagram_for_diff(result, facility),
        "changes_count": sum(len(x["changes"]) for x in result["resources"]["changed"]),
    }
    return _fit("diff.md.j2", context, max_chars)


def length(text: str) -> int:
    """Characters as the most demanding count has them (UTF-16 code units: an emoji outside the
    Basic Multilingual Plane counts twice), so a comment within it is within GitHub's limit."""
    return len(text.encode("utf-16-le")) // 2


def _fit(template: str, context: dict, max_chars: int) -> str:
    tpl = environment().get_template(template)
    text = ""
    for level in DETAIL_LEVELS:
        text = tpl.render(detail=level, **context)
        if length(text) <= max_chars:
            return text
    # Even the barest rendering is too long (thousands of violations, say): cut it at a line
    # boundary, keeping the head -- the summary line, the marker and the verdict come first.
    note = "\n\n> **Truncated**: this report exceeded GitHub's comment limit; run `aifactory diff --format json` for all of it.\n"
    cut = text[: max(0, max_chars - length(note))]
    while length(cut) > max_chars - length(note):
        cut = cut[: len(cut) - (length(cut) - (max_chars - length(note)))]
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    return cut + note


# --------------------------------------------------------------------------- preview


def preview_summary_line(doc: dict) -> str:
    """`144 H100 GPUs · $540k/month · 211 kW · 0 mandatory violations` for one preview."""
    result = d.diff(None, doc)
    models = [m for m in result["gpu_models"] if m["head"]]
    gpus = ", ".join(f"{m['head']:,} {m['model'] if m['model'] != 'GPU' else ''}".rstrip() for m in models) + " GPUs" if models else "0 GPUs"
    est = doc.get("estimate") or {}
    cost = d.fmt_usd(est.get("monthly_usd")) + "/month" + ("" if est.get("complete", True) else " (incomplete)")
    mandatory = sum(1 for v in (doc.get("policies") or {}).get("violations") or [] if v.get("enforcement") == "mandatory")
    carbon = ("n/a tCO2e" if est.get("co2e_t_month") is None else d.fmt_t(est.get("co2e_t_month"))) + "/month"
    return " · ".join([gpus, cost, d.fmt_kw(est.get("facility_power_kw")), carbon, d.plural(mandatory, "mandatory violation")])


def render_preview(doc: dict, max_chars: int = GITHUB_COMMENT_LIMIT) -> str:
    """A Markdown report of one preview JSON document (`aifactory preview --format markdown`)."""
    result = d.diff(None, doc)
    violations = (doc.get("policies") or {}).get("violations") or []
    by_type: dict[str, int] = {}
    for resource in doc.get("resources") or []:
        by_type[resource.get("type") or "?"] = by_type.get(resource.get("type") or "?", 0) + 1
    models = {line["name"]: line["gpu_model"] for line in result["lines"] if line["kind"] == "fleet" and line["gpu_model"]}
    est = doc.get("estimate") or {}
    context = {
        "doc": doc,
        "est": est,
        "summary": preview_summary_line(doc),
        "marker": MARKER.format(stack=doc.get("stack") or "unknown"),
        "lines": [dict(line["head"], kind=line["kind"], name=line["name"], gpu_model=line["gpu_model"]) for line in result["lines"]],
        "violations": sorted(violations, key=lambda v: (v.get("enforcement") != "mandatory", v.get("policy") or "")),
        "mandatory": sum(1 for v in violations if v.get("enforcement") == "mandatory"),
        "policies": (doc.get("policies") or {}).get("policies") or [],
        "by_type": sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0])),
        "diagram": mermaid.facility_diagram(doc.get("facility"), est.get("lines") or [], None, None, models) if doc.get("facility") else None,
    }
    return _fit("preview.md.j2", context, max_chars)
