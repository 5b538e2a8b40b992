"""carbon-cap and efficiency-floor: called directly, over the real pack via gRPC, and through the CLI.

Expected tonnes and PFLOPS per MW are computed here from the catalog's CSV rows, not by the rules.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aifactory.analyzer import PolicyPackClient
from aifactory.policies.carbon import carbon_cap, efficiency_floor
from tests.policy_fixtures import U, aws_facility, find, gcp_facility, replace, run_stack
from tests.test_energy import REL, grid, node_w, pue, tflops
from tests.test_policy_pack_grpc import by_policy, run

ROOT = Path(__file__).resolve().parent.parent
ASG = "aws:autoscaling/group:Group"


def tco2e(cloud: str, itype: str, nodes: int, region: str, load_factor: float = 1.0) -> float:
    kw = nodes * node_w(cloud, itype) / 1000 * pue(cloud)
    return kw * 730 * load_factor / 1000 * float(grid(cloud, region)["gco2e_per_kwh"]) / 1000


# --------------------------------------------------------------------------- carbon-cap, direct


def test_carbon_cap_names_the_total_the_biggest_contributor_and_a_cleaner_region():
    expected = tco2e("aws", "p5.48xlarge", 16, "us-east-1")  # 51.9 t
    found = run_stack(carbon_cap, aws_facility(), {"maxMonthlyTco2e": 40})
    assert len(found) == 1
    message, urn = found[0]
    assert urn is None
    assert f"Estimated emissions {expected:,.1f} tCO2e" in message
    assert "exceed maxMonthlyTco2e 40.0 tCO2e" in message and "load factor 1" in message
    assert "vision-prod-trainers (16 x p5.48xlarge in us-east-1)" in message
    # the cleanest catalog region offering p5.48xlarge, with the group's tonnes there
    assert f"eu-north-1 ({float(grid('aws', 'eu-north-1')['gco2e_per_kwh']):g} gCO2e/kWh: " \
           f"{tco2e('aws', 'p5.48xlarge', 16, 'eu-north-1'):,.1f} tCO2e)" in message


def test_carbon_cap_passes_under_the_cap_and_its_load_factor_is_the_orgs():
    expected = tco2e("aws", "p5.48xlarge", 16, "us-east-1")
    assert run_stack(carbon_cap, aws_facility(), {"maxMonthlyTco2e": expected * 1.01}) == []
    assert run_stack(carbon_cap, aws_facility(), {"maxMonthlyTco2e": expected * 0.6, "loadFactor": 0.5}) == []
    (message, _), = run_stack(carbon_cap, aws_facility(), {"maxMonthlyTco2e": expected * 0.4, "loadFactor": 0.5})
    assert f"{expected * 0.5:,.1f} tCO2e" in message


def test_carbon_cap_fails_closed_on_an_unknown_node_count_and_a_region_without_intensity():
    found = run_stack(carbon_cap, replace(aws_facility(), ASG, desiredCapacity=U))
    assert found and all("unknown at preview" in m for m, _ in found)
    assert find(aws_facility(), ASG)["urn"] in {u for _, u in found}
    # p5en.48xlarge in eu-south-2: power known, no grid intensity in the catalog
    found = run_stack(carbon_cap, aws_facility(region="eu-south-2", itype="p5en.48xlarge", efa=16))
    assert len(found) == 1 and "no grid carbon intensity for aws eu-south-2" in found[0][0]


def test_carbon_cap_refuses_a_load_factor_out_of_range_and_judges_at_the_upper_bound():
    found = run_stack(carbon_cap, aws_facility(), {"loadFactor": 1.5})
    assert any("loadFactor 1.5 is not a number in (0, 1]" in m for m, _ in found)


# --------------------------------------------------------------------------- efficiency-floor, direct


def test_efficiency_floor_names_the_ratio_and_a_newer_gpu():
    # p4d (A100): 8 x 312 TFLOPS over 6.5 kW x PUE 1.15
    ratio = 8 * tflops("A100", "bf16") / 1000 / (node_w("aws", "p4d.24xlarge") / 1000 * pue("aws") / 1000)
    found = run_stack(efficiency_floor, aws_facility(itype="p4d.24xlarge", efa=4), {"minPflopsPerMw": 500})
    assert len(found) == 1
    message, _ = found[0]
    assert f"Compute per watt {ratio:,.0f} dense BF16 PFLOPS per MW" in message
    assert "below minPflopsPerMw 500" in message and "vision-prod-trainers (16 x p4d.24xlarge in us-east-1)" in message
    assert "A newer GPU offered in us-east-1:" in message and "p5.48xlarge (H100)" in message


def test_efficiency_floor_passes_hopper_and_fails_closed_without_tflops():
    assert run_stack(efficiency_floor, gcp_facility(), {"minPflopsPerMw": 500}) == []
    found = run_stack(efficiency_floor, replace(aws_facility(), ASG, desiredCapacity=U))
    assert found and all("unknown at preview" in m for m, _ in found)


# --------------------------------------------------------------------------- the real pack over gRPC


@pytest.fixture(scope="module")
def pack():
    with PolicyPackClient(ROOT / "policies", timeout=120) as client:
        yield client


@pytest.fixture
def client(pack):
    pack.configure(None)
    yield pack
    pack.configure(None)


def test_pack_carbon_cap_is_mandatory_and_efficiency_floor_advisory(client):
    names = {i.name: i for i in client.info()[1]}
    assert names["carbon-cap"].policy_type == "stack" and names["carbon-cap"].enforcement_level == "mandatory"
    assert names["efficiency-floor"].policy_type == "stack" and names["efficiency-floor"].enforcement_level == "advisory"
    client.configure({"carbon-cap": {"maxMonthlyTco2e": 40}, "efficiency-floor": {"minPflopsPerMw": 800}})
    found = by_policy(run(client, aws_facility()))
    assert [v.enforcement for v in found["carbon-cap"]] == ["mandatory"]
    assert f"{tco2e('aws', 'p5.48xlarge', 16, 'us-east-1'):,.1f} tCO2e" in found["carbon-cap"][0].message
    assert [v.enforcement for v in found["efficiency-floor"]] == ["advisory"]


def test_pack_keeps_carbon_cap_mandatory_on_an_unknown_node_count(client):
    found = by_policy(run(client, replace(aws_facility(), ASG, desiredCapacity=U)))
    assert found["carbon-cap"] and all(v.enforcement == "mandatory" and "unknown at preview" in v.message
                                       for v in found["carbon-cap"])


# --------------------------------------------------------------------------- the CLI


def test_a_stack_over_max_monthly_tco2e_exits_1_naming_carbon_cap(tmp_path):
    config = tmp_path / "carbon.json"
    config.write_text(json.dumps({"carbon-cap": {"maxMonthlyTco2e": 20}}))
    result = subprocess.run([sys.executable, "-m", "aifactory", "preview", "vision-prod", "--policy-config", str(config),
                             "--format", "json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr[-2000:]
    doc = json.loads(result.stdout)
    carbon = [v for v in doc["policies"]["violations"] if v["policy"] == "carbon-cap"]
    assert len(carbon) == 1 and carbon[0]["enforcement"] == "mandatory"
    assert {v["policy"] for v in doc["policies"]["violations"] if v["enforcement"] == "mandatory"} == {"carbon-cap"}
    assert doc["estimate"]["co2e_t_month"] == pytest.approx(
        doc["estimate"]["facility_power_kw"] * 730 / 1000 * float(grid("aws", "us-east-1")["gco2e_per_kwh"]) / 1000, rel=REL)
    assert f"Estimated emissions {doc['estimate']['co2e_t_month']:,.1f} tCO2e" in carbon[0]["message"]
