"""`aifactory catalog check`: stale and undated prices and every unexplained hole, through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

from aifactory import catalog
from aifactory.catalog.check import check

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aifactory", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_every_price_row_is_dated_or_reported_undated():
    report = check(date(2026, 12, 2))
    undated = {(f.cloud, f.item, f.region, f.capacity) for f in report.undated}
    for p in catalog.prices():
        label = p.capacity + (f" {p.term}" if p.term else "")
        if p.valid_from:
            assert date.fromisoformat(p.valid_from) <= date(2026, 12, 2), p
        else:
            assert (p.cloud, p.instance_type, p.region, label) in undated


def test_freshness_follows_max_age():
    # the Capacity Blocks list of 2026-07-22: fresh 30 days on, stale 200 days on
    def stale_blocks(today: date, days: int) -> set:
        return {(f.item, f.region) for f in check(today, days).stale if f.capacity == "capacity-block"}

    assert stale_blocks(date(2026, 8, 21), 90) == set()
    assert ("p5.48xlarge", "us-east-1") in stale_blocks(date(2027, 2, 7), 90)
    assert ("p5.48xlarge", "us-east-1") not in stale_blocks(date(2027, 2, 7), 365)


def test_every_offered_pair_without_on_demand_price_is_a_hole_or_explained():
    report = check(date(2026, 12, 2))
    listed = {(f.cloud, f.item, f.region) for f in report.holes + report.explained if f.capacity == "on-demand"}
    for itype in catalog.instances():
        for region in catalog.regions(itype.cloud, itype.name):
            has_price = catalog.price(itype.cloud, itype.name, region) is not None
            assert has_price != ((itype.cloud, itype.name, region) in listed), (itype.name, region)
    for f in report.explained:
        assert f.detail and "no stated reason" not in f.detail


def test_cli_json_and_text_agree():
    as_json = run("catalog", "check", "--today", "2026-12-02", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["rows"] == len(catalog.prices()) and data["max_age_days"] == 90
    text = run("catalog", "check", "--today", "2026-12-02").stdout
    assert f"{len(data['holes'])} holes without a stated reason" in text
    assert f"{len(data['stale'])} older than 90 days" in text


def test_cli_bad_date_is_usage_error():
    result = run("catalog", "check", "--today", "yesterday")
    assert result.returncode == 2 and "--today" in result.stderr and "Traceback" not in result.stderr


def test_shipped_catalog_has_no_unexplained_hole():
    report = check(date(2026, 12, 2))
    assert report.holes == []
    assert report.explained  # the unpriced pairs and storage SKUs say why


def test_priced_storage_without_a_date_is_reported_undated_not_as_a_hole():
    report = check(date(2026, 12, 2))
    undated = {(f.cloud, f.item, f.region) for f in report.undated if f.capacity == "storage"}
    assert ("gcp", "parallelstore/parallelstore", "us-central1") in undated
    explained = {(f.cloud, f.item) for f in report.explained if f.capacity == "storage"}
    assert ("gcp", "parallelstore/parallelstore") not in explained
    assert ("gcp", "lustre/tier-1000/1000") in explained
