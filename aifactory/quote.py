"""Where a GPU ask fits: every cloud, region and type in the catalog that can host it, cheapest first."""

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
) -> list[Quote]:
    quotes = []
    for itype in catalog.instances(cloud, gpu_model=gpu):
        nodes = math.ceil(gpus / itype.gpu_count)
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
                )
            )
    unpriced = float("inf")
    return sorted(quotes, key=lambda q: (q.monthly_usd if q.monthly_usd is not None else unpriced, q.cloud, q.region))
