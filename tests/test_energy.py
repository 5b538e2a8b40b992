"""Energy, carbon and compute of estimates, against hand computations from the sourced CSV rows.

Expected values are computed here from the catalog's data files read with the csv module (and the
brief's figures where they are plain arithmetic), never through the code under test.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aifactory.estimate import estimate
from aifactory.inventory import Filesystem, GpuGroup, Inventory
from aifactory.loader import load_facility
from aifactory.spec import SpecError
from tests.test_spec import aws_facility

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "aifactory" / "catalog" / "data"
REL = 1e-3  # hand-computed cases agree to 0.1 %


def rows(name: str) -> list[dict[str, str]]:
    with open(DATA / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def tflops(model: str, precision: str) -> float:
    row = next(r for r in rows("gpus.csv") if r["gpu_model"] == model)
    return float(row[f"{precision}_dense_tflops"])


def grid(cloud: str, region: str) -> dict[str, str]:
    return next(r for r in rows("grid_carbon.csv") if r["cloud"] == cloud and r["region"] == region)


def node_w(cloud: str, itype: str) -> float:
    return float(next(r for r in rows("instances.csv") if r["cloud"] == cloud and r["instance_type"] == itype)["node_power_w"])


def pue(cloud: str) -> float:
    return float(next(r for r in rows("pue.csv") if r["cloud"] == cloud)["pue"])


def on_demand(cloud: str, itype: str, region: str) -> float:
    return float(next(r for r in rows("prices.csv") if (r["cloud"], r["instance_type"], r["region"], r["capacity"])
                      == (cloud, itype, region, "on-demand"))["usd_per_hour"])


def one_fleet(cloud, region, itype, nodes, load_factor, filesystems=()):
    inventory = Inventory(cloud=cloud, groups=[GpuGroup("f", cloud, region, itype, nodes)], filesystems=list(filesystems))
    return estimate(inventory, load_factor=load_factor).to_json()


# --------------------------------------------------------------------------- the catalog rows


def test_every_figure_has_a_source_and_a_date_and_dense_is_never_the_sparse_figure():
    for row in rows("gpus.csv"):
        if row["bf16_dense_tflops"]:
            assert row["source"] and row["source_date"] and row["dense_basis"], row["gpu_model"]
            # the datasheet's with-sparsity figures are twice the dense ones and are never stored
            assert "sparsity" in row["datasheet_figures"]
    for row in rows("grid_carbon.csv"):
        assert row["source"] and row["source_date"] and row["basis"] == "location-based", row
        assert row["gco2e_per_kwh"] and 0 <= float(row["gco2e_per_kwh"]) < 1500
    (default,) = rows("load_factor.csv")
    assert 0 < float(default["load_factor"]) <= 1 and default["basis"] and default["source"]


def test_hopper_dense_peaks_are_half_the_datasheet_sparsity_figures():
    # H100/H200 SXM datasheets: BF16 1,979 and FP8 3,958 TFLOPS with sparsity.
    for model in ("H100", "H200"):
        assert tflops(model, "bf16") == pytest.approx(1979 / 2)
        assert tflops(model, "fp8") == pytest.approx(3958 / 2)


# --------------------------------------------------------------------------- one case per cloud


def test_aws_128_p5_in_us_east_1_at_full_load():
    est = one_fleet("aws", "us-east-1", "p5.48xlarge", 128, 1.0)
    line = est["lines"][0]
    assert est["it_power_kw"] == pytest.approx(1305.6, rel=REL)
    assert est["facility_power_kw"] == pytest.approx(1501.44, rel=REL)
    assert est["energy_mwh_month"] == pytest.approx(1096, rel=REL)
    mwh = 128 * node_w("aws", "p5.48xlarge") / 1000 * pue("aws") * 730 / 1000
    co2e = mwh * float(grid("aws", "us-east-1")["gco2e_per_kwh"]) / 1000
    bf16 = 1024 * tflops("H100", "bf16") / 1000
    fp8 = 1024 * tflops("H100", "fp8") / 1000
    assert line["co2e_t_month"] == pytest.approx(co2e, rel=REL) and est["co2e_t_month"] == pytest.approx(co2e, rel=REL)
    assert est["pflops_bf16"] == pytest.approx(bf16, rel=REL) and est["pflops_fp8"] == pytest.approx(fp8, rel=REL)
    assert est["pflops_per_mw"] == pytest.approx(bf16 / 1.50144, rel=REL)
    assert est["usd_per_pflop_hour"] == pytest.approx(128 * on_demand("aws", "p5.48xlarge", "us-east-1") / bf16, rel=REL)
    # AWS publishes no regional carbon-free share: no market-based figure, said as null
    assert line["co2e_t_month_market_based"] is None and est["co2e_t_month_market_based"] is None
    assert est["load_factor"] == 1.0 and est["missing"] == []


def test_azure_4_nd_h100_v5_in_eastus_at_load_factor_0_6():
    est = one_fleet("azure", "eastus", "Standard_ND96isr_H100_v5", 4, 0.6)
    facility_kw = 4 * node_w("azure", "Standard_ND96isr_H100_v5") / 1000 * pue("azure")
    mwh = facility_kw * 730 * 0.6 / 1000
    assert est["energy_mwh_month"] == pytest.approx(mwh, rel=REL)
    assert est["co2e_t_month"] == pytest.approx(mwh * float(grid("azure", "eastus")["gco2e_per_kwh"]) / 1000, rel=REL)
    assert est["pflops_bf16"] == pytest.approx(32 * tflops("H100", "bf16") / 1000, rel=REL)
    # compute per watt is at full power: the load factor does not change it
    assert est["pflops_per_mw"] == pytest.approx(32 * tflops("H100", "bf16") / 1000 / (facility_kw / 1000), rel=REL)


def test_gcp_8_a3_mega_in_us_central1_carries_a_market_based_figure_from_googles_cfe():
    est = one_fleet("gcp", "us-central1", "a3-megagpu-8g", 8, 0.8)
    row = grid("gcp", "us-central1")
    mwh = 8 * node_w("gcp", "a3-megagpu-8g") / 1000 * pue("gcp") * 730 * 0.8 / 1000
    location = mwh * float(row["gco2e_per_kwh"]) / 1000
    assert est["energy_mwh_month"] == pytest.approx(mwh, rel=REL)
    assert est["co2e_t_month"] == pytest.approx(location, rel=REL)
    assert est["co2e_t_month_market_based"] == pytest.approx(location * (1 - float(row["carbon_free_pct"]) / 100), rel=REL)
    assert est["lines"][0]["carbon_free_pct"] == float(row["carbon_free_pct"])


def test_b200_has_fp4_and_the_totals_keep_to_fleets():
    fs = Filesystem("scratch", "gcp", "us-central1", "lustre", 1000, 9000)
    est = one_fleet("gcp", "us-central1", "a4-highgpu-8g", 2, 1.0, filesystems=[fs])
    fleet, storage = est["lines"]
    assert fleet["pflops_fp4"] == pytest.approx(16 * tflops("B200", "fp4") / 1000, rel=REL)
    assert storage["energy_mwh_month"] == 0 and storage["pflops_bf16"] == 0
    assert est["pflops_bf16"] == pytest.approx(16 * tflops("B200", "bf16") / 1000, rel=REL)


# --------------------------------------------------------------------------- what the catalog lacks


def test_a_gpu_without_a_sourced_peak_is_na_and_listed_missing():
    est = one_fleet("azure", "eastus", "Standard_ND96isr_MI300X_v5", 2, 1.0)
    assert est["lines"][0]["pflops_bf16"] is None and est["lines"][0]["pflops_per_mw"] is None
    assert "fleet f: no dense BF16 TFLOPS for GPU MI300X" in est["missing"]
    assert est["pflops_per_mw"] is None


def test_a_region_without_a_grid_intensity_is_na_and_listed_missing():
    est = one_fleet("aws", "eu-south-2", "p5en.48xlarge", 2, 1.0)
    assert est["lines"][0]["energy_mwh_month"] is not None and est["lines"][0]["co2e_t_month"] is None
    assert "fleet f: no grid carbon intensity for aws eu-south-2" in est["missing"]


def test_the_default_load_factor_is_the_catalogs_and_says_its_basis():
    (default,) = rows("load_factor.csv")
    est = one_fleet("aws", "us-east-1", "p5.48xlarge", 1, None)
    assert est["load_factor"] == float(default["load_factor"])
    assert est["load_factor_source"].startswith("catalog default")


# --------------------------------------------------------------------------- the stack's load factor


def test_the_stack_load_factor_scales_energy_and_carbon_only():
    full = estimate_of(aws_facility(load_factor=1.0))
    half = estimate_of(aws_facility(load_factor=0.5))
    assert half["energy_mwh_month"] == pytest.approx(full["energy_mwh_month"] / 2, rel=REL)
    assert half["co2e_t_month"] == pytest.approx(full["co2e_t_month"] / 2, rel=REL)
    assert half["pflops_per_mw"] == full["pflops_per_mw"] and half["facility_power_kw"] == full["facility_power_kw"]


def estimate_of(data):
    from aifactory.estimate import estimate_spec

    return estimate_spec(load_facility(data)).to_json()


@pytest.mark.parametrize("value, message", [
    (0, "must be greater than 0"),
    (1.5, "must be at most 1"),
    ("0.5", "must be a number, not the string"),
    (True, "must be a number, not the boolean"),
])
def test_a_bad_load_factor_is_refused_by_its_path(value, message):
    with pytest.raises(SpecError) as error:
        load_facility(aws_facility(load_factor=value))
    found = {p.path: p.message for p in error.value.problems}
    assert message in found["aifactory:facility.load_factor"]


def test_validate_json_and_text_carry_the_figures(tmp_path):
    stack = yaml.safe_load((ROOT / "stacks/Pulumi.vision-prod.yaml").read_text())
    stack["config"]["aifactory:facility"]["load_factor"] = 0.5
    path = tmp_path / "Pulumi.vision-half.yaml"
    path.write_text(yaml.safe_dump(stack))
    run = lambda *a: subprocess.run([sys.executable, "-m", "aifactory", *a], cwd=ROOT, capture_output=True, text=True, timeout=120)  # noqa: E731
    result = run("validate", str(path), "--format", "json")
    assert result.returncode == 0, result.stderr
    est = json.loads(result.stdout)["estimate"]
    assert est["load_factor"] == 0.5 and est["load_factor_source"] == "aifactory:facility.load_factor"
    mwh = est["facility_power_kw"] * 730 * 0.5 / 1000
    assert est["energy_mwh_month"] == pytest.approx(mwh, rel=REL)
    assert est["co2e_t_month"] == pytest.approx(mwh * float(grid("aws", "us-east-1")["gco2e_per_kwh"]) / 1000, rel=REL)
    for line in est["lines"]:
        assert {"energy_mwh_month", "co2e_t_month", "pflops_bf16", "pflops_fp8", "pflops_per_mw", "usd_per_pflop_hour"} <= set(line)
    text = run("validate", str(path))
    assert text.returncode == 0 and "tCO2e" in text.stdout and "PFLOPS" in text.stdout


# --------------------------------------------------------------------------- quote --rank


def quote_rows(*args: str) -> list[dict]:
    result = subprocess.run([sys.executable, "-m", "aifactory", "quote", "--gpu", "H100", "--gpus", "1024", *args,
                             "--format", "json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_quote_rank_carbon_orders_by_tco2e_and_every_row_carries_the_figures():
    quotes = quote_rows("--rank", "carbon")
    carbon = [q["co2e_t_month"] for q in quotes if q["co2e_t_month"] is not None]
    assert len(carbon) > 10 and carbon == sorted(carbon)
    assert quotes[0]["co2e_t_month"] == min(carbon)
    for q in quotes:
        assert {"energy_mwh_month", "co2e_t_month", "pflops_bf16", "pflops_fp8", "pflops_per_mw",
                "usd_per_pflop_hour", "load_factor"} <= set(q)
        if q["co2e_t_month"] is not None:  # each row's carbon is its own region's intensity, by hand
            row = grid(q["cloud"], q["region"])
            assert q["co2e_t_month"] == pytest.approx(
                q["facility_power_kw"] * 730 * q["load_factor"] / 1000 * float(row["gco2e_per_kwh"]) / 1000, rel=REL)


def test_quote_ranks_by_cost_power_and_efficiency():
    cost = [q["monthly_usd"] for q in quote_rows() if q["monthly_usd"] is not None]
    assert cost == sorted(cost)
    power = [q["facility_power_kw"] for q in quote_rows("--rank", "power")]
    assert power == sorted(power)
    efficiency = [q["pflops_per_mw"] for q in quote_rows("--rank", "efficiency")]
    assert efficiency == sorted(efficiency, reverse=True)


def test_quote_rank_refuses_an_unknown_order():
    result = subprocess.run([sys.executable, "-m", "aifactory", "quote", "--gpu", "H100", "--gpus", "8", "--rank", "speed"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr


# --------------------------------------------------------------------------- diff and reports


def preview_doc(nodes: int, *, drop_energy: bool = False) -> dict:
    est = one_fleet("aws", "us-east-1", "p5.48xlarge", nodes, 1.0)
    if drop_energy:  # a preview written before the energy figures existed
        est = {k: v for k, v in est.items() if k not in ("energy_mwh_month", "co2e_t_month", "pflops_bf16", "pflops_fp8")}
        est["lines"] = [{k: v for k, v in line.items() if k not in ("energy_mwh_month", "co2e_t_month")}
                        for line in est["lines"]]
    return {"stack": "vision-prod", "project": "aifactory", "resources": [], "policies": {"violations": []},
            "estimate": est, "facility": {"cloud": "aws", "region": "us-east-1"}}


def test_diff_summary_line_and_reports_carry_the_carbon_change():
    from aifactory import diff as d
    from aifactory import diffcmd
    from aifactory.report import markdown

    result = d.diff(preview_doc(16), preview_doc(48))
    added_t = 32 * node_w("aws", "p5.48xlarge") / 1000 * pue("aws") * 730 / 1000 * float(grid("aws", "us-east-1")["gco2e_per_kwh"]) / 1000
    assert result["totals"]["co2e_t_month"]["delta"] == pytest.approx(added_t, rel=REL)
    assert result["totals"]["pflops_bf16"]["delta"] == pytest.approx(256 * tflops("H100", "bf16") / 1000, rel=REL)
    assert d.summary_line(result) == f"+256 H100 GPUs · +$1.29M/month · +375 kW · +{added_t:,.0f} tCO2e/month · 0 new mandatory violations"
    comment = markdown.render_diff(result)
    assert comment.splitlines()[0] == d.summary_line(result) and "emissions, location-based" in comment
    assert "tCO2e" in diffcmd.render_text(result) and "dense BF16 compute" in diffcmd.render_text(result)


def test_diff_against_a_preview_without_the_figures_says_incomplete_not_zero():
    from aifactory import diff as d

    result = d.diff(preview_doc(16, drop_energy=True), preview_doc(48))
    assert result["totals"]["co2e_t_month"]["delta"] is None
    assert "n/a tCO2e/month" in d.summary_line(result)
    assert result["lines"][0]["status"] == "changed" and "co2e_t_month" not in result["lines"][0]["changed"]


def test_preview_markdown_summary_sarif_and_junit_show_the_figures():
    from xml.etree import ElementTree as ET

    from aifactory.report import junit, markdown, sarif

    doc = preview_doc(16)
    doc["policies"]["violations"] = [{"policy": "carbon-cap", "enforcement": "mandatory", "urn": None,
                                      "message": "Estimated emissions 51.9 tCO2e a month exceed maxMonthlyTco2e 40.0 tCO2e"}]
    t = doc["estimate"]["co2e_t_month"]
    assert markdown.preview_summary_line(doc) == f"128 H100 GPUs · $643k/month · 188 kW · {t:,.0f} tCO2e/month · 1 mandatory violation"
    report = markdown.render_preview(doc)
    assert "tCO2e/month, location-based" in report and "PFLOPS per MW" in report
    run = sarif.render(doc, "stacks/Pulumi.vision-prod.yaml")["runs"][0]
    assert run["properties"]["estimate"]["co2e_t_month"] == t
    assert "51.9 tCO2e" in run["results"][0]["message"]["text"]
    suites = ET.fromstring(junit.render(doc).split("\n", 1)[1])
    estimate = suites.find(".//property[@name='estimate']").get("value")
    assert f"{t:,.0f} tCO2e/month" in estimate
