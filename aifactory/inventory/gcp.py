"""Google Cloud: what managed instance groups, GKE node pools, instances and instance templates
hold, Managed Lustre, Parallelstore and Filestore instances, and billing budgets with their filters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aifactory import catalog
from aifactory.inventory.model import Filesystem, GpuGroup
from aifactory.inventory.resources import BudgetTerms, Resource, capacity_gib, throughput
from aifactory.inventory.values import MISSING, UNKNOWN, as_bool, as_float, as_int, is_unknown, lookup

if TYPE_CHECKING:
    from aifactory.inventory.budgets import Scopes
    from aifactory.inventory.reader import Reader

CLOUD = "gcp"

MIG = "gcp:compute/instanceGroupManager:InstanceGroupManager"
REGION_MIG = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"
TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
REGION_TEMPLATE = "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"
INSTANCE = "gcp:compute/instance:Instance"
NODE_POOL = "gcp:container/nodePool:NodePool"
LUSTRE = "gcp:lustre/instance:Instance"
PARALLELSTORE = "gcp:parallelstore/instance:Instance"
FILESTORE = "gcp:filestore/instance:Instance"
BUDGET = "gcp:billing/budget:Budget"

_GPU_FAMILY = re.compile(r"^(a\d|g\d)-", re.I)
_ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")


def is_gpu(instance_type: str) -> bool:
    return catalog.instance(CLOUD, instance_type) is not None or bool(_GPU_FAMILY.match(instance_type))


def region_of_zone(zone: str) -> str | None:
    m = _ZONE.match(zone)
    return m.group(1) if m else None


def normalize_region(region: str) -> str:
    return region


def machine_type_name(value: str) -> str:
    """`zones/us-central1-a/machineTypes/a3-highgpu-8g` (or a URL) -> `a3-highgpu-8g`."""
    return value.rstrip("/").rsplit("/", 1)[-1]


def capacity_of(scheduling: Any, reservation: Any) -> str:
    if isinstance(scheduling, Mapping):
        model = lookup(scheduling, "provisioningModel")
        if (isinstance(model, str) and model.upper() == "SPOT") or as_bool(lookup(scheduling, "preemptible")) is True:
            return "spot"
    if isinstance(reservation, Mapping):
        kind = lookup(reservation, "type")
        if isinstance(kind, str) and kind.upper() == "SPECIFIC_RESERVATION":
            return "reservation"
    return "on-demand"


def _machine_type(reader: Reader, res: Resource, path: tuple[str, ...]) -> Any:
    value = res.get(*path)
    if isinstance(value, str):
        return machine_type_name(value)
    return value


def _template_facts(reader: Reader, tpl: Resource) -> tuple[Any, str]:
    return (_machine_type(reader, tpl, ("machineType",)),
            capacity_of(tpl.get("scheduling"), tpl.get("reservationAffinity")))


def read_mig(reader: Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    where = reader.placement(res, note=False)
    literal = res.get("versions", 0, "instanceTemplate")
    tpl = None
    if literal is not MISSING or res.deps_of("versions"):
        tpl = reader.linked(res, "versions", {TEMPLATE, REGION_TEMPLATE}, literal)
    if tpl is not None:
        used.add(tpl.urn)
        itype, capacity = _template_facts(reader, tpl)
        path = f"{tpl.urn}: machineType"
    else:
        itype, capacity, path = (UNKNOWN if literal is UNKNOWN else MISSING), "on-demand", "versions[0].instanceTemplate"
    if itype is MISSING:
        return None
    if itype is UNKNOWN:
        reader.note("instance type", res, path)
        itype = None
    elif not is_gpu(itype):
        return None
    nodes = as_int(res.get("targetSize"))
    if nodes is UNKNOWN or nodes is MISSING:
        reader.note("node count", res, "targetSize")
        nodes = None
    zone = where.zone
    if res.type == REGION_MIG:
        zones = res.get("distributionPolicyZones")
        zone = zones[0] if isinstance(zones, list) and len(zones) == 1 and isinstance(zones[0], str) else None
    reader.note_placement(res, where)
    return GpuGroup(res.name, CLOUD, where.region, itype, nodes, capacity, zone, res.urn, res.type)


def read_node_pool(reader: Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    itype = _machine_type(reader, res, ("nodeConfig", "machineType"))
    if itype is MISSING:
        return None
    where = reader.placement(res, note=False)
    if itype is UNKNOWN:
        reader.note("instance type", res, "nodeConfig.machineType")
        itype = None
    elif not is_gpu(itype):
        return None
    per_zone = as_int(res.get("nodeCount"))
    path = "nodeCount"
    if per_zone is MISSING:
        per_zone, path = as_int(res.get("initialNodeCount")), "initialNodeCount"
    locations = res.get("nodeLocations")
    zones = len(locations) if isinstance(locations, list) and locations else 1
    if per_zone is UNKNOWN or per_zone is MISSING or locations is UNKNOWN:
        reader.note("node count", res, path)
        nodes = None
    else:
        nodes = per_zone * zones
    capacity = "spot" if (as_bool(res.get("nodeConfig", "spot")) is True
                          or as_bool(res.get("nodeConfig", "preemptible")) is True) else capacity_of(
        None, res.get("nodeConfig", "reservationAffinity") if isinstance(res.get("nodeConfig", "reservationAffinity"), Mapping) else None)
    zone = where.zone if zones == 1 else None
    reader.note_placement(res, where)
    return GpuGroup(res.name, CLOUD, where.region, itype, nodes, capacity, zone, res.urn, res.type)


def read_instance(reader: Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    itype = _machine_type(reader, res, ("machineType",))
    capacity = capacity_of(res.get("scheduling"), res.get("reservationAffinity"))
    source = res.get("sourceInstanceTemplate")
    if itype is MISSING and (source is not MISSING or res.deps_of("sourceInstanceTemplate")):
        tpl = reader.linked(res, "sourceInstanceTemplate", {TEMPLATE, REGION_TEMPLATE}, source)
        if tpl is not None:
            used.add(tpl.urn)
            itype, capacity = _template_facts(reader, tpl)
    if itype is MISSING:
        return None
    where = reader.placement(res, note=False)
    if itype is UNKNOWN:
        reader.note("instance type", res, "machineType")
        itype = None
    elif not is_gpu(itype):
        return None
    reader.note_placement(res, where)
    return GpuGroup(res.name, CLOUD, where.region, itype, 1, capacity, where.zone, res.urn, res.type)


def orphan_template(reader: Reader, res: Resource) -> GpuGroup | None:
    """An instance template nothing in the program launches: a group of 0 nodes."""
    itype = _machine_type(reader, res, ("machineType",))
    if not isinstance(itype, str) or not is_gpu(itype):
        return None
    where = reader.placement(res, note=False)
    capacity = capacity_of(res.get("scheduling"), res.get("reservationAffinity"))
    return GpuGroup(res.name, CLOUD, where.region, itype, 0, capacity, where.zone, res.urn, res.type)


def template_of(reader: Reader, res: Resource) -> Resource | None:
    """The instance template whose labels reach a group's nodes."""
    if res.type not in (MIG, REGION_MIG):
        return None
    return reader.linked(res, "versions", {TEMPLATE, REGION_TEMPLATE}, res.get("versions", 0, "instanceTemplate"))


def project_of(reader: Reader, res: Resource) -> Any:
    project = res.get("project")
    if project is MISSING:
        project = lookup(reader.provider_inputs(res) or {}, "project")
    return project


def read_lustre(reader: Reader, res: Resource) -> Filesystem:
    where = reader.placement(res)
    if res.get("perUnitStorageThroughput") is MISSING and res.get("dynamicTierOptions") is not MISSING:
        tier = 25  # the dynamic tier (catalog row `dynamic`)
    else:
        tier = throughput(reader, res, ("perUnitStorageThroughput",))
    return Filesystem(res.name, CLOUD, where.region, "lustre", tier, capacity_gib(reader, res, ("capacityGib",)), res.urn)


def read_parallelstore(reader: Reader, res: Resource) -> Filesystem:
    where = reader.placement(res)
    return Filesystem(res.name, CLOUD, where.region, "parallelstore", None,
                      capacity_gib(reader, res, ("capacityGib",)), res.urn)


def read_filestore(reader: Reader, res: Resource) -> Filesystem:
    where = reader.placement(res)
    tier = res.get("tier")
    if tier is UNKNOWN:
        reader.note("filesystem tier", res, "tier")
    shares = res.get("fileShares")
    path: tuple[Any, ...] = ("fileShares", 0, "capacityGb") if isinstance(shares, list) else ("fileShares", "capacityGb")
    return Filesystem(res.name, CLOUD, where.region, "filestore", None, capacity_gib(reader, res, path), res.urn,
                      tier=tier.upper() if isinstance(tier, str) else None)


def budget_terms(res: Resource) -> BudgetTerms:
    units = res.get("amount", "specifiedAmount", "units")
    nanos = as_float(res.get("amount", "specifiedAmount", "nanos"))
    amount = as_float(units)
    if isinstance(amount, float) and isinstance(nanos, float):
        amount += nanos / 1e9
    path = "amount.specifiedAmount.units"
    if amount is MISSING and res.get("amount", "lastPeriodAmount") is not MISSING:
        amount, path = UNKNOWN, "amount.lastPeriodAmount (last period's spend)"
    period = res.get("budgetFilter", "calendarPeriod")
    if res.get("budgetFilter", "customPeriod") is not MISSING:
        period = None
    currency = res.get("amount", "specifiedAmount", "currencyCode")
    return BudgetTerms(amount, path, period, isinstance(currency, str) and currency.upper() != "USD")


def budget_filters(scopes: Scopes, budget: Resource, everything: set[str]) -> list[tuple[set[str], set[str]]]:
    out = []
    projects = budget.get("budgetFilter", "projects")
    if projects is UNKNOWN or (isinstance(projects, list) and any(is_unknown(p) for p in projects)):
        out.append((set(), everything))
    elif isinstance(projects, list) and projects:
        names = [p.rsplit("/", 1)[-1] for p in projects if isinstance(p, str)]
        out.append((scopes.union(scopes.by_project, names), scopes.unknown_project))
    labels = budget.get("budgetFilter", "labels")
    if labels is UNKNOWN:
        out.append((set(), everything))
    elif isinstance(labels, Mapping):
        for key, value in labels.items():
            values = value if isinstance(value, list) else [value]
            out.append((scopes.union(scopes.by_tag, [(key, str(v)) for v in values]),
                        scopes.unknown_tag.get(key, set())))
    return out


GROUP_READERS = {MIG: read_mig, REGION_MIG: read_mig, NODE_POOL: read_node_pool}
SINGLE_READERS = {INSTANCE: read_instance}
TEMPLATE_TYPES = frozenset({TEMPLATE, REGION_TEMPLATE})
FILESYSTEM_READERS = {LUSTRE: read_lustre, PARALLELSTORE: read_parallelstore, FILESTORE: read_filestore}
BUDGETS = {BUDGET: (budget_terms, budget_filters)}
