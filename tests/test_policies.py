"""Each rule of the pack, passing and failing, called directly with pulumi_policy's own arg classes
(properties behind the SDK's unknown-checking proxies, unknowns as the engine's wire sentinel)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pulumi_policy import EnforcementLevel, StackValidationPolicy

from aifactory import stackfile
from aifactory.preview import PROGRAM, program_config
from aifactory.recording import run_program
from aifactory.policies import all_policies
from aifactory.policies.cost import budget_guard_required, cost_cap
from aifactory.policies.fabric import fabric_complete, placement
from aifactory.policies.power import power_cap
from aifactory.policies.region import instance_availability, region_allowlist
from aifactory.policies.security import encryption_at_rest, imdsv2_required, no_public_ip, required_tags
from aifactory.policies.storage import storage_protected
from tests.policy_fixtures import (
    U,
    aws_facility,
    azure_facility,
    find,
    gcp_facility,
    provider,
    replace,
    res,
    run_resource,
    run_resources,
    run_stack,
)

CONFIG = Path(__file__).resolve().parent.parent / "policies" / "config"
ASG = "aws:autoscaling/group:Group"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
VMSS = "azure-native:compute:VirtualMachineScaleSet"
GCP_TPL = "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"
MIG = "gcp:compute/instanceGroupManager:InstanceGroupManager"
FACILITIES = {"aws": aws_facility, "azure": azure_facility, "gcp": gcp_facility}


def judge(policy, resources, config=None):
    """Every violation of one policy over a stack: [(message, urn)] for stack policies, name -> messages else."""
    if isinstance(policy, StackValidationPolicy):
        return run_stack(policy, resources, config)
    return run_resources(policy, resources, config)


def messages(found) -> str:
    if isinstance(found, dict):
        return "\n".join(m for ms in found.values() for m in ms)
    return "\n".join(m for m, _ in found)


# --------------------------------------------------------------------------- the pack


def test_the_pack_has_every_rule_once_each_with_a_config_schema():
    names = [p.name for p in all_policies()]
    assert names == ["power-cap", "cost-cap", "budget-guard-required", "region-allowlist", "instance-availability",
                     "fabric-complete", "placement", "fabric-complete-groups", "no-public-ip", "imdsv2-required", "encryption-at-rest",
                     "required-tags", "storage-protected", "carbon-cap", "efficiency-floor", "node-health-required"]
    stack_rules = {p.name for p in all_policies() if isinstance(p, StackValidationPolicy)}
    assert stack_rules == {"power-cap", "cost-cap", "budget-guard-required", "fabric-complete-groups", "carbon-cap",
                           "efficiency-floor"}
    for policy in all_policies():
        advisory = policy.name == "efficiency-floor"  # advisory by default; the org may make it mandatory
        assert policy.enforcement_level == (EnforcementLevel.ADVISORY if advisory else EnforcementLevel.MANDATORY)
        assert policy.config_schema and policy.config_schema.properties
        assert all("default" in p and "type" in p for p in policy.config_schema.properties.values())


def test_default_config_file_is_the_code_defaults():
    default = json.loads((CONFIG / "default.json").read_text())
    for policy in all_policies():
        entry = dict(default[policy.name])
        assert entry.pop("enforcementLevel") == policy.enforcement_level.value
        assert entry == {k: v["default"] for k, v in policy.config_schema.properties.items()}


@pytest.mark.parametrize("team", ["vision", "speech", "llm"])
def test_team_config_files_name_known_policies_and_properties(team):
    schemas = {p.name: p.config_schema.properties for p in all_policies()}
    config = json.loads((CONFIG / f"{team}.json").read_text())
    for name, entry in config.items():
        assert name in schemas, name
        for key, value in entry.items():
            if key == "enforcementLevel":
                assert value in ("advisory", "mandatory", "disabled")
                continue
            kind = schemas[name][key]["type"]
            assert isinstance(value, {"number": (int, float), "integer": int, "boolean": bool, "array": list}[kind])


def test_vision_team_allows_its_three_regions():
    vision = json.loads((CONFIG / "vision.json").read_text())
    assert vision["region-allowlist"]["allowedRegions"] == ["us-east-1", "us-west-2", "us-east-2"]


@pytest.mark.parametrize("cloud", sorted(FACILITIES))
@pytest.mark.parametrize("policy", all_policies(), ids=lambda p: p.name)
def test_a_well_built_facility_passes_every_rule(policy, cloud):
    assert not judge(policy, FACILITIES[cloud]())


@pytest.mark.parametrize("stack", ["vision-prod", "speech-prod", "llm-prod"])
def test_the_shipped_stacks_pass_under_their_team_config(stack):
    stack_file = stackfile.read(stack)
    run = run_program(PROGRAM, project="aifactory", stack=stack_file.name, config=program_config(stack_file),
                      known_ids=False)
    resources = [r.to_json() for r in run.resources]
    team = json.loads((CONFIG / f"{stack.split('-')[0]}.json").read_text())
    for policy in all_policies():
        assert not judge(policy, resources, team.get(policy.name)), policy.name


# --------------------------------------------------------------------------- power-cap


def test_power_cap_names_the_excess_and_the_biggest_contributors():
    found = run_stack(power_cap, aws_facility(nodes=200.0))
    assert len(found) == 1
    message, urn = found[0]
    # 200 x 10.2 kW x PUE 1.15 = 2,346 kW against 2,000 kW.
    assert "Facility power 2,346.0 kW" in message and "exceeds maxFacilityKw 2,000.0 kW by 346.0 kW" in message
    assert "vision-prod-trainers (200 x p5.48xlarge)" in message
    assert "Remove at least 30 of vision-prod-trainers's 200 p5.48xlarge nodes" in message
    assert urn is None


def test_power_cap_config_raises_the_cap():
    assert not run_stack(power_cap, aws_facility(nodes=200.0), {"maxFacilityKw": 1e9})
    assert run_stack(power_cap, aws_facility(nodes=20.0), {"maxFacilityKw": 100})


def test_power_cap_with_an_unknown_node_count_reports_instead_of_passing():
    resources = replace(aws_facility(nodes=2.0), ASG, desiredCapacity=U)
    found = run_stack(power_cap, resources)
    assert len(found) == 1
    message, urn = found[0]
    assert urn == find(resources, ASG)["urn"]
    assert "node count" in message and "unknown at preview" in message and "cannot prove" in message


def test_power_cap_reports_a_gpu_type_without_a_power_figure():
    prov = provider("aws", "p", region="us-east-1")
    node = res("aws:ec2/instance:Instance", "l40s", {"instanceType": "g6e.48xlarge"}, provider=prov)
    found = run_stack(power_cap, [prov, node])
    assert "no node power figure for g6e.48xlarge" in messages(found)


# --------------------------------------------------------------------------- cost-cap


def test_cost_cap_breach_says_by_how_much_and_what_to_do():
    found = run_stack(cost_cap, aws_facility(nodes=64.0, budget_usd=None))
    text = messages(found)
    assert "exceeds maxMonthlyUsd $2,000,000" in text and "Biggest contributors: vision-prod-trainers" in text
    assert "raise cost-cap.maxMonthlyUsd" in text
    assert not run_stack(cost_cap, aws_facility(nodes=64.0, budget_usd=None), {"maxMonthlyUsd": 1e12})


def test_cost_cap_holds_the_estimate_to_the_stacks_own_budget():
    resources = aws_facility(nodes=16.0, budget_usd="100000")
    found = run_stack(cost_cap, resources)
    assert len(found) == 1
    message, urn = found[0]
    assert urn == find(resources, "aws:budgets/budget:Budget")["urn"]
    assert "exceeds its amount $100,000" in message and "Raise the budget" in message


def test_cost_cap_with_an_unknown_budget_amount_cannot_prove_it():
    resources = replace(aws_facility(), "aws:budgets/budget:Budget", limitAmount=U)
    assert "budget amount" in messages(run_stack(cost_cap, resources))


# --------------------------------------------------------------------------- budget-guard-required


def test_budget_guard_required_without_any_budget():
    for cloud, build in FACILITIES.items():
        resources = build(**{{"aws": "budget_usd", "azure": "budget", "gcp": "budget_units"}[cloud]: None})
        found = run_stack(budget_guard_required, resources)
        assert len(found) == 1 and "is covered by no budget" in found[0][0], cloud


def test_budget_guard_required_when_the_budget_filters_the_group_out():
    resources = replace(aws_facility(), "aws:budgets/budget:Budget",
                        costFilters=[{"name": "TagKeyValue", "values": ["user:facility$other"]}])
    found = run_stack(budget_guard_required, resources)
    assert "Budgets in the stack (vision-prod-budget) do not cover it" in messages(found)


def test_budget_guard_required_with_an_unknown_scope_cannot_prove_it():
    resources = replace(gcp_facility(), "gcp:billing/budget:Budget", budgetFilter={"projects": [U]})
    assert "value unknown at preview" in messages(run_stack(budget_guard_required, resources))


def test_budget_guard_is_not_required_without_gpus():
    prov = provider("aws", "p", region="us-east-1")
    assert not run_stack(budget_guard_required, [prov, res("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"},
                                                           provider=prov)])


# --------------------------------------------------------------------------- region-allowlist


def test_region_allowlist_default_and_team_config():
    assert not judge(region_allowlist, aws_facility(region="us-east-1"))
    found = judge(region_allowlist, aws_facility(region="eu-west-1"))
    assert "vision-prod-trainers" in found and "eu-west-1" in found["vision-prod-trainers"][0]
    assert "not an allowed region" in found["vision-prod-trainers"][0]
    vision = json.loads((CONFIG / "vision.json").read_text())["region-allowlist"]
    assert judge(region_allowlist, aws_facility(region="eu-north-1"), vision)
    assert not judge(region_allowlist, aws_facility(region="us-east-2"), vision)


def test_region_allowlist_reads_azure_display_names_and_gcp_zones():
    vm = res("azure-native:compute:VirtualMachine", "vm", {"location": "East US 2",
                                                           "hardwareProfile": {"vmSize": "Standard_ND96isr_H100_v5"}})
    assert not run_resource(region_allowlist, vm)
    lustre = res("gcp:lustre/instance:Instance", "l", {"location": "asia-east1-c", "capacityGib": "36000"})
    assert "asia-east1" in run_resource(region_allowlist, lustre)[0]


def test_region_allowlist_an_unknown_or_missing_region_is_reported():
    prov = provider("aws", "p", region=U)
    node = res("aws:ec2/instance:Instance", "n", {"instanceType": "p5.48xlarge"}, provider=prov)
    assert "unknown at preview" in run_resource(region_allowlist, node, [prov, node])[0]
    bare = res("aws:ec2/instance:Instance", "n", {"instanceType": "p5.48xlarge"})
    assert "names no region" in run_resource(region_allowlist, bare)[0]


# --------------------------------------------------------------------------- instance-availability


def test_instance_availability_region():
    assert not judge(instance_availability, aws_facility(itype="p5.48xlarge", region="us-east-1"))
    found = messages(judge(instance_availability, aws_facility(itype="p5e.48xlarge", region="us-east-1")))
    assert "p5e.48xlarge is not offered in us-east-1" in found and "us-east-2" in found


def test_instance_availability_zone():
    assert not judge(instance_availability, replace(
        gcp_facility(), GCP_TPL, machineType="a3-megagpu-8g"))
    prov = provider("gcp", "p", project="x", region="us-central1")
    node = res("gcp:compute/instance:Instance", "n", {"machineType": "a3-megagpu-8g", "zone": "us-central1-f"},
               provider=prov)
    found = run_resource(instance_availability, node, [prov, node])
    assert "not offered in zone us-central1-f" in found[0] and "us-central1-a" in found[0]


def test_instance_availability_capacity_block_and_unknown_type():
    found = messages(judge(instance_availability, aws_facility(itype="p4de.24xlarge", capacity="capacity-block",
                                                                region="us-east-1")))
    assert "not sold as EC2 Capacity Blocks" in found
    unknown = messages(judge(instance_availability, replace(aws_facility(), LT, instanceType=U)))
    assert "instance type" in unknown and "unknown at preview" in unknown


# --------------------------------------------------------------------------- fabric-complete


def test_fabric_complete_aws_gives_the_provisioned_share():
    found = judge(fabric_complete, aws_facility(efa=1))
    message = found["vision-prod-trainers-template"][0]
    assert "p5.48xlarge has 32 EFA network cards (3,200 Gbps of efa fabric)" in message
    assert "provisions 1 (100 Gbps, 3% of the type's fabric bandwidth)" in message
    assert "networkCardIndex 0..31" in message
    assert not judge(fabric_complete, aws_facility(efa=1), {"minFabricShare": 0.03})


def test_fabric_complete_azure_needs_a_single_placement_group():
    found = messages(judge(fabric_complete, azure_facility(single_placement_group=False)))
    assert "provisions 0 (0 Gbps, 0%" in found and "singlePlacementGroup=true" in found
    reserved = azure_facility(single_placement_group=False, ppg=False)
    vmss = find(reserved, VMSS)
    vmss["inputs"]["virtualMachineProfile"]["capacityReservation"] = {"capacityReservationGroup": {"id": "crg"}}
    assert not judge(fabric_complete, reserved)  # Azure refuses a placement group with a reservation


def test_fabric_complete_gcp_nics_and_roce_mtu():
    found = messages(judge(fabric_complete, gcp_facility(gpu_nics=4)))
    assert "a3-megagpu-8g has 8 GPU NICs" in found and "provisions 4 (800 Gbps, 50%" in found
    roce = res("gcp:compute/network:Network", "roce", {"networkProfile": "projects/p/global/networkProfiles/us-central1-b-vpc-roce",
                                                       "mtu": 1460.0})
    assert "needs MTU 8896" in run_resource(fabric_complete, roce)[0]
    rdma = replace(gcp_facility(itype="a3-ultragpu-8g", gpu_nics=8), GCP_TPL,
                   networkInterfaces=[{"nicType": "GVNIC"}] * 2 + [{"nicType": "MRDMA"}] * 8)
    assert not judge(fabric_complete, rdma)


# --------------------------------------------------------------------------- placement


def test_placement_on_demand_fleets_are_placed_together():
    assert "placement group" in messages(judge(placement, aws_facility(placement=False)))
    assert "proximity placement group" in messages(judge(placement, azure_facility(ppg=False)))
    assert "COLLOCATED" in messages(judge(placement, gcp_facility(compact=False)))


def test_placement_spares_capacity_blocks_spot_reservations_and_single_nodes():
    assert not judge(placement, aws_facility(placement=False, capacity="capacity-block"))
    assert not judge(placement, aws_facility(placement=False, capacity="spot"))
    assert not judge(placement, aws_facility(placement=False, nodes=1.0))
    single = replace(gcp_facility(compact=False), GCP_TPL,
                     labels={"team": "llm", "facility": "llm-prod", "cost-center": "cc", "aifactory-nodes": "1"})
    assert not judge(placement, single)
    assert not judge(placement, replace(gcp_facility(compact=False), GCP_TPL, scheduling={"provisioningModel": "SPOT"}))
    assert judge(placement, aws_facility(placement=False, nodes=4.0), {"minNodes": 4})
    assert not judge(placement, aws_facility(placement=False, nodes=4.0), {"minNodes": 5})


# --------------------------------------------------------------------------- security


def test_no_public_ip_on_gpu_nodes():
    aws_public = aws_facility()
    find(aws_public, LT)["inputs"]["networkInterfaces"][0]["associatePublicIpAddress"] = "true"
    assert "networkInterfaces[0].associatePublicIpAddress" in messages(judge(no_public_ip, aws_public))
    gcp_public = gcp_facility()
    find(gcp_public, GCP_TPL)["inputs"]["networkInterfaces"][0]["accessConfigs"] = [{}]
    assert "accessConfigs" in messages(judge(no_public_ip, gcp_public))
    azure_public = azure_facility()
    ip = find(azure_public, VMSS)["inputs"]["virtualMachineProfile"]["networkProfile"][
        "networkInterfaceConfigurations"][0]["ipConfigurations"][0]
    ip["publicIPAddressConfiguration"] = {"name": "pip"}
    assert "Azure Bastion" in messages(judge(no_public_ip, azure_public))


def test_no_public_ip_judges_cpu_nodes_only_when_asked():
    bastion = res("aws:ec2/instance:Instance", "bastion", {"instanceType": "t3.micro", "associatePublicIpAddress": True})
    assert not run_resource(no_public_ip, bastion)
    assert run_resource(no_public_ip, bastion, config={"gpuNodesOnly": False})


def test_imdsv2_required():
    assert "httpTokens is optional" in messages(judge(imdsv2_required, replace(
        aws_facility(), LT, metadataOptions={"httpTokens": "optional"})))
    assert "unset, which defaults to optional" in messages(judge(imdsv2_required, replace(
        aws_facility(), LT, metadataOptions=None)))
    assert "unknown at preview" in messages(judge(imdsv2_required, replace(
        aws_facility(), LT, metadataOptions={"httpTokens": U})))


def test_encryption_at_rest():
    unencrypted = aws_facility()
    find(unencrypted, LT)["inputs"]["blockDeviceMappings"][0]["ebs"]["encrypted"] = "false"
    assert "blockDeviceMappings[0].ebs.encrypted" in messages(judge(encryption_at_rest, unencrypted))
    assert "root volume keeps the AMI" in messages(judge(encryption_at_rest, replace(
        aws_facility(), LT, blockDeviceMappings=None)))
    volume = res("aws:ebs/volume:Volume", "v", {"size": 100.0, "availabilityZone": "us-east-1a"})
    assert run_resource(encryption_at_rest, volume)
    assert not judge(encryption_at_rest, azure_facility())
    assert "encryptionAtHost" in messages(judge(encryption_at_rest, azure_facility(), {"azureEncryptionAtHost": True}))


def test_required_tags():
    untagged = aws_facility()
    find(untagged, "pulumi:providers:aws")["inputs"].pop("defaultTags")
    found = judge(required_tags, untagged)
    assert "team, facility, cost-center" in found["vision-prod-scratch"][0]
    asg = replace(aws_facility(), ASG, tags=[{"key": "team", "value": "vision", "propagateAtLaunch": True}])
    message = messages(judge(required_tags, asg))
    assert "facility, cost-center" in message and "never reach Auto Scaling groups" in message
    assert "owner" in messages(judge(required_tags, gcp_facility(), {"tags": ["owner"]}))


# --------------------------------------------------------------------------- storage-protected


def test_storage_protected():
    fsx = find(aws_facility(), "aws:fsx/lustreFileSystem:LustreFileSystem")
    assert not run_resource(storage_protected, fsx)
    fsx["protect"] = False
    assert "Set the `protect` resource option" in run_resource(storage_protected, fsx)[0]
    lustre = find(gcp_facility(), "gcp:lustre/instance:Instance")
    lustre["protect"] = False  # deletionPolicy PREVENT still guards it
    assert not run_resource(storage_protected, lustre)
    assert run_resource(storage_protected, lustre, config={"acceptDeletionProtection": False})


# --------------------------------------------------------------------------- unknowns never crash a rule


# What each rule says when every input but tags and the instance type is unknown at preview: the
# gates that need a value fail closed ("cannot prove"), never pass and never raise (the SDK would
# turn an exception into an advisory "can't run during preview").
UNKNOWN_VERDICTS = {
    "power-cap": "node count of",
    "cost-cap": "node count of",
    "budget-guard-required": "value unknown at preview",
    "region-allowlist": "region of",
    "instance-availability": "region of",
    "fabric-complete": "network interfaces of",
    "placement": None,  # the placement group is set (to a value unknown until deploy)
    "fabric-complete-groups": None,  # the group names no type itself (its launch template does)
    "no-public-ip": "public IP setting of",
    "imdsv2-required": "metadataOptions.httpTokens of",
    "encryption-at-rest": "volume encryption of",
    "required-tags": "missing the tag(s)",  # the provider's default tags are unknown
    "storage-protected": None,  # `protect` is a resource option, never unknown
    "carbon-cap": "node count of",
    "efficiency-floor": "node count of",
    "node-health-required": "initial lifecycle hooks of",
}


@pytest.mark.parametrize("policy", all_policies(), ids=lambda p: p.name)
def test_unknown_values_fail_closed_in_every_rule(policy):
    resources = aws_facility()
    for r in resources:
        for key in list(r["inputs"]):
            if key not in ("tags", "instanceType"):
                r["inputs"][key] = U
    text = messages(judge(policy, resources))
    expected = UNKNOWN_VERDICTS[policy.name]
    if expected is None:
        assert text == ""
    else:
        assert expected in text
        if expected.endswith(" of"):
            assert "unknown at preview" in text and "cannot prove" in text
