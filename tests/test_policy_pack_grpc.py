"""The aifactory pack end to end over its real gRPC Analyzer interface (one pack process for the
module, started from policies/ by aifactory.analyzer as the CLI would start it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aifactory import stackfile
from aifactory.analyzer import PolicyPackClient
from aifactory.preview import PROGRAM, program_config
from aifactory.recording import RecordedResource, run_program
from aifactory.policies import all_policies
from tests.policy_fixtures import U, aws_facility, azure_facility, find, gcp_facility, replace

ROOT = Path(__file__).resolve().parent.parent
PACK = ROOT / "policies"
CONFIG = PACK / "config"
ASG = "aws:autoscaling/group:Group"
LT = "aws:ec2/launchTemplate:LaunchTemplate"


@pytest.fixture(scope="module")
def pack():
    with PolicyPackClient(PACK, timeout=120) as client:
        yield client


@pytest.fixture
def client(pack):
    pack.configure(None)  # each test starts from the pack's own defaults
    yield pack
    pack.configure(None)


def recorded(resources: list[dict]) -> list[RecordedResource]:
    return [RecordedResource.from_json(r) for r in resources]


def run(client: PolicyPackClient, resources: list[dict]):
    """Analyze every resource, then the stack, as the engine does during a preview."""
    records = recorded(resources)
    providers = {r.urn: r for r in records if r.is_provider}
    violations = []
    for r in records:
        violations += client.analyze(r, providers)
    return violations + client.analyze_stack(records, providers)


def by_policy(violations) -> dict[str, list]:
    out: dict[str, list] = {}
    for v in violations:
        out.setdefault(v.policy, []).append(v)
    return out


def test_info_lists_every_policy_with_its_config_schema(client):
    name, infos = client.info()
    assert name == "aifactory"
    expected = {p.name: p for p in all_policies()}
    assert sorted(i.name for i in infos) == sorted(expected)
    for info in infos:
        policy = expected[info.name]
        assert info.enforcement_level == ("advisory" if info.name == "efficiency-floor" else "mandatory")
        stack = ("power-cap", "cost-cap", "budget-guard-required", "fabric-complete-groups", "carbon-cap",
                 "efficiency-floor")
        assert info.policy_type == ("stack" if info.name in stack else "resource")
        assert set(info.config_schema["properties"]) == set(policy.config_schema.properties)
        for prop in info.config_schema["properties"].values():
            assert {"type", "default", "description"} <= set(prop)


@pytest.mark.parametrize("build", [aws_facility, azure_facility, gcp_facility], ids=["aws", "azure", "gcp"])
def test_a_well_built_facility_passes(client, build):
    assert run(client, build()) == []


def test_power_cap_breach_is_mandatory_and_config_clears_it(client):
    resources = aws_facility(nodes=300.0, budget_usd="1000000000")
    breach = [v for v in run(client, resources) if v.policy == "power-cap"]
    assert len(breach) == 1 and breach[0].enforcement == "mandatory" and breach[0].urn is None
    assert "exceeds maxFacilityKw 2,000.0 kW" in breach[0].message
    client.configure({"power-cap": {"maxFacilityKw": 1e9}})
    assert not [v for v in run(client, resources) if v.policy == "power-cap"]


def test_all_advisory_downgrades_every_violation(client):
    resources = aws_facility(nodes=300.0, efa=1, region="eu-west-1", budget_usd=None)
    mandatory = run(client, resources)
    assert {"power-cap", "budget-guard-required", "region-allowlist", "fabric-complete"} <= {v.policy for v in mandatory}
    assert all(v.enforcement == "mandatory" for v in mandatory)
    client.configure({"all": "advisory"})
    advisory = run(client, resources)
    assert len(advisory) == len(mandatory) and all(v.enforcement == "advisory" for v in advisory)


def test_team_config_file_tightens_the_regions(client):
    client.configure(json.loads((CONFIG / "vision.json").read_text()))
    found = by_policy(run(client, aws_facility(region="eu-north-1")))
    assert set(found) == {"region-allowlist"}
    assert all("eu-north-1" in v.message and v.enforcement == "mandatory" for v in found["region-allowlist"])
    assert run(client, aws_facility(region="us-east-2")) == []


def test_an_unknown_node_count_keeps_the_gates_mandatory(client):
    """Read through the SDK's proxies, an unknown is a mandatory 'cannot prove', not an advisory skip."""
    found = by_policy(run(client, replace(aws_facility(), ASG, desiredCapacity=U)))
    assert set(found) == {"power-cap", "cost-cap", "carbon-cap", "efficiency-floor"}
    assert all(v.enforcement == "advisory" and "unknown at preview" in v.message for v in found["efficiency-floor"])
    for v in found["power-cap"] + found["cost-cap"] + found["carbon-cap"]:
        assert v.enforcement == "mandatory" and "unknown at preview" in v.message
        assert v.urn == find(aws_facility(), ASG)["urn"]
        assert "can't run policy" not in v.message


def test_cost_family(client):
    found = by_policy(run(client, aws_facility(budget_usd="100000")))
    assert [v.urn for v in found["cost-cap"]] == [find(aws_facility(), "aws:budgets/budget:Budget")["urn"]]
    found = by_policy(run(client, gcp_facility(budget_units=None)))
    assert set(found) == {"budget-guard-required"} and "covered by no budget" in found["budget-guard-required"][0].message


def test_region_and_fabric_families(client):
    found = by_policy(run(client, aws_facility(itype="p5e.48xlarge", efa=8, placement=False)))
    # (and cost-cap: the catalog has no p5e price in us-east-1, where it is not offered)
    assert set(found) == {"instance-availability", "fabric-complete", "placement", "cost-cap"}
    assert "p5e.48xlarge is not offered in us-east-1" in found["instance-availability"][0].message
    assert "25% of the type's fabric bandwidth" in found["fabric-complete"][0].message
    lt_urn = find(aws_facility(), LT)["urn"]
    assert found["fabric-complete"][0].urn == lt_urn


def test_security_family(client):
    resources = aws_facility()
    lt = find(resources, LT)["inputs"]
    lt["metadataOptions"] = {"httpTokens": "optional"}
    lt["networkInterfaces"][0]["associatePublicIpAddress"] = "true"
    lt["blockDeviceMappings"][0]["ebs"]["encrypted"] = "false"
    find(resources, "pulumi:providers:aws")["inputs"].pop("defaultTags")
    found = by_policy(run(client, resources))
    assert {"no-public-ip", "imdsv2-required", "encryption-at-rest", "required-tags"} <= set(found)


def test_storage_family(client):
    resources = aws_facility()
    find(resources, "aws:fsx/lustreFileSystem:LustreFileSystem")["protect"] = False
    found = by_policy(run(client, resources))
    assert set(found) == {"storage-protected"} and found["storage-protected"][0].enforcement == "mandatory"


def test_the_shipped_stack_passes_under_its_team_config(client):
    stack_file = stackfile.read("llm-prod")
    records = run_program(PROGRAM, project="aifactory", stack=stack_file.name, config=program_config(stack_file),
                          known_ids=False).resources
    client.configure(json.loads((CONFIG / "llm.json").read_text()))
    providers = {r.urn: r for r in records if r.is_provider}
    violations = [v for r in records for v in client.analyze(r, providers)]
    assert violations + client.analyze_stack(records, providers) == []


def test_analyzing_many_at_once_answers_as_one_at_a_time(client):
    resources = aws_facility(nodes=5000.0) + replace(gcp_facility(), "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate",
                                                     machineType=U)
    records = recorded(resources)
    providers = {r.urn: r for r in records if r.is_provider}
    one_by_one = [v for r in records for v in client.analyze(r, providers)]
    assert one_by_one  # the program really has violations to order
    assert client.analyze_many(records, providers, in_flight=4) == one_by_one
    assert client.analyze_many(records, providers) == one_by_one
