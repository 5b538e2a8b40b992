"""Google Cloud: what managed instance groups, GKE node pools, instances and instance templates
hold, Managed Lustre, Parallelstore and Filestore instances, and billing budgets with their filters."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aifactory import catalog
from aifactory.inventory.model import Filesystem, GpuGroup
from aifactory.inventory.resources import BudgetTerms, Resource, capacity_gib, node_counts, throughput, worst_type
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
CLUSTER = "gcp:container/cluster:Cluster"
AUTOSCALER = "gcp:compute/autoscaler:Autoscaler"
REGION_AUTOSCALER = "gcp:compute/regionAutoscaler:RegionAutoscaler"
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
    # Cloud Storage reports (and accepts) bucket locations in upper case: US-CENTRAL1 is us-central1.
    return region.lower()


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


def _worst(reader: Reader, res: Resource, candidates: list[tuple[Any, str]]) -> Any:
    itype, path = worst_type(CLOUD, candidates, is_gpu)
    if itype is UNKNOWN:
        reader.note("instance type", res, path)
        return None
    return itype


def _names(value: Any) -> Any:
    return machine_type_name(value) if isinstance(value, str) and not is_unknown(value) else value


def read_mig(reader: Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    """A managed instance group: every version's template may launch, and an instance flexibility
    policy may launch any machine type it lists instead; an autoscaler may grow it to its maximum."""
    where = reader.placement(res, note=False)
    candidates: list[tuple[Any, str]] = []
    capacity = "on-demand"
    versions = res.get("versions")
    if versions is UNKNOWN:
        candidates.append((UNKNOWN, "versions"))
    for i, version in enumerate(versions if isinstance(versions, list) else []):
        literal = lookup(version, "instanceTemplate")
        templates = reader.linked_all(res, "versions", {TEMPLATE, REGION_TEMPLATE}, literal)
        if templates is None or (not templates and literal is not MISSING):
            candidates.append((UNKNOWN, f"versions[{i}].instanceTemplate"))
        for tpl in templates or ():
            used.add(tpl.urn)
            itype, tpl_capacity = _template_facts(reader, tpl)
            candidates.append((itype, f"{tpl.urn}: machineType"))
            capacity = tpl_capacity if capacity == "on-demand" else capacity
    selections = res.get("instanceFlexibilityPolicy", "instanceSelections")
    if selections is UNKNOWN:
        candidates.append((UNKNOWN, "instanceFlexibilityPolicy.instanceSelections"))
    for i, selection in enumerate(selections if isinstance(selections, list) else []):
        types = lookup(selection, "machineTypes")
        path = f"instanceFlexibilityPolicy.instanceSelections[{i}].machineTypes"
        if not isinstance(types, list):
            candidates.append((UNKNOWN, path))
            continue
        candidates += [(UNKNOWN if is_unknown(t) else _names(t), f"{path}[{j}]") for j, t in enumerate(types)]
    itype = _worst(reader, res, candidates)
    if itype is MISSING:
        return None
    nodes, want = node_counts(reader, res, (res.get("targetSize"), "targetSize"), reader.autoscaled(res))
    zone = where.zone
    if res.type == REGION_MIG:
        zones = res.get("distributionPolicyZones")
        zone = zones[0] if isinstance(zones, list) and len(zones) == 1 and isinstance(zones[0], str) else None
    reader.note_placement(res, where)
    return GpuGroup(res.name, CLOUD, where.region, itype, nodes, capacity, zone, res.urn, res.type, want)


# A regional GKE cluster places each node pool in three of its region's zones unless told otherwise
# (https://cloud.google.com/kubernetes-engine/docs/concepts/regional-clusters, read 2026-12-02).
REGIONAL_CLUSTER_ZONES = 3


def _cluster_zones(cluster: Resource) -> Any:
    """How many zones a cluster's node pools span by default."""
    locations = cluster.get("nodeLocations")
    location = cluster.get("location")
    if locations is UNKNOWN or location is UNKNOWN:
        return UNKNOWN
    zonal = isinstance(location, str) and region_of_zone(location) is not None
    if isinstance(locations, list) and locations:
        return len(set(locations) | ({location} if zonal else set()))
    if location is MISSING:
        return UNKNOWN
    return 1 if zonal else REGIONAL_CLUSTER_ZONES


def _pool(reader: Reader, res: Resource, get: Callable[..., Any], prefix: str, name: str,
          cluster: Resource | None, default_type: Any = MISSING) -> GpuGroup | None:
    """A GKE node pool (a NodePool resource, or one of a cluster's own): `nodeCount` (or
    `initialNodeCount`) nodes per zone, or up to the autoscaling maximum."""
    machine = get("nodeConfig", "machineType")
    itype = _worst(reader, res, [(_names(default_type if machine is MISSING else machine), f"{prefix}nodeConfig.machineType")])
    if itype is MISSING:
        return None
    where = reader.placement(res, note=False)
    locations = get("nodeLocations")
    zones_path = f"{prefix}nodeLocations"
    if locations is UNKNOWN:
        zones: Any = UNKNOWN
    elif isinstance(locations, list) and locations:
        zones = len(locations)
    elif cluster is not None:
        zones, zones_path = _cluster_zones(cluster), f"{cluster.urn}: nodeLocations"
    elif where.zone is not None and where.zone == get("location"):
        zones = 1
    else:
        zones, zones_path = UNKNOWN, f"{prefix}nodeLocations (the cluster's zones)"
    if zones is UNKNOWN:
        reader.note("node count", res, zones_path)
        nodes = want = None
    else:
        per_zone, path = get("nodeCount"), f"{prefix}nodeCount"
        if per_zone is MISSING:
            per_zone, path = get("initialNodeCount"), f"{prefix}initialNodeCount"
        maxima = []
        autoscaling = get("autoscaling")
        if autoscaling is UNKNOWN:
            maxima.append((UNKNOWN, f"{prefix}autoscaling"))
        elif isinstance(autoscaling, Mapping):
            total = as_int(lookup(autoscaling, "totalMaxNodeCount"))
            per_zone_max = as_int(lookup(autoscaling, "maxNodeCount"))
            if total is not MISSING:
                maxima.append((total, f"{prefix}autoscaling.totalMaxNodeCount"))
            if per_zone_max is not MISSING or total is MISSING:
                maxima.append((per_zone_max * zones if isinstance(per_zone_max, int) else
                               (UNKNOWN if per_zone_max is MISSING else per_zone_max), f"{prefix}autoscaling.maxNodeCount"))
        count = as_int(per_zone)
        nodes, want = node_counts(reader, res, (count * zones if isinstance(count, int) else count, path), maxima)
    config = ("nodeConfig",)
    capacity = "spot" if (as_bool(get(*config, "spot")) is True or as_bool(get(*config, "preemptible")) is True) else capacity_of(
        None, get(*config, "reservationAffinity") if isinstance(get(*config, "reservationAffinity"), Mapping) else None)
    zone = where.zone if zones == 1 else None
    reader.note_placement(res, where)
    return GpuGroup(name, CLOUD, where.region, itype, nodes, capacity, zone, res.urn, res.type, want)


def read_node_pool(reader: Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    cluster = reader.linked(res, "cluster", {CLUSTER}, res.get("cluster"))
    return _pool(reader, res, res.get, "", res.name, cluster)


def read_cluster(reader: Reader, res: Resource, used: set[str]) -> list[GpuGroup]:
    """A GKE cluster's default node pool (unless removed), its own `nodePools`, and node
    auto-provisioning, which may create GPU nodes up to its resource limits."""
    groups = []
    pools = res.get("nodePools")
    if pools is UNKNOWN:
        reader.note("instance type", res, "nodePools")
        groups.append(GpuGroup(f"{res.name}/nodePools", CLOUD, reader.placement(res).region, None, None,
                               urn=res.urn, resource_type=res.type))
    for i, pool in enumerate(pools if isinstance(pools, list) else []):
        label = lookup(pool, "name")

        def get(*path: str | int, _pool: Any = pool) -> Any:
            return lookup(_pool, *path)

        group = _pool(reader, res, get, f"nodePools[{i}].", f"{res.name}/{label if isinstance(label, str) else i}", res)
        if group is not None:
            groups.append(group)
    if as_bool(res.get("removeDefaultNodePool")) is not True and not (isinstance(pools, list) and pools):
        # GKE's default machine type (e2-medium) carries no GPU.
        group = _pool(reader, res, res.get, "", f"{res.name}/default-pool", res, MISSING)
        if group is not None:
            groups.append(group)
    provisioning = res.get("clusterAutoscaling")
    enabled = as_bool(lookup(provisioning, "enabled")) if isinstance(provisioning, Mapping) else provisioning
    if enabled is True or enabled is UNKNOWN:
        limits = lookup(provisioning, "resourceLimits") if isinstance(provisioning, Mapping) else UNKNOWN
        gpu_limits = [(i, lookup(limit, "resourceType"), lookup(limit, "maximum"))
                      for i, limit in enumerate(limits if isinstance(limits, list) else [])]
        gpu_limits = [(i, kind, top) for i, kind, top in gpu_limits
                      if not isinstance(kind, str) or kind.lower().startswith("nvidia-")]
        ceilings = [as_int(top) for _, _, top in gpu_limits]
        if limits is UNKNOWN or any(c is UNKNOWN or (isinstance(c, int) and c > 0) for c in ceilings):
            # Which machine type (and so what power and price) a provisioned GPU node has is chosen by
            # the workloads, not the program: the gates cannot prove a cap on it.
            reader.note("instance type", res, "clusterAutoscaling.resourceLimits (node auto-provisioning may create "
                        + ", ".join(f"up to {top} {kind}" for _, kind, top in gpu_limits if isinstance(kind, str))
                        + " GPUs)" if gpu_limits else "clusterAutoscaling.resourceLimits")
            groups.append(GpuGroup(f"{res.name}/auto-provisioned", CLOUD, reader.placement(res).region, None, None,
                                   urn=res.urn, resource_type=res.type))
    return groups


def read_autoscaler(reader: Reader, res: Resource) -> tuple[list[Resource] | None, Any, str]:
    """(groups it scales, its maximum, where that comes from)."""
    target = res.get("target")
    targets = reader.linked_all(res, "target", {MIG, REGION_MIG}, UNKNOWN if target is UNKNOWN else target)
    return targets, res.get("autoscalingPolicy", "maxReplicas"), "autoscalingPolicy.maxReplicas"


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


GROUP_READERS = {MIG: read_mig, REGION_MIG: read_mig, NODE_POOL: read_node_pool, CLUSTER: read_cluster}
SINGLE_READERS = {INSTANCE: read_instance}
TEMPLATE_TYPES = frozenset({TEMPLATE, REGION_TEMPLATE})
FILESYSTEM_READERS = {LUSTRE: read_lustre, PARALLELSTORE: read_parallelstore, FILESTORE: read_filestore}
BUDGETS = {BUDGET: (budget_terms, budget_filters)}
AUTOSCALERS = {AUTOSCALER: read_autoscaler, REGION_AUTOSCALER: read_autoscaler}
