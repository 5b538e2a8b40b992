"""The aifactory catalog: GPU instance types, where they are offered, what they cost,
parallel-filesystem SKUs and datacenter PUE.

Plain CSV data in ``data/`` (every figure carries ``source`` and ``source_date``; a figure
nobody could source is left empty), read here with the standard library only. This module
imports nothing of the project and nothing outside the standard library, so any layer may
import it cheaply. Files are read once, on first use, and cached.

Files (see ``data/README.md`` for the columns):
  instances.csv  one row per (cloud, instance_type)
  regions.csv    one row per (cloud, instance_type, region), with zones where known
  prices.csv     one row per (cloud, instance_type, region, capacity), USD per node-hour
  storage.csv    one row per (cloud, kind, sku): capacity rules in the API's GiB, $/GiB-month
  pue.csv        one row per cloud, plus an ``industry`` fallback
  gpu_health.csv one row per GPU model: what a node checker expects of each GPU
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "CLOUDS",
    "CAPACITY_TYPES",
    "DATA_DIR",
    "InstanceType",
    "Offering",
    "Price",
    "StorageSku",
    "Pue",
    "instance",
    "instances",
    "gpu_models",
    "resolve_gpu",
    "offerings",
    "regions",
    "known_regions",
    "zones",
    "price",
    "prices",
    "storage_kinds",
    "storage_skus",
    "storage_sku",
    "pue",
    "RESERVATION_TERMS",
    "Unpriced",
    "unpriced",
    "unpriced_reason",
    "GpuSpec",
    "gpu",
]

CLOUDS = ("aws", "azure", "gcp")
CAPACITY_TYPES = ("on-demand", "spot", "reservation", "capacity-block")
RESERVATION_TERMS = ("1yr", "3yr")  # reservation rows only; other capacity types have no term
FABRICS = ("efa", "infiniband", "gpudirect-tcpx", "gpudirect-tcpxo", "rdma", "none")
DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class InstanceType:
    cloud: str
    name: str
    gpu_model: str
    gpu_name: str
    gpu_count: int
    gpu_memory_gib: float | None
    vcpus: int | None
    memory_gib: float | None
    fabric: str
    fabric_interfaces: int | None
    fabric_gbps: float | None
    host_nics: int | None
    fabric_mtu: int | None
    node_power_w: float | None
    node_power_basis: str
    capacity_block: bool
    local_nvme_tib: float | None
    source: str
    source_date: str
    notes: str
    # Additions: the host CPU architecture ("arm64" on NVIDIA Grace; "" = x86_64); the capacity
    # types the type is sold as (empty = every capacity type of its cloud); on AWS, the network
    # cards that carry the EFA interfaces (empty = cards 0..fabric_interfaces-1, EFA with ENA on
    # card 0); and the instance counts an UltraServer of the type holds (empty = any count).
    cpu_arch: str = ""
    capacities: tuple[str, ...] = ()
    fabric_cards: tuple[int, ...] = ()
    ultraserver_nodes: tuple[int, ...] = ()

    @property
    def arm64(self) -> bool:
        return self.cpu_arch == "arm64"

    def sold_as(self, capacity: str) -> bool:
        """Whether the type is sold as `capacity` (the catalog's list; every capacity when it has none)."""
        return not self.capacities or capacity in self.capacities

    @property
    def efa_cards(self) -> tuple[int, ...]:
        """The network card indexes that carry an EFA interface, in order (AWS EFA types)."""
        if self.fabric != "efa" or not self.fabric_interfaces:
            return ()
        return self.fabric_cards or tuple(range(self.fabric_interfaces))

    @property
    def fabric_gbps_per_gpu(self) -> float | None:
        if self.fabric_gbps is None or not self.gpu_count:
            return None
        return self.fabric_gbps / self.gpu_count


@dataclass(frozen=True)
class Offering:
    cloud: str
    instance_type: str
    region: str
    zones: tuple[str, ...]  # zone names; empty = unknown
    source: str
    source_date: str
    # Additions: AWS zone IDs (e.g. "use1-az4"), which are stable across accounts where
    # zone names are not; and the row's caveats.
    zone_ids: tuple[str, ...] = ()
    notes: str = ""


@dataclass(frozen=True)
class Price:
    cloud: str
    instance_type: str
    region: str
    capacity: str
    usd_per_hour: float  # per node
    source: str
    source_date: str
    notes: str
    term: str = ""  # "1yr" | "3yr" for reservation rows
    statistic: str = ""  # how the figure was taken, e.g. "median across the region's 3 zones"
    valid_from: str = ""  # ISO date the price is known to have held; "" = the source states none
    retrieved: str = ""  # ISO date the source was read


@dataclass(frozen=True)
class Unpriced:
    """An offered (type, region) pair, or a storage SKU, that has no price, and why."""

    cloud: str
    item: str  # instance type, or storage "kind/sku/throughput"
    region: str  # "" = every region
    capacity: str  # "" = every capacity type
    reason: str
    source: str
    source_date: str


@dataclass(frozen=True)
class StorageSku:
    cloud: str
    kind: str
    sku: str
    throughput_mbps_per_tib: int | None
    min_gib: int
    step_gib: int | None
    max_gib: int | None
    gib_per_tib: int
    usd_per_gib_month: float | None
    price_region: str
    source: str
    source_date: str
    notes: str
    # Addition: some SKUs (GCP Managed Lustre, Filestore zonal/regional) use a coarser step
    # above a threshold: sizes above ``large_step_above_gib`` must be multiples of
    # ``large_step_gib``.
    large_step_gib: int | None = None
    large_step_above_gib: int | None = None
    valid_from: str = ""  # ISO date the price is known to have held
    no_price_reason: str = ""  # why usd_per_gib_month is empty, when it is

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.sku}/{self.throughput_mbps_per_tib or ''}".rstrip("/")

    def allows(self, gib: int) -> bool:
        """True if ``gib`` (in the API's GiB) is a size this SKU can be created with."""
        if gib != int(gib):
            return False
        gib = int(gib)
        if gib < self.min_gib:
            return False
        if self.max_gib is not None and gib > self.max_gib:
            return False
        if gib == self.min_gib:
            return True
        if (
            self.large_step_gib
            and self.large_step_above_gib is not None
            and gib > self.large_step_above_gib
        ):
            return gib % self.large_step_gib == 0
        if not self.step_gib:
            return False
        return gib % self.step_gib == 0

    def round_up(self, gib: float) -> int | None:
        """The smallest allowed size >= ``gib``, or None if there is none (above max)."""
        need = max(int(-(-gib // 1)), self.min_gib)
        if self.allows(need):
            return need
        candidates = []
        for step in (self.step_gib, self.large_step_gib):
            if step:
                c = -(-need // step) * step
                # walk forward a little: crossing the large-step threshold can invalidate c
                for _ in range(4):
                    if self.allows(c):
                        candidates.append(c)
                        break
                    c += step
        return min(candidates) if candidates else None

    def tib_to_gib(self, tib: float) -> float:
        """Convert the "TiB" a user writes into the API's GiB, the way this cloud does."""
        return tib * self.gib_per_tib


@dataclass(frozen=True)
class GpuSpec:
    """What one GPU model shows a node checker (`aifactory.nodecheck`): its nvidia-smi name, default
    power limit, NVLink links, and the intra-node all-reduce bus bandwidth it must reach."""

    gpu_model: str
    vendor: str
    smi_name_contains: str
    power_default_w: float | None
    nvlink_links: int | None
    nvlink_gbps_per_link: float | None  # GB/s per link as `nvidia-smi nvlink -s` prints it
    nccl_allreduce_busbw_gbps: float | None
    source: str
    source_date: str
    notes: str


@dataclass(frozen=True)
class Pue:
    cloud: str
    pue: float
    source: str
    source_date: str
    notes: str


# --------------------------------------------------------------------------- loading


def _rows(name: str) -> list[dict[str, str]]:
    with open(os.path.join(DATA_DIR, name), newline="", encoding="utf-8") as f:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(f)]


def _int(v: str) -> int | None:
    return int(float(v)) if v else None


def _float(v: str) -> float | None:
    return float(v) if v else None


def _bool(v: str) -> bool:
    return v.lower() in ("true", "yes", "1")


@lru_cache(maxsize=None)
def _instances() -> tuple[InstanceType, ...]:
    out = []
    for r in _rows("instances.csv"):
        out.append(
            InstanceType(
                cloud=r["cloud"],
                name=r["instance_type"],
                gpu_model=r["gpu_model"],
                gpu_name=r["gpu_name"],
                gpu_count=int(r["gpu_count"]),
                gpu_memory_gib=_float(r["gpu_memory_gib"]),
                vcpus=_int(r["vcpus"]),
                memory_gib=_float(r["memory_gib"]),
                fabric=r["fabric"],
                fabric_interfaces=_int(r["fabric_interfaces"]),
                fabric_gbps=_float(r["fabric_gbps"]),
                host_nics=_int(r["host_nics"]),
                fabric_mtu=_int(r["fabric_mtu"]),
                node_power_w=_float(r["node_power_w"]),
                node_power_basis=r["node_power_basis"],
                capacity_block=_bool(r["capacity_block"]),
                local_nvme_tib=_float(r["local_nvme_tib"]),
                source=r["source"],
                source_date=r["source_date"],
                notes=r["notes"],
                cpu_arch=r.get("cpu_arch", ""),
                capacities=tuple(r.get("capacities", "").split()),
                fabric_cards=tuple(int(v) for v in r.get("fabric_cards", "").split()),
                ultraserver_nodes=tuple(int(v) for v in r.get("ultraserver_nodes", "").split()),
            )
        )
    return tuple(out)


@lru_cache(maxsize=None)
def _instance_index() -> dict[tuple[str, str], InstanceType]:
    return {(i.cloud, i.name.lower()): i for i in _instances()}


@lru_cache(maxsize=None)
def _offerings() -> tuple[Offering, ...]:
    return tuple(
        Offering(
            cloud=r["cloud"],
            instance_type=r["instance_type"],
            region=r["region"],
            zones=tuple(r["zones"].split()),
            source=r["source"],
            source_date=r["source_date"],
            zone_ids=tuple(r.get("zone_ids", "").split()),
            notes=r.get("notes", ""),
        )
        for r in _rows("regions.csv")
    )


@lru_cache(maxsize=None)
def _offering_index() -> dict[tuple[str, str], tuple[Offering, ...]]:
    idx: dict[tuple[str, str], list[Offering]] = {}
    for o in _offerings():
        idx.setdefault((o.cloud, o.instance_type.lower()), []).append(o)
    return {k: tuple(sorted(v, key=lambda o: o.region)) for k, v in idx.items()}


@lru_cache(maxsize=None)
def _prices() -> tuple[Price, ...]:
    return tuple(
        Price(
            cloud=r["cloud"],
            instance_type=r["instance_type"],
            region=r["region"],
            capacity=r["capacity"],
            usd_per_hour=float(r["usd_per_hour"]),
            source=r["source"],
            source_date=r["source_date"],
            notes=r["notes"],
            term=r.get("term", ""),
            statistic=r.get("statistic", ""),
            valid_from=r.get("valid_from", ""),
            retrieved=r.get("retrieved", ""),
        )
        for r in _rows("prices.csv")
    )


@lru_cache(maxsize=None)
def _price_index() -> dict[tuple[str, str, str, str, str], Price]:
    return {(p.cloud, p.instance_type.lower(), p.region, p.capacity, p.term): p for p in _prices()}


@lru_cache(maxsize=None)
def _unpriced() -> tuple[Unpriced, ...]:
    return tuple(
        Unpriced(
            cloud=r["cloud"],
            item=r["item"],
            region=r["region"],
            capacity=r["capacity"],
            reason=r["reason"],
            source=r["source"],
            source_date=r["source_date"],
        )
        for r in _rows("unpriced.csv")
    )


@lru_cache(maxsize=None)
def _storage() -> tuple[StorageSku, ...]:
    return tuple(
        StorageSku(
            cloud=r["cloud"],
            kind=r["kind"],
            sku=r["sku"],
            throughput_mbps_per_tib=_int(r["throughput_mbps_per_tib"]),
            min_gib=int(r["min_gib"]),
            step_gib=_int(r["step_gib"]),
            max_gib=_int(r["max_gib"]),
            gib_per_tib=int(r["gib_per_tib"]),
            usd_per_gib_month=_float(r["usd_per_gib_month"]),
            price_region=r["price_region"],
            source=r["source"],
            source_date=r["source_date"],
            notes=r["notes"],
            large_step_gib=_int(r.get("large_step_gib", "")),
            large_step_above_gib=_int(r.get("large_step_above_gib", "")),
            valid_from=r.get("valid_from", ""),
            no_price_reason=r.get("no_price_reason", ""),
        )
        for r in _rows("storage.csv")
    )


@lru_cache(maxsize=None)
def _pues() -> dict[str, Pue]:
    return {
        r["cloud"]: Pue(
            cloud=r["cloud"],
            pue=float(r["pue"]),
            source=r["source"],
            source_date=r["source_date"],
            notes=r["notes"],
        )
        for r in _rows("pue.csv")
    }


@lru_cache(maxsize=None)
def _gpus() -> dict[str, GpuSpec]:
    return {
        r["gpu_model"].lower(): GpuSpec(
            gpu_model=r["gpu_model"],
            vendor=r["vendor"],
            smi_name_contains=r["smi_name_contains"],
            power_default_w=_float(r["power_default_w"]),
            nvlink_links=_int(r["nvlink_links"]),
            nvlink_gbps_per_link=_float(r["nvlink_gbps_per_link"]),
            nccl_allreduce_busbw_gbps=_float(r["nccl_allreduce_busbw_gbps"]),
            source=r["source"],
            source_date=r["source_date"],
            notes=r["notes"],
        )
        for r in _rows("gpu_health.csv")
    }


def _c(cloud: str) -> str:
    return cloud.strip().lower()


# --------------------------------------------------------------------------- queries


def instance(cloud: str, name: str) -> InstanceType | None:
    """The instance type ``name`` on ``cloud`` (name matched case-insensitively), or None."""
    return _instance_index().get((_c(cloud), name.strip().lower()))


def instances(cloud: str | None = None, gpu_model: str | None = None) -> list[InstanceType]:
    """All instance types, optionally of one cloud and/or one GPU model (case-insensitive)."""
    c = _c(cloud) if cloud else None
    g = gpu_model.strip().lower() if gpu_model else None
    return [
        i
        for i in _instances()
        if (c is None or i.cloud == c) and (g is None or i.gpu_model.lower() == g)
    ]


def gpu_models() -> list[str]:
    """Canonical short GPU model names (A100, A100-80GB, H100, H200, B200, GB200, ...)."""
    return sorted({i.gpu_model for i in _instances()})


def resolve_gpu(cloud: str, gpu_model: str, gpus_per_node: int | None = None) -> list[InstanceType]:
    """Instance types on ``cloud`` carrying ``gpu_model`` (and ``gpus_per_node`` GPUs, if
    given), best first: most GPUs per node, then most fabric bandwidth, then name."""
    found = [
        i
        for i in instances(cloud, gpu_model)
        if gpus_per_node is None or i.gpu_count == gpus_per_node
    ]
    return sorted(found, key=lambda i: (-i.gpu_count, -(i.fabric_gbps or 0.0), i.name))


def offerings(cloud: str, instance_type: str) -> list[Offering]:
    """Where ``instance_type`` is offered on ``cloud``, one Offering per region."""
    return list(_offering_index().get((_c(cloud), instance_type.strip().lower()), ()))


def regions(cloud: str, instance_type: str) -> list[str]:
    return [o.region for o in offerings(cloud, instance_type)]


def known_regions(cloud: str) -> list[str]:
    """Every region the catalog knows any GPU type to be offered in on ``cloud``."""
    c = _c(cloud)
    return sorted({o.region for o in _offerings() if o.cloud == c})


def zones(cloud: str, instance_type: str, region: str) -> tuple[str, ...]:
    """Zone names offering the type in ``region``; empty = unknown (not "none")."""
    for o in offerings(cloud, instance_type):
        if o.region == region:
            return o.zones
    return ()


def price(
    cloud: str, instance_type: str, region: str, capacity: str = "on-demand", term: str | None = None
) -> Price | None:
    """USD per node-hour for the type in ``region`` bought as ``capacity``; None if no
    sourced price exists. A reservation is priced at ``term`` (default "1yr", the shorter
    commitment and so the higher price). Raises ValueError for a capacity outside
    CAPACITY_TYPES or a term outside RESERVATION_TERMS."""
    if capacity not in CAPACITY_TYPES:
        raise ValueError(f"capacity must be one of {CAPACITY_TYPES}, not {capacity!r}")
    if capacity == "reservation":
        term = term or RESERVATION_TERMS[0]
        if term not in RESERVATION_TERMS:
            raise ValueError(f"term must be one of {RESERVATION_TERMS}, not {term!r}")
    else:
        term = ""
    return _price_index().get((_c(cloud), instance_type.strip().lower(), region, capacity, term))


def prices(cloud: str | None = None) -> list[Price]:
    c = _c(cloud) if cloud else None
    return [p for p in _prices() if c is None or p.cloud == c]


def unpriced(cloud: str | None = None) -> list[Unpriced]:
    """The stated reasons why an offered pair or a storage SKU has no price."""
    c = _c(cloud) if cloud else None
    return [u for u in _unpriced() if c is None or u.cloud == c]


def unpriced_reason(cloud: str, item: str, region: str = "", capacity: str = "on-demand") -> Unpriced | None:
    """Why ``item`` (an instance type or a storage SKU key) has no ``capacity`` price in
    ``region``, if the catalog states a reason; None otherwise."""
    c, i = _c(cloud), item.strip().lower()
    for u in _unpriced():
        if (u.cloud == c and u.item.lower() == i and u.region in ("", region)
                and u.capacity in ("", capacity)):
            return u
    return None


def storage_kinds(cloud: str) -> list[str]:
    """Filesystem kinds on ``cloud`` (aws/azure: lustre; gcp: lustre, parallelstore, filestore)."""
    c = _c(cloud)
    seen: list[str] = []
    for s in _storage():
        if s.cloud == c and s.kind not in seen:
            seen.append(s.kind)
    return seen


def storage_skus(cloud: str, kind: str | None = None) -> list[StorageSku]:
    c = _c(cloud)
    k = kind.strip().lower() if kind else None
    return [s for s in _storage() if s.cloud == c and (k is None or s.kind == k)]


def storage_sku(cloud: str, kind: str, throughput_mbps_per_tib: int | None) -> StorageSku | None:
    """The SKU of ``kind`` with that per-TiB throughput tier. For kinds without throughput
    tiers (parallelstore, filestore) pass None: the kind's default SKU (its first row in
    storage.csv: parallelstore, filestore ZONAL) is returned. None if nothing matches."""
    for s in storage_skus(cloud, kind):
        if s.throughput_mbps_per_tib == throughput_mbps_per_tib:
            return s
    return None


def pue(cloud: str) -> Pue:
    """Power usage effectiveness of ``cloud``'s datacenters; the industry average
    (Uptime Institute) for a cloud the catalog has no figure for."""
    table = _pues()
    return table.get(_c(cloud)) or table["industry"]


def gpu(gpu_model: str) -> GpuSpec | None:
    """What a node checker expects of one GPU model (``H100``, ``A100-80GB``, ...), or None."""
    return _gpus().get(gpu_model.strip().lower())
