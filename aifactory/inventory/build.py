"""Building an inventory from the resources a Pulumi program registers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from aifactory.inventory.budgets import Scopes, read_budget
from aifactory.inventory.model import GpuGroup, Inventory
from aifactory.inventory.reader import (
    BUDGET_TYPES,
    CLOUDS,
    FILESYSTEM_READERS,
    FILESYSTEM_TYPES,
    GROUP_READERS,
    GROUP_TYPES,
    SINGLE_NODE_TYPES,
    SINGLE_READERS,
    TEMPLATE_TYPES,
    Reader,
)
from aifactory.inventory.resources import ROOT_STACK_TYPE


def from_resources(
    resources: Iterable[Any], providers: Mapping[str, Mapping[str, Any]] | None = None
) -> Inventory:
    """The inventory a list of registered resources holds.

    `resources` are dicts or objects with `urn, type, name, inputs` (or `props`), `parent`,
    `provider` (a URN, or None for the default provider), `dependencies` and
    `property_dependencies`; provider resources among them (`pulumi:providers:*`) supply the
    region of the resources that use them. `providers` maps further provider URNs to their
    inputs (a policy pack sees a resource's provider, not always as a resource of its own).
    """
    reader = Reader(resources, providers)
    groups: list[GpuGroup] = []
    used_templates: set[str] = set()

    # Groups first: they claim the templates they launch. A reader returns a group, several (a
    # cluster's own node pools) or None.
    for res in reader.resources:
        if res.type in GROUP_TYPES:
            found = GROUP_READERS[res.type](reader, res, used_templates)
            groups += found if isinstance(found, list) else [found] if found is not None else []
    for res in reader.resources:
        if res.type in SINGLE_NODE_TYPES:
            group = SINGLE_READERS[res.type](reader, res, used_templates)
            if group is not None:
                groups.append(group)
    for res in reader.resources:
        if res.type in TEMPLATE_TYPES and res.urn not in used_templates:
            group = CLOUDS[res.cloud or ""].orphan_template(reader, res)
            if group is not None:
                groups.append(group)

    filesystems = [fs for res in reader.resources if res.type in FILESYSTEM_TYPES
                   if (fs := FILESYSTEM_READERS[res.type](reader, res)) is not None]
    scopes = Scopes(reader, groups, filesystems)
    budgets = [b for res in reader.resources if res.type in BUDGET_TYPES
               if (b := read_budget(reader, res, scopes)) is not None]

    groups, filesystems = _named(reader, groups), _named(reader, filesystems)
    budgets = _named(reader, budgets, relative=False)
    clouds = [g.cloud for g in groups] + [f.cloud for f in filesystems] + [b.cloud for b in budgets]
    cloud = max(set(clouds), key=clouds.count) if clouds else None
    return Inventory(cloud=cloud, groups=groups, filesystems=filesystems, budgets=budgets, unknowns=reader.unknowns)


def _named(reader: Reader, items: list, *, relative: bool = True) -> list:
    """Items renamed after the component that holds them, as a facility's author names them.

    A resource directly under the stack keeps its own name. One inside a component (a fleet, a
    filesystem) takes the component's name relative to the component above it: the group
    `vision-prod-trainers` of fleet component `vision-prod-trainers` in facility `vision-prod` is
    `trainers`, as in the spec and `from_spec`; siblings of one component (a fleet split into
    several groups) keep what tells them apart (`trainers-001`). `relative=False` keeps the
    component's full name (a budget guard `vision-prod-budget`)."""
    siblings: dict[str, int] = {}
    for item in items:
        res = reader.by_urn.get(item.urn or "")
        if res is not None and res.parent:
            siblings[res.parent] = siblings.get(res.parent, 0) + 1
    out = []
    for item in items:
        res = reader.by_urn.get(item.urn or "")
        parent = reader.by_urn.get(res.parent or "") if res is not None else None
        if parent is None or parent.type == ROOT_STACK_TYPE:
            out.append(item)
            continue
        # One of several groups a resource holds (a cluster's node pool) keeps its own part.
        part = item.name[len(res.name):] if item.name != res.name and item.name.startswith(res.name + "/") else ""
        base = parent.name
        grand = reader.by_urn.get(parent.parent or "")
        if relative and grand is not None and grand.type != ROOT_STACK_TYPE and base.startswith(grand.name + "-"):
            base = base[len(grand.name) + 1:]
        name = base
        if siblings.get(parent.urn, 0) > 1:
            name = base + res.name[len(parent.name):] if res.name.startswith(parent.name) else f"{base}/{res.name}"
        out.append(replace(item, name=name + part))
    return out
