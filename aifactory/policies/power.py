"""Power: the facility's power draw, IT kW x the cloud's PUE from the catalog, under an org cap.

`power-cap` (stack) reads the same inventory and estimate as the `aifactory` report
(`aifactory.estimate.estimate`), so the pack and the report never disagree on a kilowatt. A
GPU group whose power cannot be computed -- its node count or instance type unknown at
preview, or no node power figure in the catalog -- is a violation of its own: otherwise the
gate would pass a facility it cannot measure.
"""

from __future__ import annotations

import math

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from aifactory.inventory import GpuGroup, Inventory
from aifactory.policies.common import Setting, cannot_prove, config_schema, group_lines, kw, pct, settings, stack_inventory

POWER_CAP = [
    Setting("maxFacilityKw", "number", 2000, "Largest facility power draw allowed, in kW (IT power x PUE).", minimum=0),
]


def power_gaps(inventory: Inventory, gate: str) -> list[tuple[str, str | None]]:
    """(message, urn) for every GPU group whose power the gate cannot compute."""
    out = []
    unknowns = inventory.unknowns_by_urn()
    for group in inventory.groups:
        if group.nodes == 0:
            continue
        unknown = next((u for u in unknowns.get(group.urn, ()) if u.what in ("node count", "instance type")), None)
        if unknown is not None:
            out.append((cannot_prove(unknown.what, group.urn, unknown.path, gate), group.urn))
        elif group.instance is None:
            out.append((
                f"{group.instance_type} ({group.name}) is not in the aifactory catalog, so its power is unknown; "
                f"the gate cannot prove {gate}. Use a catalogued GPU type or add this one, with a sourced "
                "node_power_w, to aifactory/catalog/data/instances.csv.",
                group.urn,
            ))
        elif group.instance.node_power_w is None:
            out.append((
                f"The catalog has no node power figure for {group.instance_type} ({group.name}, {group.nodes} nodes); "
                f"the gate cannot prove {gate}. Add a sourced node_power_w for it to "
                "aifactory/catalog/data/instances.csv.",
                group.urn,
            ))
    return out


def _describe(group: GpuGroup) -> str:
    now = f", {group.desired} now" if group.desired != group.nodes else ""
    return f"{group.name} ({group.nodes} x {group.instance_type} at most{now})" if now else (
        f"{group.name} ({group.nodes} x {group.instance_type})")


def validate_power_cap(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    limit = float(settings(args, POWER_CAP)["maxFacilityKw"])
    inventory = stack_inventory(args)
    gate = f"the facility stays within maxFacilityKw {kw(limit)}"
    for message, urn in power_gaps(inventory, gate):
        report_violation(message, urn)

    est, pairs = group_lines(inventory)
    total = est.facility_power_kw
    if total <= limit:
        return
    fleets = sorted(
        ((g, line) for g, line in pairs if line.kind == "fleet" and line.facility_power_kw),
        key=lambda pair: -(pair[1].facility_power_kw or 0.0),
    )
    excess = total - limit
    top = "; ".join(
        f"{_describe(g)} {kw(line.facility_power_kw or 0.0)} ({pct(line.facility_power_kw or 0.0, total)})"
        for g, line in fleets[:3]
    )
    advice = ""
    if fleets:
        group, line = fleets[0]
        per_node = (line.facility_power_kw or 0.0) / max(group.nodes or 1, 1)
        if per_node > 0:
            remove = math.ceil(excess / per_node)
            advice = (
                f" Remove at least {remove} of {group.name}'s {group.nodes} {group.instance_type} nodes "
                f"({kw(per_node)} each at PUE {est.pue:g}),"
            )
    report_violation(
        f"Facility power {kw(total)} (IT {kw(est.it_power_kw)} x PUE {est.pue:g} for {inventory.cloud or 'unknown cloud'}) "
        f"exceeds maxFacilityKw {kw(limit)} by {kw(excess)} ({pct(excess, limit)} over). "
        f"Biggest contributors: {top}.{advice or ' Shrink the fleets,'} or ask the platform team to raise "
        "power-cap.maxFacilityKw in the team's policies/config file.",
        None,
    )


power_cap = StackValidationPolicy(
    name="power-cap",
    description="Facility power (IT kW x PUE, from the catalog) stays within the org's cap.",
    validate=validate_power_cap,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=config_schema(POWER_CAP),
)

POLICIES = [power_cap]
