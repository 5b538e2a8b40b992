"""Google Cloud components run under `aifactory.recording` (through tests/harness.py): the
inputs they really register.

Four runs, shared by module-scoped fixtures:
- `standalone`: the components used alone, one network per GPU family, fleets of every
  capacity, every filesystem kind and a budget;
- `example`: stacks/Pulumi.llm-prod.yaml through stackfile + load_facility + build_facility;
- `scaled`: the same stack with 750x the nodes (O(fleets) check);
- `unknown`: the example in preview with every resource output unknown (literal-value check).
Inputs arrive camelCase, as the engine sends them; the facility's exports are a stack output.
"""

from __future__ import annotations

import ipaddress
import json

import pulumi
import pytest

from aifactory import netplan, stackfile
from aifactory.recording import contains_unknown
from aifactory.loader import load_facility
from tests.harness import FakeCloud, provider_name, run

PROJECT = "llm-prod-training"
ZONE = "us-central1-a"
REGION = "us-central1"

NETWORK = "gcp:compute/network:Network"
SUBNET = "gcp:compute/subnetwork:Subnetwork"
FIREWALL = "gcp:compute/firewall:Firewall"
TEMPLATE = "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"
MIG = "gcp:compute/instanceGroupManager:InstanceGroupManager"
POLICY = "gcp:compute/resourcePolicy:ResourcePolicy"
LUSTRE = "gcp:lustre/instance:Instance"
PARALLELSTORE = "gcp:parallelstore/instance:Instance"
FILESTORE = "gcp:filestore/instance:Instance"
BUDGET = "gcp:billing/budget:Budget"
TOPIC = "gcp:pubsub/topic:Topic"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
ADDRESS = "gcp:compute/globalAddress:GlobalAddress"
PROVIDER = "pulumi:providers:gcp"


# --------------------------------------------------------------------------- the fake cloud


def gcp_outputs(type_: str, name: str, state: dict) -> dict:
    """The outputs Google Cloud computes (ids, self links, mount points); an `id` is also the resource's ID."""
    name = state.get("name") or name
    base = f"projects/{PROJECT}"
    return {
        NETWORK: {"id": f"{base}/global/networks/{name}", "selfLink": f"https://g/{base}/global/networks/{name}"},
        SUBNET: {"selfLink": f"https://g/{base}/regions/{REGION}/subnetworks/{name}"},
        TEMPLATE: {"selfLink": f"https://g/{base}/regions/{REGION}/instanceTemplates/{name}"},
        POLICY: {"selfLink": f"https://g/{base}/regions/{REGION}/resourcePolicies/{name}"},
        TOPIC: {"id": f"{base}/topics/{name}"},
        CHANNEL: {"id": f"{base}/notificationChannels/{name}"},
        LUSTRE: {"mountPoint": f"10.50.16.2@tcp:/{state.get('filesystem')}"},
        PARALLELSTORE: {"accessPoints": ["10.50.16.3", "10.50.16.4"]},
        FILESTORE: {"networks": [{**n, "ipAddresses": ["10.50.16.9"]} for n in state.get("networks", [])]},
    }.get(type_, {})


def run_gcp(program, preview: bool = False, known_outputs: bool = True):
    """Run `program` against the fake cloud; without `known_outputs` every ID and output is unknown."""
    mocks = FakeCloud(gcp_outputs) if known_outputs else FakeCloud(known_ids=False, known_state=False)
    return run(program, mocks=mocks, preview=preview)


def example_spec(**changes):
    data = stackfile.read("llm-prod").facility
    data = json.loads(json.dumps(data))
    for key, value in changes.items():
        target = data
        *path, last = key.split(".")
        for part in path:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return load_facility(data)


def build_example(spec):
    from aifactory import components

    facility = components.build_facility(spec)
    pulumi.export("exports", facility.exports())


# --------------------------------------------------------------------------- fixtures

FAMILIES = {
    "hi": "a3-highgpu-8g",
    "mega": "a3-megagpu-8g",
    "ultra": "a3-ultragpu-8g",
    "a4": "a4-highgpu-8g",
    "a2": "a2-highgpu-8g",
}


@pytest.fixture(scope="module")
def standalone():
    from aifactory.components.gcp import (
        BudgetGuard,
        BudgetGuardArgs,
        ClusterNetwork,
        ClusterNetworkArgs,
        GpuFleet,
        GpuFleetArgs,
        ParallelFilesystem,
        ParallelFilesystemArgs,
    )
    from aifactory.components.gcp.filesystem import capacity_gib

    tags = {"facility": "lab", "team": "research", "cost-center": "cc-1"}

    def program():
        networks = {}
        for key, machine in FAMILIES.items():
            networks[key] = ClusterNetwork(
                key,
                ClusterNetworkArgs(
                    region=REGION, zone=ZONE, cidr="10.60.0.0/16", tags=tags, instance_type=machine,
                    project=PROJECT, private_service_access=key == "a2",
                ),
            )
            GpuFleet(f"{key}-fleet", GpuFleetArgs(
                instance_type=machine, nodes=4, network=networks[key], zone=ZONE, tags=tags))
        net = networks["a2"]
        fs = {
            "lus": ParallelFilesystem("lab-lus", ParallelFilesystemArgs(
                kind="lustre", capacity_gib=capacity_gib("lustre", 18000 / 1024, 500), throughput_mbps_per_tib=500,
                network=net, zone=ZONE, tags=tags)),
            "ps": ParallelFilesystem("lab-ps", ParallelFilesystemArgs(
                kind="parallelstore", capacity_gib=capacity_gib("parallelstore", 16),
                network=net, zone=ZONE, tags=tags)),
            "nfs": ParallelFilesystem("lab-nfs", ParallelFilesystemArgs(
                kind="filestore", capacity_gib=capacity_gib("filestore", 2.5), network=net, zone=ZONE, tags=tags)),
            "rnfs": ParallelFilesystem("lab-rnfs", ParallelFilesystemArgs(
                kind="filestore", tier="REGIONAL", capacity_gib=capacity_gib("filestore", 1, tier="REGIONAL"),
                network=net, zone=ZONE, tags=tags)),
        }
        a2 = "a2-highgpu-8g"
        GpuFleet("one", GpuFleetArgs(instance_type=a2, nodes=1, network=net, zone=ZONE, tags=tags))
        GpuFleet("spot", GpuFleetArgs(instance_type=a2, nodes=4, capacity="spot", network=net, zone=ZONE, tags=tags))
        GpuFleet("resv", GpuFleetArgs(instance_type=a2, nodes=4, capacity="reservation", reservation_id="a2-resv-1",
                                      network=net, zone=ZONE, tags=tags))
        GpuFleet("big", GpuFleetArgs(instance_type=a2, nodes=4500, network=net, zone=ZONE, tags=tags))
        GpuFleet("mnt", GpuFleetArgs(instance_type=a2, nodes=2, network=net, zone=ZONE, tags=tags,
                                     filesystems=[fs["lus"], fs["ps"], fs["nfs"]]))
        BudgetGuard("lab-budget", BudgetGuardArgs(
            monthly_usd=1234.5, alert_emails=["a@example.com", "b@example.com"], thresholds_pct=[25, 90],
            billing_account="012345-6789AB-CDEF01", project=PROJECT, project_number="987654321",
            facility="lab", tags=tags))

    return run_gcp(program)


@pytest.fixture(scope="module")
def example():
    spec = example_spec()
    return run_gcp(lambda: build_example(spec))


@pytest.fixture(scope="module")
def scaled():
    spec = example_spec(**{"fleets.0.nodes": 6000, "network.cidr": "10.64.0.0/12"})
    return run_gcp(lambda: build_example(spec))


@pytest.fixture(scope="module")
def unknown():
    spec = example_spec()
    return run_gcp(lambda: build_example(spec), preview=True, known_outputs=False)


def networks_of(run, key: str) -> list:
    return [r for r in run.of(NETWORK) if r.name.startswith(f"{key}-net-") or r.name.startswith(f"{key}-gpunet-")
            or r.name == f"{key}-rdma-net"]


def template_of(run, fleet: str) -> dict:
    return run.inputs(TEMPLATE, f"{fleet}-template")


# --------------------------------------------------------------------------- network per machine family


def test_a3_highgpu_is_a_primary_vpc_plus_four_gpu_vpcs_at_mtu_8244(standalone):
    nets = networks_of(standalone, "hi")
    assert sorted(n.name for n in nets) == ["hi-gpunet-0", "hi-gpunet-1", "hi-gpunet-2", "hi-gpunet-3", "hi-net-0"]
    assert {n.inputs["mtu"] for n in nets} == {8244}
    assert len(standalone.of(SUBNET, "hi-")) == 5


def test_a3_highgpu_template_carries_five_gvnic_nics(standalone):
    nics = template_of(standalone, "hi-fleet")["networkInterfaces"]
    assert [n["nicType"] for n in nics] == ["GVNIC"] * 5


def test_a3_megagpu_is_a_primary_vpc_plus_eight_gpu_vpcs_at_mtu_8244(standalone):
    nets = networks_of(standalone, "mega")
    assert len([n for n in nets if "-gpunet-" in n.name]) == 8 and len(nets) == 9
    assert {n.inputs["mtu"] for n in nets} == {8244}
    assert [n["nicType"] for n in template_of(standalone, "mega-fleet")["networkInterfaces"]] == ["GVNIC"] * 9


@pytest.mark.parametrize("key", ["ultra", "a4"])
def test_rdma_types_get_two_gvnic_vpcs_and_a_roce_vpc_of_eight_subnets(standalone, key):
    nets = {n.name: n.inputs for n in networks_of(standalone, key)}
    assert sorted(nets) == [f"{key}-net-0", f"{key}-net-1", f"{key}-rdma-net"]
    assert {n["mtu"] for n in nets.values()} == {8896}
    assert nets[f"{key}-rdma-net"]["networkProfile"] == f"projects/{PROJECT}/global/networkProfiles/{ZONE}-vpc-roce"
    assert "networkProfile" not in nets[f"{key}-net-0"]
    assert len(standalone.of(SUBNET, f"{key}-rdma-sub-")) == 8


@pytest.mark.parametrize("key", ["ultra", "a4"])
def test_rdma_template_nics_are_two_gvnic_then_eight_mrdma(standalone, key):
    nics = template_of(standalone, f"{key}-fleet")["networkInterfaces"]
    assert [n["nicType"] for n in nics] == ["GVNIC"] * 2 + ["MRDMA"] * 8
    assert nics[2]["subnetwork"].endswith(f"/subnetworks/{key}-rdma-sub-0")


def test_a2_is_one_gvnic_vpc(standalone):
    assert [n.name for n in networks_of(standalone, "a2")] == ["a2-net-0"]
    assert [n["nicType"] for n in template_of(standalone, "a2-fleet")["networkInterfaces"]] == ["GVNIC"]


def test_nics_follow_the_vpc_order_primary_first(standalone):
    subnets = [n["subnetwork"].rsplit("/", 1)[1] for n in template_of(standalone, "mega-fleet")["networkInterfaces"]]
    assert subnets == ["mega-sub-0"] + [f"mega-gpusub-{i}" for i in range(8)]


def test_subnet_ranges_come_from_the_netplan(standalone):
    plan = netplan.plan("10.60.0.0/16", 9)
    ranges = {r.name: r.inputs["ipCidrRange"] for r in standalone.of(SUBNET, "ultra-")}
    assert ranges["ultra-sub-0"] == plan.compute
    assert ranges["ultra-sub-1"] == plan.fabric[0]
    assert [ranges[f"ultra-rdma-sub-{i}"] for i in range(8)] == list(plan.fabric[1:9])
    assert all(r.inputs["region"] == REGION for r in standalone.of(SUBNET))


def test_firewalls_admit_only_the_cluster_s_own_ranges(standalone):
    cidr = ipaddress.ip_network("10.60.0.0/16")
    rules = standalone.of(FIREWALL)
    assert rules
    for rule in rules:
        assert rule.inputs["direction"] == "INGRESS"
        assert rule.inputs["sourceRanges"]
        if rule.name.endswith("-health-probes"):  # Google's health-check probes, to the node-health port only
            assert rule.inputs["sourceRanges"] == ["35.191.0.0/16", "130.211.0.0/22"]
            continue
        assert all(ipaddress.ip_network(s).subnet_of(cidr) for s in rule.inputs["sourceRanges"])
    assert not [r for r in rules if r.name.startswith("ultra-rdma")]  # RoCE VPCs take no firewall rules


def test_gpu_nodes_have_no_external_ip(standalone, example):
    templates = standalone.of(TEMPLATE) + example.of(TEMPLATE)
    assert templates
    for template in templates:
        for nic in template.inputs["networkInterfaces"]:
            assert not nic.get("accessConfigs") and not nic.get("ipv6AccessConfigs")


# --------------------------------------------------------------------------- fleets


def test_compact_placement_for_multi_node_on_demand_fleets(standalone):
    policy = standalone.one(POLICY, "a2-fleet-placement").inputs
    assert policy["groupPlacementPolicy"] == {"collocation": "COLLOCATED"}
    assert policy["region"] == REGION
    assert template_of(standalone, "a2-fleet")["resourcePolicies"].endswith("/resourcePolicies/a2-fleet-placement")


@pytest.mark.parametrize("fleet", ["one", "spot", "resv"])
def test_no_placement_for_one_node_spot_or_reservation(standalone, fleet):
    assert not standalone.of(POLICY, f"{fleet}-")
    assert "resourcePolicies" not in template_of(standalone, fleet)


def test_on_demand_nodes_terminate_on_maintenance_and_restart(standalone):
    assert template_of(standalone, "a2-fleet")["scheduling"] == {
        "provisioningModel": "STANDARD", "automaticRestart": True, "onHostMaintenance": "TERMINATE"}


def test_spot_fleet_is_spot_with_a_termination_action(standalone):
    scheduling = template_of(standalone, "spot")["scheduling"]
    assert scheduling["provisioningModel"] == "SPOT"
    assert scheduling["instanceTerminationAction"] == "DELETE"
    assert scheduling["onHostMaintenance"] == "TERMINATE"


def test_reservation_fleet_consumes_the_named_reservation(standalone):
    template = template_of(standalone, "resv")
    assert template["reservationAffinity"] == {
        "type": "SPECIFIC_RESERVATION",
        "specificReservation": {"key": "compute.googleapis.com/reservation-name", "values": ["a2-resv-1"]},
    }
    assert template["scheduling"]["provisioningModel"] == "STANDARD"


def test_mig_size_zone_and_machine_type_are_literals(standalone):
    mig = standalone.one(MIG, "a2-fleet-mig").inputs
    assert mig["targetSize"] == 4 and mig["zone"] == ZONE and mig["baseInstanceName"] == "a2-fleet"
    assert mig["listManagedInstancesResults"] == "PAGINATED"
    template = template_of(standalone, "a2-fleet")
    assert template["machineType"] == "a2-highgpu-8g" and template["region"] == REGION


def test_template_declares_its_fleet_size_for_the_placement_policy(standalone):
    assert template_of(standalone, "one")["labels"]["aifactory-nodes"] == "1"
    assert template_of(standalone, "big")["labels"]["aifactory-nodes"] == "4500"


def test_fleet_splits_only_at_the_mig_size_cap(standalone):
    migs = sorted(standalone.of(MIG, "big-"), key=lambda r: r.name)
    assert [(m.inputs["baseInstanceName"], m.inputs["targetSize"]) for m in migs] == [
        ("big-000", 1500), ("big-001", 1500), ("big-002", 1500)]
    assert len(standalone.of(TEMPLATE, "big-")) == 1


def test_boot_disk_google_encrypted_shielded_and_sized(standalone):
    a2, ultra = template_of(standalone, "a2-fleet"), template_of(standalone, "ultra-fleet")
    disk = a2["disks"][0]
    assert disk["boot"] and disk["diskSizeGb"] == 200 and disk["diskType"] == "pd-balanced"
    assert "diskEncryptionKey" not in disk  # Google-managed encryption at rest
    assert disk["sourceImage"].endswith("family/ubuntu-accelerator-2204-amd64-with-nvidia-570")
    assert ultra["disks"][0]["diskType"] == "hyperdisk-balanced"
    assert a2["shieldedInstanceConfig"] == {
        "enableSecureBoot": False, "enableVtpm": True, "enableIntegrityMonitoring": True}
    assert a2["metadata"]["enable-oslogin"] == "TRUE"


@pytest.mark.parametrize(
    "fleet, marker",
    [("hi-fleet", "NCCL_GPUDIRECTTCPX_SOCKET_IFNAME"), ("mega-fleet", "NCCL_FASTRAK_IFNAME"),
     ("ultra-fleet", "NCCL_NET=gIB"), ("a2-fleet", "NCCL_SOCKET_IFNAME=^lo,docker")],
)
def test_startup_script_sets_the_family_s_nccl_environment(standalone, fleet, marker):
    script = template_of(standalone, fleet)["metadata"]["startup-script"]
    assert script.startswith("#!/bin/bash") and marker in script


def test_startup_script_mounts_every_filesystem(standalone):
    script = template_of(standalone, "mnt")["metadata"]["startup-script"]
    assert "mount -t lustre -o defaults,_netdev 10.50.16.2@tcp:/lus /mnt/lus" in script
    assert "access_points: [%s]" in script and "daos_agent.yml" in script
    assert "'10.50.16.3, 10.50.16.4' > /etc/daos/daos_agent.yml" in script
    assert "dfuse --pool default-pool --container default-container --multi-user /mnt/ps" in script
    assert "mount -t nfs -o vers=3,hard,_netdev 10.50.16.9:/nfs /mnt/nfs" in script


# --------------------------------------------------------------------------- filesystems


def test_lustre_has_a_literal_tier_capacity_and_zone(standalone):
    lustre = standalone.one(LUSTRE, "lab-lus-lustre").inputs
    assert lustre["perUnitStorageThroughput"] == "500" and lustre["capacityGib"] == "18000"
    assert lustre["location"] == ZONE and lustre["filesystem"] == "lus"
    assert lustre["network"] == f"projects/{PROJECT}/global/networks/a2-net-0"


def test_parallelstore_capacity_is_on_4000_gib_steps(standalone):
    store = standalone.one(PARALLELSTORE, "lab-ps-parallelstore").inputs
    assert store["capacityGib"] == "16000" and int(store["capacityGib"]) % 4000 == 0
    assert store["location"] == ZONE and store["reservedIpRange"] == "a2-psa-range"


def test_filestore_tier_decides_zone_or_region(standalone):
    zonal = standalone.one(FILESTORE, "lab-nfs-filestore").inputs
    regional = standalone.one(FILESTORE, "lab-rnfs-filestore").inputs
    assert (zonal["tier"], zonal["location"], zonal["fileShares"]["capacityGb"]) == ("ZONAL", ZONE, 2560)
    assert (regional["tier"], regional["location"], regional["fileShares"]["capacityGb"]) == ("REGIONAL", REGION, 1024)
    assert zonal["networks"][0]["connectMode"] == "PRIVATE_SERVICE_ACCESS"
    assert zonal["fileShares"]["nfsExportOptions"][0]["ipRanges"] == [netplan.plan("10.60.0.0/16", 0).compute]


def test_filesystems_are_protected_from_deletion(standalone, example):
    stores = standalone.of(LUSTRE) + standalone.of(PARALLELSTORE) + standalone.of(FILESTORE) + example.of(LUSTRE)
    assert len(stores) == 5
    assert all(s.protect for s in stores)
    assert all(s.inputs["deletionPolicy"] == "PREVENT" for s in stores if s.type != FILESTORE)
    assert all(s.inputs["deletionProtectionEnabled"] for s in stores if s.type == FILESTORE)


def test_storage_range_is_peered_for_private_services_access(standalone):
    address = standalone.one(ADDRESS, "a2-psa-range").inputs
    storage = ipaddress.ip_network(netplan.plan("10.60.0.0/16", 0).storage)
    assert address["purpose"] == "VPC_PEERING" and address["addressType"] == "INTERNAL"
    assert (address["address"], address["prefixLength"]) == (str(storage.network_address), storage.prefixlen)
    connection = standalone.one("gcp:servicenetworking/connection:Connection", "a2-psa").inputs
    assert connection["service"] == "servicenetworking.googleapis.com"
    assert connection["reservedPeeringRanges"] == ["a2-psa-range"]


def test_capacity_follows_the_catalog_steps():
    from aifactory.components.gcp.filesystem import capacity_gib

    assert capacity_gib("lustre", 35.15625, 1000) == 36000
    assert capacity_gib("parallelstore", 12) == 12000
    assert capacity_gib("filestore", 10, tier="REGIONAL") == 10240


# --------------------------------------------------------------------------- budget


def test_budget_amount_and_filter_are_literal(standalone):
    budget = standalone.one(BUDGET, "lab-budget").inputs
    assert budget["amount"] == {"specifiedAmount": {"currencyCode": "USD", "units": "1234", "nanos": 500000000}}
    assert budget["billingAccount"] == "012345-6789AB-CDEF01"
    assert budget["budgetFilter"]["projects"] == ["projects/987654321"]
    assert budget["budgetFilter"]["labels"] == {"facility": "lab"}


def test_budget_thresholds_are_current_spend_plus_forecast_at_100(standalone):
    rules = standalone.one(BUDGET, "lab-budget").inputs["thresholdRules"]
    assert rules == [
        {"thresholdPercent": 0.25, "spendBasis": "CURRENT_SPEND"},
        {"thresholdPercent": 0.9, "spendBasis": "CURRENT_SPEND"},
        {"thresholdPercent": 1.0, "spendBasis": "FORECASTED_SPEND"},
    ]


def test_budget_updates_go_to_the_topic_and_email_channels(standalone):
    rule = standalone.one(BUDGET, "lab-budget").inputs["allUpdatesRule"]
    assert rule["pubsubTopic"] == f"projects/{PROJECT}/topics/lab-budget-updates"
    channels = standalone.of(CHANNEL, "lab-budget-")
    assert sorted(c.inputs["labels"]["email_address"] for c in channels) == ["a@example.com", "b@example.com"]
    assert all(c.inputs["type"] == "email" for c in channels)
    assert sorted(rule["monitoringNotificationChannels"]) == sorted(
        f"projects/{PROJECT}/notificationChannels/{c.name}" for c in channels)


def test_enforce_stop_deploys_a_kill_switch_for_every_group_of_the_facility(example):
    function = example.one("gcp:cloudfunctionsv2/function:Function", "llm-prod-budget-kill").inputs
    groups = [g.name.removesuffix("-mig") for g in example.of("gcp:compute/instanceGroupManager:InstanceGroupManager")]
    assert groups and function["serviceConfig"]["environmentVariables"] == {
        "AIFACTORY_PROJECT": PROJECT, "AIFACTORY_ZONE": ZONE, "AIFACTORY_GROUPS": ",".join(groups)}
    assert function["eventTrigger"]["pubsubTopic"] == f"projects/{PROJECT}/topics/llm-prod-budget-updates"


def test_budget_filter_names_the_facility_project(example):
    assert example.one(BUDGET, "llm-prod-budget").inputs["budgetFilter"]["projects"] == [f"projects/{PROJECT}"]


# --------------------------------------------------------------------------- the example facility


def test_provider_has_project_region_zone_and_default_labels(example):
    provider = example.one(PROVIDER, "llm-prod-gcp").inputs
    assert (provider["project"], provider["region"], provider["zone"]) == (PROJECT, REGION, ZONE)
    labels = provider["defaultLabels"]
    labels = json.loads(labels) if isinstance(labels, str) else labels
    assert labels == {"facility": "llm-prod", "team": "llm", "managed-by": "aifactory", "cost-center": "cc-5120"}


def test_every_resource_uses_the_facility_provider(example):
    resources = example.custom()
    assert resources
    assert {provider_name(r) for r in resources if r.provider} == {"llm-prod-gcp"}
    assert all(r.provider for r in resources)


def test_labels_on_every_labelable_resource(example):
    facility = {"facility": "llm-prod", "team": "llm", "managed-by": "aifactory", "cost-center": "cc-5120"}
    labelled = {TEMPLATE: "labels", LUSTRE: "labels", ADDRESS: "labels", TOPIC: "labels", CHANNEL: "userLabels"}
    found = [r for r in example.custom() if r.type in labelled]
    assert {r.type for r in found} == set(labelled)
    for record in found:
        assert facility.items() <= record.inputs[labelled[record.type]].items(), record.name
    for template in example.of(TEMPLATE):
        assert facility.items() <= template.inputs["disks"][0]["labels"].items()


def test_example_runs_as_a_tcpxo_facility(example):
    assert len(example.of(NETWORK)) == 9
    assert example.one(MIG, "llm-prod-trainers-mig").inputs["targetSize"] == 8
    assert example.one(LUSTRE, "llm-prod-scratch-lustre").inputs["capacityGib"] == "36000"
    assert example.one(BUDGET, "llm-prod-budget").inputs["amount"]["specifiedAmount"]["units"] == "600000"
    assert example.one(POLICY, "llm-prod-trainers-placement")


def test_example_scales_with_fleets_not_nodes(example, scaled):
    # 8 nodes -> 6000 nodes: only the MIG split (3 groups of 2000) adds resources.
    assert len(example.custom(providers=True)) < 60
    assert len(scaled.custom(providers=True)) - len(example.custom(providers=True)) == 2
    assert [m.inputs["targetSize"] for m in sorted(scaled.of(MIG), key=lambda r: r.name)] == [2000, 2000, 2000]


def test_example_exports(example):
    exports = example.outputs["exports"]
    assert exports["region"] == REGION and exports["budget"] == "llm-prod-budget"
    assert exports["fleets"] == {"trainers": ["llm-prod-trainers"]}
    assert exports["filesystems"] == {"scratch": {"dns_name": "10.50.16.2", "mount_name": "scratch"}}


def test_component_type_tokens(example):
    kinds = {r.type for r in example.components()}
    names = ("Facility", "ClusterNetwork", "GpuFleet", "ParallelFilesystem", "BudgetGuard")
    assert kinds == {f"aifactory-gcp:index:{k}" for k in names}


def test_policy_values_stay_literal_when_every_output_is_unknown(unknown):
    template = unknown.one(TEMPLATE, "llm-prod-trainers-template").inputs
    mig = unknown.one(MIG, "llm-prod-trainers-mig").inputs
    lustre = unknown.one(LUSTRE, "llm-prod-scratch-lustre").inputs
    budget = unknown.one(BUDGET, "llm-prod-budget").inputs
    provider = unknown.one(PROVIDER, "llm-prod-gcp").inputs
    values = [
        template["machineType"], template["region"], mig["targetSize"], mig["zone"], lustre["capacityGib"],
        lustre["perUnitStorageThroughput"], lustre["location"], budget["amount"]["specifiedAmount"]["units"],
        provider["region"], provider["zone"],
    ]
    assert values == ["a3-megagpu-8g", REGION, 8, ZONE, "36000", "1000", ZONE, "600000", REGION, ZONE]
    assert not contains_unknown(values)


@pytest.mark.parametrize("fleet", ["hi-fleet", "mega-fleet", "ultra-fleet", "a2-fleet", "mnt"])
def test_startup_script_is_valid_bash(standalone, fleet):
    import shutil
    import subprocess

    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    script = template_of(standalone, fleet)["metadata"]["startup-script"]
    result = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    assert result.returncode == 0, result.stderr
