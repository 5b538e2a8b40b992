"""What every cloud's components share: resource naming, group splitting, node bootstrap templates,
and the budget's alert inputs from a spec (a Facility's args and outputs: `facility_interface`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

if TYPE_CHECKING:
    from aifactory.spec import BudgetSpec

TEMPLATES = Path(__file__).parent / "templates"


def split_nodes(nodes: int, max_per_group: int) -> list[int]:
    """Split a fleet into as few groups as the cloud allows, sizes differing by at most one."""
    if nodes < 1 or max_per_group < 1:
        raise ValueError("nodes and max_per_group must be positive")
    groups = -(-nodes // max_per_group)
    base, extra = divmod(nodes, groups)
    return [base + 1 if i < extra else base for i in range(groups)]


def group_name(facility: str, fleet: str, index: int, groups: int) -> str:
    """`<facility>-<fleet>` for a single group, `<facility>-<fleet>-<NNN>` when the fleet is split."""
    base = f"{facility}-{fleet}"
    return base if groups == 1 else f"{base}-{index:03d}"


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, **context) -> str:
    """Render a node bootstrap template from components/templates/ (unknown variables are errors)."""
    return _environment().get_template(template).render(**context)


def budget_alerts(budget: BudgetSpec) -> dict[str, Any]:
    """The `BudgetGuardArgs` every cloud takes from a spec's budget as they are: the monthly amount,
    who is told, and at which percentages."""
    return {
        "monthly_usd": budget.monthly_usd,
        "alert_emails": [str(e) for e in budget.alert_emails],
        "thresholds_pct": list(budget.thresholds_pct),
    }
