"""Azure: what scale sets, AKS agent pools and virtual machines hold, Managed Lustre file systems,
and Consumption budgets with the scope that bounds them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aifactory import catalog
from aifactory.inventory.model import Filesystem, GpuGroup
from aifactory.inventory.resources import BudgetTerms, Resource, capacity_gib
from aifactory.inventory.values import MISSING, UNKNOWN, as_float, as_int

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


def read_vmss(reader: Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    itype = res.get("sku", "name")
    if itype is MISSING:
        return None
    where = reader.placement(res, note=False)
    if itype is UNKNOWN:
        reader.note("instance type", res, "sku.name")
        itype = None
    elif not is_gpu(itype):
        return None
    nodes = as_int(res.get("sku", "capacity"))
    if nodes is UNKNOWN or nodes is MISSING:
        reader.note("node count", res, "sku.capacity")
        nodes = None
    capacity = capacity_of(res.get("virtualMachineProfile", "priority"),
                               res.get("virtualMachineProfile", "capacityReservation", "capacityReservationGroup"))
    reader.note_placement(res, where)
    return GpuGroup(res.name, CLOUD, where.region, itype, nodes, capacity, where.zone, res.urn, res.type)


def read_aks_pool(reader: Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    itype = res.get("vmSize")
    if itype is MISSING:
        return None
    where = reader.placement(res, note=False)
    if itype is UNKNOWN:
        reader.note("instance type", res, "vmSize")
        itype = None
    elif not is_gpu(itype):
        return None
    nodes = as_int(res.get("count"))
    if nodes is UNKNOWN or nodes is MISSING:
        reader.note("node count", res, "count")
        nodes = None
    priority = res.get("scaleSetPriority")
    capacity = "spot" if isinstance(priority, str) and priority.lower() == "spot" else (
        "reservation" if res.get("capacityReservationGroupID") is not MISSING else "on-demand")
    reader.note_placement(res, where)
    return GpuGroup(res.name, CLOUD, where.region, itype, nodes, capacity, where.zone, res.urn, res.type)


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


GROUP_READERS = {VMSS: read_vmss, AKS_POOL: read_aks_pool}
SINGLE_READERS = {VM: read_vm}
TEMPLATE_TYPES: frozenset[str] = frozenset()
FILESYSTEM_READERS = {AML: read_aml}
BUDGETS = {BUDGET: (budget_terms, budget_filters)}
