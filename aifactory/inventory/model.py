"""What an inventory holds: GPU node groups, parallel filesystems, budgets, and the values a gate
needs but the preview could not know."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aifactory import catalog


@dataclass(frozen=True)
class GpuGroup:
    name: str
    cloud: str
    region: str | None
    instance_type: str | None  # of several types the group may launch, the worst case
    nodes: int | None  # the most nodes it may hold (what the gates judge); None: unknown at preview
    capacity: str = "on-demand"
    zone: str | None = None
    urn: str | None = None
    resource_type: str | None = None  # the Pulumi type token the group was read from
    desired_nodes: int | None = None  # what it asks for now, when fewer than `nodes`; None: `nodes`

    @property
    def desired(self) -> int | None:
        return self.desired_nodes if self.desired_nodes is not None else self.nodes

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
    tier: str | None = None  # a service tier that is its own SKU (Filestore: ZONAL, REGIONAL, ...)

    @property
    def sku(self) -> catalog.StorageSku | None:
        if self.tier:
            for sku in catalog.storage_skus(self.cloud, self.kind):
                if sku.sku.upper() == self.tier.upper():
                    return sku
        return catalog.storage_sku(self.cloud, self.kind, self.throughput_mbps_per_tib)


@dataclass(frozen=True)
class Budget:
    name: str
    cloud: str
    monthly_usd: float | None
    urn: str | None = None
    # URNs of the GPU groups and filesystems this budget provably covers, and of those it may
    # cover but whose coverage depends on a value unknown at preview.
    covers: tuple[str, ...] = ()
    may_cover: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unknown:
    """A value a gate needs that is not known at preview: what it is, on which resource."""

    what: str  # "node count", "instance type", "region", "budget amount", ...
    urn: str | None
    path: str = ""  # the input it comes from, e.g. "desiredCapacity"

    def __str__(self) -> str:
        where = f" ({self.path})" if self.path else ""
        return f"{self.what} of {self.urn}{where} is unknown at preview"


@dataclass
class Inventory:
    cloud: str | None = None
    groups: list[GpuGroup] = field(default_factory=list)
    filesystems: list[Filesystem] = field(default_factory=list)
    budgets: list[Budget] = field(default_factory=list)
    unknowns: list[Unknown] = field(default_factory=list)

    @property
    def gpus(self) -> int:
        return sum(g.gpus or 0 for g in self.groups)

    def unknowns_of(self, urn: str | None) -> list[Unknown]:
        return [u for u in self.unknowns if u.urn == urn]

    def unknowns_by_urn(self) -> dict[str | None, list[Unknown]]:
        index: dict[str | None, list[Unknown]] = {}
        for u in self.unknowns:
            index.setdefault(u.urn, []).append(u)
        return index


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
        tier = getattr(fs, "tier", None) if fs.kind == "filestore" else None
        probe = Filesystem(fs.name, spec.cloud, spec.region, fs.kind, fs.throughput_mbps_per_tib, None, tier=tier)
        sku = probe.sku
        per_tib = sku.gib_per_tib if sku else 1024
        filesystems.append(
            Filesystem(
                name=fs.name,
                cloud=spec.cloud,
                region=spec.region,
                kind=fs.kind,
                throughput_mbps_per_tib=fs.throughput_mbps_per_tib,
                capacity_gib=fs.capacity_gib if getattr(fs, "capacity_gib", None) is not None else round(fs.capacity_tib * per_tib),
                tier=tier,
            )
        )
    budgets = [Budget(f"{spec.name}-budget", spec.cloud, spec.budget.monthly_usd)] if spec.budget else []
    return Inventory(cloud=spec.cloud, groups=groups, filesystems=filesystems, budgets=budgets)

