"""Importers: one small module per public price feed, each turning a saved feed file into
catalog rows. Pure parsing only (no network, no catalog writes); the query code that downloads
the feeds lives in `fetch.py`, and `aifactory.catalog.refresh` merges the rows into the CSVs.

Each module has `SOURCE_URL`, `recognizes(name, head) -> bool` (is this saved file its feed?)
and `parse(text, source=...) -> list[PriceRow | StoragePrice]`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from importlib import import_module

FEEDS = ("azure_retail", "aws_offer_ec2", "aws_capacity_blocks", "gcp_pricing_export")
HOURS_PER_YEAR = 8760


@dataclass(frozen=True)
class PriceRow:
    """One row of prices.csv as a feed states it (usd_per_hour per node)."""

    cloud: str
    instance_type: str
    region: str
    capacity: str
    usd_per_hour: float
    valid_from: str
    source: str
    source_date: str
    notes: str = ""
    term: str = ""
    statistic: str = "list"
    retrieved: str = ""

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.cloud, self.instance_type, self.region, self.capacity, self.term)

    def as_csv(self) -> dict[str, str]:
        row = {k: ("" if v is None else str(v)) for k, v in asdict(self).items()}
        row["usd_per_hour"] = f"{self.usd_per_hour:.6g}" if self.usd_per_hour < 1e5 else f"{self.usd_per_hour:.2f}"
        return row


@dataclass(frozen=True)
class StoragePrice:
    """A filesystem SKU's list price per GiB-month in one region."""

    cloud: str
    kind: str
    sku: str
    throughput_mbps_per_tib: int | None
    region: str
    usd_per_gib_month: float
    valid_from: str
    source: str
    source_date: str
    notes: str = ""


class FeedError(ValueError):
    """A saved file that no importer reads, or that its importer cannot parse."""


def modules():
    return [import_module(f"aifactory.catalog.importers.{name}") for name in FEEDS]


def importer_for(name: str, head: str):
    for module in modules():
        if module.recognizes(name, head):
            return module
    raise FeedError(f"{name}: not a feed any importer reads ({', '.join(FEEDS)})")
