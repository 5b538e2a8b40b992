"""AWS components run under `aifactory.recording` (through tests/harness.py): the recorded inputs are the contract.

Three module-scoped runs keep the file fast: the shipped example stack (`vision-prod`, through
`aifactory.stackfile.read` + `load_facility` + `components.build_facility`), the same stack scaled
up, and one standalone program that uses every component alone with an explicit provider (spot,
reservation, capacity-block and split fleets, a NAT network, a budget action on fixed instances).
Inputs are camelCase as the SDK sends them; numbers arrive as floats. The fake cloud answers a
resource with the ID `<name>_id` and its inputs plus the computed attributes the components read
(`arn`, `dnsName`, `mountName`, `prefixListId`, `name`).
"""

from __future__ import annotations

import base64
import copy
import gzip
import ipaddress
import json

import pulumi
import pulumi_aws as aws
import pytest

from aifactory import components
from aifactory import rules, stackfile
from aifactory.loader import load_facility
from aifactory.components.aws import (
    BudgetGuard,
    BudgetGuardArgs,
    ClusterNetwork,
    ClusterNetworkArgs,
    GpuFleet,
    GpuFleetArgs,
    ParallelFilesystem,
    ParallelFilesystemArgs,
)
from aifactory.components.aws import fleet as aws_fleet
from aifactory.components.aws.filesystem import LustreMount
from aifactory.components.common import group_name, render
from tests.harness import FakeCloud, literal, run

ASG = "aws:autoscaling/group:Group"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
PG = "aws:ec2/placementGroup:PlacementGroup"
SUBNET = "aws:ec2/subnet:Subnet"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LUSTRE = "aws:fsx/lustreFileSystem:LustreFileSystem"
BUDGET = "aws:budgets/budget:Budget"
DLAMI = "resolve:ssm:/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"
FS_MOUNT = LustreMount(dns_name="fs-0123.fsx.us-west-2.amazonaws.com", mount_name="abcdefgh", mount_point="/fsx")


def aws_outputs(type_: str, name: str, state: dict) -> dict:
    """What AWS computes for the resources the components read back."""
    out = {"arn": state.get("arn", f"arn:aws:mock:::{name}")}
    if type_ == LUSTRE:
        out.update(dnsName=f"{name}.fsx.example.com", mountName=f"{name.replace('-', '')[:8]}")
    if type_ == "aws:ec2/vpcEndpoint:VpcEndpoint":
        out["prefixListId"] = "pl-mock"
    return out


def run_aws(program):
    return run(program, mocks=FakeCloud(aws_outputs))


def provider_opts(region: str = "us-east-1") -> pulumi.ResourceOptions:
    """An explicit AWS provider, as a standalone program passes it to a component."""
    return pulumi.ResourceOptions(providers={"aws": aws.Provider(f"standalone-{region}", region=region)})


def example_data() -> dict:
    return copy.deepcopy(stackfile.read("vision-prod").facility)


@pytest.fixture(scope="module")
def spec():
    return load_facility(example_data())


@pytest.fixture(scope="module")
def example(spec):
    """The example stack; `example.value` is the Facility built."""
    return run_aws(lambda: components.build_facility(spec))


@pytest.fixture(scope="module")
def scaled():
    """The example with 100x the nodes, and the example with one more on-demand fleet."""
    many = example_data()
    for fleet in many["fleets"]:
        fleet["nodes"] *= 100
    more = example_data()
    more["fleets"].append({"name": "extra", "instance_type": "p5.48xlarge", "nodes": 4, "capacity": "on-demand"})
    many_spec, more_spec = load_facility(many), load_facility(more)
    return (
        run_aws(lambda: components.build_facility(many_spec)),
        run_aws(lambda: components.build_facility(more_spec)),
    )


@pytest.fixture(scope="module")
def solo():
    """Every component used alone from a plain Pulumi program with its own explicit provider;
    `solo.value` maps a component's name to the component."""
    made = {}

    def program():
        opts = provider_opts("us-west-2")
        tags = {"team": "solo"}
        net = ClusterNetwork(
            "solo-net",
            ClusterNetworkArgs(region="us-west-2", cidr="10.50.0.0/16", zone="us-west-2b", nat=True, tags=tags),
            opts=opts,
        )
        made["fs"] = ParallelFilesystem(
            "solo-fs",
            ParallelFilesystemArgs(capacity_gib=2400, throughput_mbps_per_tib=125, network=net, zone="us-west-2b"),
            opts=opts,
        )

        def fleet(name, itype, nodes, capacity, reservation=None, **extra):
            made[name] = GpuFleet(
                name,
                GpuFleetArgs(
                    instance_type=itype, nodes=nodes, capacity=capacity, reservation_id=reservation,
                    zone="us-west-2b", network=net, tags=tags, **extra,
                ),
                opts=opts,
            )

        fleet("solo-spot", "p5en.48xlarge", 2, "spot")
        fleet("solo-resv", "p6-b200.48xlarge", 2, "reservation", "cr-0aaaaaaaaaaaaaaaa")
        fleet("solo-block", "p5e.48xlarge", 4, "capacity-block", "cr-0bbbbbbbbbbbbbbbb", filesystems=[FS_MOUNT])
        fleet("solo-split", "p4d.24xlarge", 5, "on-demand", max_nodes_per_group=2)
        made["budget"] = BudgetGuard(
            "solo-budget",
            BudgetGuardArgs(
                monthly_usd=1234.5, alert_emails=["a@example.com", "b@example.com"], thresholds_pct=[90],
                enforce="stop", stop_instance_ids=["i-0123456789abcdef0"], region="us-west-2",
            ),
            opts=opts,
        )
        return made

    return run_aws(program)


def template_of(run, fleet: str):
    return run.one(LT, f"{fleet}-template")


def interfaces(run, fleet: str) -> list[dict]:
    return template_of(run, fleet).inputs["networkInterfaces"]


def tags_of(asg) -> dict[str, str]:
    return {t["key"]: t["value"] for t in asg.inputs["tags"]}


def user_data(run, fleet: str) -> str:
    raw = base64.b64decode(template_of(run, fleet).inputs["userData"])
    return (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode()


# ------------------------------------------------------------------------------- provider, shape


def test_one_explicit_provider_for_the_region_with_default_tags(example, spec):
    providers = example.of("pulumi:providers:aws")
    assert len(providers) == 1
    inputs = providers[0].inputs
    assert inputs["region"] == "us-east-1"
    assert json.loads(inputs["defaultTags"])["tags"] == spec.merged_tags()
    assert json.loads(inputs["defaultTags"])["tags"]["managed-by"] == "aifactory"


def test_every_aws_resource_uses_the_facility_provider(example):
    provider = example.one("pulumi:providers:aws")
    assert all(r.provider.startswith(provider.urn) for r in example.custom())


def test_components_have_type_tokens_and_parent_every_child(example):
    kinds = {r.type for r in example.resources if r.type.startswith("aifactory-aws:")}
    assert kinds == {f"aifactory-aws:index:{k}" for k in ("Facility", "ClusterNetwork", "GpuFleet", "ParallelFilesystem", "BudgetGuard")}
    components_urns = {r.urn for r in example.resources if r.type.startswith("aifactory-aws:")}
    assert all(r.parent in components_urns for r in example.resources if r.type != "aifactory-aws:index:Facility")


def test_exports_list_region_fleets_filesystems_and_budget(example):
    exports = example.value.exports()
    assert exports["region"] == "us-east-1"
    assert exports["fleets"] == {"trainers": ["vision-prod-trainers"], "eval": ["vision-prod-eval"]}
    assert set(exports["filesystems"]) == {"scratch"}
    assert set(exports["filesystems"]["scratch"]) == {"dns_name", "mount_name"}
    assert exports["budget"] == "vision-prod-budget"


def test_example_stack_resource_count_grows_with_fleets_not_nodes(example, scaled):
    many, more = scaled
    assert len(many.resources) == len(example.resources)  # 100x the nodes, same resources
    # one more on-demand fleet: a GpuFleet, its launch template, placement group, group and node-health grant
    assert len(more.resources) == len(example.resources) + 5
    assert len(example.resources) < 60


# ------------------------------------------------------------------------------------ network


def test_vpc_has_dns_support_and_hostnames(example):
    vpc = example.one("aws:ec2/vpc:Vpc").inputs
    assert (vpc["cidrBlock"], vpc["enableDnsSupport"], vpc["enableDnsHostnames"]) == ("10.40.0.0/16", True, True)


def test_private_subnets_in_the_facility_zone_with_netplan_cidrs(example, spec):
    plan = rules.subnet_plan(spec)
    subnets = {r.name: r.inputs for r in example.of(SUBNET)}
    assert subnets["vision-prod-net-compute"]["cidrBlock"] == plan.compute
    assert ipaddress.ip_network(subnets["vision-prod-net-storage"]["cidrBlock"]).subnet_of(
        ipaddress.ip_network(plan.storage)
    )
    for inputs in subnets.values():
        assert inputs["mapPublicIpOnLaunch"] is False
        assert spec.zone in (inputs.get("availabilityZone"), inputs.get("availabilityZoneId"))


def test_s3_gateway_endpoint_on_the_private_route_table(example):
    endpoint = example.one("aws:ec2/vpcEndpoint:VpcEndpoint").inputs
    assert endpoint["serviceName"] == "com.amazonaws.us-east-1.s3"
    assert endpoint["vpcEndpointType"] == "Gateway"
    assert endpoint["routeTableIds"] == ["vision-prod-net-private_id"]


def test_no_internet_gateway_or_nat_without_nat(example):
    assert not example.of("aws:ec2/internetGateway:InternetGateway")
    assert not example.of("aws:ec2/natGateway:NatGateway")
    assert not example.of("aws:ec2/route:Route")


def test_nat_adds_public_subnet_igw_nat_gateway_and_private_default_route(solo):
    nat = solo.one("aws:ec2/natGateway:NatGateway").inputs
    assert nat["subnetId"] == "solo-net-public_id"
    assert solo.one("aws:ec2/internetGateway:InternetGateway")
    routes = {r.name: r.inputs for r in solo.of("aws:ec2/route:Route")}
    assert routes["solo-net-private-default"]["natGatewayId"] == "solo-net-nat_id"
    assert routes["solo-net-private-default"]["destinationCidrBlock"] == "0.0.0.0/0"
    public = solo.one(SUBNET, "solo-net-public").inputs["cidrBlock"]
    private = [solo.one(SUBNET, n).inputs["cidrBlock"] for n in ("solo-net-compute", "solo-net-storage")]
    assert not any(ipaddress.ip_network(public).overlaps(ipaddress.ip_network(p)) for p in private)


def test_cluster_group_allows_all_protocols_from_and_to_itself(example):
    sg = "vision-prod-net-cluster_id"
    ingress = example.one(INGRESS, "vision-prod-net-cluster-in-self").inputs
    egress = example.one(EGRESS, "vision-prod-net-cluster-out-self").inputs
    for rule in (ingress, egress):
        assert (rule["securityGroupId"], rule["ipProtocol"], rule["referencedSecurityGroupId"]) == (sg, "-1", sg)


def test_no_ingress_rule_is_open_to_an_address_range(example, solo):
    for run in (example, solo):
        for rule in run.of(INGRESS):
            assert "cidrIpv4" not in rule.inputs and "cidrIpv6" not in rule.inputs and "prefixListId" not in rule.inputs
            assert rule.inputs["referencedSecurityGroupId"]


def test_lustre_group_admits_988_and_1018_1023_from_cluster_and_itself(example):
    lustre_sg, cluster_sg = "vision-prod-scratch-lustre_id", "vision-prod-net-cluster_id"
    allowed = {
        (r.inputs["fromPort"], r.inputs["toPort"], r.inputs["referencedSecurityGroupId"])
        for r in example.of(INGRESS)
        if r.inputs["securityGroupId"] == lustre_sg
    }
    assert allowed == {(988.0, 988.0, cluster_sg), (988.0, 988.0, lustre_sg),
                       (1018.0, 1023.0, cluster_sg), (1018.0, 1023.0, lustre_sg)}
    cluster_out = {
        (r.inputs["fromPort"], r.inputs["toPort"])
        for r in example.of(EGRESS)
        if r.inputs["securityGroupId"] == cluster_sg and r.inputs.get("referencedSecurityGroupId") == lustre_sg
    }
    assert cluster_out == {(988.0, 988.0), (1018.0, 1023.0)}


# -------------------------------------------------------------------------------------- fleet


def test_p5_template_has_32_efa_interfaces_laid_out_as_aws_documents(example):
    nics = interfaces(example, "vision-prod-trainers")
    assert len(nics) == 32
    assert (nics[0]["networkCardIndex"], nics[0]["deviceIndex"], nics[0]["interfaceType"]) == (0, 0, "efa")
    assert [n["networkCardIndex"] for n in nics[1:]] == list(range(1, 32))
    assert all(n["deviceIndex"] == 1 and n["interfaceType"] == "efa-only" for n in nics[1:])


@pytest.mark.parametrize(
    "fleet,count", [("solo-spot", 16), ("solo-resv", 8), ("solo-block", 32), ("solo-split", 4)]
)
def test_every_efa_card_of_the_type_gets_an_interface(solo, fleet, count):
    # p5en 16, p6-b200 8, p5e 32, p4d 4 (aifactory.catalog fabric_interfaces)
    nics = interfaces(solo, fleet)
    assert len(nics) == count
    assert sorted(n["networkCardIndex"] for n in nics) == list(range(count))


def test_every_interface_is_private_in_the_cluster_group_and_deleted_with_the_node(example):
    for nic in interfaces(example, "vision-prod-eval"):
        assert nic["associatePublicIpAddress"] == "false"
        assert nic["deleteOnTermination"] == "true"
        assert nic["securityGroups"] == ["vision-prod-net-cluster_id"]
        assert nic["subnetId"] == "vision-prod-net-compute_id"


def test_imdsv2_is_required(example):
    meta = template_of(example, "vision-prod-trainers").inputs["metadataOptions"]
    assert meta["httpTokens"] == "required"
    assert meta["httpPutResponseHopLimit"] == 2


def test_root_volume_is_encrypted_gp3(example):
    (root,) = template_of(example, "vision-prod-trainers").inputs["blockDeviceMappings"]
    assert (root["ebs"]["volumeType"], root["ebs"]["encrypted"]) == ("gp3", "true")


def test_image_is_the_dlami_ssm_parameter_resolved_at_launch(example):
    assert template_of(example, "vision-prod-trainers").inputs["imageId"] == DLAMI
    assert not example.of("aws:ec2/getAmi:getAmi")


def test_instance_type_node_count_and_zone_are_literal(example, spec):
    template = template_of(example, "vision-prod-trainers")
    asg = example.one(ASG, "vision-prod-trainers")
    assert template.inputs["instanceType"] == "p5.48xlarge" and literal(template, "instanceType")
    for key in ("minSize", "maxSize", "desiredCapacity"):
        assert asg.inputs[key] == 16 and literal(asg, key)
    assert tags_of(asg)["aifactory:zone"] == spec.zone and literal(asg, "tags")


def test_group_references_its_template_and_depends_on_it(example):
    template = template_of(example, "vision-prod-eval")
    asg = example.one(ASG, "vision-prod-eval")
    assert asg.inputs["launchTemplate"]["id"] == "vision-prod-eval-template_id"
    assert template.urn in asg.dependencies


def test_group_carries_instance_type_and_capacity_as_literal_tags(example):
    asg = example.one(ASG, "vision-prod-trainers")
    tags = {t["key"]: t for t in asg.inputs["tags"]}
    assert tags["aifactory:instance-type"] == {"key": "aifactory:instance-type", "value": "p5.48xlarge", "propagateAtLaunch": True}
    assert tags["aifactory:capacity"]["value"] == "capacity-block"
    assert tags["facility"]["value"] == "vision-prod"  # ASG tags are not covered by default_tags


def test_on_demand_fleet_launches_into_a_cluster_placement_group(example):
    pg = example.one(PG, "vision-prod-eval-pg")
    assert pg.inputs["strategy"] == "cluster"
    assert example.one(ASG, "vision-prod-eval").inputs["placementGroup"] == "vision-prod-eval-pg_id"


def test_capacity_block_fleet_targets_its_block_without_a_placement_group(example):
    template = template_of(example, "vision-prod-trainers").inputs
    assert template["instanceMarketOptions"]["marketType"] == "capacity-block"
    target = template["capacityReservationSpecification"]["capacityReservationTarget"]
    assert target["capacityReservationId"] == "cr-0123456789abcdef0"
    assert "placementGroup" not in example.one(ASG, "vision-prod-trainers").inputs
    assert not [p for p in example.of(PG) if p.name.startswith("vision-prod-trainers")]


def test_spot_fleet_asks_for_spot_market(solo):
    market = template_of(solo, "solo-spot").inputs["instanceMarketOptions"]
    assert market["marketType"] == "spot"


def test_reservation_fleet_targets_the_reservation(solo):
    template = template_of(solo, "solo-resv").inputs
    target = template["capacityReservationSpecification"]["capacityReservationTarget"]
    assert target["capacityReservationId"] == "cr-0aaaaaaaaaaaaaaaa"
    assert "instanceMarketOptions" not in template
    assert "placementGroup" not in solo.one(ASG, "solo-resv").inputs


def test_fleet_above_the_group_cap_is_split_into_even_groups(solo):
    fleet = solo.value["solo-split"]
    assert fleet.group_names == [group_name("solo", "split", i, 3) for i in range(3)]
    sizes = [solo.one(ASG, n).inputs["desiredCapacity"] for n in fleet.group_names]
    assert sizes == [2, 2, 1]
    assert len(solo.of(LT)) == 4  # one template per fleet, shared by its groups
    assert {solo.one(ASG, n).inputs["placementGroup"] for n in fleet.group_names} == {
        f"{n}-pg_id" for n in fleet.group_names
    }


def test_default_group_cap_is_the_ec2_fleet_target_capacity():
    assert aws_fleet.DEFAULTS["max_nodes_per_group"] == 10_000


def test_user_data_sets_efa_and_nccl_and_checks_every_device(example):
    script = user_data(example, "vision-prod-trainers")
    for line in ("export FI_PROVIDER=efa", "export FI_EFA_USE_DEVICE_RDMA=1", "NCCL_", '"fabric":"efa"',
                 '"fabric_interfaces":32'):
        assert line in script


def test_user_data_mounts_lustre_with_its_dns_and_mount_name(solo):
    script = user_data(solo, "solo-block")
    assert "fs-0123.fsx.us-west-2.amazonaws.com@tcp:/abcdefgh /fsx lustre" in script
    assert "mount -t lustre" in user_data(solo, "solo-block")
    assert "lustre" not in user_data(solo, "solo-spot")


def test_bootstrap_template_renders_within_the_user_data_limit():
    script = render("aws-node-bootstrap.sh.j2", fleet="f", instance_type="p5.48xlarge", efa_interfaces=32,
                    mounts=[{"dns_name": "d", "mount_name": "m", "mount_point": f"/fsx/{i}"} for i in range(8)])
    assert script.startswith("#!/bin/bash") and len(script.encode()) < 16 * 1024


# --------------------------------------------------------------------------------- filesystem


def test_lustre_is_persistent_2_with_literal_capacity_and_throughput(example, spec):
    fs = example.one(LUSTRE)
    assert fs.inputs["deploymentType"] == "PERSISTENT_2"
    assert fs.inputs["storageCapacity"] == 48_000 and literal(fs, "storageCapacity")
    assert fs.inputs["perUnitStorageThroughput"] == 250 and literal(fs, "perUnitStorageThroughput")


def test_lustre_is_2_15_lz4_encrypted_with_a_rotating_key(example):
    fs = example.one(LUSTRE).inputs
    assert (fs["fileSystemTypeVersion"], fs["dataCompressionType"]) == ("2.15", "LZ4")
    assert fs["kmsKeyId"] == "arn:aws:mock:::vision-prod-scratch-key"
    assert example.one("aws:kms/key:Key").inputs["enableKeyRotation"] is True


def test_lustre_and_its_key_are_protected_from_deletion(example):
    assert example.one(LUSTRE).protect
    assert example.one("aws:kms/key:Key").protect


def test_lustre_sits_in_the_fleet_zone_behind_its_own_group(example):
    fs = example.one(LUSTRE).inputs
    assert fs["subnetIds"] == "vision-prod-net-storage_id"
    assert fs["securityGroupIds"] == ["vision-prod-scratch-lustre_id"]


def test_data_repository_is_linked_with_auto_import_and_export(example):
    dra = example.one("aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation").inputs
    assert dra["dataRepositoryPath"] == "s3://vision-datasets/train"
    assert dra["fileSystemId"] == "vision-prod-scratch-fsx_id"
    assert dra["s3"]["autoImportPolicy"]["events"] == ["NEW", "CHANGED", "DELETED"]
    assert dra["s3"]["autoExportPolicy"]["events"] == ["NEW", "CHANGED", "DELETED"]


def test_no_data_repository_association_without_a_repository(solo):
    assert not solo.of("aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation")
    assert solo.one(LUSTRE).inputs["storageCapacity"] == 2400


# ------------------------------------------------------------------------------------- budget


def test_budget_is_monthly_cost_with_literal_amount_on_the_facility_tag(example):
    budget = example.one(BUDGET)
    assert (budget.inputs["budgetType"], budget.inputs["timeUnit"]) == ("COST", "MONTHLY")
    assert budget.inputs["limitAmount"] == "1000000" and literal(budget, "limitAmount")
    assert budget.inputs["name"] == "vision-prod-budget"
    assert budget.inputs["costFilters"] == [{"name": "TagKeyValue", "values": ["user:facility$vision-prod"]}]


def test_each_threshold_notifies_actual_and_forecasted_to_emails_and_a_topic(example):
    notes = example.one(BUDGET).inputs["notifications"]
    assert sorted((n["notificationType"], n["threshold"]) for n in notes) == sorted(
        (kind, pct) for pct in (50.0, 80.0, 100.0) for kind in ("ACTUAL", "FORECASTED")
    )
    for note in notes:
        assert note["subscriberEmailAddresses"] == ["ml-infra@example.com"]
        assert len(note["subscriberSnsTopicArns"]) == 1


def test_alert_topic_lets_budgets_publish_and_emails_subscribe(example):
    policy = json.loads(example.one("aws:sns/topicPolicy:TopicPolicy", "vision-prod-budget-alerts").inputs["policy"])
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "budgets.amazonaws.com"} and statement["Action"] == "SNS:Publish"
    subscription = example.one("aws:sns/topicSubscription:TopicSubscription", "vision-prod-budget-alert-0").inputs
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", "ml-infra@example.com")


def test_kill_switch_scales_every_group_to_zero_at_100_percent_actual(example):
    notes = example.one(BUDGET).inputs["notifications"]
    (at_100,) = [n for n in notes if n["notificationType"] == "ACTUAL" and n["threshold"] == 100]
    assert at_100["subscriberSnsTopicArns"] == ["arn:aws:mock:::vision-prod-budget-kill"]
    function = example.one("aws:lambda/function:Function").inputs
    assert function["environment"]["variables"]["AIFACTORY_GROUPS"] == "vision-prod-trainers,vision-prod-eval"
    code = function["code"]["assets"]["index.py"]["text"]
    assert "MinSize=0, MaxSize=0, DesiredCapacity=0" in code
    subscription = example.one("aws:sns/topicSubscription:TopicSubscription", "vision-prod-budget-kill").inputs
    assert subscription["protocol"] == "lambda" and subscription["topic"] == "arn:aws:mock:::vision-prod-budget-kill"


def test_budget_action_stops_fixed_instances_through_ssm(solo):
    action = solo.one("aws:budgets/budgetAction:BudgetAction").inputs
    assert (action["actionType"], action["approvalModel"]) == ("RUN_SSM_DOCUMENTS", "AUTOMATIC")
    assert action["actionThreshold"] == {"actionThresholdType": "PERCENTAGE", "actionThresholdValue": 100.0}
    ssm = action["definition"]["ssmActionDefinition"]
    assert ssm == {"actionSubType": "STOP_EC2_INSTANCES", "instanceIds": ["i-0123456789abcdef0"], "region": "us-west-2"}
    role = json.loads(solo.one("aws:iam/role:Role", "solo-budget-action").inputs["assumeRolePolicy"])
    assert role["Statement"][0]["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert action["executionRoleArn"] == "arn:aws:mock:::solo-budget-action"


def test_budget_refuses_more_notifications_than_aws_allows():
    with pytest.raises(ValueError, match="at most 5 thresholds"):
        BudgetGuard("b", BudgetGuardArgs(monthly_usd=1, alert_emails=["a@example.com"], thresholds_pct=[10, 20, 30, 40, 50, 60]))


def test_fleet_refuses_a_reserved_capacity_without_reservation():
    with pytest.raises(ValueError, match="needs reservation_id"):
        GpuFleet("f", GpuFleetArgs(instance_type="p5.48xlarge", nodes=1, zone="us-east-1a", network=None,
                                   capacity="capacity-block"))


def test_standalone_components_use_the_provider_they_are_given(solo):
    provider = solo.one("pulumi:providers:aws")
    assert provider.inputs["region"] == "us-west-2"
    assert all(r.provider.startswith(provider.urn) for r in solo.custom())

