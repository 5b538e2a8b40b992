"""`aifactory catalog refresh`: rebuild prices.csv from saved price feeds.

Each feed file is read by its importer (`aifactory.catalog.importers`). A feed file speaks for
each (instance type, capacity type) it prices, in every region where it prices that capacity
type for any instance type: there its rows replace the catalog's (a price it no longer states
is removed); rows elsewhere are kept. Only catalog instance types in regions
`regions.csv` offers them in are kept; the rest are counted as skipped. The summary says what
was added, removed, and changed by more than 5 %.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from aifactory.catalog.importers import FeedError, PriceRow, importer_for

PRICE_COLUMNS = ("cloud", "instance_type", "region", "capacity", "term", "usd_per_hour", "statistic", "valid_from",
                 "retrieved", "source", "source_date", "notes")
CHANGE_THRESHOLD = 0.05


@dataclass
class Change:
    key: tuple[str, ...]
    old: float | None
    new: float | None

    @property
    def pct(self) -> float | None:
        if self.old is None or self.new is None or not self.old:
            return None
        return (self.new - self.old) / self.old * 100

    def to_json(self) -> dict:
        return {"key": list(self.key), "old": self.old, "new": self.new, "pct": None if self.pct is None else round(self.pct, 2)}


@dataclass
class Summary:
    feeds: list[str] = field(default_factory=list)
    added: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)  # by more than 5 %
    unchanged: int = 0
    skipped: int = 0  # rows for types or regions the catalog does not offer

    def to_json(self) -> dict:
        return {"feeds": self.feeds, "added": [c.to_json() for c in self.added],
                "removed": [c.to_json() for c in self.removed], "changed": [c.to_json() for c in self.changed],
                "unchanged": self.unchanged, "skipped": self.skipped}


def feed_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                            and p.suffix in (".json", ".yml", ".yaml"))
        elif path.is_file():
            files.append(path)
        else:
            raise FeedError(f"{path}: no such file or directory")
    return files


def read_feeds(paths: list[Path], retrieved: str, captured: str | None = None) -> tuple[list[list[PriceRow]], list[str]]:
    """Parse every feed file; ``captured`` is when saved files that state no date of their own
    (Azure Retail Prices API pages) were captured (default: ``retrieved``)."""
    rows: list[list[PriceRow]] = []
    names = []
    for path in feed_files(paths):
        text = path.read_text(encoding="utf-8")
        module = importer_for(path.name, text[:4000])
        try:
            parsed = module.parse(text, source=module.SOURCE_URL, captured=captured or retrieved)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise FeedError(f"{path}: not a readable {module.__name__.rsplit('.', 1)[-1]} feed ({error})") from None
        rows.append([PriceRow(**{**r.__dict__, "retrieved": retrieved}) for r in parsed])
        names.append(f"{path.name} ({module.__name__.rsplit('.', 1)[-1]}, {len(parsed)} rows)")
    return rows, names


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _key(row: dict[str, str]) -> tuple[str, str, str, str, str]:
    return (row["cloud"], row["instance_type"], row["region"], row["capacity"], row.get("term", ""))


def refresh(paths: list[Path], data_dir: Path, *, retrieved: str | None = None, write: bool = True,
            cite: str | None = None, keep_missing: bool = False, captured: str | None = None) -> Summary:
    """Merge the feeds into ``data_dir``/prices.csv (unless ``write`` is false); ``cite``
    replaces the feed URL as the rows' source (say where the saved files came from);
    ``keep_missing`` keeps rows a feed does not state (for a partial capture of a feed)."""
    retrieved = retrieved or date.today().isoformat()
    feeds, names = read_feeds(paths, retrieved, captured)
    if cite:
        feeds = [[PriceRow(**{**r.__dict__, "source": cite}) for r in feed] for feed in feeds]
    types = {(r["cloud"], r["instance_type"].lower()): r["instance_type"] for r in _read_csv(data_dir / "instances.csv")}
    offered = {(r["cloud"], r["instance_type"].lower(), r["region"]) for r in _read_csv(data_dir / "regions.csv")}
    summary = Summary(feeds=names)

    incoming: dict[tuple, dict[str, str]] = {}
    scope: set[tuple[str, str, str, str]] = set()  # (cloud, type, capacity, region) a feed speaks for
    for feed in feeds:
        covered: dict[tuple[str, str], set[str]] = {}  # (cloud, capacity) -> regions the feed prices it in
        for row in feed:
            covered.setdefault((row.cloud, row.capacity), set()).add(row.region)
        for row in feed:
            name = types.get((row.cloud, row.instance_type.lower()))
            if name is None or (row.cloud, name.lower(), row.region) not in offered:
                summary.skipped += 1
                continue
            csv_row = row.as_csv()
            csv_row["instance_type"] = name
            incoming[_key(csv_row)] = csv_row
            scope |= {(row.cloud, name, row.capacity, region) for region in covered[(row.cloud, row.capacity)]}

    current = _read_csv(data_dir / "prices.csv")
    kept, old = [], {}
    for row in current:
        if (row["cloud"], row["instance_type"], row["capacity"], row["region"]) in scope:
            old[_key(row)] = row
        else:
            kept.append(row)
    for key, row in incoming.items():
        new = float(row["usd_per_hour"])
        if key not in old:
            summary.added.append(Change(key, None, new))
            continue
        change = Change(key, float(old[key]["usd_per_hour"]), new)
        if change.pct is not None and abs(change.pct) > CHANGE_THRESHOLD * 100:
            summary.changed.append(change)
        else:
            summary.unchanged += 1
    missing = {k: r for k, r in old.items() if k not in incoming}
    if keep_missing:
        kept += missing.values()
    else:
        summary.removed = [Change(k, float(r["usd_per_hour"]), None) for k, r in missing.items()]

    if write:
        rows = kept + list(incoming.values())
        rows.sort(key=lambda r: (r["cloud"], r["instance_type"], r["region"], r["capacity"], r.get("term", "")))
        tmp = data_dir / "prices.csv.tmp"
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=PRICE_COLUMNS, lineterminator="\n", extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, data_dir / "prices.csv")
    return summary
