"""AWS: what Auto Scaling groups, EKS node groups, instances and launch templates hold, FSx for
Lustre file systems, and AWS Budgets with the cost filters that scope them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aifactory import catalog
from aifactory.inventory.model import Filesystem, GpuGroup
from aifactory.inventory.resources import BudgetTerms, Resource, capacity_gib, resource_tags, throughput
from aifactory.inventory.values import MISSING, UNKNOWN, as_float, as_int, is_unknown, lookup

if TYPE_CHECKING:
    from aifactory.inventory.budgets import Scopes
    from aifactory.inventory.reader import Reader

CLOUD = "aws"

ASG = "aws:autoscaling/group:Group"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
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
    return None


def read_asg(reader: Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    where = reader.placement(res, note=False)
    lt = launch_template_of(reader, res, used)
    tags = resource_tags(res)
    itype: Any = MISSING
    capacity = "on-demand"
    itype_path = "launchTemplate"
    overrides = res.get("mixedInstancesPolicy", "launchTemplate", "overrides")
    if isinstance(overrides, list) and overrides:
        itype = lookup(overrides, 0, "instanceType")
        itype_path = "mixedInstancesPolicy.launchTemplate.overrides[0].instanceType"
    if (itype is MISSING or itype is UNKNOWN) and lt is not None:
        itype, capacity = lt.get("instanceType"), capacity_of(lt)
        itype_path = f"{lt.urn}: instanceType"
    elif lt is not None:
        capacity = capacity_of(lt)
    if (itype is MISSING or itype is UNKNOWN) and isinstance(tags.get(INSTANCE_TYPE_TAG), str) and not is_unknown(tags[INSTANCE_TYPE_TAG]):
        itype = tags[INSTANCE_TYPE_TAG]
    if isinstance(tags.get(CAPACITY_TAG), str) and tags[CAPACITY_TAG] in catalog.CAPACITY_TYPES:
        capacity = tags[CAPACITY_TAG]
    dist = res.get("mixedInstancesPolicy", "instancesDistribution")
    if isinstance(dist, Mapping):
        base = as_int(lookup(dist, "onDemandBaseCapacity"))
        pct = as_int(lookup(dist, "onDemandPercentageAboveBaseCapacity"))
        if pct == 0 and base in (MISSING, 0):
            capacity = "spot"
    if itype is MISSING:
        linked = bool(res.deps_of("launchTemplate") or res.deps_of("mixedInstancesPolicy")
                      or res.get("launchTemplate") is UNKNOWN)
        if not linked:
            return None  # an Auto Scaling group of nothing we can read
        itype = UNKNOWN
    if itype is UNKNOWN:
        reader.note("instance type", res, itype_path)
        itype = None
    elif not is_gpu(itype):
        return None
    nodes = as_int(res.get("desiredCapacity"))
    if nodes is MISSING:
        nodes = as_int(res.get("minSize"))
        path = "minSize"
    else:
        path = "desiredCapacity"
    if nodes is UNKNOWN or nodes is MISSING:
        reader.note("node count", res, path)
        nodes = None
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
    return GpuGroup(res.name, "aws", where.region, itype, nodes, capacity, zone, res.urn, res.type)


def read_eks_node_group(reader: Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    where = reader.placement(res, note=False)
    lt = launch_template_of(reader, res, used)
    itype = res.get("instanceTypes", 0)
    if itype is MISSING and lt is not None:
        itype = lt.get("instanceType")
    if itype is MISSING:
        return None
    if itype is UNKNOWN:
        reader.note("instance type", res, "instanceTypes")
        itype = None
    elif not is_gpu(itype):
        return None
    nodes = as_int(res.get("scalingConfig", "desiredSize"))
    if nodes is UNKNOWN or nodes is MISSING:
        reader.note("node count", res, "scalingConfig.desiredSize")
        nodes = None
    kind = res.get("capacityType")
    capacity = {"SPOT": "spot", "CAPACITY_BLOCK": "capacity-block"}.get(kind, "on-demand") if isinstance(kind, str) else "on-demand"
    if lt is not None and capacity == "on-demand":
        capacity = capacity_of(lt)
    reader.note_placement(res, where)
    return GpuGroup(res.name, "aws", where.region, itype, nodes, capacity, where.zone, res.urn, res.type)


def read_instance(reader: Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    lt = launch_template_of(reader, res, used)
    itype = res.get("instanceType")
    capacity = capacity_of(res)
    if itype is MISSING and lt is not None:
        itype = lt.get("instanceType")
        capacity = capacity_of(lt) if capacity == "on-demand" else capacity
    if itype is MISSING:
        return None
    where = reader.placement(res, note=False)
    if itype is UNKNOWN:
        reader.note("instance type", res, "instanceType")
        itype = None
    elif not is_gpu(itype):
        return None
    reader.note_placement(res, where)
    return GpuGroup(res.name, "aws", where.region, itype, 1, capacity, where.zone, res.urn, res.type)



def orphan_template(reader: Reader, res: Resource) -> GpuGroup | None:
    """A launch template nothing in the program launches: a group of 0 nodes."""
    itype = res.get("instanceType")
    if not isinstance(itype, str) or not is_gpu(itype):
        return None
    where = reader.placement(res, note=False)
    return GpuGroup(res.name, CLOUD, where.region, itype, 0, capacity_of(res), where.zone, res.urn, res.type)


def template_of(reader: Reader, res: Resource) -> Resource | None:
    """The launch template whose tags reach a group's nodes."""
    return launch_template_of(reader, res, set()) if res.type in (ASG, EKS_NODE_GROUP, INSTANCE) else None


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


GROUP_READERS = {ASG: read_asg, EKS_NODE_GROUP: read_eks_node_group}
SINGLE_READERS = {INSTANCE: read_instance}
TEMPLATE_TYPES = frozenset({LAUNCH_TEMPLATE})
FILESYSTEM_READERS = {FSX_LUSTRE: read_fsx}
BUDGETS = {BUDGET: (budget_terms, budget_filters)}
