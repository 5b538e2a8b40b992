"""The per-resource rules judge every shape that can hold GPU capacity: `instance-availability` (is each
type offered in the resource's region and zone), `fabric-complete` (does the shape carry every
fabric interface of its type, or say precisely why it cannot) and `node-health-required` (a managed
pool's own repair of failing nodes). Plain Pulumi programs on the installed
provider SDKs, recorded as the engine would receive them, each resource sent through the real pack
over gRPC; every test pairs a program the rule refuses with one it passes."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure
import pulumi_gcp as gcp
import pytest

from aifactory.analyzer import PolicyPackClient
from aifactory.recording import run_program
from tests.provider_schema import problems

PACK = Path(__file__).resolve().parent.parent / "policies"


@pytest.fixture(scope="module")
def pack():
    with PolicyPackClient(PACK, timeout=120) as client:
        yield client


@pytest.fixture
def client(pack):
    pack.configure(None)
    yield pack
    pack.configure(None)


def record(program):
    resources = run_program(program, project="shapes", stack="dev", known_ids=False).resources
    assert [p for r in resources if r.custom for p in problems(r.type, r.inputs)] == []
    return resources


def judged(client, program, policy: str) -> dict[str, list[str]]:
    """Resource name -> the policy's messages, each resource analyzed on its own over gRPC."""
    resources = record(program)
    providers = {r.urn: r for r in resources if r.is_provider}
    found: dict[str, list[str]] = {}
    for r in resources:
        for v in client.analyze(r, providers):
            if v.policy == policy:
                assert v.enforcement == "mandatory", v
                found.setdefault(r.name, []).append(v.message)
    return found


def aws_opts():
    return pulumi.ResourceOptions(provider=aws.Provider("aws", region="us-east-1"))


def azure_opts():
    return pulumi.ResourceOptions(provider=azure.Provider("azure", location="eastus"))


def gcp_opts():
    return pulumi.ResourceOptions(provider=gcp.Provider("gcp", project="p", region="us-central1"))


# --------------------------------------------------------------------------- instance-availability


def aws_shapes(itype: str):
    def program():
        o = aws_opts()
        aws.eks.NodeGroup("eks", cluster_name="c", node_role_arn="arn:aws:iam::1:role/n", subnet_ids=["s-1"],
                          instance_types=["p4d.24xlarge", itype], opts=o,
                          scaling_config={"desired_size": 1, "min_size": 1, "max_size": 2})
        lt = aws.ec2.LaunchTemplate("tpl", image_id="ami-1", opts=o)
        aws.ec2.Fleet("fleet", opts=o, launch_template_configs=[{
            "launch_template_specification": {"launch_template_id": lt.id, "version": "1"},
            "overrides": [{"instance_type": "p4d.24xlarge"}, {"instance_type": itype}]}],
            target_capacity_specification={"default_target_capacity_type": "on-demand", "total_target_capacity": 2})
        aws.ec2.SpotFleetRequest("spot", iam_fleet_role="arn:aws:iam::1:role/f", target_capacity=2, opts=o,
                                 launch_specifications=[{"ami": "ami-1", "instance_type": itype}])
        aws.ec2.LaunchConfiguration("legacy", image_id="ami-1", instance_type=itype, opts=o)
        aws.ec2.SpotInstanceRequest("one", ami="ami-1", instance_type=itype, opts=o)
        aws.autoscaling.Group("mixed", min_size=1, max_size=2, availability_zones=["us-east-1a"], opts=o,
                              mixed_instances_policy={"launch_template": {
                                  "launch_template_specification": {"launch_template_id": lt.id},
                                  "overrides": [{"instance_type": itype}]}})

    return program


def test_every_aws_shape_is_refused_a_type_its_region_does_not_offer(client):
    found = judged(client, aws_shapes("p5e.48xlarge"), "instance-availability")
    assert sorted(found) == ["eks", "fleet", "legacy", "mixed", "one", "spot"]
    for messages in found.values():
        assert len(messages) == 1 and "\np5e.48xlarge is not offered in us-east-1 (catalog)" in messages[0], messages
    assert judged(client, aws_shapes("p5.48xlarge"), "instance-availability") == {}


def test_each_pool_of_a_cluster_is_judged_in_its_own_zones(client):
    def program(mega_zone):
        def run():
            gcp.container.Cluster("gke", location="us-central1", remove_default_node_pool=True, opts=gcp_opts(),
                                  node_pools=[
                {"name": "b200", "initial_node_count": 1, "node_locations": ["us-central1-b"],
                 "node_config": {"machine_type": "a4-highgpu-8g"},
                 "network_config": {"accelerator_network_profile": "auto"}},
                {"name": "h100", "initial_node_count": 1, "node_locations": [mega_zone],
                 "node_config": {"machine_type": "a3-megagpu-8g"}}])
        return run

    # a4-highgpu-8g is offered in us-central1-b only, a3-megagpu-8g in a, b and c (catalog).
    assert judged(client, program("us-central1-a"), "instance-availability") == {}
    [message] = judged(client, program("us-central1-f"), "instance-availability")["gke"]
    assert "a3-megagpu-8g is not offered in zone us-central1-f" in message


def test_an_unreadable_type_fails_closed_naming_the_resource_and_input(client):
    def program():
        o = aws_opts()
        lt = aws.ec2.LaunchTemplate("tpl", image_id="ami-1", opts=o)
        aws.eks.NodeGroup("eks", cluster_name="c", node_role_arn="arn:aws:iam::1:role/n", subnet_ids=["s-1"],
                          instance_types=[lt.id.apply(lambda _: "p5.48xlarge")], opts=o,
                          scaling_config={"desired_size": 1, "min_size": 1, "max_size": 2})

    [message] = judged(client, program, "instance-availability")["eks"]
    assert "instance type of urn:pulumi:dev::shapes::aws:eks/nodeGroup:NodeGroup::eks (instanceTypes[0])" in message
    assert "cannot prove" in message


def azure_shapes(size: str):
    def program():
        o = azure_opts()
        azure.compute.VirtualMachineScaleSet(
            "flex", resource_group_name="rg", location="eastus", orchestration_mode="Flexible",
            platform_fault_domain_count=1, sku={"name": "Mix", "capacity": 2}, single_placement_group=True,
            sku_profile={"vm_sizes": [{"name": "Standard_ND96isr_H100_v5"}, {"name": size}]}, opts=o)
        azure.containerservice.AgentPool("gpu", resource_group_name="rg", resource_name_="aks", vm_size=size,
                                         count=1, opts=o)
        azure.containerservice.ManagedCluster(
            "aks", resource_group_name="rg", location="eastus", dns_prefix="aks", opts=o,
            agent_pool_profiles=[{"name": "system", "mode": "System", "vm_size": "Standard_D4s_v5", "count": 3},
                                 {"name": "gpu", "mode": "User", "vm_size": size, "count": 1}])

    return program


def test_every_azure_shape_is_refused_a_size_its_region_does_not_offer(client):
    found = judged(client, azure_shapes("Standard_ND96isr_H200_v5"), "instance-availability")
    assert sorted(found) == ["aks", "flex", "gpu"]
    for messages in found.values():
        assert len(messages) == 1 and "\nStandard_ND96isr_H200_v5 is not offered in eastus (catalog)" in messages[0]
    assert judged(client, azure_shapes("Standard_ND96isr_H100_v5"), "instance-availability") == {}


def gcp_shapes(zone: str):
    def program():
        o = gcp_opts()
        tpl = gcp.compute.InstanceTemplate("tpl", machine_type="a3-highgpu-8g", disks=[{"source_image": "img"}],
                                           network_interfaces=[{"network": "default"}], labels={"aifactory-nodes": "1"},
                                           opts=o)
        gcp.compute.RegionInstanceGroupManager(
            "mig", base_instance_name="mig", region="us-central1", distribution_policy_zones=[zone], target_size=1, opts=o,
            versions=[{"instance_template": tpl.self_link}],
            instance_flexibility_policy={"instance_selections": [
                {"name": "best", "rank": 1, "machine_types": ["a4-highgpu-8g"]}]})
        gcp.container.NodePool("pool", cluster="c", location="us-central1", node_locations=[zone], node_count=1,
                               node_config={"machine_type": "a4-highgpu-8g"},
                               network_config={"accelerator_network_profile": "auto"}, opts=o)
        gcp.container.Cluster("gke", location="us-central1", remove_default_node_pool=True, opts=o, node_pools=[
            {"name": "gpu", "initial_node_count": 1, "node_locations": [zone],
             "node_config": {"machine_type": "a4-highgpu-8g"},
             "network_config": {"accelerator_network_profile": "auto"}}])

    return program


def test_every_google_shape_is_refused_a_zone_that_does_not_offer_its_type(client):
    found = judged(client, gcp_shapes("us-central1-a"), "instance-availability")
    assert sorted(found) == ["gke", "mig", "pool"]
    for messages in found.values():
        assert len(messages) == 1 and "\na4-highgpu-8g is not offered in zone us-central1-a (catalog)" in messages[0]
    assert judged(client, gcp_shapes("us-central1-b"), "instance-availability") == {}


# --------------------------------------------------------------------------- fabric-complete


def test_aws_shapes_without_network_interfaces_cannot_carry_efa(client):
    def program():
        o = aws_opts()
        aws.ec2.LaunchConfiguration("legacy", image_id="ami-1", instance_type="p5.48xlarge", opts=o)
        aws.ec2.SpotFleetRequest("spot", iam_fleet_role="arn:aws:iam::1:role/f", target_capacity=2, opts=o,
                                 launch_specifications=[{"ami": "ami-1", "instance_type": "p5.48xlarge"}])
        aws.ec2.SpotInstanceRequest("one", ami="ami-1", instance_type="p5.48xlarge", opts=o)

    found = judged(client, program, "fabric-complete")
    assert sorted(found) == ["legacy", "one", "spot"]
    assert "A launch configuration carries no network interfaces" in found["legacy"][0]
    assert "An inline launch specification (p5.48xlarge) carries no network interfaces" in found["spot"][0]
    assert "p5.48xlarge has 32 EFA network cards" in found["one"][0] and "provisions 0" in found["one"][0]


def test_a_spot_fleet_of_launch_templates_leaves_the_fabric_to_its_templates(client):
    def program():
        o = aws_opts()
        nics = [{"device_index": 0 if card == 0 else 1, "network_card_index": card,
                 "interface_type": "efa" if card == 0 else "efa-only"} for card in range(32)]
        lt = aws.ec2.LaunchTemplate("tpl", image_id="ami-1", instance_type="p5.48xlarge", network_interfaces=nics,
                                    opts=o)
        aws.ec2.SpotFleetRequest("spot", iam_fleet_role="arn:aws:iam::1:role/f", target_capacity=2, opts=o,
                                 launch_template_configs=[{"launch_template_specification": {"id": lt.id,
                                                                                             "version": "1"}}])

    assert judged(client, program, "fabric-complete") == {}


def aks_pool():
    azure.containerservice.AgentPool("gpu", resource_group_name="rg", resource_name_="aks", count=2,
                                     vm_size="Standard_ND96isr_H100_v5", opts=azure_opts())


def test_an_aks_infiniband_pool_fails_closed_unless_the_org_vouches_for_its_fabric(client):
    [message] = judged(client, aks_pool, "fabric-complete")["gpu"]
    assert "AKS pool gpu runs Standard_ND96isr_H100_v5" in message and "AKSInfinibandSupport" in message
    client.configure({"fabric-complete": {"enforcementLevel": "mandatory", "aksInfinibandSupport": True}})
    assert judged(client, aks_pool, "fabric-complete") == {}


def test_a_flexible_scale_set_of_infiniband_sizes_needs_one_placement_group(client):
    def program(single):
        def run():
            azure.compute.VirtualMachineScaleSet(
                "flex", resource_group_name="rg", location="eastus", orchestration_mode="Flexible",
                platform_fault_domain_count=1, sku={"name": "Mix", "capacity": 2}, single_placement_group=single,
                sku_profile={"vm_sizes": [{"name": "Standard_ND96isr_H100_v5"}]}, opts=azure_opts())
        return run

    [message] = judged(client, program(False), "fabric-complete")["flex"]
    assert "singlePlacementGroup=true" in message
    assert judged(client, program(True), "fabric-complete") == {}


def gke_pool(networks: int, machine: str = "a3-megagpu-8g", **network_config):
    def program():
        o = gcp_opts()
        extra = [{"network": f"gpu-{i}", "subnetwork": f"gpu-{i}-sub"} for i in range(networks)]
        gcp.container.NodePool("pool", cluster="c", location="us-central1-a", node_count=2, opts=o,
                               node_config={"machine_type": machine},
                               network_config={"additional_node_network_configs": extra, **network_config})

    return program


def test_a_gke_pool_needs_a_node_network_per_gpu_nic(client):
    [message] = judged(client, gke_pool(4), "fabric-complete")["pool"]
    assert "a3-megagpu-8g has 8 GPU NICs" in message and "provisions 4 (800 Gbps, 50%" in message
    assert "Pool pool: give it 8 additionalNodeNetworkConfigs" in message
    assert judged(client, gke_pool(8), "fabric-complete") == {}
    # RDMA types: 1 more host network and 8 RDMA networks, or GKE's automated accelerator networking.
    assert "provisions 7" in judged(client, gke_pool(8, "a3-ultragpu-8g"), "fabric-complete")["pool"][0]
    assert judged(client, gke_pool(9, "a3-ultragpu-8g"), "fabric-complete") == {}
    assert judged(client, gke_pool(0, "a3-ultragpu-8g", accelerator_network_profile="auto"), "fabric-complete") == {}


def test_a_gke_clusters_default_pool_cannot_attach_gpu_networks(client):
    def program():
        gcp.container.Cluster("gke", location="us-central1-a", initial_node_count=2, opts=gcp_opts(),
                              node_config={"machine_type": "a3-megagpu-8g"})

    [message] = judged(client, program, "fabric-complete")["gke"]
    assert "default node pool of gke runs a3-megagpu-8g" in message and "removeDefaultNodePool=true" in message


# --------------------------------------------------------------------------- fabric-complete-groups


def stack_judged(client, program, policy: str = "fabric-complete-groups") -> dict[str, list[str]]:
    """Resource name -> the stack policy's messages, the whole program analyzed over gRPC."""
    resources = record(program)
    providers = {r.urn: r for r in resources if r.is_provider}
    found: dict[str, list[str]] = {}
    for v in client.analyze_stack(resources, providers):
        if v.policy == policy:
            assert v.enforcement == "mandatory", v
            found.setdefault(v.urn.rsplit("::", 1)[-1], []).append(v.message)
    return found


def efa(cards: int) -> list[dict]:
    return [{"device_index": 0 if card == 0 else 1, "network_card_index": card,
             "interface_type": "efa" if card == 0 else "efa-only"} for card in range(cards)]


def eks_with(cards: int | None, template: str | None = None):
    def program():
        o = aws_opts()
        spec = None
        if cards is not None:
            lt = aws.ec2.LaunchTemplate("tpl", image_id="ami-1", network_interfaces=efa(cards), opts=o)
            spec = {"id": lt.id, "version": "1"}
        if template is not None:
            spec = {"id": template, "version": "1"}
        aws.eks.NodeGroup("eks", cluster_name="c", node_role_arn="arn:aws:iam::1:role/n", subnet_ids=["s-1"],
                          instance_types=["p5.48xlarge"], launch_template=spec, opts=o,
                          scaling_config={"desired_size": 1, "min_size": 1, "max_size": 2})

    return program


def test_an_eks_node_group_gets_its_efa_cards_from_its_launch_template(client):
    [message] = stack_judged(client, eks_with(None))["eks"]
    assert "eks launches p5.48xlarge (instanceTypes[0]) from the launch template EKS makes itself" in message
    [message] = stack_judged(client, eks_with(4))["eks"]
    assert "eks launches p5.48xlarge (instanceTypes[0]) from tpl: p5.48xlarge has 32 EFA network cards" in message
    assert "provisions 4 (400 Gbps, 12%" in message
    assert stack_judged(client, eks_with(32)) == {}
    [message] = stack_judged(client, eks_with(None, template="lt-0abc"))["eks"]
    assert "from a template outside this program (launchTemplate)" in message


def test_a_type_a_group_names_unknown_at_preview_fails_closed(client):
    def program():
        o = aws_opts()
        lt = aws.ec2.LaunchTemplate("tpl", image_id="ami-1", network_interfaces=efa(32), opts=o)
        aws.eks.NodeGroup("eks", cluster_name="c", node_role_arn="arn:aws:iam::1:role/n", subnet_ids=["s-1"],
                          instance_types=lt.id.apply(lambda _: ["p5.48xlarge"]), opts=o,
                          launch_template={"id": lt.id, "version": "1"},
                          scaling_config={"desired_size": 1, "min_size": 1, "max_size": 2})

    [message] = stack_judged(client, program)["eks"]
    assert "instance type of urn:pulumi:dev::shapes::aws:eks/nodeGroup:NodeGroup::eks (instanceTypes)" in message
    assert "cannot prove every fabric interface of its instance types is provisioned" in message


def mixed_group(cards: int):
    def program():
        o = aws_opts()
        lt = aws.ec2.LaunchTemplate("tpl", image_id="ami-1", network_interfaces=efa(cards), opts=o)
        aws.autoscaling.Group("mixed", min_size=1, max_size=2, availability_zones=["us-east-1a"], opts=o,
                              mixed_instances_policy={"launch_template": {
                                  "launch_template_specification": {"launch_template_id": lt.id},
                                  "overrides": [{"instance_type": "p4d.24xlarge"}, {"instance_type": "p5.48xlarge"}]}})
        aws.ec2.Fleet("fleet", opts=o, launch_template_configs=[{
            "launch_template_specification": {"launch_template_id": lt.id, "version": "1"},
            "overrides": [{"instance_type": "p5.48xlarge"}]}],
            target_capacity_specification={"default_target_capacity_type": "on-demand", "total_target_capacity": 2})

    return program


def test_group_overrides_are_held_to_their_templates_fabric(client):
    found = stack_judged(client, mixed_group(4))  # p4d.24xlarge's 4 cards, not p5.48xlarge's 32
    assert sorted(found) == ["fleet", "mixed"]
    [mixed] = found["mixed"]
    assert "mixed launches p5.48xlarge (mixedInstancesPolicy.launchTemplate.overrides[1].instanceType) from tpl" in mixed
    assert "launchTemplateConfigs[0].overrides[0].instanceType" in found["fleet"][0]
    assert stack_judged(client, mixed_group(32)) == {}


def flexible_mig(gpu_nics: int):
    def program():
        o = gcp_opts()
        nics = [{"network": "host", "nic_type": "GVNIC"}] + [{"network": f"gpu-{i}", "nic_type": "GVNIC"}
                                                            for i in range(gpu_nics)]
        tpl = gcp.compute.RegionInstanceTemplate("tpl", region="us-central1", machine_type="a2-highgpu-8g",
                                                 disks=[{"source_image": "img"}], network_interfaces=nics, opts=o)
        gcp.compute.RegionInstanceGroupManager(
            "mig", base_instance_name="mig", region="us-central1", target_size=1, opts=o,
            versions=[{"instance_template": tpl.self_link}],
            instance_flexibility_policy={"instance_selections": [
                {"name": "h100", "rank": 1, "machine_types": ["a3-megagpu-8g"]}]})

    return program


def test_a_mig_flexibility_type_is_held_to_its_templates_nics(client):
    [message] = stack_judged(client, flexible_mig(0))["mig"]
    assert "mig launches a3-megagpu-8g (instanceFlexibilityPolicy.instanceSelections[0].machineTypes[0]) from tpl" \
        in message and "a3-megagpu-8g has 8 GPU NICs" in message
    assert stack_judged(client, flexible_mig(8)) == {}


# --------------------------------------------------------------------------- node-health-required


def eks_group(**repair):
    def program():
        aws.eks.NodeGroup("eks", cluster_name="c", node_role_arn="arn:aws:iam::1:role/n", subnet_ids=["s-1"],
                          instance_types=["p5.48xlarge"], opts=aws_opts(), **repair,
                          scaling_config={"desired_size": 1, "min_size": 1, "max_size": 2})

    return program


def test_an_eks_gpu_node_group_needs_node_auto_repair(client):
    [message] = judged(client, eks_group(), "node-health-required")["eks"]
    assert "eks runs p5.48xlarge nodes" in message
    assert "nodeRepairConfig.enabled = true" in message and "eks-node-monitoring-agent" in message
    assert list(judged(client, eks_group(node_repair_config={"enabled": False}), "node-health-required")) == ["eks"]
    assert judged(client, eks_group(node_repair_config={"enabled": True}), "node-health-required") == {}


def test_an_eks_node_repair_setting_unknown_at_preview_fails_closed(client):
    def program():
        o = aws_opts()
        lt = aws.ec2.LaunchTemplate("tpl", image_id="ami-1", opts=o)
        aws.eks.NodeGroup("eks", cluster_name="c", node_role_arn="arn:aws:iam::1:role/n", subnet_ids=["s-1"],
                          instance_types=["p5.48xlarge"], opts=o,
                          node_repair_config={"enabled": lt.id.apply(lambda _: True)},
                          scaling_config={"desired_size": 1, "min_size": 1, "max_size": 2})

    [message] = judged(client, program, "node-health-required")["eks"]
    assert "node auto repair of urn:pulumi:dev::shapes::aws:eks/nodeGroup:NodeGroup::eks (nodeRepairConfig.enabled)" \
        in message and "cannot prove" in message


def gke_pools(repair: bool | None):
    def program():
        o = gcp_opts()
        management = {} if repair is None else {"management": {"auto_repair": repair}}
        gcp.container.NodePool("pool", cluster="c", location="us-central1-a", node_count=1, opts=o,
                               node_config={"machine_type": "a3-megagpu-8g"}, **management)
        gcp.container.NodePool("cpu", cluster="c", location="us-central1-a", node_count=1, opts=o,
                               management={"auto_repair": False})  # GKE's default machine type: no GPU
        gcp.container.Cluster("gke", location="us-central1", remove_default_node_pool=True, opts=o, node_pools=[
            {"name": "system", "initial_node_count": 1, "node_config": {"machine_type": "e2-standard-4"},
             "management": {"auto_repair": False}},
            {"name": "gpu", "initial_node_count": 1, "node_config": {"machine_type": "a3-megagpu-8g"}, **management}])

    return program


def test_a_gke_gpu_pool_keeps_node_auto_repair(client):
    found = judged(client, gke_pools(False), "node-health-required")
    assert sorted(found) == ["gke", "pool"]
    [cluster] = found["gke"]  # the CPU system pool may go without it
    assert "GKE pool gke/gpu runs GPU nodes with node auto-repair off" in cluster
    assert "nodePools[1].management.autoRepair=false" in cluster
    assert "GKE pool pool runs GPU nodes" in found["pool"][0] and "management.autoRepair=false" in found["pool"][0]
    assert judged(client, gke_pools(None), "node-health-required") == {}  # on by default
    assert judged(client, gke_pools(True), "node-health-required") == {}


def test_an_aks_pool_is_repaired_by_aks_itself(client):
    assert judged(client, aks_pool, "node-health-required") == {}
