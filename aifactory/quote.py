"""Where a GPU ask fits: every cloud, region and type in the catalog that can host it, ranked by
monthly cost (default), carbon, facility power or compute per watt."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from aifactory import catalog
from aifactory.catalog.pricing import NO_PRICING, OrgPricing
from aifactory.estimate import fleet_line
from aifactory.inventory import GpuGroup


@dataclass
class Quote:
    cloud: str
    region: str
    instance_type: str
    nodes: int
    gpus: int
    capacity: str
    monthly_usd: float | None
    usd_per_hour: float | None
    price_basis: str
    price_as_of: str | None
    it_power_kw: float | None
    facility_power_kw: float | None
    pue: float
    fabric: str
    fabric_gbps_per_gpu: float | None
    notes: list[str]
    load_factor: float | None = None
    energy_mwh_month: float | None = None
    grid_gco2e_per_kwh: float | None = None
    co2e_t_month: float | None = None
    co2e_t_month_market_based: float | None = None
    pflops_bf16: float | None = None
    pflops_fp8: float | None = None
    pflops_per_mw: float | None = None
    usd_per_pflop_hour: float | None = None

    def to_json(self) -> dict:
        return asdict(self)


def quote(
    gpu: str,
    gpus: int,
    *,
    cloud: str | None = None,
    region: str | None = None,
    capacity: str = "on-demand",
    pricing: OrgPricing = NO_PRICING,
    rank: str = "cost",
) -> list[Quote]:
    quotes = []
    for itype in catalog.instances(cloud, gpu_model=gpu):
        if not itype.sold_as(capacity):
            continue  # e.g. UltraServers (capacity blocks only), A4X (reservations only)
        nodes = math.ceil(gpus / itype.gpu_count)
        if itype.ultraserver_nodes:  # whole UltraServers: a multiple of the smallest
            unit = min(itype.ultraserver_nodes)
            nodes = math.ceil(nodes / unit) * unit
        cloud_pue = catalog.pue(itype.cloud).pue
        for offered in catalog.regions(itype.cloud, itype.name):
            if region and offered != region:
                continue
            group = GpuGroup(itype.name, itype.cloud, offered, itype.name, nodes, capacity)
            line = fleet_line(group, cloud_pue, pricing)
            quotes.append(
                Quote(
                    cloud=itype.cloud,
                    region=offered,
                    instance_type=itype.name,
                    nodes=nodes,
                    gpus=nodes * itype.gpu_count,
                    capacity=capacity,
                    monthly_usd=line.monthly_usd,
                    usd_per_hour=line.usd_per_hour,
                    price_basis=line.price_basis if line.monthly_usd is not None else "no price in the catalog",
                    price_as_of=line.price_as_of,
                    it_power_kw=line.it_power_kw,
                    facility_power_kw=line.facility_power_kw,
                    pue=cloud_pue,
                    fabric=itype.fabric,
                    fabric_gbps_per_gpu=itype.fabric_gbps_per_gpu,
                    notes=line.notes,
                    load_factor=line.load_factor,
                    energy_mwh_month=line.energy_mwh_month,
                    grid_gco2e_per_kwh=line.grid_gco2e_per_kwh,
                    co2e_t_month=line.co2e_t_month,
                    co2e_t_month_market_based=line.co2e_t_month_market_based,
                    pflops_bf16=line.pflops_bf16,
                    pflops_fp8=line.pflops_fp8,
                    pflops_per_mw=line.pflops_per_mw,
                    usd_per_pflop_hour=line.usd_per_pflop_hour,
                )
            )
    return sorted(quotes, key=RANKS[rank])


def _known_first(value: float | None) -> tuple[bool, float]:
    """Options without the figure sort last: they are not ranked, only listed."""
    return (value is None, value if value is not None else 0.0)


# Ascending keys: cheapest, cleanest (location-based tCO2e), least facility kW, most PFLOPS per MW.
RANKS = {
    "cost": lambda q: (_known_first(q.monthly_usd), q.cloud, q.region, q.instance_type),
    "carbon": lambda q: (_known_first(q.co2e_t_month), _known_first(q.monthly_usd), q.cloud, q.region, q.instance_type),
    "power": lambda q: (_known_first(q.facility_power_kw), _known_first(q.monthly_usd), q.cloud, q.region, q.instance_type),
    "efficiency": lambda q: (_known_first(-q.pflops_per_mw if q.pflops_per_mw is not None else None),
                             _known_first(q.monthly_usd), q.cloud, q.region, q.instance_type),
}
