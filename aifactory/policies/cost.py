"""Cost: the estimated monthly spend under the org cap and under the stack's own budget guard,
and a budget guard on every stack that holds GPU capacity.

`cost-cap` and `budget-guard-required` (stack) read the same inventory and estimate as the
`aifactory` report. Which budget covers what is read by the inventory from the budget's own
scope (AWS cost filters on region and cost-allocation tags, the Azure budget scope, the Google
Cloud budget's projects and labels); a coverage that depends on a value unknown at preview is
reported as unproven, never assumed.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from aifactory.catalog import pricing as pricing_file
from aifactory.catalog.pricing import NO_PRICING, OrgPricing, PricingError
from aifactory.inventory import Budget, Inventory
from aifactory.policies.common import Setting, cannot_prove, config_schema, group_lines, join, pct, settings, stack_inventory, usd

COST_CAP = [
    Setting("maxMonthlyUsd", "number", 2_000_000, "Largest estimated monthly cost allowed, in USD.", minimum=0),
    Setting("pricing", "object", {}, "The org's prices over list prices, in the pricing.yaml schema "
            "(reservation_term, overrides); empty: the pricing.yaml bundled beside the pack."),
]

# The pricing file bundled beside the pack (`policies/config/pricing.yaml`), set by the pack's
# `__main__.py`; used when the policy config hands no `pricing`.
_bundled_pricing: Path | None = None


def use_bundled_pricing(path: Path) -> None:
    global _bundled_pricing
    _bundled_pricing = path


@cache
def _load_bundled(path: Path) -> OrgPricing:
    return pricing_file.load(path)


def org_pricing(config: dict) -> OrgPricing:
    """The org pricing the cost gates use: the policy config's `pricing`, else the bundled file.
    Raises PricingError when either cannot be used (the gate then fails closed)."""
    document = config.get("pricing")
    if document:
        return pricing_file.parse(document, "cost-cap.pricing (policy config)")
    if _bundled_pricing is not None and _bundled_pricing.is_file():
        return _load_bundled(_bundled_pricing)
    return NO_PRICING
BUDGET_GUARD = [
    Setting("minGpus", "integer", 1, "Stacks holding at least this many GPUs need a budget covering them.", minimum=0),
]

BUDGET_RESOURCES = {
    "aws": "aws:budgets/budget:Budget (budgetType COST)",
    "azure": "azure-native:consumption:Budget (category Cost)",
    "gcp": "gcp:billing/budget:Budget",
}


def _basis(capacity: str) -> str:
    return "on-demand" if capacity == "on-demand" else f"{capacity} or on-demand"


def _cost_gaps(inventory: Inventory, gate: str, pricing: OrgPricing) -> list[tuple[str, str | None]]:
    est, pairs = group_lines(inventory, pricing)
    unknowns = inventory.unknowns_by_urn()
    out = []
    for item, line in pairs:
        unknown = next(
            (u for u in unknowns.get(item.urn, ())
             if u.what in ("node count", "instance type", "region", "filesystem capacity", "filesystem throughput tier",
                           "filesystem tier")),
            None,
        )
        if unknown is not None:
            out.append((cannot_prove(unknown.what, item.urn, unknown.path, gate), item.urn))
        elif line.kind == "fleet" and line.nodes and line.monthly_usd is None:
            out.append((
                f"The catalog has no {_basis(item.capacity)} price for {item.instance_type} in "
                f"{item.region or 'an unknown region'} ({item.name}, {item.nodes} nodes); the gate cannot prove "
                f"{gate}. Use a priced type/region or add a sourced price to aifactory/catalog/data/prices.csv.",
                item.urn,
            ))
    return out


def validate_cost_cap(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    config = settings(args, COST_CAP)
    limit = float(config["maxMonthlyUsd"])
    try:
        pricing = org_pricing(config)
    except PricingError as error:
        report_violation(
            f"The org pricing cannot be used ({'; '.join(f'{p}: {m}' for p, m in error.problems)}); the gate cannot "
            "prove the monthly cost stays within maxMonthlyUsd. Fix the pricing file.",
            None,
        )
        return
    inventory = stack_inventory(args)
    for message, urn in _cost_gaps(inventory, f"the monthly cost stays within maxMonthlyUsd {usd(limit)}", pricing):
        report_violation(message, urn)

    est, pairs = group_lines(inventory, pricing)
    total = est.monthly_usd
    unpriced = [line.name for line in est.lines if line.kind == "filesystem" and line.monthly_usd is None]
    not_counted = f" Not counted (no catalog price): {join(unpriced)}." if unpriced else ""
    if total > limit:
        ranked = sorted((p for p in pairs if p[1].monthly_usd), key=lambda p: -(p[1].monthly_usd or 0.0))
        top = "; ".join(f"{_label(line)} ${line.monthly_usd or 0.0:,.2f}" for _, line in ranked[:3])
        excess = total - limit
        report_violation(
            f"Estimated monthly cost {usd(total)} exceeds maxMonthlyUsd {usd(limit)} by {usd(excess)} "
            f"({pct(excess, limit)} over). Biggest contributors: {top}.{not_counted} Shrink the fleets, move them to "
            "spot or reserved capacity, or ask the platform team to raise cost-cap.maxMonthlyUsd in the team's "
            "policies/config file.",
            None,
        )

    lines_by_urn = {item.urn: line for item, line in pairs if item.urn}
    for budget in inventory.budgets:
        covered = [lines_by_urn[u] for u in (*budget.covers, *budget.may_cover) if u in lines_by_urn]
        if not covered:
            continue
        if budget.monthly_usd is None:
            unknown = next(iter(inventory.unknowns_of(budget.urn)), None)
            report_violation(
                cannot_prove("budget amount", budget.urn, unknown.path if unknown else "",
                             "the estimate stays within the budget guard"),
                budget.urn,
            )
            continue
        spend = round(sum(line.monthly_usd or 0.0 for line in covered), 2)
        if spend > budget.monthly_usd:
            excess = spend - budget.monthly_usd
            report_violation(
                f"Estimated monthly cost of what budget {budget.name} covers, {usd(spend)} "
                f"({join(line.name for line in covered)}), exceeds its amount {usd(budget.monthly_usd)} by "
                f"{usd(excess)}: the guard would fire (and, with a stop action, shut the fleets down) in the first "
                "month. Raise the budget to at least the estimate, or shrink the fleets it covers.",
                budget.urn,
            )


def _label(line) -> str:
    if line.kind == "fleet":
        return f"{line.name} ({line.nodes} x {line.item}, {line.capacity}, {line.price_basis})"
    return f"{line.name} ({line.item}, {line.price_basis})"


def _scope_hint(budgets: list[Budget]) -> str:
    return f" Budgets in the stack ({join(b.name for b in budgets)}) do not cover it." if budgets else ""


def validate_budget_guard(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    min_gpus = int(settings(args, BUDGET_GUARD)["minGpus"])
    inventory = stack_inventory(args)
    holding = [g for g in inventory.groups if g.nodes != 0]
    unknown_size = any(g.nodes is None or g.instance_type is None for g in holding)
    if not holding or (inventory.gpus < min_gpus and not unknown_size):
        return
    # Which budgets cover (or may cover) what, indexed once: a stack holds thousands of both.
    covered = {u for b in inventory.budgets for u in b.covers}
    may_cover: dict[str, list[Budget]] = {}
    for b in inventory.budgets:
        for u in dict.fromkeys(b.may_cover):
            may_cover.setdefault(u, []).append(b)
    for group in holding:
        if group.urn in covered:
            continue
        maybe = may_cover.get(group.urn, []) if group.urn is not None else []
        size = f"{group.nodes if group.nodes is not None else 'an unknown number of'} x {group.instance_type or 'unknown type'}"
        if maybe:
            unknown = next((u for b in maybe for u in inventory.unknowns if u.urn == b.urn), None)
            report_violation(
                f"GPU group {group.name} ({size}) may be covered by budget {join(b.name for b in maybe)}, but its scope "
                f"depends on a value unknown at preview{f' ({unknown.path})' if unknown else ''}; the gate cannot "
                "prove the group has a budget guard. Make the budget's filters literal.",
                group.urn,
            )
            continue
        kind = BUDGET_RESOURCES.get(group.cloud, "a cost budget")
        report_violation(
            f"GPU group {group.name} ({size}, {group.region or 'unknown region'}) is covered by no budget.{_scope_hint(inventory.budgets)} "
            f"Add {kind} whose scope includes it (for example the aifactory BudgetGuard component, filtered on the "
            "facility's cost-allocation tag or project), so runaway GPU spend alerts and can be stopped.",
            group.urn,
        )


cost_cap = StackValidationPolicy(
    name="cost-cap",
    description="Estimated monthly cost stays within the org's cap and within the stack's own budget guard.",
    validate=validate_cost_cap,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=config_schema(COST_CAP),
)

budget_guard_required = StackValidationPolicy(
    name="budget-guard-required",
    description="A stack holding GPU capacity has a cost budget covering it.",
    validate=validate_budget_guard,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=config_schema(BUDGET_GUARD),
)

POLICIES = [cost_cap, budget_guard_required]
