"""AWS: what Auto Scaling groups, EKS node groups, instances and launch templates hold, FSx for
Lustre file systems, and AWS Budgets with the cost filters that scope them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aifactory import catalog
from aifactory.inventory.model import Filesystem, GpuGroup
from aifactory.inventory.resources import (
    BudgetTerms,
    Resource,
    capacity_gib,
    instances_for,
    node_counts,
    per_node_units,
    resource_tags,
    throughput,
    worst_type,
)
from aifactory.inventory.values import MISSING, UNKNOWN, as_float, as_int, is_unknown, lookup

if TYPE_CHECKING:
    from aifactory.inventory.budgets import Scopes
    from aifactory.inventory.reader import Reader

CLOUD = "aws"

ASG = "aws:autoscaling/group:Group"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"
FLEET = "aws:ec2/fleet:Fleet"
SPOT_FLEET_REQUEST = "aws:ec2/spotFleetRequest:SpotFleetRequest"
SPOT_INSTANCE_REQUEST = "aws:ec2/spotInstanceRequest:SpotInstanceRequest"
FSX_LUSTRE = "aws:fsx/lustreFileSystem:LustreFileSystem"
BUDGET = "aws:budgets/budget:Budget"

INSTANCE_TYPE_TAG = "aifactory:instance-type"  # literal fallback on an AWS Auto Scaling group
CAPACITY_TAG = "aifactory:capacity"  # optional literal capacity type on an Auto Scaling group
ZONE_TAG = "aifactory:zone"  # optional literal zone on an Auto Scaling group (it names subnets, not zones)

# Families that carry GPUs even when the catalog does not know the exact type.
_GPU_FAMILY = re.compile(r"^(p\d|g\d|trn\d|inf\d|dl\d)", re.I)
_ZONE = re.compile(r"^([a-z]{2}(?:-[a-z]+)+-\d+)[a-z]$")


def is_gpu(instance_type: str) -> bool:
    return catalog.instance(CLOUD, instance_type) is not None or bool(_GPU_FAMILY.match(instance_type))


def region_of_zone(zone: str) -> str | None:
    m = _ZONE.match(zone)
    return m.group(1) if m else None


def normalize_region(region: str) -> str:
    return region


def capacity_of(res: Resource) -> str:
    if res.type == LAUNCH_CONFIGURATION:
        return "spot" if res.get("spotPrice") is not MISSING else "on-demand"
    market = res.get("instanceMarketOptions", "marketType")
    if isinstance(market, str):
        if market.lower() == "spot":
            return "spot"
        if market.lower() == "capacity-block":
            return "capacity-block"
    if isinstance(res.get("instanceMarketOptions", "spotOptions"), Mapping):
        return "spot"
    target = res.get("capacityReservationSpecification", "capacityReservationTarget")
    if target is not MISSING:
        return "reservation"
    return "on-demand"


def launch_template_of(reader: Reader, res: Resource, used: set[str]) -> Resource | None:
    """The launch template (or launch configuration) a group, node group or instance launches."""
    spec = res.get("launchTemplate")
    if spec is not MISSING:
        literal = lookup(spec, "id") if isinstance(spec, Mapping) else MISSING
        if literal is MISSING and isinstance(spec, Mapping):
            literal = lookup(spec, "name")
        lt = reader.linked(res, "launchTemplate", {LAUNCH_TEMPLATE}, literal)
        if lt is not None:
            used.add(lt.urn)
            return lt
    spec = res.get("mixedInstancesPolicy", "launchTemplate", "launchTemplateSpecification")
    if spec is not MISSING:
        literal = lookup(spec, "launchTemplateId") if isinstance(spec, Mapping) else MISSING
        if literal is MISSING and isinstance(spec, Mapping):
            literal = lookup(spec, "launchTemplateName")
        lt = reader.linked(res, "mixedInstancesPolicy", {LAUNCH_TEMPLATE}, literal)
        if lt is not None:
            used.add(lt.urn)
            return lt
    literal = res.get("launchConfiguration")
    if literal is not MISSING:
        lc = reader.linked(res, "launchConfiguration", {LAUNCH_CONFIGURATION}, literal)
        if lc is not None:
            used.add(lc.urn)
            return lc
    return None


# What a group may launch is a list of (instance type or UNKNOWN, the input it comes from); the
# gates judge the worst of them (`worst_type`).
Candidates = list[tuple[Any, str]]


def requirement_types(requirements: Any, path: str) -> Candidates:
    """Attribute-based selection: the types an `allowedInstanceTypes` list names exactly, none when it
    allows no accelerators, else unknown (any GPU type that matches may launch)."""
    if requirements is MISSING:
        return []
    if requirements is UNKNOWN or not isinstance(requirements, Mapping):
        return [(UNKNOWN, path)]
    if as_int(lookup(requirements, "acceleratorCount", "max")) == 0:
        return []
    allowed = lookup(requirements, "allowedInstanceTypes")
    if isinstance(allowed, list) and allowed and all(isinstance(a, str) and "*" not in a and not is_unknown(a)
                                                     for a in allowed):
        return [(a, f"{path}.allowedInstanceTypes[{i}]") for i, a in enumerate(allowed)]
    return [(UNKNOWN, f"{path} (any instance type matching these requirements may launch)")]


def _own_types(res: Resource, prefix: str = "") -> Candidates:
    """The instance type a template, configuration or instance names, or its requirements allow."""
    itype = res.get("instanceType")
    if itype is not MISSING:
        return [(itype, f"{prefix}instanceType")]
    return requirement_types(res.get("instanceRequirements"), f"{prefix}instanceRequirements")


def _template_types(reader: Reader, res: Resource, key: str, spec: Any, path: str, used: set[str],
                    id_keys: tuple[str, str] = ("id", "name"), types: frozenset[str] | None = None) -> Candidates:
    """What the launch template(s) a reference designates may launch. A reference to a template
    outside the program, or one unknown at preview that depends on no template, is unknown."""
    if spec is MISSING:
        return []
    literal: Any = spec if not isinstance(spec, Mapping) else MISSING
    if isinstance(spec, Mapping):
        for id_key in id_keys:
            literal = lookup(spec, id_key)
            if literal is not MISSING:
                break
    templates = reader.linked_all(res, key, types or {LAUNCH_TEMPLATE}, UNKNOWN if is_unknown(literal) else literal)
    if templates is None:
        return [(UNKNOWN, f"{path} (a launch template unknown at preview)")]
    if not templates:
        return [(UNKNOWN, f"{path} ({literal}: a launch template outside this program)")]
    out: Candidates = []
    for template in templates:
        used.add(template.urn)
        out += _own_types(template, f"{template.urn}: ")
    return out


def _override_types(reader: Reader, res: Resource, key: str, overrides: Any, path: str, base: Candidates,
                    used: set[str]) -> Candidates:
    """What a list of overrides may launch (each an instance type, instance requirements or a launch
    template of its own); `base` (the group's template) when there are none."""
    if overrides is UNKNOWN:
        return [(UNKNOWN, path)]
    if not isinstance(overrides, list) or not overrides:
        return base
    out: Candidates = []
    for i, override in enumerate(overrides):
        where = f"{path}[{i}]"
        if not isinstance(override, Mapping):
            out.append((UNKNOWN, where))
        elif lookup(override, "instanceType") is not MISSING:
            out.append((lookup(override, "instanceType"), f"{where}.instanceType"))
        elif lookup(override, "instanceRequirements") is not MISSING:
            out += requirement_types(lookup(override, "instanceRequirements"), f"{where}.instanceRequirements")
        elif lookup(override, "launchTemplateSpecification") is not MISSING:
            out += _template_types(reader, res, key, lookup(override, "launchTemplateSpecification"),
                                   f"{where}.launchTemplateSpecification", used, ("launchTemplateId", "launchTemplateName"))
        else:
            out += base
    return out


def _weights(overrides: Any) -> list[Any]:
    if overrides is UNKNOWN:
        return [UNKNOWN]
    return [lookup(o, "weightedCapacity") if isinstance(o, Mapping) else UNKNOWN
            for o in (overrides if isinstance(overrides, list) else [])]


def _worst(reader: Reader, res: Resource, candidates: Candidates) -> Any:
    """The worst-case type (None when unknown, noted), or MISSING when nothing carries GPUs."""
    itype, path = worst_type(CLOUD, candidates, is_gpu)
    if itype is UNKNOWN:
        reader.note("instance type", res, path)
        return None
    return itype


def read_asg(reader: Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    where = reader.placement(res, note=False)
    lt = launch_template_of(reader, res, used)
    tags = resource_tags(res)
    mip = ("mixedInstancesPolicy", "launchTemplate")
    if res.get("launchTemplate") is not MISSING:
        base = _template_types(reader, res, "launchTemplate", res.get("launchTemplate"), "launchTemplate", used)
    elif res.get(*mip, "launchTemplateSpecification") is not MISSING:
        base = _template_types(reader, res, "mixedInstancesPolicy", res.get(*mip, "launchTemplateSpecification"),
                               "mixedInstancesPolicy.launchTemplate.launchTemplateSpecification", used,
                               ("launchTemplateId", "launchTemplateName"))
    elif res.get("launchConfiguration") is not MISSING:
        base = _template_types(reader, res, "launchConfiguration", res.get("launchConfiguration"),
                               "launchConfiguration", used, types=frozenset({LAUNCH_CONFIGURATION}))
    elif res.get("mixedInstancesPolicy") is UNKNOWN:
        base = [(UNKNOWN, "mixedInstancesPolicy")]
    else:
        base = []
    tag_type = tags.get(INSTANCE_TYPE_TAG)
    if lt is None and isinstance(tag_type, str) and not is_unknown(tag_type):
        base = [(tag_type, f"tags[{INSTANCE_TYPE_TAG}]")]  # the template is not in the program
    overrides = res.get(*mip, "overrides")
    candidates = _override_types(reader, res, "mixedInstancesPolicy", overrides, "mixedInstancesPolicy.launchTemplate.overrides",
                                 base, used)
    itype = _worst(reader, res, candidates)
    if itype is MISSING:
        return None
    capacity = capacity_of(lt) if lt is not None else "on-demand"
    if isinstance(tags.get(CAPACITY_TAG), str) and tags[CAPACITY_TAG] in catalog.CAPACITY_TYPES:
        capacity = tags[CAPACITY_TAG]
    dist = res.get("mixedInstancesPolicy", "instancesDistribution")
    if isinstance(dist, Mapping):
        od_base = as_int(lookup(dist, "onDemandBaseCapacity"))
        pct = as_int(lookup(dist, "onDemandPercentageAboveBaseCapacity"))
        if pct == 0 and od_base in (MISSING, 0):
            capacity = "spot"
    # With weighted overrides the sizes count capacity units; a node may count for as little as the
    # smallest weight.
    per_node = per_node_units(_weights(overrides))
    desired, desired_path = res.get("desiredCapacity"), "desiredCapacity"
    if desired is MISSING:
        desired, desired_path = res.get("minSize"), "minSize"
    nodes, want = node_counts(reader, res, (instances_for(as_float(desired), per_node), desired_path),
                              [(instances_for(as_float(res.get("maxSize")), per_node), "maxSize")])
    zone = where.zone
    azs = res.get("availabilityZones")
    if isinstance(azs, list) and len(azs) > 1:
        zone = None
    if zone is None and lt is not None:
        lt_zone = lt.get("placement", "availabilityZone")
        zone = lt_zone if isinstance(lt_zone, str) else None
    if zone is None and isinstance(tags.get(ZONE_TAG), str) and not is_unknown(tags[ZONE_TAG]):
        zone = tags[ZONE_TAG]
    reader.note_placement(res, where)
    return GpuGroup(res.name, CLOUD, where.region, itype, nodes, capacity, zone, res.urn, res.type, want)


def read_eks_node_group(reader: Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    where = reader.placement(res, note=False)
    lt = launch_template_of(reader, res, used)
    types = res.get("instanceTypes")
    if types is UNKNOWN:
        candidates: Candidates = [(UNKNOWN, "instanceTypes")]
    elif isinstance(types, list) and types:
        candidates = [(UNKNOWN if is_unknown(t) else t, f"instanceTypes[{i}]") for i, t in enumerate(types)]
    else:
        candidates = _template_types(reader, res, "launchTemplate", res.get("launchTemplate"), "launchTemplate", used)
    itype = _worst(reader, res, candidates)
    if itype is MISSING:
        return None  # EKS's default type (t3.medium) carries no GPU
    nodes, want = node_counts(reader, res, (res.get("scalingConfig", "desiredSize"), "scalingConfig.desiredSize"),
                              [(res.get("scalingConfig", "maxSize"), "scalingConfig.maxSize")])
    kind = res.get("capacityType")
    capacity = {"SPOT": "spot", "CAPACITY_BLOCK": "capacity-block"}.get(kind, "on-demand") if isinstance(kind, str) else "on-demand"
    if lt is not None and capacity == "on-demand":
        capacity = capacity_of(lt)
    reader.note_placement(res, where)
    return GpuGroup(res.name, CLOUD, where.region, itype, nodes, capacity, where.zone, res.urn, res.type, want)


def read_instance(reader: Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    """An instance, or a spot instance request: one node of its own type or its template's."""
    lt = launch_template_of(reader, res, used)
    candidates = _own_types(res)
    capacity = "spot" if res.type == SPOT_INSTANCE_REQUEST else capacity_of(res)
    if not candidates:
        candidates = _template_types(reader, res, "launchTemplate", res.get("launchTemplate"), "launchTemplate", used)
        if lt is not None and capacity == "on-demand":
            capacity = capacity_of(lt)
    itype = _worst(reader, res, candidates)
    if itype is MISSING:
        return None
    where = reader.placement(res, note=False)
    reader.note_placement(res, where)
    return GpuGroup(res.name, CLOUD, where.region, itype, 1, capacity, where.zone, res.urn, res.type)


def _config_types(reader: Reader, res: Resource, configs: Any, path: str, used: set[str],
                  id_keys: tuple[str, str]) -> tuple[Candidates, list[Any]]:
    """What a fleet's launch template configs may launch, and the weights of their overrides."""
    if configs is UNKNOWN:
        return [(UNKNOWN, path)], [UNKNOWN]
    candidates: Candidates = []
    weights: list[Any] = []
    for i, config in enumerate(configs if isinstance(configs, list) else []):
        where = f"{path}[{i}]"
        if not isinstance(config, Mapping):
            candidates.append((UNKNOWN, where))
            continue
        base = _template_types(reader, res, path, lookup(config, "launchTemplateSpecification"),
                               f"{where}.launchTemplateSpecification", used, id_keys)
        overrides = lookup(config, "overrides")
        candidates += _override_types(reader, res, path, overrides, f"{where}.overrides", base, used)
        weights += _weights(overrides)
    return candidates, weights


def _fleet_nodes(reader: Reader, res: Resource, candidates: Candidates, weights: list[Any], target: Any,
                 unit: Any, path: str) -> int | None:
    """The most instances a fleet's target capacity may launch: in units, each node counts for at
    least the smallest weight; in vCPUs or MiB, for at least the smallest GPU type's."""
    if unit is UNKNOWN:
        per_node: Any = UNKNOWN
    elif isinstance(unit, str) and unit.lower() in ("vcpu", "memory-mib"):
        sizes = []
        for itype, _ in candidates:
            known = catalog.instance(CLOUD, itype) if isinstance(itype, str) and is_gpu(itype) else None
            if isinstance(itype, str) and is_gpu(itype):
                size = (known.vcpus if unit.lower() == "vcpu" else
                        (known.memory_gib * 1024 if known.memory_gib else None)) if known else None
                sizes.append(size or UNKNOWN)
        per_node = UNKNOWN if not sizes or UNKNOWN in sizes else min(sizes)
    else:
        per_node = per_node_units(weights)
    nodes, _ = node_counts(reader, res, (instances_for(as_float(target), per_node), path))
    return nodes


def read_fleet(reader: Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    candidates, weights = _config_types(reader, res, res.get("launchTemplateConfigs"), "launchTemplateConfigs", used,
                                        ("launchTemplateId", "launchTemplateName"))
    itype = _worst(reader, res, candidates)
    if itype is MISSING:
        return None
    spec = ("targetCapacitySpecification",)
    nodes = _fleet_nodes(reader, res, candidates, weights, res.get(*spec, "totalTargetCapacity"),
                         res.get(*spec, "targetCapacityUnitType"), "targetCapacitySpecification.totalTargetCapacity")
    kind = res.get(*spec, "defaultTargetCapacityType")
    capacity = kind.lower() if isinstance(kind, str) and kind.lower() in ("spot", "capacity-block") else "on-demand"
    where = reader.placement(res)
    return GpuGroup(res.name, CLOUD, where.region, itype, nodes, capacity, where.zone, res.urn, res.type)


def read_spot_fleet(reader: Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    specs = res.get("launchSpecifications")
    candidates: Candidates = []
    weights: list[Any] = []
    if specs is UNKNOWN:
        candidates, weights = [(UNKNOWN, "launchSpecifications")], [UNKNOWN]
    for i, spec in enumerate(specs if isinstance(specs, list) else []):
        mapping = spec if isinstance(spec, Mapping) else {}
        candidates.append((lookup(mapping, "instanceType") if mapping else UNKNOWN, f"launchSpecifications[{i}].instanceType"))
        weights.append(lookup(mapping, "weightedCapacity") if mapping else UNKNOWN)
    more, more_weights = _config_types(reader, res, res.get("launchTemplateConfigs"), "launchTemplateConfigs", used,
                                       ("id", "name"))
    candidates, weights = candidates + more, weights + more_weights
    itype = _worst(reader, res, candidates)
    if itype is MISSING:
        return None
    nodes = _fleet_nodes(reader, res, candidates, weights, res.get("targetCapacity"), res.get("targetCapacityUnitType"),
                         "targetCapacity")
    on_demand = as_int(res.get("onDemandTargetCapacity"))
    capacity = "on-demand" if isinstance(on_demand, int) and on_demand > 0 else "spot"
    where = reader.placement(res)
    return GpuGroup(res.name, CLOUD, where.region, itype, nodes, capacity, where.zone, res.urn, res.type)


def orphan_template(reader: Reader, res: Resource) -> GpuGroup | None:
    """A launch template nothing in the program launches: a group of 0 nodes."""
    itype = res.get("instanceType")
    if not isinstance(itype, str) or not is_gpu(itype):
        return None
    where = reader.placement(res, note=False)
    return GpuGroup(res.name, CLOUD, where.region, itype, 0, capacity_of(res), where.zone, res.urn, res.type)


def template_of(reader: Reader, res: Resource) -> Resource | None:
    """The launch template whose tags reach a group's nodes."""
    return launch_template_of(reader, res, set()) if res.type in (ASG, EKS_NODE_GROUP, INSTANCE, SPOT_INSTANCE_REQUEST) else None


def read_fsx(reader: Reader, res: Resource) -> Filesystem:
    where = reader.placement(res)
    return Filesystem(res.name, CLOUD, where.region, "lustre", throughput(reader, res, ("perUnitStorageThroughput",)),
                      capacity_gib(reader, res, ("storageCapacity",)), res.urn)


def budget_terms(res: Resource) -> BudgetTerms | None:
    kind = res.get("budgetType")
    if isinstance(kind, str) and kind.upper() != "COST":
        return None  # a usage or savings-plan budget guards no dollars
    unit = res.get("limitUnit")
    return BudgetTerms(as_float(res.get("limitAmount")), "limitAmount", res.get("timeUnit"),
                       isinstance(unit, str) and unit.upper() != "USD")


def budget_filters(scopes: Scopes, budget: Resource, everything: set[str]) -> list[tuple[set[str], set[str]]]:
    filters = budget.get("costFilters")
    if filters is UNKNOWN:
        return [(set(), everything)]
    out = []
    for f in filters if isinstance(filters, list) else []:
        name, values = lookup(f, "name"), lookup(f, "values")
        if not isinstance(name, str) or values is UNKNOWN or (isinstance(values, list) and any(is_unknown(v) for v in values)):
            out.append((set(), everything))
            continue
        values = [v for v in values if isinstance(v, str)] if isinstance(values, list) else []
        if name == "Region":
            out.append((scopes.union(scopes.by_region, [("aws", v) for v in values]), scopes.no_region))
        elif name == "TagKeyValue":
            pairs = [tuple(v.removeprefix("user:").split("$", 1)) for v in values]
            pairs = [p for p in pairs if len(p) == 2]
            out.append((scopes.union(scopes.by_tag, pairs), scopes.union(scopes.unknown_tag, [k for k, _ in pairs])))
        # Other dimensions (service, account, usage type...) are taken to include the facility.
    return out


GROUP_READERS = {ASG: read_asg, EKS_NODE_GROUP: read_eks_node_group, FLEET: read_fleet,
                 SPOT_FLEET_REQUEST: read_spot_fleet}
SINGLE_READERS = {INSTANCE: read_instance, SPOT_INSTANCE_REQUEST: read_instance}
TEMPLATE_TYPES = frozenset({LAUNCH_TEMPLATE, LAUNCH_CONFIGURATION})
AUTOSCALERS: dict = {}  # an Auto Scaling group carries its own maximum
FILESYSTEM_READERS = {FSX_LUSTRE: read_fsx}
BUDGETS = {BUDGET: (budget_terms, budget_filters)}
