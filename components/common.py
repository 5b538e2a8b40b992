"""What every cloud's components share: resource naming, group splitting, node bootstrap templates."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

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
