"""Inventories read from resources: group -> template links, plain programs, filesystems, budgets,
values unknown at preview, and agreement with the spec's own estimate."""

from __future__ import annotations

import json

import pytest

import pulumi
import pulumi_aws as aws

from aifactory import stackfile
from aifactory.estimate import estimate, estimate_spec
from aifactory.inventory import (
    UNKNOWN_SENTINELS,
    GpuGroup,
    Unknown,
    effective_tags,
    as_resource,
    from_resources,
)
from aifactory.preview import PROGRAM, program_config
from aifactory.recording import SDK_UNKNOWN, UNKNOWN, run_program
from aifactory.loader import load_facility
from tests.policy_fixtures import (
    U,
    aws_facility,
    azure_facility,
    find,
    gcp_facility,
    provider,
    replace,
    res,
    stack_args,
)

ASG = "aws:autoscaling/group:Group"
LT = "aws:ec2/launchTemplate:LaunchTemplate"


def only_group(resources):
    inventory = from_resources(resources)
    assert len(inventory.groups) == 1, inventory.groups
    return inventory.groups[0], inventory


def test_unknown_markers_are_the_recorder_and_engine_ones():
    assert UNKNOWN in UNKNOWN_SENTINELS and SDK_UNKNOWN in UNKNOWN_SENTINELS


# --------------------------------------------------------------------------- AWS


def test_aws_asg_follows_its_launch_template_through_the_property_dependency():
    resources = aws_facility(nodes=16.0, capacity="capacity-block")
    # The launch template ID is unknown at preview; only the dependency links the two.
    assert find(resources, ASG)["inputs"]["launchTemplate"]["id"] == U
    group, inventory = only_group(replace(resources, ASG, tags=[]))  # no tag fallback: the link alone
    assert (group.instance_type, group.nodes, group.capacity, group.region) == ("p5.48xlarge", 16, "capacity-block", "us-east-1")
    assert group.urn == find(resources, ASG)["urn"] and group.gpus == 128
    assert inventory.unknowns == []


def test_aws_asg_links_a_template_by_literal_id_or_name():
    prov = provider("aws", "p", region="us-west-2")
    lt = res(LT, "tpl", {"name": "gpu-tpl", "instanceType": "p4d.24xlarge"}, provider=prov)
    by_id = res(ASG, "by-id", {"desiredCapacity": 3.0, "launchTemplate": {"id": "tpl_id"}}, provider=prov)
    by_name = res(ASG, "by-name", {"minSize": 2.0, "launchTemplate": {"name": "gpu-tpl"}}, provider=prov)
    inventory = from_resources([prov, lt, by_id, by_name])
    assert [(g.name, g.instance_type, g.nodes) for g in inventory.groups] == [
        ("by-id", "p4d.24xlarge", 3), ("by-name", "p4d.24xlarge", 2)]  # desired defaults to minSize


def test_aws_mixed_instances_policy_overrides_and_spot_distribution():
    prov = provider("aws", "p", region="us-east-1")
    lt = res(LT, "tpl", {"instanceType": "p4d.24xlarge"}, provider=prov)
    asg = res(ASG, "mixed", {
        "desiredCapacity": 4.0,
        "mixedInstancesPolicy": {
            "launchTemplate": {"launchTemplateSpecification": {"launchTemplateId": U},
                               "overrides": [{"instanceType": "p5.48xlarge"}]},
            "instancesDistribution": {"onDemandPercentageAboveBaseCapacity": 0.0}},
    }, provider=prov, deps={"mixedInstancesPolicy": [lt]})
    group, _ = only_group([prov, lt, asg])
    assert (group.instance_type, group.nodes, group.capacity) == ("p5.48xlarge", 4, "spot")


def test_aws_asg_tag_is_the_fallback_when_the_template_is_not_in_the_program():
    prov = provider("aws", "p", region="us-east-2")
    asg = res(ASG, "tagged", {"desiredCapacity": 2.0, "launchTemplate": {"id": "lt-0abc"},
                              "tags": [{"key": "aifactory:instance-type", "value": "p5.48xlarge", "propagateAtLaunch": True},
                                       {"key": "aifactory:zone", "value": "us-east-2b", "propagateAtLaunch": True}]},
              provider=prov)
    group, _ = only_group([prov, asg])
    assert (group.instance_type, group.nodes, group.zone, group.region) == ("p5.48xlarge", 2, "us-east-2b", "us-east-2")


def test_bare_instance_is_a_group_of_one_and_a_lone_template_of_none():
    prov = provider("aws", "p", region="us-west-2")
    node = res("aws:ec2/instance:Instance", "box", {"instanceType": "p5.48xlarge", "availabilityZone": "us-west-2c"})
    lone = res(LT, "spare", {"instanceType": "p5.48xlarge"}, provider=prov)
    cpu = res("aws:ec2/instance:Instance", "bastion", {"instanceType": "t3.micro"}, provider=prov)
    inventory = from_resources([prov, node, lone, cpu])
    by_name = {g.name: g for g in inventory.groups}
    assert set(by_name) == {"box", "spare"}  # the CPU instance holds no GPU
    assert (by_name["box"].nodes, by_name["box"].region, by_name["box"].zone) == (1, "us-west-2", "us-west-2c")
    assert (by_name["spare"].nodes, by_name["spare"].gpus) == (0, 0)


def test_region_comes_from_the_resource_else_its_provider_else_is_unknown():
    prov = provider("aws", "p", region="eu-north-1")
    own = res("aws:ec2/instance:Instance", "own", {"instanceType": "p5.48xlarge", "region": "us-east-2"}, provider=prov)
    inherited = res("aws:ec2/instance:Instance", "inherited", {"instanceType": "p5.48xlarge"}, provider=prov)
    default = res("aws:ec2/instance:Instance", "default", {"instanceType": "p5.48xlarge"})
    inventory = from_resources([prov, own, inherited, default])
    assert [g.region for g in inventory.groups] == ["us-east-2", "eu-north-1", None]
    assert [(u.what, u.urn) for u in inventory.unknowns] == [("region", default["urn"])]


# --------------------------------------------------------------------------- Azure


def test_azure_scale_set_sku_capacity_priority_and_provider_location():
    resources = azure_facility(nodes=4.0)
    vmss = find(resources, "azure-native:compute:VirtualMachineScaleSet")
    vmss["inputs"].pop("location")
    vmss["inputs"]["virtualMachineProfile"]["priority"] = "Spot"
    group, inventory = only_group(resources)
    assert (group.cloud, group.instance_type, group.nodes, group.capacity, group.region) == (
        "azure", "Standard_ND96isr_H100_v5", 4, "spot", "eastus")
    assert inventory.cloud == "azure"


def test_azure_vm_counts_as_one_and_reservations_are_read():
    vm = res("azure-native:compute:VirtualMachine", "vm", {
        "location": "East US 2", "hardwareProfile": {"vmSize": "Standard_ND96isr_H100_v5"},
        "capacityReservation": {"capacityReservationGroup": {"id": "/subscriptions/s/crg"}}})
    group, _ = only_group([vm])
    assert (group.nodes, group.region, group.capacity) == (1, "eastus2", "reservation")


# --------------------------------------------------------------------------- Google Cloud


def test_gcp_mig_follows_versions_to_its_template():
    resources = gcp_facility(nodes=8.0, zone="us-central1-a")
    group, inventory = only_group(resources)
    assert (group.cloud, group.instance_type, group.nodes, group.zone, group.region, group.capacity) == (
        "gcp", "a3-megagpu-8g", 8, "us-central1-a", "us-central1", "on-demand")
    assert group.urn == find(resources, "gcp:compute/instanceGroupManager:InstanceGroupManager")["urn"]
    assert inventory.unknowns == []


def test_gcp_spot_and_reservation_come_from_the_template():
    spot = replace(gcp_facility(), "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate",
                   scheduling={"provisioningModel": "SPOT", "preemptible": True})
    reserved = replace(gcp_facility(), "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate",
                       reservationAffinity={"type": "SPECIFIC_RESERVATION",
                                            "specificReservation": {"key": "k", "values": ["r1"]}})
    assert only_group(spot)[0].capacity == "spot"
    assert only_group(reserved)[0].capacity == "reservation"


def test_gcp_instance_with_a_machine_type_url_counts_as_one():
    prov = provider("gcp", "p", project="proj", region="us-east5")
    node = res("gcp:compute/instance:Instance", "node",
               {"machineType": "zones/us-east5-a/machineTypes/a3-ultragpu-8g", "zone": "us-east5-a"}, provider=prov)
    group, _ = only_group([prov, node])
    assert (group.instance_type, group.nodes, group.zone, group.region) == ("a3-ultragpu-8g", 1, "us-east5-a", "us-east5")


# --------------------------------------------------------------------------- filesystems and budgets


def test_filesystems_of_every_kind():
    aws_fs = from_resources(aws_facility(lustre_gib=48000.0)).filesystems
    azure_fs = from_resources(azure_facility()).filesystems
    prov = provider("gcp", "p", project="proj", region="us-central1")
    gcp_fs = from_resources([
        prov,
        res("gcp:lustre/instance:Instance", "lustre", {"location": "us-central1-a", "capacityGib": "36000",
                                                       "perUnitStorageThroughput": "500"}, provider=prov),
        res("gcp:parallelstore/instance:Instance", "ps", {"location": "us-central1-a", "capacityGib": "12000"},
            provider=prov),
        res("gcp:filestore/instance:Instance", "fs", {"location": "us-central1", "tier": "REGIONAL",
                                                      "fileShares": {"capacityGb": 1024.0, "name": "s"}}, provider=prov),
    ]).filesystems
    got = [(f.cloud, f.kind, f.throughput_mbps_per_tib, f.capacity_gib, f.region) for f in aws_fs + azure_fs + gcp_fs]
    assert got == [
        ("aws", "lustre", 125, 48000, "us-east-1"),
        ("azure", "lustre", 125, 16 * 1024, "eastus"),  # storageCapacityTiB x the SKU's 1024 GiB per TiB
        ("gcp", "lustre", 500, 36000, "us-central1"),
        ("gcp", "parallelstore", None, 12000, "us-central1"),
        ("gcp", "filestore", None, 1024, "us-central1"),
    ]
    assert gcp_fs[2].tier == "REGIONAL" and gcp_fs[2].sku.sku == "REGIONAL"
    assert all(f.urn for f in aws_fs + azure_fs + gcp_fs)


def test_budgets_amounts_periods_and_what_they_cover():
    aws_inv = from_resources(aws_facility(budget_usd="1200000"))
    assert [(b.cloud, b.monthly_usd) for b in aws_inv.budgets] == [("aws", 1_200_000.0)]
    assert set(aws_inv.budgets[0].covers) == {g.urn for g in aws_inv.groups} | {f.urn for f in aws_inv.filesystems}

    yearly = replace(aws_facility(), "aws:budgets/budget:Budget", timeUnit="ANNUALLY", limitAmount="12000000")
    assert from_resources(yearly).budgets[0].monthly_usd == 1_000_000.0

    azure_inv = from_resources(azure_facility(budget=300000.0))
    assert azure_inv.budgets[0].monthly_usd == 300000.0
    assert azure_inv.groups[0].urn in azure_inv.budgets[0].covers  # RG scope, set follows the same RG

    gcp_units = replace(gcp_facility(), "gcp:billing/budget:Budget",
                        amount={"specifiedAmount": {"currencyCode": "USD", "units": "600000", "nanos": 500000000.0}})
    assert from_resources(gcp_units).budgets[0].monthly_usd == 600000.5


def test_budget_filters_that_exclude_a_group_do_not_cover_it():
    other_tag = replace(aws_facility(), "aws:budgets/budget:Budget",
                        costFilters=[{"name": "TagKeyValue", "values": ["user:facility$someone-else"]}])
    assert from_resources(other_tag).budgets[0].covers == ()
    other_region = replace(aws_facility(region="us-east-1"), "aws:budgets/budget:Budget",
                           costFilters=[{"name": "Region", "values": ["us-west-2"]}])
    assert from_resources(other_region).budgets[0].covers == ()
    other_project = replace(gcp_facility(), "gcp:billing/budget:Budget",
                            budgetFilter={"projects": ["projects/another-project"]})
    assert from_resources(other_project).budgets[0].covers == ()


def test_a_budget_scope_unknown_at_preview_may_cover_but_does_not_prove_it():
    inventory = from_resources(replace(gcp_facility(), "gcp:billing/budget:Budget", budgetFilter={"projects": U}))
    budget = inventory.budgets[0]
    assert budget.covers == () and inventory.groups[0].urn in budget.may_cover


def test_provider_default_tags_arrive_as_json_and_never_reach_auto_scaling_groups():
    resources = aws_facility()
    prov = find(resources, "pulumi:providers:aws")
    assert isinstance(prov["inputs"]["defaultTags"], str)  # as the SDK sends provider config
    providers = {prov["urn"]: prov["inputs"]}
    pg = as_resource(find(resources, "aws:ec2/placementGroup:PlacementGroup"))
    assert effective_tags(providers, pg)["cost-center"] == "cc-4711"
    asg = as_resource(find(replace(resources, ASG, tags=[]), ASG))
    assert effective_tags(providers, asg) == {}


# --------------------------------------------------------------------------- unknown at preview


@pytest.mark.parametrize("marker", [U, SDK_UNKNOWN, "3eeb2bf0-c639-47a8-9e75-3b44932eb421"])
def test_an_unknown_node_count_is_none_and_listed(marker):
    resources = replace(aws_facility(), ASG, desiredCapacity=marker)
    group, inventory = only_group(resources)
    assert group.nodes is None and group.gpus is None
    assert inventory.unknowns == [Unknown("node count", group.urn, "desiredCapacity")]
    assert "node count" in str(inventory.unknowns[0]) and "unknown at preview" in str(inventory.unknowns[0])


def test_an_input_missing_because_an_output_feeds_it_is_unknown():
    resources = aws_facility()
    asg = find(resources, ASG)
    del asg["inputs"]["desiredCapacity"], asg["inputs"]["minSize"]
    asg["propertyDependencies"]["desiredCapacity"] = [resources[0]["urn"]]
    group, inventory = only_group(resources)
    assert group.nodes is None
    assert [(u.what, u.path) for u in inventory.unknowns] == [("node count", "desiredCapacity")]


def test_an_unknown_instance_type_on_the_template_is_listed_on_the_group():
    resources = replace(aws_facility(), LT, instanceType=U)
    group, inventory = only_group(replace(resources, ASG, tags=[]))
    assert group.instance_type is None
    assert [u.what for u in inventory.unknowns] == ["instance type"]


def test_unknown_filesystem_capacity_and_budget_amount():
    resources = replace(aws_facility(), "aws:fsx/lustreFileSystem:LustreFileSystem", storageCapacity=U)
    resources = replace(resources, "aws:budgets/budget:Budget", limitAmount=U)
    inventory = from_resources(resources)
    assert inventory.filesystems[0].capacity_gib is None and inventory.budgets[0].monthly_usd is None
    assert sorted(u.what for u in inventory.unknowns) == ["budget amount", "filesystem capacity"]


def test_policy_resources_give_the_same_inventory_as_dicts():
    resources = gcp_facility()
    args = stack_args(resources)
    providers = {r.provider.urn: dict(r.provider.props["__target"]) for r in args.resources if r.provider}
    assert from_resources(args.resources, providers) == from_resources(resources)


# --------------------------------------------------------------------------- real programs


def test_recorded_provider_sdk_inputs_read_like_the_fixtures():
    """The fixtures' camelCase shapes are the ones the real pulumi_aws SDK sends."""

    def program():
        p = aws.Provider("p", region="us-west-2", default_tags={"tags": {"team": "t"}})
        o = pulumi.ResourceOptions(provider=p)
        lt = aws.ec2.LaunchTemplate("tpl", instance_type="p5.48xlarge", opts=o)
        aws.autoscaling.Group("grp", desired_capacity=4, min_size=4, max_size=4,
                              launch_template={"id": lt.id, "version": "$Latest"}, opts=o)

    run = run_program(program, project="p", stack="s", known_ids=False)
    group, inventory = only_group(run.resources)
    assert (group.instance_type, group.nodes, group.region) == ("p5.48xlarge", 4, "us-west-2")
    assert inventory.unknowns == []


@pytest.mark.parametrize("stack", ["vision-prod", "speech-prod", "llm-prod"])
def test_estimate_of_the_recorded_program_agrees_with_the_spec(stack):
    stack_file = stackfile.read(stack)
    spec = load_facility(stack_file.facility)
    run = run_program(PROGRAM, project="aifactory", stack=stack_file.name, config=program_config(stack_file),
                      known_ids=False)
    inventory = from_resources(run.resources)
    assert inventory.unknowns == []
    assert inventory.budgets and all(b.monthly_usd == spec.budget.monthly_usd for b in inventory.budgets)
    from_program, from_spec = estimate(inventory), estimate_spec(spec)
    assert from_program.gpus == from_spec.gpus == spec.gpus
    assert from_program.monthly_usd == pytest.approx(from_spec.monthly_usd)
    assert from_program.facility_power_kw == pytest.approx(from_spec.facility_power_kw)
    # Groups and filesystems are named as the spec names them (after the component holding them).
    assert sorted((g.name, g.capacity, g.nodes) for g in inventory.groups) == sorted(
        (f.name, f.capacity, f.nodes) for f in spec.fleets)
    assert sorted(f.name for f in inventory.filesystems) == sorted(f.name for f in spec.filesystems)
    assert {b.name for b in inventory.budgets} >= {f"{spec.name}-budget"}
    assert all(g.region == spec.region for g in inventory.groups)


def test_estimate_of_a_hand_built_facility_agrees_with_the_spec():
    spec = load_facility({
        "name": "vision-prod", "team": "vision", "cloud": "aws", "region": "us-east-1",
        "fleets": [{"name": "trainers", "instance_type": "p5.48xlarge", "nodes": 16}],
        "filesystems": [{"name": "scratch", "kind": "lustre", "capacity_tib": 48, "throughput_mbps_per_tib": 125}],
        "budget": {"monthly_usd": 1000000, "alert_emails": ["a@example.com"]},
    })
    inventory = from_resources(aws_facility(nodes=16.0, lustre_gib=48000.0))
    assert estimate(inventory).to_json()["monthly_usd"] == estimate_spec(spec).monthly_usd
    assert estimate(inventory).facility_power_kw == estimate_spec(spec).facility_power_kw
    assert [b.monthly_usd for b in inventory.budgets] == [spec.budget.monthly_usd]


def test_from_spec_keeps_the_filestore_tier():
    spec = load_facility({
        "name": "llm", "team": "llm", "cloud": "gcp", "region": "us-central1", "zone": "us-central1-a",
        "gcp": {"project": "llm-prod-training"},
        "filesystems": [{"name": "home", "kind": "filestore", "capacity_tib": 1, "tier": "REGIONAL"}],
    })
    fs = estimate_spec(spec).lines[0]
    assert fs.item == "REGIONAL"


def test_groups_split_under_one_component_keep_their_suffix():
    stack = res("pulumi:pulumi:Stack", "aifactory-prod", {})
    facility = res("aifactory:aws:Facility", "big", {})
    fleet = res("aifactory:aws:GpuFleet", "big-trainers", {})
    prov = provider("aws", "p", region="us-east-1")
    groups = [res(ASG, f"big-trainers-00{i}", {"desiredCapacity": 5.0, "tags": [
        {"key": "aifactory:instance-type", "value": "p5.48xlarge"}]}, provider=prov) for i in range(2)]
    facility["parent"], fleet["parent"] = stack["urn"], facility["urn"]
    for g in groups:
        g["parent"] = fleet["urn"]
    lone = res("aws:ec2/instance:Instance", "box", {"instanceType": "p5.48xlarge"}, provider=prov)
    lone["parent"] = stack["urn"]
    names = [g.name for g in from_resources([stack, facility, fleet, prov, *groups, lone]).groups]
    assert names == ["trainers-000", "trainers-001", "box"]


def test_group_is_still_a_plain_frozen_dataclass():
    group = GpuGroup("t", "aws", "us-east-1", "p5.48xlarge", 2)
    assert group.gpus == 16 and group.urn is None
    assert json.dumps(group.__dict__)
