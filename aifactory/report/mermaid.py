"""A Mermaid flowchart of a facility: fleets, network, filesystems and budget (GitHub renders it).

`facility_diagram(facility, lines, statuses)` draws the facility spec (the preview JSON's
`facility`); fleet and filesystem nodes carry the estimate's GPUs and sizes where a line exists,
and are coloured by their status in a diff (added, changed, removed). Removed items, which are no
longer in the facility, are drawn dashed beside it so a reviewer sees what goes away.
"""

from __future__ import annotations

import re

MAX_FLEETS = 24
MAX_FILESYSTEMS = 12

STYLES = (
    "classDef added fill:#dafbe1,stroke:#1a7f37,color:#0d3a1a",
    "classDef changed fill:#fff8c5,stroke:#9a6700,color:#3b2300",
    "classDef removed fill:#ffebe9,stroke:#cf222e,color:#5c0f0f,stroke-dasharray:4 3",
)


def node_id(prefix: str, name: str) -> str:
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9_]', '_', name)}"


def label(*parts: str) -> str:
    """A quoted Mermaid label, lines joined with <br/>; quotes and angle brackets neutralised."""
    safe = [str(p).replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;") for p in parts if p]
    return '"' + "<br/>".join(safe) + '"'


def _num(value) -> str:
    if value is None:
        return "?"
    return f"{value:,g}" if isinstance(value, int | float) else str(value)


def fleet_label(fleet: dict, line: dict | None, gpu_model: str | None) -> str:
    nodes = fleet.get("nodes", line and line.get("nodes"))
    itype = fleet.get("instance_type") or (line or {}).get("item") or fleet.get("gpu") or "?"
    gpus = (line or {}).get("gpus")
    detail = f"{_num(gpus)} {gpu_model or 'GPUs'}" if gpus else None
    capacity = fleet.get("capacity") or (line or {}).get("capacity")
    return label(f"fleet {fleet.get('name')}", f"{_num(nodes)} × {itype}", " · ".join(p for p in (detail, capacity) if p))


def filesystem_label(fs: dict, line: dict | None) -> str:
    if fs.get("capacity_tib") is not None:
        size = f"{fs['capacity_tib']:,g} TiB"
    elif fs.get("capacity_gib") is not None:
        size = f"{fs['capacity_gib']:,g} GiB"
    elif line and line.get("capacity_gib") is not None:
        size = f"{line['capacity_gib']:,g} GiB"
    else:
        size = "? TiB"
    throughput = fs.get("throughput_mbps_per_tib")
    return label(f"{fs.get('kind', 'filesystem')} {fs.get('name')}", size + (f" · {throughput} MB/s/TiB" if throughput else ""))


def facility_diagram(
    facility: dict | None,
    lines: list[dict] | None = None,
    statuses: dict[tuple[str, str], str] | None = None,
    removed: list[dict] | None = None,
    gpu_models: dict[str, str] | None = None,
) -> str:
    """Mermaid source (without the ``` fence).

    `lines`: estimate lines of the same side (to show GPUs and sizes); `statuses`: (kind, name) →
    added | changed | removed | unchanged; `removed`: estimate lines no longer in the facility;
    `gpu_models`: fleet name → GPU model.
    """
    facility = facility or {}
    statuses = statuses or {}
    gpu_models = gpu_models or {}
    by_key = {(line.get("kind"), line.get("name")): line for line in lines or []}
    name = facility.get("name") or "facility"
    where = " · ".join(str(p) for p in (facility.get("cloud"), facility.get("region")) if p)
    if facility.get("zone"):
        where += f" · zone {facility['zone']}"
    out = ["flowchart LR"]
    out.append(f"  subgraph facility[{label(name, where)}]")
    out.append("    direction LR")
    network = facility.get("network") or {}
    net = "net"
    out.append(f"    {net}[{label('network', network.get('cidr') or '')}]")
    classes: list[tuple[str, str]] = []

    fleets = list(facility.get("fleets") or [])
    filesystems = list(facility.get("filesystems") or [])
    if fleets:
        out.append(f"    subgraph fleets[{label('GPU fleets')}]")
        for fleet in fleets[:MAX_FLEETS]:
            nid = node_id("fleet", fleet.get("name", "?"))
            out.append(f"      {nid}[{fleet_label(fleet, by_key.get(('fleet', fleet.get('name'))), gpu_models.get(fleet.get('name')))}]")
            classes.append((nid, statuses.get(("fleet", fleet.get("name")), "")))
        if len(fleets) > MAX_FLEETS:
            out.append(f"      fleet_more[{label(f'… {len(fleets) - MAX_FLEETS} more fleets')}]")
        out.append("    end")
        out.append(f"    fleets --- {net}")
    if filesystems:
        out.append(f"    subgraph storage[{label('filesystems')}]")
        for fs in filesystems[:MAX_FILESYSTEMS]:
            nid = node_id("fs", fs.get("name", "?"))
            out.append(f"      {nid}[({filesystem_label(fs, by_key.get(('filesystem', fs.get('name'))))})]")
            classes.append((nid, statuses.get(("filesystem", fs.get("name")), "")))
        if len(filesystems) > MAX_FILESYSTEMS:
            out.append(f"      fs_more[({label(f'… {len(filesystems) - MAX_FILESYSTEMS} more')})]")
        out.append("    end")
        out.append(f"    {net} --- storage")
    out.append("  end")

    budget = facility.get("budget")
    if budget:
        thresholds = "/".join(str(t) for t in budget.get("thresholds_pct") or [])
        parts = [f"budget ${budget.get('monthly_usd', 0):,.0f}/month"]
        if thresholds:
            parts.append(f"alerts at {thresholds}%")
        if budget.get("enforce"):
            parts.append(f"enforce: {budget['enforce']}")
        out.append(f"  budget{{{{{label(*parts)}}}}}")
        out.append("  budget -.- facility")
        classes.append(("budget", statuses.get(("budget", "budget"), "")))

    gone = [line for line in removed or [] if line.get("kind") in ("fleet", "filesystem")][:MAX_FLEETS]
    if gone:
        out.append(f"  subgraph removed_items[{label('removed by this change')}]")
        for line in gone:
            nid = node_id("gone_" + line["kind"], line.get("name", "?"))
            if line["kind"] == "fleet":
                text = label(f"fleet {line.get('name')}", f"{_num(line.get('nodes'))} × {line.get('item')}")
                out.append(f"    {nid}[{text}]")
            else:
                text = label(f"filesystem {line.get('name')}", f"{_num(line.get('capacity_gib'))} GiB")
                out.append(f"    {nid}[({text})]")
            classes.append((nid, "removed"))
        out.append("  end")

    out += ["  " + style for style in STYLES]
    for status in ("added", "changed", "removed"):
        ids = [nid for nid, s in classes if s == status]
        if ids:
            out.append(f"  class {','.join(ids)} {status}")
    return "\n".join(out)
