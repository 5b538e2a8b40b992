"""Each price-feed importer on a real saved excerpt of its feed (tests/fixtures/prices/README.md
says where each came from), checked against values read by hand from the same file; and
`aifactory catalog refresh` merging them, through the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aifactory.catalog import DATA_DIR
from aifactory.catalog.importers import aws_capacity_blocks, aws_offer_ec2, azure_retail, gcp_pricing_export, importer_for

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "prices"
AZURE = FIXTURES / "azure_retail_eastus_nd_2026-07-27.json"
BLOCKS = FIXTURES / "ec2_capacity_blocks_2026-07-22.json"
GCP = FIXTURES / "gcp_pricing_excerpt_2026-07-30.yml"
EC2 = FIXTURES / "aws_ec2_offer_us-east-1_p4d_2024-05-28.json"


def by_key(rows):
    return {(r.instance_type, r.region, r.capacity, r.term): r for r in rows}


def test_azure_retail_page():
    rows = by_key(azure_retail.parse(AZURE.read_text(), source="s", captured="2026-07-27"))
    assert rows[("Standard_ND96isr_H100_v5", "eastus", "on-demand", "")].usd_per_hour == 98.32
    one = rows[("Standard_ND96isr_H100_v5", "eastus", "reservation", "1yr")]
    three = rows[("Standard_ND96isr_H100_v5", "eastus", "reservation", "3yr")]
    assert one.usd_per_hour == pytest.approx(551221.0 / 8760) and three.usd_per_hour == pytest.approx(1134310.0 / 26280)
    assert rows[("Standard_ND96asr_v4", "eastus", "spot", "")].usd_per_hour == 5.98334
    assert rows[("Standard_ND96is_H100_v5", "eastus", "on-demand", "")].usd_per_hour == 88.488
    # Low Priority (Batch), DevTestConsumption and Windows meters are not kept
    assert ("Standard_ND96amsr_A100_v4", "eastus", "spot", "") not in rows
    assert ("Standard_ND40rs_v2", "eastus", "spot", "") not in rows
    assert len(rows) == 5
    assert all(r.valid_from == "2026-07-27" for r in rows.values())


def test_capacity_blocks_price_list():
    rows = by_key(aws_capacity_blocks.parse(BLOCKS.read_text(), source="s"))
    assert rows[("p5.48xlarge", "us-east-1", "capacity-block", "")].usd_per_hour == 41.528
    assert rows[("p5e.48xlarge", "us-east-2", "capacity-block", "")].usd_per_hour == 47.76
    assert rows[("p4d.24xlarge", "us-east-2", "capacity-block", "")].usd_per_hour == 11.8
    assert {r.valid_from for r in rows.values()} == {"2026-07-22"}


def test_gcp_pricing_export():
    rows = by_key(gcp_pricing_export.parse(GCP.read_text(), source="s"))
    assert rows[("a3-highgpu-8g", "us-central1", "on-demand", "")].usd_per_hour == 88.4899999025753
    assert rows[("a3-highgpu-8g", "us-central1", "spot", "")].usd_per_hour == 50.6095408219178
    assert rows[("a3-highgpu-8g", "us-central1", "reservation", "1yr")].usd_per_hour == pytest.approx(44810.08066464 / 730)
    assert rows[("a3-highgpu-8g", "us-central1", "reservation", "3yr")].usd_per_hour == pytest.approx(28370.99821392 / 730)
    assert ("a3-megagpu-8g", "us-central1", "on-demand", "") not in rows  # the export has no such entry
    assert {r.valid_from for r in rows.values()} == {"2026-07-30"}


def test_aws_ec2_offer_file():
    rows = by_key(aws_offer_ec2.parse(EC2.read_text(), source=aws_offer_ec2.SOURCE_URL))
    assert list(rows) == [("p4d.24xlarge", "us-east-1", "on-demand", "")]
    row = rows[("p4d.24xlarge", "us-east-1", "on-demand", "")]
    assert row.usd_per_hour == 32.7726
    assert row.valid_from == "2024-05-28"  # publicationDate 2024-05-28T20:35:22Z
    assert row.source == "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/us-east-1/index.json"
    assert "term effective 2024-05-01" in row.notes


def test_aws_ec2_capacity_block_twin_is_never_an_on_demand_price():
    feed = json.loads(EC2.read_text())
    twin = "YSXJGN78QTXNVGDQ"  # same type, OS, tenancy, capacitystatus and preInstalledSw as the on-demand SKU
    assert feed["products"][twin]["attributes"]["marketoption"] == "CapacityBlock"
    term = next(iter(feed["terms"]["OnDemand"][twin].values()))
    next(iter(term["priceDimensions"].values()))["pricePerUnit"]["USD"] = "11.8000000000"
    rows = aws_offer_ec2.parse(json.dumps(feed), source="s")
    assert [(r.instance_type, r.usd_per_hour) for r in rows] == [("p4d.24xlarge", 32.7726)]


def test_aws_ec2_offer_file_without_marketoption_reads_as_on_demand():
    feed = json.loads(EC2.read_text())
    del feed["products"]["YSXJGN78QTXNVGDQ"]
    del feed["products"]["H7NGEAC6UEHNTKSJ"]["attributes"]["marketoption"]
    rows = aws_offer_ec2.parse(json.dumps(feed), source="s")
    assert [(r.instance_type, r.region, r.usd_per_hour) for r in rows] == [("p4d.24xlarge", "us-east-1", 32.7726)]


def test_each_file_finds_its_importer():
    for path, module in ((AZURE, azure_retail), (BLOCKS, aws_capacity_blocks), (GCP, gcp_pricing_export),
                         (EC2, aws_offer_ec2)):
        assert importer_for(path.name, path.read_text()[:4000]) is module


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aifactory", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture
def catalog_copy(tmp_path):
    for csv_file in Path(DATA_DIR).glob("*.csv"):
        shutil.copy(csv_file, tmp_path)
    return tmp_path


def test_refresh_reports_added_changed_removed(catalog_copy):
    prices = catalog_copy / "prices.csv"
    lines = prices.read_text().splitlines()
    # make the catalog disagree with the feeds: p5 capacity block 10 % off, a GCP commitment price far off,
    # and no Azure H100 reservation prices
    def edit(line: str) -> str | None:
        if line.startswith("aws,p5.48xlarge,us-east-1,capacity-block,"):
            return line.replace(",41.528,", ",37.3752,")
        if line.startswith("gcp,a3-highgpu-8g,us-central1,reservation,1yr,"):
            fields = line.split(",")
            return ",".join(fields[:5] + ["1.0"] + fields[6:])
        if line.startswith("azure,Standard_ND96isr_H100_v5,eastus,reservation,"):
            return None
        return line

    lines = [edited for edited in map(edit, lines) if edited is not None]
    prices.write_text("\n".join(lines) + "\n")
    result = run("catalog", "refresh", "--from", str(FIXTURES), "--catalog-dir", str(catalog_copy),
                 "--retrieved", "2026-12-02", "--captured", "2026-07-27", "--format", "json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    changed = {tuple(c["key"]): c for c in summary["changed"]}
    assert changed[("aws", "p5.48xlarge", "us-east-1", "capacity-block", "")]["new"] == 41.528
    assert changed[("aws", "p5.48xlarge", "us-east-1", "capacity-block", "")]["pct"] == pytest.approx(11.11, abs=0.01)
    assert changed[("gcp", "a3-highgpu-8g", "us-central1", "reservation", "1yr")]["old"] == 1.0
    # the EC2 offer file of 2024-05-28 is older than the catalog's post-June-2025 p4d price: the summary
    # shows the +49 % a reviewer has to see before accepting it
    p4d = changed[("aws", "p4d.24xlarge", "us-east-1", "on-demand", "")]
    assert (p4d["old"], p4d["new"], p4d["pct"]) == (21.957642, 32.7726, pytest.approx(49.25, abs=0.01))
    added = {tuple(c["key"]) for c in summary["added"]}
    assert ("azure", "Standard_ND96isr_H100_v5", "eastus", "reservation", "3yr") in added
    # the export prices on-demand a3 capacity in us-central1 but states no a3-megagpu-8g price there
    assert [tuple(c["key"]) for c in summary["removed"]] == [("gcp", "a3-megagpu-8g", "us-central1", "on-demand", "")]
    text = prices.read_text()
    assert "aws,p5.48xlarge,us-east-1,capacity-block,,41.528," in text
    # an API page states no date: its prices held on the day it was captured, not the day it was imported
    assert "azure,Standard_ND96isr_H100_v5,eastus,reservation,3yr,43.1625," in text
    assert ",2026-07-27,2026-12-02," in next(line for line in text.splitlines()
                                           if line.startswith("azure,Standard_ND96isr_H100_v5,eastus,reservation,3yr,"))
    # a second refresh from the same feeds changes nothing
    again = json.loads(run("catalog", "refresh", "--from", str(FIXTURES), "--catalog-dir", str(catalog_copy),
                           "--retrieved", "2026-12-02", "--format", "json").stdout)
    assert again["added"] == again["changed"] == again["removed"] == []


def test_refresh_removes_what_a_feed_no_longer_prices(catalog_copy, tmp_path):
    feed = json.loads(BLOCKS.read_text())
    feed["instance_types"]["p5.48xlarge"]["pricing"] = [
        p for p in feed["instance_types"]["p5.48xlarge"]["pricing"] if p["region_code"] != "us-west-2"]
    saved = tmp_path / "blocks.json"
    saved.write_text(json.dumps(feed))
    summary = json.loads(run("catalog", "refresh", "--from", str(saved), "--catalog-dir", str(catalog_copy),
                             "--dry-run", "--format", "json").stdout)
    assert [tuple(c["key"]) for c in summary["removed"]] == [("aws", "p5.48xlarge", "us-west-2", "capacity-block", "")]


def test_refresh_refuses_unknown_files(tmp_path, catalog_copy):
    odd = tmp_path / "odd.json"
    odd.write_text('{"hello": 1}')
    result = run("catalog", "refresh", "--from", str(odd), "--catalog-dir", str(catalog_copy))
    assert result.returncode == 2 and "not a feed any importer reads" in result.stderr and "Traceback" not in result.stderr
    assert run("catalog", "refresh").returncode == 2
