"""Monthly cost and power of an inventory: one line per GPU group and filesystem, plus totals.

A group that may scale is costed and powered at the most nodes it may hold (`nodes`, what the
gates judge); `desired_nodes` is what it asks for now. Cost is hours (730 a month) x the price
per node-hour for the group's capacity type: the catalog's list price, or the org's own price
where its pricing file has an override (`aifactory.catalog.pricing`). Where the catalog has no
price for that capacity type the on-demand price is used and the line says so. Every line says
its basis (`list`, `negotiated`, `on-demand fallback`) and the date its list price held
(`price_as_of`). IT power is nodes x the catalog's node power; facility power is IT power x
the cloud's PUE. A figure the catalog lacks is left out of the totals and named in `missing`,
never guessed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from aifactory import catalog, energy
from aifactory.catalog.pricing import BASIS_FALLBACK, BASIS_LIST, BASIS_NEGOTIATED, NO_PRICING, OrgPricing
from aifactory.inventory import Filesystem, GpuGroup, Inventory, from_spec

HOURS_PER_MONTH = 730


@dataclass
class Line:
    kind: str  # "fleet" | "filesystem"
    name: str
    cloud: str
    region: str | None
    item: str  # instance type or storage SKU
    nodes: int = 0  # the most nodes the group may hold: cost and power are of these
    desired_nodes: int = 0  # what it asks for now (fewer when it may scale up to `nodes`)
    gpus: int = 0
    capacity: str | None = None
    capacity_gib: int | None = None
    usd_per_hour: float | None = None
    monthly_usd: float | None = None
    price_basis: str = ""  # "list" | "negotiated" | "on-demand fallback"; "" when unpriced
    price_as_of: str | None = None  # valid_from of the catalog price used; None = the source states none
    price_term: str | None = None  # reservation term the line is priced at
    it_power_kw: float | None = None
    facility_power_kw: float | None = None
    notes: list[str] = field(default_factory=list)
    # Energy, carbon and compute (aifactory.energy); None where the catalog lacks a figure.
    gpu_model: str | None = None
    load_factor: float | None = None
    energy_mwh_month: float | None = None
    grid_gco2e_per_kwh: float | None = None
    carbon_free_pct: float | None = None
    co2e_t_month: float | None = None
    co2e_t_month_market_based: float | None = None
    pflops_bf16: float | None = None
    pflops_fp8: float | None = None
    pflops_fp4: float | None = None
    pflops_per_mw: float | None = None
    usd_per_pflop_hour: float | None = None

    def add_energy(self, figures: energy.Figures) -> None:
        for f in fields(figures):  # all scalars: no need for asdict's deep copy
            setattr(self, f.name, getattr(figures, f.name))


@dataclass
class Estimate:
    cloud: str | None
    pue: float
    pue_source: str
    lines: list[Line]
    pricing: str | None = None  # the org pricing file applied, if any
    load_factor: energy.LoadFactor = field(default_factory=lambda: energy.load_factor(None))

    @property
    def gpus(self) -> int:
        return sum(line.gpus for line in self.lines)

    @property
    def nodes(self) -> int:
        return sum(line.nodes for line in self.lines)

    @property
    def desired_nodes(self) -> int:
        return sum(line.desired_nodes for line in self.lines)

    @property
    def monthly_usd(self) -> float:
        return round(sum(line.monthly_usd or 0.0 for line in self.lines), 2)

    @property
    def it_power_kw(self) -> float:
        return round(sum(line.it_power_kw or 0.0 for line in self.lines), 3)

    @property
    def facility_power_kw(self) -> float:
        return round(self.it_power_kw * self.pue, 3)

    @property
    def missing(self) -> list[str]:
        """Lines whose cost or power could not be computed from the catalog."""
        gaps = []
        for line in self.lines:
            if line.monthly_usd is None:
                gaps.append(f"{line.kind} {line.name}: no price for {line.item} in {line.region}")
            if line.kind == "fleet" and line.it_power_kw is None:
                gaps.append(f"fleet {line.name}: no node power figure for {line.item}")
            gaps += energy.gaps(line, line.gpu_model)
        return gaps

    @property
    def prices_as_of(self) -> str | None:
        """The oldest date among the list prices the estimate used (None if none is dated)."""
        dates = [line.price_as_of for line in self.lines if line.monthly_usd is not None and line.price_as_of]
        return min(dates) if dates else None

    @property
    def undated_prices(self) -> list[str]:
        """Priced lines whose list price states no valid_from date."""
        return [line.name for line in self.lines if line.monthly_usd is not None and not line.price_as_of
                and line.price_basis != "negotiated"]

    def to_json(self) -> dict:
        return {
            "gpus": self.gpus,
            "nodes": self.nodes,
            "desired_nodes": self.desired_nodes,
            "monthly_usd": self.monthly_usd,
            "it_power_kw": self.it_power_kw,
            "facility_power_kw": self.facility_power_kw,
            "pue": self.pue,
            "pue_source": self.pue_source,
            "pricing": self.pricing,
            "prices_as_of": self.prices_as_of,
            "undated_prices": self.undated_prices,
            "complete": not self.missing,
            "missing": self.missing,
            **energy.totals(self.lines, self.load_factor),
            "lines": [asdict(line) for line in self.lines],
        }


def _negotiated(listed: float | None, override, rate: float | None) -> float | None:
    """The org's price where its pricing file has an override: the override's own rate, else the list
    price less its discount; None without an override, or with a discount and no list price to take it off."""
    if override is None:
        return None
    if rate is not None:
        return rate
    return listed * (100 - override.discount_pct) / 100 if listed is not None else None


def _as_of(row) -> str | None:
    return row.valid_from or None


def fleet_line(group: GpuGroup, pue: float, pricing: OrgPricing = NO_PRICING, load_factor: float | None = None) -> Line:
    itype = group.instance
    line = Line(
        kind="fleet",
        name=group.name,
        cloud=group.cloud,
        region=group.region,
        item=group.instance_type or "unknown",
        nodes=group.nodes or 0,
        desired_nodes=group.desired or 0,
        gpus=group.gpus or 0,
        capacity=group.capacity,
    )
    if itype is None:
        line.notes.append(f"{group.instance_type} is not in the catalog")
        return line
    if group.nodes is None:
        line.notes.append("node count unknown at preview")
        return line
    region = group.region or ""
    term = pricing.reservation_term if group.capacity == "reservation" else None
    price = catalog.price(group.cloud, itype.name, region, group.capacity, term)
    priced_as = group.capacity
    basis = BASIS_LIST
    if price is None and group.capacity != "on-demand":
        price = catalog.price(group.cloud, itype.name, region)
        if price is not None:
            priced_as, basis = "on-demand", BASIS_FALLBACK
            line.notes.append(f"no {group.capacity} price in the catalog; priced at on-demand")
    if price is None and group.capacity == "on-demand":
        reason = catalog.unpriced_reason(group.cloud, itype.name, region)
        if reason is not None:
            line.notes.append(f"no on-demand price: {reason.reason}")
    if price is not None:
        line.price_as_of = _as_of(price)
        if price.term:
            line.price_term = price.term
            line.notes.append(f"reservation priced at its {price.term} term")
        if price.capacity == "spot":
            line.notes.append(f"spot price: {price.statistic or 'one snapshot'}; spot prices move hourly")
    usd_per_hour = price.usd_per_hour if price is not None else None
    override = pricing.for_fleet(group.cloud, itype.name, group.region, priced_as)
    negotiated = _negotiated(usd_per_hour, override, override.usd_per_hour if override else None)
    if negotiated is not None:
        usd_per_hour, basis = negotiated, BASIS_NEGOTIATED
        line.notes.append(override.describe())
    if usd_per_hour is not None:
        line.price_basis = basis
        line.usd_per_hour = usd_per_hour
        line.monthly_usd = round(usd_per_hour * HOURS_PER_MONTH * group.nodes, 2)
    if itype.node_power_w is not None:
        line.it_power_kw = round(itype.node_power_w * group.nodes / 1000, 3)
        line.facility_power_kw = round(line.it_power_kw * pue, 3)
    line.gpu_model = itype.gpu_model
    line.add_energy(energy.fleet_figures(
        cloud=group.cloud, region=group.region, gpu_model=itype.gpu_model, gpus=line.gpus,
        facility_power_kw=line.facility_power_kw, monthly_usd=line.monthly_usd,
        factor=energy.load_factor(load_factor).value,
    ))
    return line


def filesystem_line(fs: Filesystem, pricing: OrgPricing = NO_PRICING, load_factor: float | None = None) -> Line:
    sku = fs.sku
    line = Line(
        kind="filesystem",
        name=fs.name,
        cloud=fs.cloud,
        region=fs.region,
        item=sku.sku if sku else fs.kind,
        capacity_gib=fs.capacity_gib,
        it_power_kw=0.0,
        facility_power_kw=0.0,
    )
    line.notes.append("storage power is the cloud's, not billed per kW; counted as 0")
    line.add_energy(energy.storage_figures(fs.cloud, fs.region, energy.load_factor(load_factor).value))
    if sku is None or fs.capacity_gib is None:
        return line
    usd_per_gib_month = sku.usd_per_gib_month
    basis = BASIS_LIST
    if usd_per_gib_month is not None:
        line.price_as_of = sku.valid_from or None
        if fs.region and sku.price_region != fs.region:
            line.notes.append(f"priced at {sku.price_region} rates; the catalog has none for {fs.region}")
    elif sku.no_price_reason:
        line.notes.append(f"no list price: {sku.no_price_reason}")
    override = pricing.for_storage(fs.cloud, sku.sku, sku.throughput_mbps_per_tib, fs.region)
    negotiated = _negotiated(usd_per_gib_month, override, override.usd_per_gib_month if override else None)
    if negotiated is not None:
        usd_per_gib_month, basis = negotiated, BASIS_NEGOTIATED
        line.notes.append(override.describe())
    if usd_per_gib_month is None:
        return line
    line.monthly_usd = round(usd_per_gib_month * fs.capacity_gib, 2)
    line.price_basis = basis
    line.notes.append(f"{usd_per_gib_month:g} USD per GiB-month")
    return line


def estimate(inventory: Inventory, pricing: OrgPricing = NO_PRICING, load_factor: float | None = None) -> Estimate:
    """`load_factor`: the stack's (aifactory:facility.load_factor); None for the catalog default."""
    cloud_pue = catalog.pue(inventory.cloud or "industry")
    lines = [fleet_line(group, cloud_pue.pue, pricing, load_factor) for group in inventory.groups]
    lines += [filesystem_line(fs, pricing, load_factor) for fs in inventory.filesystems]
    return Estimate(inventory.cloud, cloud_pue.pue, cloud_pue.source, lines, pricing.source or None,
                    energy.load_factor(load_factor))


def estimate_spec(spec, pricing: OrgPricing = NO_PRICING) -> Estimate:
    return estimate(from_spec(spec), pricing, spec.load_factor)
