"""Azure: what scale sets, AKS agent pools and virtual machines hold, Managed Lustre file systems,
and Consumption budgets with the scope that bounds them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aifactory import catalog
from aifactory.inventory.model import Filesystem, GpuGroup
from aifactory.inventory.resources import BudgetTerms, Resource, capacity_gib, node_counts, worst_type
from aifactory.inventory.values import MISSING, UNKNOWN, as_bool, as_float, as_int, is_unknown, lookup

if TYPE_CHECKING:
    from aifactory.inventory.budgets import Scopes
    from aifactory.inventory.reader import Reader

CLOUD = "azure"

VMSS = "azure-native:compute:VirtualMachineScaleSet"
VM = "azure-native:compute:VirtualMachine"
AKS_POOL = "azure-native:containerservice:AgentPool"
AML = "azure-native:storagecache:AmlFilesystem"
BUDGET = "azure-native:consumption:Budget"
RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
AUTOSCALE_SETTING = "azure-native:monitor:AutoscaleSetting"
AUTOSCALE_SETTING_INSIGHTS = "azure-native:insights:AutoscaleSetting"  # the same resource's former module

_GPU_FAMILY = re.compile(r"^standard_n", re.I)


def is_gpu(instance_type: str) -> bool:
    return catalog.instance(CLOUD, instance_type) is not None or bool(_GPU_FAMILY.match(instance_type))


def region_of_zone(zone: str) -> str | None:
    return None  # Azure zones are numbers ("1"), not names that carry their region


def normalize_region(region: str) -> str:
    return region.replace(" ", "").lower()


def capacity_of(profile_priority: Any, reservation: Any) -> str:
    if isinstance(profile_priority, str) and profile_priority.lower() in ("spot", "low"):
        return "spot"
    if reservation is not MISSING:
        return "reservation"
    return "on-demand"


def _worst(reader: Reader, res: Resource, candidates: list[tuple[Any, str]]) -> Any:
    itype, path = worst_type(CLOUD, candidates, is_gpu)
    if itype is UNKNOWN:
        reader.note("instance type", res, path)
        return None
    return itype


def read_vmss(reader: Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    """A scale set of one size, or (flexible orchestration) of any size its `skuProfile` lists."""
    candidates: list[tuple[Any, str]] = [(res.get("sku", "name"), "sku.name")]
    sizes = res.get("skuProfile", "vmSizes")
    if sizes is UNKNOWN:
        candidates.append((UNKNOWN, "skuProfile.vmSizes"))
    for i, size in enumerate(sizes if isinstance(sizes, list) else []):
        candidates.append((lookup(size, "name") if isinstance(size, Mapping) else UNKNOWN, f"skuProfile.vmSizes[{i}].name"))
    itype = _worst(reader, res, candidates)
    if itype is MISSING:
        return None
    where = reader.placement(res, note=False)
    nodes, want = node_counts(reader, res, (res.get("sku", "capacity"), "sku.capacity"), reader.autoscaled(res))
    capacity = capacity_of(res.get("virtualMachineProfile", "priority"),
                           res.get("virtualMachineProfile", "capacityReservation", "capacityReservationGroup"))
    reader.note_placement(res, where)
    return GpuGroup(res.name, CLOUD, where.region, itype, nodes, capacity, where.zone, res.urn, res.type, want)


def _pool(reader: Reader, res: Resource, get: Callable[..., Any], prefix: str, name: str) -> GpuGroup | None:
    """An AKS node pool (an agent pool resource, or one profile of a managed cluster): one VM size,
    or (a VirtualMachines pool) several sizes with a count each; autoscaling up to `maxCount`."""
    manual = get("virtualMachinesProfile", "scale", "manual")
    maxima: list[tuple[Any, str]] = []
    if manual is UNKNOWN:
        candidates = [(UNKNOWN, f"{prefix}virtualMachinesProfile.scale.manual")]
        desired: tuple[Any, str] = (UNKNOWN, f"{prefix}virtualMachinesProfile.scale.manual")
    elif isinstance(manual, list) and manual:
        where = f"{prefix}virtualMachinesProfile.scale.manual"
        candidates = [(lookup(m, "size") if isinstance(m, Mapping) else UNKNOWN, f"{where}[{i}].size")
                      for i, m in enumerate(manual)]
        counts = [as_int(lookup(m, "count")) if isinstance(m, Mapping) else UNKNOWN for m in manual]
        total = UNKNOWN if UNKNOWN in counts else sum(c for c in counts if isinstance(c, int))
        desired = (total, f"{where}[].count")
    else:
        candidates = [(get("vmSize"), f"{prefix}vmSize")]
        desired = (get("count"), f"{prefix}count")
    itype = _worst(reader, res, candidates)
    if itype is MISSING:
        return None
    autoscaling = as_bool(get("enableAutoScaling"))
    ceiling = get("maxCount")
    if autoscaling is True or autoscaling is UNKNOWN:
        maxima.append((UNKNOWN if ceiling is MISSING else ceiling, f"{prefix}maxCount"))
    elif ceiling is not MISSING:
        maxima.append((ceiling, f"{prefix}maxCount"))
    where = reader.placement(res, note=False)
    nodes, want = node_counts(reader, res, desired, maxima)
    priority = get("scaleSetPriority")
    capacity = "spot" if isinstance(priority, str) and priority.lower() == "spot" else (
        "reservation" if get("capacityReservationGroupID") is not MISSING else "on-demand")
    reader.note_placement(res, where)
    zones = get("availabilityZones")
    zone = zones[0] if isinstance(zones, list) and len(zones) == 1 and isinstance(zones[0], str) else None
    return GpuGroup(name, CLOUD, where.region, itype, nodes, capacity, zone or where.zone, res.urn, res.type, want)


def read_aks_pool(reader: Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    return _pool(reader, res, res.get, "", res.name)


def read_managed_cluster(reader: Reader, res: Resource, used: set[str]) -> list[GpuGroup]:
    """A managed cluster's own node pools (`agentPoolProfiles`), one group each."""
    profiles = res.get("agentPoolProfiles")
    if profiles is UNKNOWN:
        reader.note("instance type", res, "agentPoolProfiles")
        where = reader.placement(res)
        return [GpuGroup(res.name, CLOUD, where.region, None, None, "on-demand", None, res.urn, res.type)]
    groups = []
    for i, profile in enumerate(profiles if isinstance(profiles, list) else []):
        pool_name = lookup(profile, "name")
        label = pool_name if isinstance(pool_name, str) else str(i)

        def get(*path: str | int, _profile: Any = profile) -> Any:
            return lookup(_profile, *path)

        group = _pool(reader, res, get, f"agentPoolProfiles[{i}].", f"{res.name}/{label}")
        if group is not None:
            groups.append(group)
    return groups


# Resources whose ID a scale set's ID can be built from (an ID computed from one of them may name any
# scale set inside it).
_CONTAINERS = frozenset({RESOURCE_GROUP})


def autoscale_targets(reader: Reader, res: Resource) -> list[Resource] | None:
    """The scale sets an autoscale setting may scale: the one its literal target names (none when it
    names something outside the program or not a scale set); when the target is unknown at preview,
    every scale set it is computed from, none when it is computed from other resources of the
    program alone (a plan, a web app: not a scale set), else None (it may be any scale set)."""
    target = res.get("targetResourceUri")
    if isinstance(target, str) and not is_unknown(target):
        return reader.linked_all(res, "targetResourceUri", {VMSS}, target)
    sources = [reader.by_urn[u] for u in res.deps_of("targetResourceUri") if u in reader.by_urn]
    if any(s.type == VMSS for s in sources):
        return [s for s in sources if s.type == VMSS]
    if sources and not any(s.type in _CONTAINERS for s in sources):
        return []
    return None


def read_autoscale_setting(reader: Reader, res: Resource) -> tuple[list[Resource] | None, Any, str] | None:
    """(scale sets it scales, the largest maximum of its profiles, where that comes from)."""
    if as_bool(res.get("enabled")) is False:
        return None
    targets = autoscale_targets(reader, res)
    profiles = res.get("profiles")
    maxima = [as_int(lookup(p, "capacity", "maximum")) for p in profiles] if isinstance(profiles, list) else [UNKNOWN]
    if UNKNOWN in maxima or profiles is UNKNOWN:
        return targets, UNKNOWN, "profiles[].capacity.maximum"
    known = [m for m in maxima if isinstance(m, int)]
    return targets, (max(known) if known else MISSING), "profiles[].capacity.maximum"


def read_vm(reader: Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    itype = res.get("hardwareProfile", "vmSize")
    if itype is MISSING:
        return None
    where = reader.placement(res, note=False)
    if itype is UNKNOWN:
        reader.note("instance type", res, "hardwareProfile.vmSize")
        itype = None
    elif not is_gpu(itype):
        return None
    capacity = capacity_of(res.get("priority"), res.get("capacityReservation", "capacityReservationGroup"))
    reader.note_placement(res, where)
    return GpuGroup(res.name, CLOUD, where.region, itype, 1, capacity, where.zone, res.urn, res.type)


def template_of(reader: Reader, res: Resource) -> Resource | None:
    return None


_AML_TIER = re.compile(r"-(\d+)$")


def read_aml(reader: Reader, res: Resource) -> Filesystem:
    where = reader.placement(res)
    sku = res.get("sku", "name")
    tier = None
    if isinstance(sku, str) and (m := _AML_TIER.search(sku)):
        tier = int(m.group(1))
    else:
        reader.note("filesystem throughput tier", res, "sku.name")
    probe = catalog.storage_sku(CLOUD, "lustre", tier) if tier else None
    per_tib = probe.gib_per_tib if probe else 1024
    return Filesystem(res.name, CLOUD, where.region, "lustre", tier,
                      capacity_gib(reader, res, ("storageCapacityTiB",), per_tib), res.urn)


def budget_terms(res: Resource) -> BudgetTerms | None:
    category = res.get("category")
    if isinstance(category, str) and category.lower() != "cost":
        return None
    return BudgetTerms(as_float(res.get("amount")), "amount", res.get("timeGrain"))


def budget_filters(scopes: Scopes, budget: Resource, everything: set[str]) -> list[tuple[set[str], set[str]]]:
    scope = budget.get("scope")
    if scope is UNKNOWN:
        # A scope computed from a resource group of the program (its ID) is that group's scope.
        reader = scopes.reader
        groups = [u for u in budget.deps_of("scope")
                  if u in reader.by_urn and reader.by_urn[u].type == RESOURCE_GROUP]
        if len(groups) != 1:
            return [(set(), everything)]
        rg = reader.by_urn[groups[0]]
        name = rg.get("resourceGroupName")
        keys = [rg.urn] + ([name.lower()] if isinstance(name, str) else [])
        return [(scopes.union(scopes.by_rg, keys), scopes.unknown_rg)]
    if not isinstance(scope, str):
        return []
    parts = [p.lower() for p in scope.strip("/").split("/")]
    out = []
    if parts[:1] == ["subscriptions"] and len(parts) > 1:
        others = scopes.union(scopes.by_subscription, [k for k in scopes.by_subscription if k != parts[1]])
        out.append((everything - others, set()))
    if "resourcegroups" in parts and parts.index("resourcegroups") + 1 < len(parts):
        name = parts[parts.index("resourcegroups") + 1]
        reader = scopes.reader
        keys = [name] + [r.urn for r in reader.resources if r.type == RESOURCE_GROUP
                         and str(r.get("resourceGroupName")).lower() == name]
        out.append((scopes.union(scopes.by_rg, keys), scopes.unknown_rg))
    return out


GROUP_READERS = {VMSS: read_vmss, AKS_POOL: read_aks_pool, MANAGED_CLUSTER: read_managed_cluster}
SINGLE_READERS = {VM: read_vm}
TEMPLATE_TYPES: frozenset[str] = frozenset()
FILESYSTEM_READERS = {AML: read_aml}
BUDGETS = {BUDGET: (budget_terms, budget_filters)}
AUTOSCALERS = {AUTOSCALE_SETTING: read_autoscale_setting, AUTOSCALE_SETTING_INSIGHTS: read_autoscale_setting}
