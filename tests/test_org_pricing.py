"""The org's own prices (pricing.yaml): a discount or a negotiated rate lowers exactly the lines
it matches, in `validate`, in `preview` and in the pack's cost-cap message, and those lines say
`negotiated`; a bad pricing file is refused with every problem by its path (exit 2)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from aifactory.catalog import pricing
from aifactory.estimate import estimate
from aifactory.inventory import Filesystem, GpuGroup, Inventory

ROOT = Path(__file__).resolve().parent.parent
DISCOUNT_P5 = "overrides:\n  - {cloud: aws, instance_type: p5.48xlarge, discount_pct: 30, note: EDP}\n"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aifactory", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def lines_by_name(estimate_json: dict) -> dict[str, dict]:
    return {line["name"]: line for line in estimate_json["lines"]}


def assert_thirty_percent_off(listed: dict[str, dict], negotiated: dict[str, dict]) -> None:
    fleets = [name for name, line in listed.items() if line["kind"] == "fleet"]
    assert fleets
    for name in fleets:
        assert listed[name]["item"] == "p5.48xlarge"
        assert listed[name]["price_basis"] == "list"
        assert negotiated[name]["price_basis"] == "negotiated"
        assert negotiated[name]["monthly_usd"] == round(listed[name]["monthly_usd"] * 0.7, 2)
    for name, line in listed.items():  # what the override does not match keeps its list price
        if line["kind"] == "filesystem":
            assert negotiated[name]["monthly_usd"] == line["monthly_usd"]


def test_validate_prices_matching_lines_30_percent_lower(tmp_path):
    plain = run("validate", "vision-prod", "--format", "json")
    cut = run("validate", "vision-prod", "--format", "json", "--pricing", str(write(tmp_path, "p.yaml", DISCOUNT_P5)))
    assert plain.returncode == 0 and cut.returncode == 0, cut.stderr
    listed, negotiated = json.loads(plain.stdout)["estimate"], json.loads(cut.stdout)["estimate"]
    assert_thirty_percent_off(lines_by_name(listed), lines_by_name(negotiated))
    assert negotiated["pricing"].endswith("p.yaml")


def _cost_cap_amounts(doc: dict) -> dict[str, tuple[str, float]]:
    """From the pack's cost-cap message: line name -> (basis, USD) of its biggest contributors."""
    message = next(v["message"] for v in doc["policies"]["violations"] if v["policy"] == "cost-cap")
    found = re.findall(r"(\w[\w-]*) \(\d+ x [\w.-]+, [\w-]+, ([\w -]+)\) \$([\d,]+\.\d\d)", message)
    return {name: (basis, float(amount.replace(",", ""))) for name, basis, amount in found}


def test_preview_and_the_packs_cost_cap_message_are_30_percent_lower(tmp_path):
    config = json.loads((ROOT / "policies/config/vision.json").read_text()) if (ROOT / "policies/config/vision.json").exists() else {}
    config["cost-cap"] = {"enforcementLevel": "mandatory", "maxMonthlyUsd": 1000}
    policy_config = write(tmp_path, "limits.json", json.dumps(config))
    pricing_file = write(tmp_path, "p.yaml", DISCOUNT_P5)
    base = ("preview", "vision-prod", "--format", "json", "--policy-config", str(policy_config))
    plain, cut = run(*base), run(*base, "--pricing", str(pricing_file))
    assert plain.returncode == 1 and cut.returncode == 1, cut.stderr  # over the 1,000 USD cap either way
    plain_doc, cut_doc = json.loads(plain.stdout), json.loads(cut.stdout)
    assert_thirty_percent_off(lines_by_name(plain_doc["estimate"]), lines_by_name(cut_doc["estimate"]))

    listed, negotiated = _cost_cap_amounts(plain_doc), _cost_cap_amounts(cut_doc)
    assert set(listed) == set(negotiated) == {"trainers", "eval"}
    for name, (basis, usd) in listed.items():
        assert basis == "list"
        assert negotiated[name] == ("negotiated", round(usd * 0.7, 2))


def test_negotiated_rate_and_most_specific_override_win():
    doc = pricing.parse({"overrides": [
        {"cloud": "aws", "discount_pct": 10},
        {"cloud": "aws", "instance_type": "p5.48xlarge", "region": "us-east-1", "capacity": "on-demand", "usd_per_hour": 40},
        {"cloud": "aws", "storage_sku": "PERSISTENT_2", "throughput_mbps_per_tib": 125, "usd_per_gib_month": 0.1},
    ]})
    inv = Inventory(cloud="aws", groups=[GpuGroup("a", "aws", "us-east-1", "p5.48xlarge", 2),
                                         GpuGroup("b", "aws", "us-west-2", "p5.48xlarge", 2)],
                    filesystems=[Filesystem("fs", "aws", "us-east-1", "lustre", 125, 2400)])
    a, b, fs = estimate(inv, doc).lines
    assert a.monthly_usd == 2 * 40 * 730 and a.price_basis == "negotiated"
    assert b.monthly_usd == round(2 * 55.04 * 0.9 * 730, 2) and b.price_basis == "negotiated"
    assert fs.monthly_usd == round(0.1 * 2400, 2) and fs.price_basis == "negotiated"
    listed = estimate(inv).lines
    assert [line.price_basis for line in listed] == ["list", "list", "list"]


def test_reservation_fleet_priced_at_the_files_term():
    three = pricing.parse({"reservation_term": "3yr"})
    group = GpuGroup("r", "gcp", "us-central1", "a3-highgpu-8g", 1, capacity="reservation")
    one_year, three_year = estimate(Inventory("gcp", [group])).lines[0], estimate(Inventory("gcp", [group]), three).lines[0]
    assert one_year.price_term == "1yr" and three_year.price_term == "3yr"
    assert three_year.usd_per_hour < one_year.usd_per_hour < estimate(Inventory("gcp", [GpuGroup("o", "gcp", "us-central1", "a3-highgpu-8g", 1)])).lines[0].usd_per_hour
    assert "reservation priced at its 3yr term" in three_year.notes


def test_spot_line_states_its_statistic_and_that_spot_moves():
    line = estimate(Inventory("aws", [GpuGroup("s", "aws", "us-east-1", "p5.48xlarge", 1, capacity="spot")])).lines[0]
    assert line.price_basis == "list"
    assert any("median across the region's" in n and "spot prices move hourly" in n for n in line.notes)


@pytest.mark.parametrize("text,expected", [
    ("overrides:\n  - {cloud: aws, discount_pct: 130}\n", "overrides[0].discount_pct: Input should be less than 100"),
    ("overrides:\n  - {cloud: ibm, discount_pct: 5}\n", "overrides[0].cloud: Input should be 'aws', 'azure' or 'gcp'"),
    ("overrides:\n  - {cloud: aws, usd_per_hour: 3}\n", "overrides[0]: usd_per_hour is a per-node price: name the instance_type it is for"),
    ("overrides:\n  - {cloud: aws, instance_type: p5.48xlarge, usd_per_hour: 3, discount_pct: 5}\n",
     "overrides[0]: set exactly one of usd_per_hour, usd_per_gib_month, discount_pct (got usd_per_hour, discount_pct)"),
    ("reservation_term: 5yr\n", "reservation_term: Input should be '1yr' or '3yr'"),
    ("overrides: [\n", "is not valid YAML"),
])
def test_bad_pricing_file_refused_by_path_exit_2(tmp_path, text, expected):
    path = write(tmp_path, "p.yaml", text)
    for command in (("validate", "vision-prod"), ("quote", "--gpu", "H100", "--gpus", "8")):
        result = run(*command, "--pricing", str(path))
        assert result.returncode == 2, result.stdout
        assert expected in " ".join(result.stderr.split()) and "Traceback" not in result.stderr


def test_quote_says_basis_and_as_of(tmp_path):
    result = run("quote", "--gpu", "H100", "--gpus", "16", "--cloud", "aws", "--region", "us-east-1", "--format", "json",
                 "--capacity", "capacity-block", "--pricing", str(write(tmp_path, "p.yaml", "overrides: []\n")))
    assert result.returncode == 0, result.stderr
    [p5] = [q for q in json.loads(result.stdout) if q["instance_type"] == "p5.48xlarge"]
    assert (p5["price_basis"], p5["price_as_of"], p5["usd_per_hour"]) == ("list", "2026-07-22", 41.528)
