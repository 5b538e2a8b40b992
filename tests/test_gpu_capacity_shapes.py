"""Every shape a plain Pulumi program can ask for GPU capacity in is counted at its worst case by
the real pack over gRPC: the largest type a group may launch, the most nodes it may scale to, and
a mandatory "cannot prove" whenever a value it needs is unknown at preview.

The programs are ordinary Pulumi programs on the installed provider SDKs (not the project's
components), recorded by `aifactory.recording` as the engine would receive them."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure
import pulumi_gcp as gcp
import pytest

from aifactory.analyzer import PolicyPackClient
from aifactory.estimate import estimate
from aifactory.inventory import from_resources
from aifactory.recording import run_program
from tests.provider_schema import problems

PACK = Path(__file__).resolve().parent.parent / "policies"
# Types with catalogued node power: a small and a large one per cloud (6.5 kW vs 14.3 / 10.2 kW).
AWS_SMALL, AWS_LARGE = "p4d.24xlarge", "p6-b200.48xlarge"
AZURE_SMALL, AZURE_LARGE = "Standard_ND96asr_v4", "Standard_ND96isr_H100_v5"
GCP_SMALL, GCP_LARGE = "a2-highgpu-8g", "a4-highgpu-8g"


@pytest.fixture(scope="module")
def pack():
    with PolicyPackClient(PACK, timeout=120) as client:
        yield client


@pytest.fixture
def client(pack):
    pack.configure(None)
    yield pack
    pack.configure(None)


def record(program, *, known_ids: bool = False):
    """The program's registrations; each conforms to its provider's schema (so every input name
    the pack is asked to read is one the engine really sends)."""
    resources = run_program(program, project="shapes", stack="dev", known_ids=known_ids).resources
    assert [p for r in resources if r.custom for p in problems(r.type, r.inputs)] == []
    return resources


def power_cap(client: PolicyPackClient, resources) -> list:
    providers = {r.urn: r for r in resources if r.is_provider}
    found = [v for v in client.analyze_stack(resources, providers) if v.policy == "power-cap"]
    assert found and all(v.enforcement == "mandatory" for v in found)
    return found


def over_limit(client, resources, expect: str) -> str:
    """The power-cap breach message, which names the worst case it judged (`N x type`)."""
    found = [v for v in power_cap(client, resources) if "exceeds maxFacilityKw" in v.message]
    assert len(found) == 1, [v.message for v in power_cap(client, resources)]
    assert expect in found[0].message, found[0].message
    return found[0].message


def cannot_prove(client, resources, *fragments: str) -> None:
    found = [v for v in power_cap(client, resources) if "cannot prove" in v.message]
    assert found, [v.message for v in power_cap(client, resources)]
    assert any(all(f in v.message for f in fragments) for v in found), [v.message for v in found]


def only_group(resources):
    inventory = from_resources(resources)
    assert len(inventory.groups) == 1, inventory.groups
    return inventory.groups[0], inventory


# --------------------------------------------------------------------------- AWS


def aws_provider():
    return pulumi.ResourceOptions(provider=aws.Provider("aws", region="us-east-1"))


def test_asg_mixed_instances_is_judged_at_its_largest_override(client):
    def program():
        o = aws_provider()
        lt = aws.ec2.LaunchTemplate("base", image_id="ami-1", opts=o)
        aws.autoscaling.Group("mixed", min_size=150, max_size=150, desired_capacity=150,
                              availability_zones=["us-east-1a"], opts=o,
                              mixed_instances_policy={"launch_template": {
                                  "launch_template_specification": {"launch_template_id": lt.id},
                                  "overrides": [{"instance_type": AWS_SMALL}, {"instance_type": AWS_LARGE}]}})

    resources = record(program)
    over_limit(client, resources, f"150 x {AWS_LARGE}")


def test_asg_override_with_its_own_launch_template_is_read(client):
    def program():
        o = aws_provider()
        base = aws.ec2.LaunchTemplate("base", image_id="ami-1", instance_type=AWS_SMALL, opts=o)
        big = aws.ec2.LaunchTemplate("big", image_id="ami-1", instance_type=AWS_LARGE, opts=o)
        aws.autoscaling.Group("mixed", min_size=150, max_size=150, opts=o, availability_zones=["us-east-1a"],
                              mixed_instances_policy={"launch_template": {
                                  "launch_template_specification": {"launch_template_id": base.id},
                                  "overrides": [{"instance_type": AWS_SMALL},
                                                {"launch_template_specification": {"launch_template_id": big.id}}]}})

    resources = record(program, known_ids=True)
    group, _ = only_group(resources)
    assert group.instance_type == AWS_LARGE
    over_limit(client, resources, f"150 x {AWS_LARGE}")


def test_asg_override_by_instance_requirements_cannot_be_proven(client):
    def program():
        o = aws_provider()
        lt = aws.ec2.LaunchTemplate("base", image_id="ami-1", opts=o)
        aws.autoscaling.Group("abs", min_size=1, max_size=10, opts=o, availability_zones=["us-east-1a"],
                              mixed_instances_policy={"launch_template": {
                                  "launch_template_specification": {"launch_template_id": lt.id},
                                  "overrides": [{"instance_requirements": {
                                      "vcpu_count": {"min": 8}, "memory_mib": {"min": 16384},
                                      "accelerator_count": {"min": 1}}}]}})

    cannot_prove(client, record(program), "instance type", "instanceRequirements")


def test_asg_is_judged_at_its_max_size_and_the_estimate_shows_both(client):
    def program():
        o = aws_provider()
        lt = aws.ec2.LaunchTemplate("tpl", image_id="ami-1", instance_type="p5.48xlarge", opts=o)
        aws.autoscaling.Group("elastic", min_size=1, desired_capacity=1, max_size=5000, opts=o,
                              availability_zones=["us-east-1a"], launch_template={"id": lt.id, "version": "$Latest"})

    resources = record(program)
    over_limit(client, resources, "5000 x p5.48xlarge")
    group, inventory = only_group(resources)
    assert (group.nodes, group.desired) == (5000, 1)
    line = estimate(inventory).to_json()["lines"][0]
    assert (line["nodes"], line["desired_nodes"], line["gpus"]) == (5000, 1, 40000)


def test_asg_max_size_unknown_at_preview_cannot_be_proven(client):
    def program():
        o = aws_provider()
        lt = aws.ec2.LaunchTemplate("tpl", image_id="ami-1", instance_type="p5.48xlarge", opts=o)
        aws.autoscaling.Group("elastic", min_size=1, desired_capacity=1, max_size=lt.id.apply(lambda _: 9), opts=o,
                              availability_zones=["us-east-1a"], launch_template={"id": lt.id})

    cannot_prove(client, record(program), "node count", "maxSize")


def test_asg_of_a_launch_configuration_is_counted(client):
    def program():
        o = aws_provider()
        lc = aws.ec2.LaunchConfiguration("legacy", image_id="ami-1", instance_type=AWS_LARGE, opts=o)
        aws.autoscaling.Group("old", min_size=150, max_size=150, launch_configuration=lc.name,
                              availability_zones=["us-east-1a"], opts=o)

    over_limit(client, record(program), f"150 x {AWS_LARGE}")


def test_eks_node_group_is_judged_at_its_largest_type_and_max_size(client):
    def program():
        o = aws_provider()
        aws.eks.NodeGroup("gpu", cluster_name="c", node_role_arn="arn:aws:iam::1:role/n", subnet_ids=["s-1"],
                          instance_types=[AWS_SMALL, AWS_LARGE],
                          scaling_config={"desired_size": 1, "min_size": 1, "max_size": 150}, opts=o)

    resources = record(program)
    over_limit(client, resources, f"150 x {AWS_LARGE}")
    group, _ = only_group(resources)
    assert group.desired == 1


def test_ec2_fleet_of_gpu_launch_templates_is_counted(client):
    def program():
        o = aws_provider()
        lt = aws.ec2.LaunchTemplate("tpl", image_id="ami-1", instance_type=AWS_SMALL, opts=o)
        aws.ec2.Fleet("fleet", type="instant", opts=o,
                      launch_template_configs=[{
                          "launch_template_specification": {"launch_template_id": lt.id, "version": "$Latest"},
                          "overrides": [{"instance_type": AWS_SMALL}, {"instance_type": AWS_LARGE}]}],
                      target_capacity_specification={"default_target_capacity_type": "on-demand",
                                                     "total_target_capacity": 150})

    over_limit(client, record(program), f"150 x {AWS_LARGE}")


def test_ec2_fleet_weighted_in_vcpus_counts_the_most_instances(client):
    def program():
        o = aws_provider()
        lt = aws.ec2.LaunchTemplate("tpl", image_id="ami-1", instance_type=AWS_LARGE, opts=o)
        aws.ec2.Fleet("fleet", opts=o,
                      launch_template_configs=[{"launch_template_specification": {"launch_template_id": lt.id,
                                                                                  "version": "1"}}],
                      target_capacity_specification={"default_target_capacity_type": "spot",
                                                     "total_target_capacity": 150 * 192,
                                                     "target_capacity_unit_type": "vcpu"})

    resources = record(program)
    group, _ = only_group(resources)
    assert (group.instance_type, group.nodes, group.capacity) == (AWS_LARGE, 150, "spot")
    over_limit(client, resources, f"150 x {AWS_LARGE}")


def test_ec2_fleet_of_a_template_outside_the_program_cannot_be_proven(client):
    def program():
        aws.ec2.Fleet("fleet", opts=aws_provider(),
                      launch_template_configs=[{"launch_template_specification": {"launch_template_id": "lt-0abc",
                                                                                  "version": "1"}}],
                      target_capacity_specification={"default_target_capacity_type": "on-demand",
                                                     "total_target_capacity": 4})

    cannot_prove(client, record(program), "instance type", "lt-0abc")


def test_spot_fleet_request_launch_specifications_are_counted(client):
    def program():
        aws.ec2.SpotFleetRequest("spot", iam_fleet_role="arn:aws:iam::1:role/f", target_capacity=150,
                                 launch_specifications=[{"ami": "ami-1", "instance_type": AWS_SMALL},
                                                        {"ami": "ami-1", "instance_type": AWS_LARGE}],
                                 opts=aws_provider())

    over_limit(client, record(program), f"150 x {AWS_LARGE}")


def test_spot_fleet_request_launch_template_configs_are_counted_with_their_weights(client):
    def program():
        o = aws_provider()
        lt = aws.ec2.LaunchTemplate("tpl", image_id="ami-1", instance_type=AWS_LARGE, opts=o)
        aws.ec2.SpotFleetRequest("spot", iam_fleet_role="arn:aws:iam::1:role/f", target_capacity=75, opts=o,
                                 launch_template_configs=[{
                                     "launch_template_specification": {"id": lt.id, "version": "1"},
                                     "overrides": [{"instance_type": AWS_LARGE, "weighted_capacity": 0.5}]}])

    over_limit(client, record(program), f"150 x {AWS_LARGE}")


def test_spot_instance_request_is_a_gpu_node(client):
    def program():
        aws.ec2.SpotInstanceRequest("one", ami="ami-1", instance_type=AWS_LARGE, opts=aws_provider())

    resources = record(program)
    group, _ = only_group(resources)
    assert (group.nodes, group.capacity) == (1, "spot")
    client.configure({"power-cap": {"maxFacilityKw": 10}})
    over_limit(client, resources, f"1 x {AWS_LARGE}")


# --------------------------------------------------------------------------- Azure


def azure_provider():
    return pulumi.ResourceOptions(provider=azure.Provider("azure", location="eastus"))


def test_flexible_scale_set_is_judged_at_its_largest_size(client):
    def program():
        azure.compute.VirtualMachineScaleSet(
            "flex", resource_group_name="rg", location="eastus", orchestration_mode="Flexible",
            platform_fault_domain_count=1, sku={"name": "Mix", "capacity": 200},
            sku_profile={"vm_sizes": [{"name": AZURE_SMALL}, {"name": AZURE_LARGE}], "allocation_strategy": "CapacityOptimized"},
            opts=azure_provider())

    over_limit(client, record(program), f"200 x {AZURE_LARGE}")


def test_scale_set_is_judged_at_its_autoscale_maximum(client):
    def program():
        o = azure_provider()
        vmss = azure.compute.VirtualMachineScaleSet("gpu", resource_group_name="rg", location="eastus",
                                                    sku={"name": AZURE_LARGE, "capacity": 2}, opts=o)
        azure.monitor.AutoscaleSetting("scale", resource_group_name="rg", target_resource_uri=vmss.id, enabled=True,
                                       profiles=[{"name": "default", "rules": [],
                                                  "capacity": {"minimum": "2", "default": "2", "maximum": "300"}}],
                                       opts=o)

    resources = record(program)
    over_limit(client, resources, f"300 x {AZURE_LARGE}")
    group, _ = only_group(resources)
    assert group.desired == 2


def test_autoscale_setting_with_an_unknown_maximum_cannot_be_proven(client):
    def program():
        o = azure_provider()
        vmss = azure.compute.VirtualMachineScaleSet("gpu", resource_group_name="rg", location="eastus",
                                                    sku={"name": AZURE_LARGE, "capacity": 2}, opts=o)
        azure.monitor.AutoscaleSetting("scale", resource_group_name="rg", target_resource_uri=vmss.id, enabled=True,
                                       profiles=[{"name": "default", "rules": [], "capacity": {
                                           "minimum": "2", "default": "2", "maximum": vmss.id.apply(lambda _: "9")}}],
                                       opts=o)

    cannot_prove(client, record(program), "node count", "capacity.maximum")


def test_aks_agent_pool_is_judged_at_its_autoscaling_max_count(client):
    def program():
        azure.containerservice.AgentPool("gpu", resource_group_name="rg", resource_name_="aks", vm_size=AZURE_LARGE,
                                         count=1, enable_auto_scaling=True, min_count=1, max_count=200,
                                         opts=azure_provider())

    over_limit(client, record(program), f"200 x {AZURE_LARGE}")


def test_aks_agent_pool_autoscaling_without_a_max_count_cannot_be_proven(client):
    def program():
        azure.containerservice.AgentPool("gpu", resource_group_name="rg", resource_name_="aks", vm_size=AZURE_LARGE,
                                         count=1, enable_auto_scaling=True, opts=azure_provider())

    cannot_prove(client, record(program), "node count", "maxCount")


def test_managed_cluster_agent_pool_profiles_are_each_counted(client):
    def program():
        azure.containerservice.ManagedCluster(
            "aks", resource_group_name="rg", location="eastus", dns_prefix="aks",
            agent_pool_profiles=[
                {"name": "system", "mode": "System", "vm_size": "Standard_D4s_v5", "count": 3},
                {"name": "gpu", "mode": "User", "vm_size": AZURE_LARGE, "count": 1,
                 "enable_auto_scaling": True, "min_count": 1, "max_count": 200}],
            opts=azure_provider())

    resources = record(program)
    group, _ = only_group(resources)
    assert (group.name, group.nodes, group.desired) == ("aks/gpu", 200, 1)
    over_limit(client, resources, f"200 x {AZURE_LARGE}")


def test_virtual_machines_are_each_counted(client):
    def program():
        o = azure_provider()
        for i in range(2):
            azure.compute.VirtualMachine(f"vm{i}", resource_group_name="rg", location="eastus",
                                         hardware_profile={"vm_size": AZURE_LARGE}, opts=o)

    client.configure({"power-cap": {"maxFacilityKw": 15}})
    over_limit(client, record(program), f"1 x {AZURE_LARGE}")


# --------------------------------------------------------------------------- Google Cloud


def gcp_provider():
    return pulumi.ResourceOptions(provider=gcp.Provider("gcp", project="p", region="us-central1",
                                                        zone="us-central1-a"))


def test_mig_instance_flexibility_is_judged_at_its_largest_machine_type(client):
    def program():
        o = gcp_provider()
        tpl = gcp.compute.RegionInstanceTemplate("tpl", region="us-central1", machine_type=GCP_SMALL,
                                                 disks=[{"source_image": "debian-12"}],
                                                 network_interfaces=[{"network": "default"}], opts=o)
        gcp.compute.RegionInstanceGroupManager(
            "flex", base_instance_name="flex", region="us-central1", target_size=150,
            versions=[{"instance_template": tpl.self_link}],
            instance_flexibility_policy={"instance_selections": [
                {"name": "best", "rank": 1, "machine_types": [GCP_LARGE]},
                {"name": "fallback", "rank": 2, "machine_types": [GCP_SMALL]}]},
            opts=o)

    over_limit(client, record(program), f"150 x {GCP_LARGE}")


def test_mig_is_judged_at_its_autoscaler_max_replicas(client):
    def program():
        o = gcp_provider()
        tpl = gcp.compute.InstanceTemplate("tpl", machine_type=GCP_LARGE, disks=[{"source_image": "debian-12"}],
                                           network_interfaces=[{"network": "default"}], opts=o)
        mig = gcp.compute.InstanceGroupManager("mig", base_instance_name="mig", zone="us-central1-a", target_size=1,
                                               versions=[{"instance_template": tpl.self_link}], opts=o)
        gcp.compute.Autoscaler("scale", zone="us-central1-a", target=mig.id,
                               autoscaling_policy={"max_replicas": 150, "min_replicas": 1}, opts=o)

    resources = record(program)
    over_limit(client, resources, f"150 x {GCP_LARGE}")
    group, _ = only_group(resources)
    assert group.desired == 1


def test_region_autoscaler_with_an_unknown_max_cannot_be_proven(client):
    def program():
        o = gcp_provider()
        tpl = gcp.compute.RegionInstanceTemplate("tpl", region="us-central1", machine_type=GCP_LARGE,
                                                 disks=[{"source_image": "debian-12"}],
                                                 network_interfaces=[{"network": "default"}], opts=o)
        mig = gcp.compute.RegionInstanceGroupManager("mig", base_instance_name="mig", region="us-central1",
                                                     versions=[{"instance_template": tpl.self_link}], opts=o)
        gcp.compute.RegionAutoscaler("scale", region="us-central1", target=mig.id, opts=o,
                                     autoscaling_policy={"max_replicas": mig.id.apply(lambda _: 9), "min_replicas": 1})

    cannot_prove(client, record(program), "node count", "maxReplicas")


def test_gke_node_pool_is_judged_at_its_autoscaling_max(client):
    def program():
        gcp.container.NodePool("gpu", cluster="c", location="us-central1-a", node_count=1,
                               autoscaling={"min_node_count": 1, "max_node_count": 150},
                               node_config={"machine_type": GCP_LARGE}, opts=gcp_provider())

    over_limit(client, record(program), f"150 x {GCP_LARGE}")


def test_gke_cluster_node_pools_are_each_counted_at_their_max(client):
    def program():
        gcp.container.Cluster("gke", location="us-central1", opts=gcp_provider(), node_pools=[
            {"name": "gpu", "initial_node_count": 1, "node_locations": ["us-central1-a", "us-central1-b"],
             "autoscaling": {"total_max_node_count": 150}, "node_config": {"machine_type": GCP_LARGE}}])

    resources = record(program)
    group, _ = only_group(resources)
    assert (group.name, group.nodes, group.desired) == ("gke/gpu", 150, 2)
    over_limit(client, resources, f"150 x {GCP_LARGE}")


def test_gke_node_auto_provisioning_of_gpus_cannot_be_proven(client):
    def program():
        gcp.container.Cluster("gke", location="us-central1", initial_node_count=1, opts=gcp_provider(),
                              cluster_autoscaling={"enabled": True, "resource_limits": [
                                  {"resource_type": "cpu", "maximum": 1000},
                                  {"resource_type": "memory", "maximum": 10000},
                                  {"resource_type": "nvidia-h100-80gb", "maximum": 1024}]})

    cannot_prove(client, record(program), "instance type", "node auto-provisioning", "nvidia-h100-80gb")


def verdicts(client, resources) -> list:
    providers = {r.urn: r for r in resources if r.is_provider}
    return client.analyze_stack(resources, providers)


def test_autoscale_setting_of_a_known_non_gpu_resource_counts_nothing(client):
    def program():
        o = azure_provider()
        azure.compute.VirtualMachineScaleSet("gpu", resource_group_name="rg", location="eastus",
                                             sku={"name": AZURE_LARGE, "capacity": 2}, opts=o)
        plan = azure.web.AppServicePlan("plan", resource_group_name="rg", location="eastus",
                                        sku={"name": "P1v3", "tier": "PremiumV3"}, opts=o)
        azure.monitor.AutoscaleSetting("web", resource_group_name="rg", target_resource_uri=plan.id, enabled=True,
                                       profiles=[{"name": "default", "rules": [],
                                                  "capacity": {"minimum": "1", "default": "1", "maximum": "30"}}],
                                       opts=o)

    resources = record(program)
    group, inventory = only_group(resources)
    assert (group.nodes, inventory.unknowns) == (2, [])
    client.configure({"power-cap": {"maxFacilityKw": 30}})  # 2 x 10.2 kW x PUE fits; 30 would not
    assert [v.message for v in verdicts(client, resources) if v.policy == "power-cap"] == []


def test_autoscale_setting_whose_target_may_be_a_gpu_scale_set_cannot_be_proven(client):
    def program():
        o = azure_provider()
        rg = azure.resources.ResourceGroup("rg", location="eastus", opts=o)
        azure.compute.VirtualMachineScaleSet("gpu", resource_group_name=rg.name, location="eastus",
                                             sku={"name": AZURE_LARGE, "capacity": 2}, opts=o)
        target = rg.id.apply(lambda rid: f"{rid}/providers/Microsoft.Compute/virtualMachineScaleSets/gpu")
        azure.monitor.AutoscaleSetting("scale", resource_group_name=rg.name, target_resource_uri=target, enabled=True,
                                       profiles=[{"name": "default", "rules": [],
                                                  "capacity": {"minimum": "1", "default": "1", "maximum": "300"}}],
                                       opts=o)

    cannot_prove(client, record(program), "node count", "scale", "target")


def test_autoscale_setting_whose_unknown_target_has_no_gpu_scale_set_to_scale_counts_nothing(client):
    def program():
        o = azure_provider()
        rg = azure.resources.ResourceGroup("rg", location="eastus", opts=o)
        azure.compute.VirtualMachineScaleSet("cpu", resource_group_name=rg.name, location="eastus",
                                             sku={"name": "Standard_D4s_v5", "capacity": 2}, opts=o)
        target = rg.id.apply(lambda rid: f"{rid}/providers/Microsoft.Compute/virtualMachineScaleSets/cpu")
        azure.monitor.AutoscaleSetting("scale", resource_group_name=rg.name, target_resource_uri=target, enabled=True,
                                       profiles=[{"name": "default", "rules": [],
                                                  "capacity": {"minimum": "1", "default": "1", "maximum": "300"}}],
                                       opts=o)

    resources = record(program)
    inventory = from_resources(resources)
    assert (inventory.groups, inventory.unknowns) == ([], [])
    assert [v for v in verdicts(client, resources) if "cannot prove" in v.message] == []
