"""The terminal rendering of a preview: a resource tree like `pulumi preview`'s, violations by policy, estimate."""

from __future__ import annotations

from collections import defaultdict

from rich.console import Group, RenderableType
from rich.text import Text
from rich.tree import Tree

from aifactory.report.tables import energy_table, estimate_table, prices_as_of_text


def resource_tree(resources: list[dict]) -> Tree:
    children: dict[str | None, list[dict]] = defaultdict(list)
    urns = {r["urn"] for r in resources}
    for resource in resources:
        parent = resource["parent"] if resource["parent"] in urns else None
        children[parent].append(resource)
    root = Tree(Text("Type / Name", style="bold"))

    def add(node: Tree, parent: str | None) -> None:
        for resource in children.get(parent, []):
            label = Text("+ ", style="green")
            label.append(resource["type"])
            label.append(f"  {resource['name']}", style="bold")
            if resource.get("protect"):
                label.append("  [protect]", style="yellow")
            add(node.add(label), resource["urn"])

    add(root, None)
    return root


def render_preview(doc: dict) -> RenderableType:
    source = doc.get("source")
    title = (f"Report on stack {doc['stack']} ({doc['project']}) from {source['format']} {source['file']}" if source
             else f"Previewing stack {doc['stack']} ({doc['project']}) offline — {doc['stack_config']}")
    parts: list[RenderableType] = [
        Text(title, style="bold"),
        resource_tree(doc["resources"]),
    ]
    custom = sum(1 for r in doc["resources"] if r["custom"])
    parts.append(Text(f"Resources: + {len(doc['resources'])} to create ({custom} cloud resources)"))

    policies = doc["policies"]
    violations = policies["violations"]
    header = Text(f"\nPolicies: pack {policies['pack']}, config {policies.get('config') or 'defaults'}", style="bold")
    parts.append(header)
    if not violations:
        parts.append(Text("  no violations", style="green"))
    by_policy: dict[str, list[dict]] = defaultdict(list)
    for violation in violations:
        by_policy[violation["policy"]].append(violation)
    for policy, items in sorted(by_policy.items(), key=lambda kv: (kv[1][0]["enforcement"] != "mandatory", kv[0])):
        style = "red" if items[0]["enforcement"] == "mandatory" else "yellow"
        parts.append(Text(f"  [{items[0]['enforcement']}] {policy} ({len(items)})", style=style))
        for item in items:
            where = item["urn"].rsplit("::", 1)[-1] if item.get("urn") else "stack"
            parts.append(Text(f"    - {where}: {item['message']}"))

    parts.append(Text(""))
    parts.append(estimate_table(doc["estimate"]))
    parts.append(Text(prices_as_of_text(doc["estimate"])))
    if "energy_mwh_month" in doc["estimate"]:
        parts.append(energy_table(doc["estimate"]))
    for gap in doc["estimate"].get("missing", []):
        parts.append(Text(f"incomplete: {gap}", style="yellow"))
    for unknown in doc.get("unknowns", []):
        parts.append(Text(f"unknown at preview: {unknown}", style="yellow"))
    mandatory = sum(1 for v in violations if v["enforcement"] == "mandatory")
    verdict = Text(
        f"\n{mandatory} mandatory violation(s)" if mandatory else "\nno mandatory violations",
        style="bold red" if mandatory else "bold green",
    )
    parts.append(verdict)
    return Group(*parts)
