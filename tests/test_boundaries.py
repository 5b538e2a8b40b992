"""Every limit the product enforces or relies on, exactly at its edge, one unit under and one over.

Gates (power, cost against the org cap and against the stack's own budget, fabric share, placement
minimum, budget-guard GPUs) are judged by the pack's own rules with the SDK's argument classes; the
expected figures are computed here from the catalog's sourced inputs, not through the estimate.
Cloud limits (100 VMs per Azure scale set, 10,000 per AWS group, 2,000 per Google MIG, name
lengths, CIDR sizes, budget thresholds, storage steps) are checked both in validation and in what
the components really register.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aifactory import catalog, components
from aifactory.policies.cost import budget_guard_required, cost_cap
from aifactory.policies.fabric import fabric_complete, placement
from aifactory.policies.power import power_cap
from aifactory.loader import load_facility
from aifactory.spec import SpecError
from tests.harness import run
from tests.policy_fixtures import aws_facility, azure_facility, find, gcp_facility, run_resources, run_stack

ROOT = Path(__file__).resolve().parent.parent
HOURS = 730

P5 = catalog.instance("aws", "p5.48xlarge")
P5_USD = catalog.price("aws", "p5.48xlarge", "us-east-1").usd_per_hour
FSX_125 = next(s for s in catalog.storage_skus("aws", "lustre") if s.throughput_mbps_per_tib == 125)
AWS_PUE = catalog.pue("aws").pue


def stack_facility(stack: str) -> dict:
    return yaml.safe_load((ROOT / f"stacks/Pulumi.{stack}.yaml").read_text())["config"]["aifactory:facility"]


def problems(facility: dict) -> list[str]:
    try:
        load_facility(facility)
    except SpecError as error:
        return [str(p) for p in error.problems]
    return []


# --------------------------------------------------------------------------- power-cap


def test_power_cap_at_under_and_over_the_limit():
    nodes = 16
    facility_kw = nodes * P5.node_power_w / 1000 * AWS_PUE  # 16 x 10.2 kW x 1.15 = 187.68 kW
    resources = aws_facility(nodes=float(nodes))
    assert not run_stack(power_cap, resources, {"maxFacilityKw": round(facility_kw, 3)})
    assert not run_stack(power_cap, resources, {"maxFacilityKw": facility_kw + 0.01})
    [(message, _)] = run_stack(power_cap, resources, {"maxFacilityKw": facility_kw - 0.01})
    assert f"Facility power {facility_kw:,.1f} kW" in message and "exceeds maxFacilityKw" in message


def test_power_cap_one_node_more_crosses_a_limit_set_at_n_nodes():
    at = 100 * P5.node_power_w / 1000 * AWS_PUE
    assert not run_stack(power_cap, aws_facility(nodes=100.0), {"maxFacilityKw": at})
    assert run_stack(power_cap, aws_facility(nodes=101.0), {"maxFacilityKw": at})


# --------------------------------------------------------------------------- cost-cap


def aws_monthly_usd(nodes: int, lustre_gib: int = 48000) -> float:
    return nodes * P5_USD * HOURS + lustre_gib * FSX_125.usd_per_gib_month


def test_cost_cap_at_under_and_over_the_org_cap():
    resources = aws_facility(nodes=16.0, budget_usd=None)
    total = aws_monthly_usd(16)  # 16 x 55.04 x 730 + 48,000 GiB x 0.145
    assert not run_stack(cost_cap, resources, {"maxMonthlyUsd": round(total, 2)})
    assert not run_stack(cost_cap, resources, {"maxMonthlyUsd": total + 1})
    [(message, urn)] = run_stack(cost_cap, resources, {"maxMonthlyUsd": total - 1})
    assert urn is None and "exceeds maxMonthlyUsd" in message


def test_cost_cap_at_under_and_over_the_stacks_own_budget():
    fleet_usd = 16 * P5_USD * HOURS  # the budget covers the fleet it filters on (the facility tag)
    covered = round(fleet_usd + 48000 * FSX_125.usd_per_gib_month, 2)
    config = {"maxMonthlyUsd": 1e12}
    at = run_stack(cost_cap, aws_facility(nodes=16.0, budget_usd=f"{covered:.2f}"), config)
    over = run_stack(cost_cap, aws_facility(nodes=16.0, budget_usd=f"{covered - 1:.2f}"), config)
    under = run_stack(cost_cap, aws_facility(nodes=16.0, budget_usd=f"{covered + 1:.2f}"), config)
    assert not at and not under
    [(message, _)] = over
    assert "exceeds its amount" in message and "by $1" in message


# --------------------------------------------------------------------------- budget-guard-required


def test_budget_guard_required_from_min_gpus():
    no_budget = aws_facility(nodes=2.0, budget_usd=None)  # 16 GPUs
    assert run_stack(budget_guard_required, no_budget, {"minGpus": 16})
    assert not run_stack(budget_guard_required, no_budget, {"minGpus": 17})
    assert run_stack(budget_guard_required, no_budget, {"minGpus": 15})


# --------------------------------------------------------------------------- fabric-complete and placement


def test_fabric_share_at_under_and_over_the_minimum():
    resources = aws_facility(efa=31)  # 31 of p5's 32 EFA cards
    share = 31 / P5.fabric_interfaces
    assert not run_resources(fabric_complete, resources, {"minFabricShare": share})
    assert run_resources(fabric_complete, resources, {"minFabricShare": share + 0.001})
    assert not run_resources(fabric_complete, resources, {"minFabricShare": share - 0.001})
    assert run_resources(fabric_complete, resources)  # the default asks for every card


def gcp_nodes_labelled(resources: list[dict], nodes: float) -> list[dict]:
    """A GCP template says how many nodes it launches in its `aifactory-nodes` label."""
    template = find(resources, "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate")
    template["inputs"]["labels"]["aifactory-nodes"] = str(int(nodes))
    return resources


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
def test_placement_minimum_nodes(cloud):
    build = {"aws": lambda n: aws_facility(nodes=n, placement=False),
             "azure": lambda n: azure_facility(nodes=n, ppg=False),
             "gcp": lambda n: gcp_nodes_labelled(gcp_facility(nodes=n, compact=False), n)}[cloud]
    assert run_resources(placement, build(2.0), {"minNodes": 2})
    assert not run_resources(placement, build(1.0), {"minNodes": 2})
    assert run_resources(placement, build(3.0), {"minNodes": 3})
    assert not run_resources(placement, build(2.0), {"minNodes": 3})


# --------------------------------------------------------------------------- cloud group caps, registered


def fleet_sizes(stack: str, nodes: int, node_type: str, size_key) -> list[int]:
    facility = stack_facility(stack)
    facility["fleets"] = [{**facility["fleets"][0], "name": "big", "nodes": nodes, "capacity": "on-demand"}]
    facility["fleets"][0].pop("reservation_id", None)
    spec = load_facility(facility)
    result = run(lambda: components.build_facility(spec))
    return sorted(size_key(r.inputs) for r in result.resources if r.type == node_type)


@pytest.mark.parametrize("stack, node_type, size_key, cap", [
    ("speech-prod", "azure-native:compute:VirtualMachineScaleSet", lambda i: i["sku"]["capacity"], 100),
    ("vision-prod", "aws:autoscaling/group:Group", lambda i: i["desiredCapacity"], 10_000),
    ("llm-prod", "gcp:compute/instanceGroupManager:InstanceGroupManager", lambda i: i["targetSize"], 2_000),
])
def test_group_cap_at_and_one_over(stack, node_type, size_key, cap):
    assert fleet_sizes(stack, cap, node_type, size_key) == [cap]
    assert fleet_sizes(stack, cap + 1, node_type, size_key) == [cap // 2, cap // 2 + 1]


# --------------------------------------------------------------------------- validation edges


@pytest.mark.parametrize("length, ok", [(24, True), (25, False)])
def test_facility_name_length(length, ok):
    facility = stack_facility("vision-prod")
    facility["name"] = "v" * length
    found = problems(facility)
    assert (not found) == ok, found
    if not ok:
        assert any("aifactory:facility.name" in p and "at most 24 characters" in p for p in found)


@pytest.mark.parametrize("length, ok", [(16, True), (17, False)])
def test_fleet_name_length(length, ok):
    facility = stack_facility("vision-prod")
    facility["fleets"][1]["name"] = "e" * length
    found = problems(facility)
    assert (not found) == ok, found
    if not ok:
        assert any("fleets[1].name" in p and "at most 16 characters" in p for p in found)


@pytest.mark.parametrize("stack, prefix, ok", [
    ("vision-prod", 16, True), ("vision-prod", 15, False), ("vision-prod", 24, True), ("vision-prod", 25, False),
    ("llm-prod", 8, True), ("llm-prod", 7, False), ("llm-prod", 24, True), ("llm-prod", 25, False),
])
def test_network_prefix_edges(stack, prefix, ok):
    facility = stack_facility(stack)
    facility["network"] = {"cidr": f"10.0.0.0/{prefix}"}
    found = [p for p in problems(facility) if "network.cidr" in p]
    assert (not found) == ok, found


@pytest.mark.parametrize("value, ok", [(0, False), (1, True), (1000, True), (1001, False)])
def test_budget_threshold_edges(value, ok):
    facility = stack_facility("vision-prod")
    facility["budget"]["thresholds_pct"] = [value]
    found = problems(facility)
    assert (not found) == ok, found
    if not ok:
        assert any("budget.thresholds_pct[0]" in p and "between 1 and 1000" in p for p in found)


@pytest.mark.parametrize("count, ok", [(5, True), (6, False)])
def test_aws_budget_threshold_count(count, ok):
    facility = stack_facility("vision-prod")
    facility["budget"]["thresholds_pct"] = [10 * (i + 1) for i in range(count)]
    found = [p for p in problems(facility) if "thresholds_pct" in p]
    assert (not found) == ok, found


# --------------------------------------------------------------------------- storage steps and the GiB built

# (stack, throughput, capacity key, value, accepted, GiB the component registers, input, registered value)
STEPS = [
    ("vision-prod", 250, "capacity_tib", 1.2, True, 1200),
    ("vision-prod", 250, "capacity_tib", 2.4, True, 2400),
    ("vision-prod", 250, "capacity_tib", 3.6, False, None),
    ("vision-prod", 250, "capacity_tib", 4.8, True, 4800),
    ("vision-prod", 250, "capacity_tib", 1.1, False, None),
    ("speech-prod", 125, "capacity_tib", 16, True, 16384),
    ("speech-prod", 125, "capacity_tib", 24, False, None),
    ("speech-prod", 125, "capacity_tib", 8, False, None),
    ("speech-prod", 500, "capacity_tib", 4, True, 4096),
    ("speech-prod", 40, "capacity_tib", 48, True, 49152),
    ("speech-prod", 40, "capacity_tib", 32, False, None),
    ("llm-prod", 1000, "capacity_gib", 9000, True, 9000),
    ("llm-prod", 1000, "capacity_gib", 8999, False, None),
    ("llm-prod", 1000, "capacity_gib", 18000, True, 18000),
    ("llm-prod", 1000, "capacity_gib", 72000, True, 72000),
    ("llm-prod", 1000, "capacity_gib", 81000, True, 81000),
    ("llm-prod", 1000, "capacity_gib", 1530000, True, 1530000),
    ("llm-prod", 1000, "capacity_gib", 1539000, False, None),  # above 1,530,000 GiB tier-1000 steps by 72,000
    ("llm-prod", 1000, "capacity_gib", 1584000, True, 1584000),
    ("llm-prod", 1000, "capacity_gib", 10008000, True, 10008000),
    ("llm-prod", 1000, "capacity_gib", 10080000, False, None),
    ("llm-prod", 125, "capacity_gib", 72000, True, 72000),
    ("llm-prod", 125, "capacity_gib", 36000, False, None),
]
REGISTERED = {
    "vision-prod": ("aws:fsx/lustreFileSystem:LustreFileSystem", "storageCapacity", lambda gib: gib),
    "speech-prod": ("azure-native:storagecache:AmlFilesystem", "storageCapacityTiB", lambda gib: gib // 1024),
    "llm-prod": ("gcp:lustre/instance:Instance", "capacityGib", str),
}


@pytest.mark.parametrize("stack, throughput, key, value, ok, gib", STEPS)
def test_lustre_steps_and_the_size_registered(stack, throughput, key, value, ok, gib):
    facility = stack_facility(stack)
    fs = facility["filesystems"][0]
    fs.pop("capacity_tib", None)
    fs.pop("capacity_gib", None)
    fs.update({key: value, "throughput_mbps_per_tib": throughput})
    found = [p for p in problems(facility) if "filesystems[0]" in p]
    assert (not found) == ok, found
    if not ok:
        assert any(f"filesystems[0].{key}" in p for p in found), found
        return
    fs_type, size_input, expected = REGISTERED[stack]
    spec = load_facility(facility)
    result = run(lambda: components.build_facility(spec))
    [filesystem] = [r for r in result.resources if r.type == fs_type]
    assert filesystem.inputs[size_input] == expected(gib)


# --------------------------------------------------------------------------- diff limits at the edge


def _diff_limit(tmp_path: Path, increase_usd: float, limit: float) -> int:
    def doc(usd: float) -> dict:
        line = {"kind": "fleet", "name": "f", "cloud": "aws", "region": "us-east-1", "item": "p5.48xlarge",
                "nodes": 1, "gpus": 8, "capacity": "on-demand", "monthly_usd": usd, "it_power_kw": 10.2,
                "facility_power_kw": 11.73}
        return {"project": "aifactory", "stack": "s", "resources": [], "policies": {"pack": "aifactory", "violations": []},
                "estimate": {"gpus": 8, "nodes": 1, "monthly_usd": usd, "it_power_kw": 10.2,
                             "facility_power_kw": 11.73, "pue": 1.15, "lines": [line]}}
    base, head = tmp_path / "base.json", tmp_path / "head.json"
    base.write_text(json.dumps(doc(1000.0)))
    head.write_text(json.dumps(doc(1000.0 + increase_usd)))
    result = subprocess.run([sys.executable, "-m", "aifactory", "diff", str(base), str(head), "--format", "json",
                             "--max-increase-usd", str(limit)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr
    return result.returncode


def test_diff_max_increase_usd_at_and_over(tmp_path):
    assert _diff_limit(tmp_path, 500.0, 500.0) == 0
    assert _diff_limit(tmp_path, 500.01, 500.0) == 1
    assert _diff_limit(tmp_path, 750.0, 500.0) == 1


# --------------------------------------------------------------------------- longest names, registered

AUTONAME_SUFFIX = 8  # the engine's auto-naming appends "-" and 7 random characters to a logical name


def longest_names(stack: str, cap: int):
    facility = stack_facility(stack)
    facility["name"] = "f" * 24
    facility["fleets"] = [{**facility["fleets"][0], "name": "g" * 16, "nodes": cap * 2 + 1, "capacity": "on-demand"}]
    facility["fleets"][0].pop("reservation_id", None)
    facility["filesystems"][0]["name"] = "h" * 16
    spec = load_facility(facility)
    return run(lambda: components.build_facility(spec)).resources


def test_longest_names_fit_google_clouds_limits():
    for r in longest_names("llm-prod", 2_000):
        if not r.custom or r.type.startswith("pulumi:providers:"):
            continue
        if "name" not in r.inputs:  # auto-named: RFC 1035, at most 63 characters
            assert len(r.name) + AUTONAME_SUFFIX <= 63, (r.type, r.name)
        if "baseInstanceName" in r.inputs:  # the group appends "-xxxx"
            assert len(r.inputs["baseInstanceName"]) <= 58, r.inputs["baseInstanceName"]
        if "instanceId" in r.inputs:
            assert len(r.inputs["instanceId"]) <= 63


def test_longest_names_fit_aws_limits():
    limits = {"aws:iam/role:Role": 64, "aws:lambda/function:Function": 64, "aws:ec2/launchTemplate:LaunchTemplate": 128}
    seen = set()
    for r in longest_names("vision-prod", 10_000):
        if r.type in limits and "name" not in r.inputs:
            assert len(r.name) + AUTONAME_SUFFIX <= limits[r.type], (r.type, r.name)
            seen.add(r.type)
        if r.type == "aws:autoscaling/group:Group":
            assert len(r.inputs["name"]) <= 255
        if r.type == "aws:budgets/budget:Budget":
            assert len(r.inputs["name"]) <= 100
    assert seen == set(limits)  # the kill switch's role and function, and the launch template, were built


def test_longest_names_fit_azure_scale_set_limits():
    sets = [r for r in longest_names("speech-prod", 100) if r.type == "azure-native:compute:VirtualMachineScaleSet"]
    assert len(sets) == 3
    for r in sets:
        assert len(r.inputs["vmScaleSetName"]) <= 64  # Linux scale-set names: 1 to 64 characters


# --------------------------------------------------------------------------- carbon-cap


def test_carbon_cap_at_under_and_over_the_limit():
    from aifactory.catalog.energy import grid_carbon
    from aifactory.policies.carbon import carbon_cap

    grid = grid_carbon("aws", "us-east-1").gco2e_per_kwh
    # 16 x 10.2 kW x PUE 1.15 x 730 h at load factor 1.0, times the region's grid intensity.
    tco2e = 16 * P5.node_power_w / 1000 * AWS_PUE * HOURS * grid / 1e6
    resources = aws_facility(nodes=16.0)
    assert not run_stack(carbon_cap, resources, {"maxMonthlyTco2e": tco2e + 0.01, "loadFactor": 1.0})
    over = run_stack(carbon_cap, resources, {"maxMonthlyTco2e": tco2e - 0.01, "loadFactor": 1.0})
    assert len(over) == 1 and "maxMonthlyTco2e" in over[0][0]
