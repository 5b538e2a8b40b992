"""Estimate arithmetic on hand-computed cases (730 h a month; IT kW x PUE)."""

from __future__ import annotations

import pytest

from aifactory.estimate import HOURS_PER_MONTH, estimate, estimate_spec
from aifactory.inventory import Filesystem, GpuGroup, Inventory
from aifactory.loader import load_facility
from tests.test_spec import aws_facility, gcp_facility


def aws(*groups, filesystems=()):
    return Inventory(cloud="aws", groups=list(groups), filesystems=list(filesystems))


def test_on_demand_fleet_cost_and_power():
    result = estimate(aws(GpuGroup("t", "aws", "us-east-1", "p5.48xlarge", 16)))
    line = result.lines[0]
    assert HOURS_PER_MONTH == 730
    assert line.monthly_usd == pytest.approx(16 * 55.04 * 730)  # 642,867.20
    assert line.it_power_kw == pytest.approx(16 * 10.2)  # DGX H100 analog, 10.2 kW a node
    assert result.pue == 1.15
    assert result.facility_power_kw == pytest.approx(16 * 10.2 * 1.15)  # 187.68
    assert result.gpus == 128 and result.nodes == 16
    assert result.missing == []


def test_capacity_type_priced_from_its_own_row():
    result = estimate(aws(GpuGroup("t", "aws", "us-east-1", "p5.48xlarge", 16, capacity="capacity-block")))
    # the Capacity Blocks price list of 2026-07-22 (us-east-1: 41.528 per instance-hour)
    assert result.lines[0].monthly_usd == pytest.approx(16 * 41.528 * 730)
    assert result.lines[0].price_basis == "list"
    assert result.lines[0].price_as_of == "2026-07-22"


def test_capacity_type_without_price_uses_on_demand_and_says_so():
    result = estimate(aws(GpuGroup("t", "aws", "us-east-1", "p5.48xlarge", 4, capacity="reservation")))
    line = result.lines[0]
    assert line.monthly_usd == pytest.approx(4 * 55.04 * 730)
    assert line.price_basis == "on-demand fallback"
    assert "no reservation price in the catalog; priced at on-demand" in line.notes


def test_missing_power_is_named_not_guessed():
    result = estimate(aws(GpuGroup("t", "aws", "us-east-1", "g6e.48xlarge", 2)))
    assert result.lines[0].it_power_kw is None
    assert result.it_power_kw == 0
    assert result.missing == ["fleet t: no node power figure for g6e.48xlarge"]
    assert result.to_json()["complete"] is False


def test_unknown_node_count_is_not_counted():
    result = estimate(aws(GpuGroup("t", "aws", "us-east-1", "p5.48xlarge", None)))
    assert result.lines[0].monthly_usd is None
    assert "node count unknown at preview" in result.lines[0].notes


def test_priced_filesystem_and_unpriced_tier():
    fs125 = Filesystem("a", "aws", "us-east-1", "lustre", 125, 2400)
    fs250 = Filesystem("b", "aws", "us-east-1", "lustre", 250, 2400)
    result = estimate(aws(filesystems=[fs125, fs250]))
    assert result.lines[0].monthly_usd == pytest.approx(2400 * 0.145)  # 348.00
    assert result.lines[1].monthly_usd is None
    assert result.missing == ["filesystem b: no price for PERSISTENT_2 in us-east-1"]


def test_parallelstore_priced_from_the_google_pricing_page():
    # cloud.google.com/parallelstore/pricing: 0.0001917808 USD per GiB-hour in us-central1, x 730 h
    fs = Filesystem("scratch", "gcp", "us-central1", "parallelstore", None, 12000)
    result = estimate(Inventory(cloud="gcp", groups=[], filesystems=[fs]))
    line = result.lines[0]
    assert line.monthly_usd == pytest.approx(12000 * 0.0001917808 * 730, abs=0.01)  # 1,680.00
    assert line.price_basis == "list"
    assert line.price_as_of is None  # the page states no date
    assert not any(note.startswith("no list price") for note in line.notes)
    assert result.missing == []


def test_storage_priced_in_another_region_says_whose_rates():
    fs = Filesystem("scratch", "gcp", "europe-west4", "parallelstore", None, 12000)
    line = estimate(Inventory(cloud="gcp", groups=[], filesystems=[fs])).lines[0]
    assert line.monthly_usd == pytest.approx(12000 * 0.0001917808 * 730, abs=0.01)
    assert "priced at us-central1 rates; the catalog has none for europe-west4" in line.notes


def test_unpriced_storage_tier_says_why():
    fs = Filesystem("data", "gcp", "us-central1", "lustre", 1000, 36000)
    result = estimate(Inventory(cloud="gcp", groups=[], filesystems=[fs]))
    assert result.lines[0].monthly_usd is None
    assert any(note.startswith("no list price: no public list price found (searched 2026-12-02)")
               for note in result.lines[0].notes)
    assert result.missing == ["filesystem data: no price for tier-1000 in us-central1"]


def test_totals_add_lines_and_facility_power_uses_cloud_pue():
    spec = load_facility(gcp_facility())
    result = estimate_spec(spec)
    assert result.pue == 1.09
    assert result.it_power_kw == pytest.approx(8 * 10.2)
    assert result.facility_power_kw == pytest.approx(8 * 10.2 * 1.09)
    assert result.monthly_usd == pytest.approx(sum(line.monthly_usd or 0 for line in result.lines))


def test_spec_estimate_matches_the_design_example():
    result = estimate_spec(load_facility(aws_facility()))
    assert result.gpus == 128
    assert [line.kind for line in result.lines] == ["fleet", "filesystem"]
    assert result.lines[1].capacity_gib == 48000  # FSx's 48 TiB is 48,000 GiB
