"""The catalog's energy figures: dense peak TFLOPS per GPU model, grid carbon intensity per cloud
region, and the default load factor.

Data in ``data/gpus.csv``, ``data/grid_carbon.csv`` and ``data/load_factor.csv`` (every figure
with its source and date; empty where nobody could source it). Standard library only, like the
rest of the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from aifactory.catalog import _c, _float, _rows

__all__ = ["GpuCompute", "GridCarbon", "LoadFactor", "gpu_compute", "grid_carbon", "grid_carbon_regions", "default_load_factor"]


@dataclass(frozen=True)
class GpuCompute:
    """Dense (no sparsity) peak Tensor Core TFLOPS of one GPU, per precision; None where the GPU
    has no such Tensor Core or no source was found."""

    gpu_model: str
    bf16_dense_tflops: float | None
    fp8_dense_tflops: float | None
    fp4_dense_tflops: float | None
    datasheet_figures: str
    dense_basis: str
    source: str
    source_date: str
    notes: str


@dataclass(frozen=True)
class GridCarbon:
    """Location-based grid carbon intensity of a cloud region, and the carbon-free share the cloud
    publishes for it (None where it publishes none)."""

    cloud: str
    region: str
    gco2e_per_kwh: float | None
    year: str
    carbon_free_pct: float | None
    basis: str
    source: str
    source_date: str
    notes: str


@dataclass(frozen=True)
class LoadFactor:
    load_factor: float
    basis: str
    source: str
    source_date: str
    notes: str


@cache
def _gpus() -> dict[str, GpuCompute]:
    return {
        r["gpu_model"].lower(): GpuCompute(
            gpu_model=r["gpu_model"],
            bf16_dense_tflops=_float(r["bf16_dense_tflops"]),
            fp8_dense_tflops=_float(r["fp8_dense_tflops"]),
            fp4_dense_tflops=_float(r["fp4_dense_tflops"]),
            datasheet_figures=r["datasheet_figures"],
            dense_basis=r["dense_basis"],
            source=r["source"],
            source_date=r["source_date"],
            notes=r["notes"],
        )
        for r in _rows("gpus.csv")
    }


@cache
def _grid() -> dict[tuple[str, str], GridCarbon]:
    return {
        (r["cloud"], r["region"]): GridCarbon(
            cloud=r["cloud"],
            region=r["region"],
            gco2e_per_kwh=_float(r["gco2e_per_kwh"]),
            year=r["year"],
            carbon_free_pct=_float(r["carbon_free_pct"]),
            basis=r["basis"],
            source=r["source"],
            source_date=r["source_date"],
            notes=r["notes"],
        )
        for r in _rows("grid_carbon.csv")
    }


def gpu_compute(gpu_model: str) -> GpuCompute | None:
    """The dense peak TFLOPS row of ``gpu_model`` (case-insensitive), or None if the catalog has none."""
    return _gpus().get(gpu_model.strip().lower())


def grid_carbon(cloud: str, region: str) -> GridCarbon | None:
    """The grid carbon intensity row of ``region`` on ``cloud``, or None if the catalog has none."""
    return _grid().get((_c(cloud), region.strip()))


def grid_carbon_regions(cloud: str) -> list[GridCarbon]:
    """Every region of ``cloud`` with a grid intensity, cleanest first."""
    c = _c(cloud)
    found = [g for g in _grid().values() if g.cloud == c and g.gco2e_per_kwh is not None]
    return sorted(found, key=lambda g: (g.gco2e_per_kwh, g.region))


@cache
def default_load_factor() -> LoadFactor:
    row = next(r for r in _rows("load_factor.csv") if r["name"] == "default")
    return LoadFactor(
        load_factor=float(row["load_factor"]),
        basis=row["basis"],
        source=row["source"],
        source_date=row["source_date"],
        notes=row["notes"],
    )
