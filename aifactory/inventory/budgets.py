"""Budgets: the monthly amount each guards, and which GPU groups and filesystems it provably (or
possibly) covers. Each cloud's module reads its budget's terms and filters; this is the shared part."""

from __future__ import annotations

from typing import Any

from aifactory.inventory import gcp
from aifactory.inventory.model import Budget, Filesystem, GpuGroup
from aifactory.inventory.reader import BUDGET_READERS, Reader, group_tags
from aifactory.inventory.resources import Resource
from aifactory.inventory.values import MISSING, UNKNOWN, is_unknown, lookup

_PER_MONTH = {
    "MONTHLY": 1.0, "MONTH": 1.0, "BILLINGMONTH": 1.0,
    "QUARTERLY": 1 / 3, "QUARTER": 1 / 3, "BILLINGQUARTER": 1 / 3,
    "ANNUALLY": 1 / 12, "YEAR": 1 / 12, "BILLINGANNUAL": 1 / 12,
    "DAILY": 365 / 12,
}


def _monthly(amount: float, period: Any) -> float | None:
    if period is UNKNOWN:
        return None
    if not isinstance(period, str):
        return amount
    factor = _PER_MONTH.get(period.replace("_", "").upper())
    return round(amount * factor, 2) if factor is not None else None


def read_budget(reader: Reader, res: Resource, scopes: Scopes) -> Budget | None:
    read_terms, _ = BUDGET_READERS[res.type]
    terms = read_terms(res)
    if terms is None:
        return None
    monthly: float | None
    if terms.amount is UNKNOWN or terms.amount is MISSING or terms.foreign:
        reader.note("budget amount" + (" in USD" if terms.foreign else ""), res, terms.path)
        monthly = None
    else:
        monthly = _monthly(terms.amount, terms.period)
        if monthly is None:
            reader.note("budget period", res, "timeUnit/timeGrain/calendarPeriod")
    covers, may_cover = scopes.coverage(res)
    return Budget(res.name, res.cloud or "", monthly, res.urn, covers, may_cover)


class Scopes:
    """What each budget covers, by index rather than by pairs, so a stack of thousands of groups
    and budgets is read in linear time. A budget's scope narrows the items of its cloud filter by
    filter; each filter yields the items it provably keeps and those it may keep (a value it
    depends on is unknown at preview)."""

    def __init__(self, reader: Reader, groups: list[GpuGroup], filesystems: list[Filesystem]) -> None:
        self.reader = reader
        self.order: dict[str, int] = {}
        self.by_cloud: dict[str, set[str]] = {}
        self.by_region: dict[tuple[str, str], set[str]] = {}
        self.no_region: set[str] = set()
        self.by_tag: dict[tuple[str, str], set[str]] = {}
        self.unknown_tag: dict[str, set[str]] = {}
        self.by_project: dict[str, set[str]] = {}
        self.unknown_project: set[str] = set()
        self.by_rg: dict[str, set[str]] = {}  # resource group URN or lower-case name -> items
        self.unknown_rg: set[str] = set()
        self.by_subscription: dict[str, set[str]] = {}
        for item in [*groups, *filesystems]:
            if item.urn is None or item.urn not in reader.by_urn:
                continue
            self._add(item.urn, item.cloud, reader.by_urn[item.urn])

    def _add(self, urn: str, cloud: str, res: Resource) -> None:
        reader = self.reader
        self.order[urn] = len(self.order)
        self.by_cloud.setdefault(cloud, set()).add(urn)
        region = reader.placement(res, note=False).region
        if region is None:
            self.no_region.add(urn)
        else:
            self.by_region.setdefault((cloud, region), set()).add(urn)
        for key, value in group_tags(reader, res).items():
            if is_unknown(value):
                self.unknown_tag.setdefault(key, set()).add(urn)
            else:
                self.by_tag.setdefault((key, str(value)), set()).add(urn)
        if cloud == "gcp":
            project = gcp.project_of(reader, res)
            if isinstance(project, str):
                self.by_project.setdefault(project, set()).add(urn)
            else:
                self.unknown_project.add(urn)
        if cloud == "azure":
            for rg in res.deps_of("resourceGroupName"):
                self.by_rg.setdefault(rg, set()).add(urn)
            group = res.get("resourceGroupName")
            if isinstance(group, str):
                self.by_rg.setdefault(group.lower(), set()).add(urn)
            elif not res.deps_of("resourceGroupName"):
                self.unknown_rg.add(urn)
            sub = lookup(reader.provider_inputs(res) or {}, "subscriptionId")
            if isinstance(sub, str):
                self.by_subscription.setdefault(sub.lower(), set()).add(urn)

    def union(self, index: dict, keys: Any) -> set[str]:
        out: set[str] = set()
        for key in keys:
            out |= index.get(key, set())
        return out

    def coverage(self, budget: Resource) -> tuple[tuple[str, ...], tuple[str, ...]]:
        everything = self.by_cloud.get(budget.cloud or "", set())
        _, budget_filters = BUDGET_READERS[budget.type]
        filters = budget_filters(self, budget, everything)
        yes, maybe = set(everything), set()
        for keep, may_keep in filters:
            maybe = (maybe & (keep | may_keep)) | (yes & may_keep - keep)
            yes &= keep
        maybe -= yes
        return tuple(sorted(yes, key=self.order.__getitem__)), tuple(sorted(maybe, key=self.order.__getitem__))
