"""Energy, carbon and compute of an estimate line: what the factory draws, emits and can compute.

- energy (MWh a month) = facility kW (IT kW x PUE) x 730 h x load factor / 1000. Node power is a
  datasheet maximum, so at load factor 1.0 this is an upper bound;
- carbon (tCO2e a month), location-based = energy x the region's grid intensity (gCO2e/kWh);
  where the cloud publishes the region's carbon-free share (Google's CFE%), a market-based figure
  too: location-based x (1 - CFE%), named as such;
- compute (PFLOPS) = GPUs x the GPU's dense (no sparsity) peak TFLOPS / 1000, per precision;
- compute per watt (PFLOPS per MW) = dense BF16 PFLOPS / facility MW at full power;
- cost of compute (USD per PFLOP-hour) = USD an hour / dense BF16 PFLOPS.

A figure the catalog lacks stays None: never guessed, and the estimate lists it as missing.
Pure arithmetic over catalog rows; nothing here reads resources or stacks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aifactory.catalog import energy as figures

HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class LoadFactor:
    value: float
    source: str  # "stack" or the catalog default's basis


def load_factor(value: float | None) -> LoadFactor:
    """The stack's load factor, or the catalog's default (with its basis) when it sets none."""
    if value is not None:
        return LoadFactor(float(value), "aifactory:facility.load_factor")
    default = figures.default_load_factor()
    return LoadFactor(default.load_factor, f"catalog default: {default.basis}")


def energy_mwh(facility_power_kw: float | None, factor: float) -> float | None:
    if facility_power_kw is None:
        return None
    return facility_power_kw * HOURS_PER_MONTH * factor / 1000


def co2e_t(mwh: float | None, gco2e_per_kwh: float | None) -> float | None:
    """MWh x g/kWh = kg; /1000 = tonnes."""
    if mwh is None or gco2e_per_kwh is None:
        return None
    return mwh * gco2e_per_kwh / 1000


def market_based_t(location_t: float | None, carbon_free_pct: float | None) -> float | None:
    if location_t is None or carbon_free_pct is None:
        return None
    return location_t * (1 - carbon_free_pct / 100)


def pflops(gpus: int, tflops: float | None) -> float | None:
    return None if tflops is None else gpus * tflops / 1000


def per_mw(pflops_bf16: float | None, facility_power_kw: float | None) -> float | None:
    if pflops_bf16 is None or not facility_power_kw:
        return None
    return pflops_bf16 / (facility_power_kw / 1000)


def usd_per_pflop_hour(monthly_usd: float | None, pflops_bf16: float | None) -> float | None:
    if monthly_usd is None or not pflops_bf16:
        return None
    return monthly_usd / HOURS_PER_MONTH / pflops_bf16


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@dataclass(frozen=True)
class Figures:
    """The energy, carbon and compute figures of one estimate line (None: not computable)."""

    load_factor: float
    energy_mwh_month: float | None
    grid_gco2e_per_kwh: float | None
    carbon_free_pct: float | None
    co2e_t_month: float | None
    co2e_t_month_market_based: float | None
    pflops_bf16: float | None
    pflops_fp8: float | None
    pflops_fp4: float | None
    pflops_per_mw: float | None
    usd_per_pflop_hour: float | None


def fleet_figures(
    *,
    cloud: str,
    region: str | None,
    gpu_model: str | None,
    gpus: int,
    facility_power_kw: float | None,
    monthly_usd: float | None,
    factor: float,
) -> Figures:
    grid = figures.grid_carbon(cloud, region) if region else None
    compute = figures.gpu_compute(gpu_model) if gpu_model else None
    mwh = energy_mwh(facility_power_kw, factor)
    intensity = grid.gco2e_per_kwh if grid else None
    cfe = grid.carbon_free_pct if grid else None
    location = co2e_t(mwh, intensity)
    bf16 = pflops(gpus, compute.bf16_dense_tflops) if compute else None
    return Figures(
        load_factor=factor,
        energy_mwh_month=_r(mwh),
        grid_gco2e_per_kwh=intensity,
        carbon_free_pct=cfe,
        co2e_t_month=_r(location),
        co2e_t_month_market_based=_r(market_based_t(location, cfe)),
        pflops_bf16=_r(bf16),
        pflops_fp8=_r(pflops(gpus, compute.fp8_dense_tflops)) if compute else None,
        pflops_fp4=_r(pflops(gpus, compute.fp4_dense_tflops)) if compute else None,
        pflops_per_mw=_r(per_mw(bf16, facility_power_kw)),
        usd_per_pflop_hour=_r(usd_per_pflop_hour(monthly_usd, bf16)),
    )


def storage_figures(cloud: str, region: str | None, factor: float) -> Figures:
    """A filesystem: its power is the cloud's and counted as 0, so are its energy and carbon."""
    grid = figures.grid_carbon(cloud, region) if region else None
    return Figures(
        load_factor=factor,
        energy_mwh_month=0.0,
        grid_gco2e_per_kwh=grid.gco2e_per_kwh if grid else None,
        carbon_free_pct=grid.carbon_free_pct if grid else None,
        co2e_t_month=0.0,
        co2e_t_month_market_based=0.0 if grid and grid.carbon_free_pct is not None else None,
        pflops_bf16=0.0,
        pflops_fp8=0.0,
        pflops_fp4=0.0,
        pflops_per_mw=None,
        usd_per_pflop_hour=None,
    )


def totals(lines: Iterable, factor: LoadFactor) -> dict:
    """Totals of estimate lines carrying these figures (as attributes). Sums leave out what a line
    lacks (the estimate lists it as missing); the ratios count only fleets that have both figures."""
    lines = list(lines)
    fleets = [line for line in lines if line.kind == "fleet" and line.gpus]

    def total(attr: str, among=lines) -> float:
        return round(sum(getattr(line, attr) or 0.0 for line in among), 3)

    emitting = [line for line in lines if line.energy_mwh_month]
    market = None
    if all(line.co2e_t_month_market_based is not None for line in emitting):
        market = total("co2e_t_month_market_based")
    rated = [line for line in fleets if line.pflops_bf16 is not None and line.facility_power_kw]
    priced = [line for line in fleets if line.pflops_bf16 and line.monthly_usd is not None]
    return {
        "load_factor": factor.value,
        "load_factor_source": factor.source,
        "energy_mwh_month": total("energy_mwh_month"),
        "co2e_t_month": total("co2e_t_month"),
        "co2e_t_month_market_based": market,
        "pflops_bf16": total("pflops_bf16", fleets),
        "pflops_fp8": total("pflops_fp8", fleets),
        "pflops_per_mw": _r(per_mw(total("pflops_bf16", rated), total("facility_power_kw", rated))) if rated else None,
        "usd_per_pflop_hour": _r(usd_per_pflop_hour(total("monthly_usd", priced), total("pflops_bf16", priced)))
        if priced else None,
    }


def gaps(line, gpu_model: str | None) -> list[str]:
    """What the catalog lacks for this line's energy, carbon or compute figures."""
    out = []
    if line.kind != "fleet" or not line.gpus:
        return out
    if line.grid_gco2e_per_kwh is None:
        out.append(f"fleet {line.name}: no grid carbon intensity for {line.cloud} {line.region or 'unknown region'}")
    if line.pflops_bf16 is None:
        out.append(f"fleet {line.name}: no dense BF16 TFLOPS for GPU {gpu_model or 'unknown'}")
    return out
