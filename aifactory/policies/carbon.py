"""Carbon and compute per watt: the facility's monthly emissions under an org cap, and its dense
compute per MW of facility power above an org floor.

`carbon-cap` (stack) judges location-based emissions: facility kW (the same lines `power-cap`
reads) x 730 h x the policy's `loadFactor` x the region's grid intensity from the catalog. The load
factor is the org's (policy config), never the stack's, so a team cannot lower its own figure; its
default 1.0 counts every node at its maximum power all month, an upper bound. `efficiency-floor`
(stack, advisory by default) judges dense BF16 PFLOPS per MW of facility power.

Both fail closed: a GPU group whose figures cannot be computed -- node count, type or region
unknown at preview, or no power, grid intensity or TFLOPS figure in the catalog -- is a violation
of its own, never counted as zero.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from aifactory import catalog, energy
from aifactory.catalog import energy as figures
from aifactory.inventory import GpuGroup, Inventory
from aifactory.policies.common import Setting, cannot_prove, config_schema, group_lines, join, pct, settings, stack_inventory
from aifactory.policies.power import power_gaps

CARBON_CAP = [
    Setting("maxMonthlyTco2e", "number", 1000, "Largest location-based emissions allowed, in tCO2e a month "
            "(facility kW x 730 h x loadFactor x the region's grid intensity).", minimum=0),
    Setting("loadFactor", "number", 1.0, "Share of the month the nodes are judged at full power (0 < f <= 1); "
            "1.0, the default, is the upper bound.", minimum=0),
]
EFFICIENCY_FLOOR = [
    Setting("minPflopsPerMw", "number", 500, "Least dense BF16 PFLOPS per MW of facility power the facility must reach.",
            minimum=0),
]


def tonnes(value: float) -> str:
    return f"{value:,.1f} tCO2e"


def _describe(group: GpuGroup) -> str:
    return f"{group.name} ({group.nodes} x {group.instance_type} in {group.region})"


def _region_gaps(inventory: Inventory, gate: str, skip: set[str | None]) -> list[tuple[str, str | None]]:
    """Groups whose region is unknown, or whose region has no grid intensity in the catalog."""
    out = []
    unknowns = inventory.unknowns_by_urn()
    for group in inventory.groups:
        if group.nodes == 0 or group.urn in skip:
            continue
        unknown = next((u for u in unknowns.get(group.urn, ()) if u.what == "region"), None)
        if unknown is not None or not group.region:
            out.append((cannot_prove("region", group.urn, unknown.path if unknown else "", gate), group.urn))
        elif figures.grid_carbon(group.cloud, group.region) is None or figures.grid_carbon(
                group.cloud, group.region).gco2e_per_kwh is None:
            out.append((
                f"The catalog has no grid carbon intensity for {group.cloud} {group.region} ({group.name}); the gate "
                f"cannot prove {gate}. Add a sourced location-based figure to aifactory/catalog/data/grid_carbon.csv, "
                "or build in a region that has one.",
                group.urn,
            ))
    return out


def cleaner_regions(group: GpuGroup, intensity: float, limit: int = 3) -> list[tuple[str, float]]:
    """Regions offering the group's type whose grid is cleaner than `intensity`, cleanest first."""
    if group.instance_type is None:
        return []
    offered = set(catalog.regions(group.cloud, group.instance_type))
    found = [(g.region, g.gco2e_per_kwh) for g in figures.grid_carbon_regions(group.cloud)
             if g.region in offered and g.gco2e_per_kwh < intensity]
    return found[:limit]


def _load_factor(value: object, report_violation: ReportViolation) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        report_violation(
            f"carbon-cap.loadFactor {value!r} is not a number in (0, 1]; the gate judges at 1.0, the upper bound. "
            "Fix the team's policies/config file.",
            None,
        )
        return 1.0
    return float(value)


def validate_carbon_cap(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    config = settings(args, CARBON_CAP)
    limit = float(config["maxMonthlyTco2e"])
    factor = _load_factor(config["loadFactor"], report_violation)
    inventory = stack_inventory(args)
    gate = f"the facility's emissions stay within maxMonthlyTco2e {tonnes(limit)}"
    gaps = power_gaps(inventory, gate)
    for message, urn in gaps + _region_gaps(inventory, gate, {urn for _, urn in gaps}):
        report_violation(message, urn)

    _, pairs = group_lines(inventory)
    emitting = []
    for group, line in pairs:
        if line.kind != "fleet" or line.grid_gco2e_per_kwh is None:
            continue
        t = energy.co2e_t(energy.energy_mwh(line.facility_power_kw, factor), line.grid_gco2e_per_kwh)
        if t:
            emitting.append((group, line, t))
    total = sum(t for _, _, t in emitting)
    if total <= limit:
        return
    emitting.sort(key=lambda item: -item[2])
    top = "; ".join(
        f"{_describe(g)} {tonnes(t)} ({pct(t, total)}, {line.facility_power_kw:,.1f} kW at {line.grid_gco2e_per_kwh:g} gCO2e/kWh)"
        for g, line, t in emitting[:3]
    )
    group, line, t = emitting[0]
    cleaner = cleaner_regions(group, line.grid_gco2e_per_kwh)
    if cleaner:
        options = join(f"{region} ({g:g} gCO2e/kWh: {tonnes(t * g / line.grid_gco2e_per_kwh)})" for region, g in cleaner)
        advice = f" A cleaner region offering {group.instance_type}: {options}."
    else:
        advice = f" No region in the catalog offers {group.instance_type} on a cleaner grid."
    excess = total - limit
    report_violation(
        f"Estimated emissions {tonnes(total)} a month (location-based: facility kW x 730 h x load factor {factor:g} x "
        f"grid intensity) exceed maxMonthlyTco2e {tonnes(limit)} by {tonnes(excess)} ({pct(excess, limit)} over). "
        f"Biggest contributors: {top}.{advice} Or shrink the fleets, or ask the platform team to raise "
        "carbon-cap.maxMonthlyTco2e (or set loadFactor to a measured utilisation) in the team's policies/config file.",
        None,
    )


def _compute_gaps(inventory: Inventory, gate: str, skip: set[str | None]) -> list[tuple[str, str | None]]:
    out = []
    for group in inventory.groups:
        if group.nodes == 0 or group.urn in skip or group.instance is None:
            continue
        compute = figures.gpu_compute(group.instance.gpu_model)
        if compute is None or compute.bf16_dense_tflops is None:
            out.append((
                f"The catalog has no dense BF16 TFLOPS for {group.instance.gpu_model} ({group.name}, {group.nodes} x "
                f"{group.instance_type}); the gate cannot prove {gate}. Add a sourced datasheet figure to "
                "aifactory/catalog/data/gpus.csv.",
                group.urn,
            ))
    return out


def newer_types(group: GpuGroup, floor: float, pue: float) -> list[tuple[str, float]]:
    """Types offered in the group's region whose dense BF16 PFLOPS per MW reach `floor`, best first."""
    found = []
    for itype in catalog.instances(group.cloud):
        compute = figures.gpu_compute(itype.gpu_model)
        if not (compute and compute.bf16_dense_tflops and itype.node_power_w) or group.region not in catalog.regions(
                group.cloud, itype.name):
            continue
        ratio = energy.per_mw(itype.gpu_count * compute.bf16_dense_tflops / 1000, itype.node_power_w / 1000 * pue)
        if ratio >= floor:
            found.append((f"{itype.name} ({itype.gpu_model})", ratio))
    return sorted(found, key=lambda item: -item[1])


def validate_efficiency_floor(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    floor = float(settings(args, EFFICIENCY_FLOOR)["minPflopsPerMw"])
    inventory = stack_inventory(args)
    gate = f"the facility reaches minPflopsPerMw {floor:,.0f}"
    gaps = power_gaps(inventory, gate)
    for message, urn in gaps + _compute_gaps(inventory, gate, {urn for _, urn in gaps}):
        report_violation(message, urn)

    est, pairs = group_lines(inventory)
    rated = [(g, line) for g, line in pairs if line.kind == "fleet" and line.pflops_per_mw is not None]
    mw = sum(line.facility_power_kw for _, line in rated) / 1000
    if not mw:
        return
    ratio = sum(line.pflops_bf16 for _, line in rated) / mw
    if ratio >= floor:
        return
    worst = sorted((item for item in rated if item[1].pflops_per_mw < floor), key=lambda item: -item[1].facility_power_kw)
    top = "; ".join(
        f"{_describe(g)} {line.pflops_per_mw:,.0f} PFLOPS/MW ({pct(line.facility_power_kw, mw * 1000)} of the power)"
        for g, line in worst[:3]
    )
    advice = ""
    if worst:
        newer = newer_types(worst[0][0], floor, est.pue)
        advice = (f" A newer GPU offered in {worst[0][0].region}: "
                  + join(f"{name} {r:,.0f} PFLOPS/MW" for name, r in newer[:3]) + "." if newer else
                  f" No type offered in {worst[0][0].region} reaches it.")
    report_violation(
        f"Compute per watt {ratio:,.0f} dense BF16 PFLOPS per MW of facility power is below minPflopsPerMw "
        f"{floor:,.0f}. Least efficient: {top or 'n/a'}.{advice} Or ask the platform team to lower "
        "efficiency-floor.minPflopsPerMw in the team's policies/config file.",
        None,
    )


carbon_cap = StackValidationPolicy(
    name="carbon-cap",
    description="Location-based monthly emissions (facility energy x grid intensity, from the catalog) stay within the org's cap.",
    validate=validate_carbon_cap,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=config_schema(CARBON_CAP),
)

efficiency_floor = StackValidationPolicy(
    name="efficiency-floor",
    description="Dense BF16 PFLOPS per MW of facility power reach the org's floor.",
    validate=validate_efficiency_floor,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=config_schema(EFFICIENCY_FLOOR),
)

POLICIES = [carbon_cap, efficiency_floor]
