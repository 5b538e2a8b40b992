"""The org's own prices: negotiated rates, savings plans and private offers over list prices.

A pricing file (``policies/config/pricing.yaml``, owned by the platform team and bundled with
the policy pack) lists overrides. Each names a cloud and optionally an instance type or a
storage SKU, a region and a capacity type, and sets exactly one of ``usd_per_hour`` (per node,
for an instance type), ``usd_per_gib_month`` (for a storage SKU) or ``discount_pct`` off the
catalog's list price. The most specific matching override wins; among equals, the first in the
file. ``reservation_term`` says which commitment a reservation fleet is priced at.

Read with pydantic only when a file is loaded, so importing the catalog stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASIS_LIST = "list"
BASIS_NEGOTIATED = "negotiated"
BASIS_FALLBACK = "on-demand fallback"


class PricingError(ValueError):
    """A pricing file that cannot be used; ``problems`` lists (path, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("\n".join(f"{p}: {m}" for p, m in problems))


@dataclass(frozen=True)
class Override:
    cloud: str
    instance_type: str | None = None
    storage_sku: str | None = None
    throughput_mbps_per_tib: int | None = None
    region: str | None = None
    capacity: str | None = None
    usd_per_hour: float | None = None
    usd_per_gib_month: float | None = None
    discount_pct: float | None = None
    note: str = ""
    index: int = 0

    @property
    def specificity(self) -> int:
        return sum(v is not None for v in (self.instance_type, self.storage_sku, self.throughput_mbps_per_tib,
                                           self.region, self.capacity))

    def describe(self) -> str:
        what = (f"{self.discount_pct:g}% off list" if self.discount_pct is not None
                else f"{self.usd_per_hour:g} USD/node-hour" if self.usd_per_hour is not None
                else f"{self.usd_per_gib_month:g} USD/GiB-month")
        return f"org pricing overrides[{self.index}]: {what}" + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class OrgPricing:
    overrides: tuple[Override, ...] = ()
    reservation_term: str = "1yr"
    source: str = ""

    def for_fleet(self, cloud: str, instance_type: str, region: str | None, capacity: str) -> Override | None:
        def matches(o: Override) -> bool:
            return (o.cloud == cloud and o.storage_sku is None and o.throughput_mbps_per_tib is None
                    and (o.instance_type is None or o.instance_type.lower() == instance_type.lower())
                    and (o.region is None or o.region == region)
                    and (o.capacity is None or o.capacity == capacity)
                    and o.usd_per_gib_month is None)
        return _best(o for o in self.overrides if matches(o))

    def for_storage(self, cloud: str, sku: str, throughput: int | None, region: str | None) -> Override | None:
        def matches(o: Override) -> bool:
            return (o.cloud == cloud and o.instance_type is None and o.capacity is None
                    and (o.storage_sku is None or o.storage_sku.lower() == sku.lower())
                    and (o.throughput_mbps_per_tib is None or o.throughput_mbps_per_tib == throughput)
                    and (o.region is None or o.region == region)
                    and o.usd_per_hour is None)
        return _best(o for o in self.overrides if matches(o))


NO_PRICING = OrgPricing()


def _best(candidates) -> Override | None:
    ranked = sorted(candidates, key=lambda o: (-o.specificity, o.index))
    return ranked[0] if ranked else None


def _model():
    """The pydantic model of the file (built on first use)."""
    from typing import Literal

    from pydantic import BaseModel, ConfigDict, Field, model_validator

    from aifactory.catalog import CAPACITY_TYPES, CLOUDS, RESERVATION_TERMS

    Cloud = Literal[CLOUDS]  # type: ignore[valid-type]
    Capacity = Literal[CAPACITY_TYPES]  # type: ignore[valid-type]
    Term = Literal[RESERVATION_TERMS]  # type: ignore[valid-type]

    class OverrideModel(BaseModel):
        model_config = ConfigDict(extra="forbid")
        cloud: Cloud
        instance_type: str | None = Field(None, min_length=1)
        storage_sku: str | None = Field(None, min_length=1)
        throughput_mbps_per_tib: int | None = Field(None, gt=0)
        region: str | None = Field(None, min_length=1)
        capacity: Capacity | None = None
        usd_per_hour: float | None = Field(None, gt=0)
        usd_per_gib_month: float | None = Field(None, gt=0)
        discount_pct: float | None = Field(None, ge=0, lt=100)
        note: str = ""

        @model_validator(mode="after")
        def one_price(self):
            given = [k for k in ("usd_per_hour", "usd_per_gib_month", "discount_pct") if getattr(self, k) is not None]
            if len(given) != 1:
                raise ValueError("set exactly one of usd_per_hour, usd_per_gib_month, discount_pct"
                                 + (f" (got {', '.join(given)})" if given else ""))
            if self.instance_type and self.storage_sku:
                raise ValueError("name an instance_type or a storage_sku, not both")
            if self.usd_per_hour is not None and not self.instance_type:
                raise ValueError("usd_per_hour is a per-node price: name the instance_type it is for")
            if self.usd_per_gib_month is not None and not self.storage_sku:
                raise ValueError("usd_per_gib_month is a storage price: name the storage_sku it is for")
            if self.storage_sku and self.capacity:
                raise ValueError("capacity applies to instance types, not to a storage_sku")
            if self.throughput_mbps_per_tib is not None and not self.storage_sku:
                raise ValueError("throughput_mbps_per_tib narrows a storage_sku: name the storage_sku")
            return self

    class PricingModel(BaseModel):
        model_config = ConfigDict(extra="forbid")
        reservation_term: Term = RESERVATION_TERMS[0]
        overrides: list[OverrideModel] = []

    return PricingModel


def parse(data: Any, source: str = "") -> OrgPricing:
    """Validate a pricing document (already read from YAML/JSON); raise PricingError listing
    every problem by its path in the document."""
    from pydantic import ValidationError

    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PricingError([("(root)", "must be a mapping with `overrides` (and optionally `reservation_term`)")])
    try:
        model = _model().model_validate(data)
    except ValidationError as error:
        problems = []
        for e in error.errors():
            path = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in e["loc"]).replace(".[", "[")
            message = e["msg"].removeprefix("Value error, ")
            problems.append((path or "(root)", message))
        raise PricingError(problems) from None
    overrides = tuple(
        Override(**o.model_dump(), index=i) for i, o in enumerate(model.overrides)
    )
    return OrgPricing(overrides, model.reservation_term, source)


def load(path: str | Path) -> OrgPricing:
    """Read and validate a pricing file (YAML)."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise PricingError([(str(path), f"cannot be read: {error.strerror or error}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise PricingError([(str(path), f"is not valid YAML: {error}")]) from None
    try:
        return parse(data, str(path))
    except PricingError as error:
        raise PricingError([(f"{path}: {p}", m) for p, m in error.problems]) from None


def to_document(pricing: OrgPricing) -> dict:
    """The pricing as a plain document `parse` reads back (to hand it to the policy pack)."""
    keys = ("cloud", "instance_type", "storage_sku", "throughput_mbps_per_tib", "region", "capacity",
            "usd_per_hour", "usd_per_gib_month", "discount_pct", "note")
    return {
        "reservation_term": pricing.reservation_term,
        "overrides": [{k: getattr(o, k) for k in keys if getattr(o, k) not in (None, "")} for o in pricing.overrides],
    }
