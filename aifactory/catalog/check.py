"""Freshness and completeness of the catalog's prices.

`check(today, max_age_days)` lists price rows whose `valid_from` is older than the limit,
rows that state no `valid_from` at all, and every hole: an offered (type, region) pair with
no on-demand price, or a storage SKU without a price, that `unpriced.csv` (or the SKU's own
`no_price_reason`) does not explain. Holes with a stated reason are listed apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

from aifactory import catalog

DEFAULT_MAX_AGE_DAYS = 90


@dataclass(frozen=True)
class Finding:
    cloud: str
    item: str
    region: str
    capacity: str
    detail: str


@dataclass
class CheckReport:
    today: str
    max_age_days: int
    rows: int
    stale: list[Finding] = field(default_factory=list)
    undated: list[Finding] = field(default_factory=list)
    holes: list[Finding] = field(default_factory=list)
    explained: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.stale or self.undated or self.holes)

    def to_json(self) -> dict:
        return {
            "today": self.today,
            "max_age_days": self.max_age_days,
            "rows": self.rows,
            "ok": self.ok,
            **{name: [asdict(f) for f in getattr(self, name)] for name in ("stale", "undated", "holes", "explained")},
        }


def _age_days(valid_from: str, today: date) -> int | None:
    try:
        return (today - date.fromisoformat(valid_from)).days
    except ValueError:
        return None


def check(today: date | None = None, max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> CheckReport:
    today = today or date.today()
    prices = catalog.prices()
    report = CheckReport(today.isoformat(), max_age_days, len(prices))
    for p in prices:
        label = p.capacity + (f" {p.term}" if p.term else "")
        age = _age_days(p.valid_from, today)
        if age is None:
            report.undated.append(Finding(p.cloud, p.instance_type, p.region, label,
                                          f"no valid_from; source says: {p.source_date}"))
        elif age > max_age_days:
            report.stale.append(Finding(p.cloud, p.instance_type, p.region, label,
                                        f"valid_from {p.valid_from} is {age} days old"))

    for itype in catalog.instances():
        for region in catalog.regions(itype.cloud, itype.name):
            if catalog.price(itype.cloud, itype.name, region) is not None:
                continue
            reason = catalog.unpriced_reason(itype.cloud, itype.name, region, "on-demand")
            finding = Finding(itype.cloud, itype.name, region, "on-demand",
                              reason.reason if reason else "offered here, but no on-demand price and no stated reason")
            (report.explained if reason else report.holes).append(finding)

    for cloud in catalog.CLOUDS:
        for sku in catalog.storage_skus(cloud):
            if sku.usd_per_gib_month is not None:
                age = _age_days(sku.valid_from, today)
                where = sku.price_region
                if age is None:
                    report.undated.append(Finding(cloud, sku.key, where, "storage", f"no valid_from; source says: {sku.source_date}"))
                elif age > max_age_days:
                    report.stale.append(Finding(cloud, sku.key, where, "storage", f"valid_from {sku.valid_from} is {age} days old"))
                continue
            reason = sku.no_price_reason or getattr(catalog.unpriced_reason(cloud, sku.key, "", "storage"), "reason", "")
            finding = Finding(cloud, sku.key, "", "storage", reason or "storage SKU without a price and no stated reason")
            (report.explained if reason else report.holes).append(finding)
    return report
