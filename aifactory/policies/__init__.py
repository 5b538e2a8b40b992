"""The aifactory CrossGuard policy pack: one module per rule family, `__main__.py` builds the pack.

Rules judge any Pulumi program's resources (they never import `aifactory.components`); they read the same
`aifactory.inventory` and `aifactory.estimate` as the report, and take their limits from
policy-pack config (`config/<team>.json`), never from a team's stack config.
"""

from __future__ import annotations

FAMILIES = ("power", "cost", "region", "fabric", "security", "storage", "carbon", "health")
PACK_NAME = "aifactory"


def all_policies() -> list:
    """Every policy of the pack, family by family (imported on demand)."""
    import importlib

    policies: list = []
    for family in FAMILIES:
        policies.extend(importlib.import_module(f"aifactory.policies.{family}").POLICIES)
    from aifactory.policies.metadata import describe

    return describe(policies)
