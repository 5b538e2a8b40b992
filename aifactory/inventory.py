"""What a set of resources holds: GPU node groups, parallel filesystems, budgets.

The estimator and the policy pack read the same `Inventory`, so the report and the pack
always agree. `from_spec` builds one from a facility spec (before any program runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aifactory import catalog


@dataclass(frozen=True)
class GpuGroup:
    name: str
    cloud: str
    region: str | None
    instance_type: str | None
    nodes: int | None  # None: unknown at preview
    capacity: str = "on-demand"
    zone: str | None = None
    urn: str | None = None

    @property
    def instance(self) -> catalog.InstanceType | None:
        return catalog.instance(self.cloud, self.instance_type or "")

    @property
    def gpus(self) -> int | None:
        itype = self.instance
        if itype is None or self.nodes is None:
            return None
        return itype.gpu_count * self.nodes


@dataclass(frozen=True)
class Filesystem:
    name: str
    cloud: str
    region: str | None
    kind: str
    throughput_mbps_per_tib: int | None
    capacity_gib: int | None
    urn: str | None = None

    @property
    def sku(self) -> catalog.StorageSku | None:
        return catalog.storage_sku(self.cloud, self.kind, self.throughput_mbps_per_tib)


@dataclass(frozen=True)
class Budget:
    name: str
    cloud: str
    monthly_usd: float | None
    urn: str | None = None


@dataclass
class Inventory:
    cloud: str | None = None
    groups: list[GpuGroup] = field(default_factory=list)
    filesystems: list[Filesystem] = field(default_factory=list)
    budgets: list[Budget] = field(default_factory=list)

    @property
    def gpus(self) -> int:
        return sum(g.gpus or 0 for g in self.groups)


def from_spec(spec: Any) -> Inventory:
    """The inventory a (resolved) facility spec asks for."""
    groups = [
        GpuGroup(
            name=fleet.name,
            cloud=spec.cloud,
            region=spec.region,
            zone=spec.zone,
            instance_type=fleet.instance_type,
            nodes=fleet.nodes,
            capacity=fleet.capacity,
        )
        for fleet in spec.fleets
    ]
    filesystems = []
    for fs in spec.filesystems:
        sku = catalog.storage_sku(spec.cloud, fs.kind, fs.throughput_mbps_per_tib)
        per_tib = sku.gib_per_tib if sku else 1024
        filesystems.append(
            Filesystem(
                name=fs.name,
                cloud=spec.cloud,
                region=spec.region,
                kind=fs.kind,
                throughput_mbps_per_tib=fs.throughput_mbps_per_tib,
                capacity_gib=round(fs.capacity_tib * per_tib),
            )
        )
    budgets = [Budget(f"{spec.name}-budget", spec.cloud, spec.budget.monthly_usd)] if spec.budget else []
    return Inventory(cloud=spec.cloud, groups=groups, filesystems=filesystems, budgets=budgets)
