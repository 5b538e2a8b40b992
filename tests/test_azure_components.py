"""The Azure components run under `aifactory.recording` (through tests/harness.py): every
assertion reads the inputs the SDK really sent to the (mock) engine, camelCase as it sends them.

Three runs, shared through module-scoped fixtures:
* `example`: stacks/Pulumi.speech-prod.yaml through stackfile.read + load_facility +
  build_facility, in *preview* mode with unknown IDs (as `pulumi preview` of a new stack), so a
  value derived from another resource shows up as unknown and a literal one does not;
* `large`: a spec with a 250-node on-demand fleet, a spot fleet, a reservation fleet, NAT, blob
  integration and four budget thresholds, in update mode (IDs known) to check references;
* `standalone`: the components used from a plain Pulumi program, no spec.
Values a program hands back are stack outputs (`pulumi.export`), read from `run.outputs`.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import re

import pulumi
import pytest

from aifactory import components
from aifactory import stackfile
from aifactory.recording import contains_unknown
from aifactory.loader import load_facility
from aifactory.components.azure import budget as budget_module
from aifactory.components.azure.filesystem import ParallelFilesystem, ParallelFilesystemArgs
from aifactory.components.azure.fleet import GpuFleet, GpuFleetArgs
from tests.harness import FakeCloud, provider_name, run

MGS_ADDRESS = "10.50.128.4"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVRUDasGrN/NdlQzsgRymEcQf/1nIYnSBtTizxpxcbP test@example.com"
# Azure-native resources that take neither tags nor a location.
UNTAGGED = {"azure-native:network:Subnet", "azure-native:consumption:Budget"}
NO_LOCATION = UNTAGGED

PROVIDER = "pulumi:providers:azure-native"
VMSS = "azure-native:compute:VirtualMachineScaleSet"
PPG = "azure-native:compute:ProximityPlacementGroup"
VNET = "azure-native:network:VirtualNetwork"
NSG = "azure-native:network:NetworkSecurityGroup"
SUBNET = "azure-native:network:Subnet"
NAT = "azure-native:network:NatGateway"
PUBLIC_IP = "azure-native:network:PublicIPAddress"
AMLFS = "azure-native:storagecache:AmlFilesystem"
BUDGET = "azure-native:consumption:Budget"
ACTION_GROUP = "azure-native:monitor:ActionGroup"


# --------------------------------------------------------------------------- the fake cloud


def azure_cloud(preview: bool) -> FakeCloud:
    """In a preview of a new stack IDs are unknown; once deployed, a filesystem reports its MGS address."""

    def outputs(type_: str, name: str, state: dict) -> dict:
        out = {"name": name}
        if type_ == AMLFS and not preview:
            out["clientInfo"] = {"mgsAddress": MGS_ADDRESS, "lustreVersion": "2.15"}
        return out

    client = {"subscriptionId": SUBSCRIPTION, "tenantId": "t", "clientId": "c", "objectId": "o"}
    return FakeCloud(outputs, calls={"azure-native:authorization:getClientConfig": client}, known_ids=not preview)


def run_azure(program, preview: bool = False):
    return run(program, mocks=azure_cloud(preview), preview=preview)


# --------------------------------------------------------------------------- runs


def large_spec() -> dict:
    return {
        "name": "asr-big",
        "team": "speech",
        "cloud": "azure",
        "region": "eastus",
        "tags": {"cost-center": "cc-5120"},
        "fleets": [
            {"name": "trainers", "instance_type": "Standard_ND96isr_H100_v5", "nodes": 250},
            {"name": "spot", "instance_type": "Standard_ND96asr_v4", "nodes": 2, "capacity": "spot"},
            {"name": "reserved", "instance_type": "Standard_ND96isr_H100_v5", "nodes": 3, "capacity": "reservation",
             "reservation_id": "/subscriptions/s/resourceGroups/cap/providers/Microsoft.Compute/capacityReservationGroups/h100"},
        ],
        "network": {"cidr": "10.60.0.0/16", "nat": True},
        "filesystems": [
            {"name": "data", "kind": "lustre", "capacity_tib": 8, "throughput_mbps_per_tib": 250,
             "data_repository": "https://speechdata.blob.core.windows.net/corpus/v2"},
        ],
        "budget": {"monthly_usd": 20_000_000, "alert_emails": ["a@example.com", "b@example.com"],
                   "thresholds_pct": [25, 50, 80, 100]},
        "azure": {"admin_username": "ops", "ssh_public_keys": [SSH_KEY]},
    }


@pytest.fixture(scope="module")
def example_spec():
    return load_facility(stackfile.read("speech-prod").facility)


@pytest.fixture(scope="module")
def example(example_spec):
    """`example.value` is the facility's exports as built (in a preview the filesystem's address is unknown)."""
    return run_azure(lambda: components.build_facility(example_spec).exports(), preview=True)


@pytest.fixture(scope="module")
def large():
    spec = load_facility(copy.deepcopy(large_spec()))

    def program():
        facility = components.build_facility(spec)
        fleet = facility.fleets["trainers"]
        pulumi.export("exports", facility.exports())
        pulumi.export("group_ids", fleet.group_ids)
        pulumi.export("mount_command", facility.filesystems["data"].mount_command)

    return run_azure(program)


@pytest.fixture(scope="module")
def standalone():
    import pulumi_azure_native as azure_native

    from aifactory.components.azure import ClusterNetwork, ClusterNetworkArgs

    def program():
        provider = azure_native.Provider("westeu", location="westeurope")
        opts = pulumi.ResourceOptions(provider=provider)
        rg = azure_native.resources.ResourceGroup("lab-rg", location="westeurope", opts=opts)
        net = ClusterNetwork("lab", ClusterNetworkArgs(region="westeurope", cidr="10.9.0.0/20",
                                                       resource_group_name=rg.name),
                             opts=pulumi.ResourceOptions(providers=[provider]))
        fleet = GpuFleet("lab-gpu", GpuFleetArgs(instance_type="Standard_ND96asr_v4", nodes=2, network=net,
                                                 admin_username="lab", ssh_public_keys=[SSH_KEY]),
                         opts=pulumi.ResourceOptions(providers=[provider]))
        pulumi.export("names", fleet.group_names)

    return run_azure(program)


# --------------------------------------------------------------------------- the example stack


def test_example_stack_is_o_fleets(example, example_spec):
    custom = example.custom(providers=True)
    scale_sets = example.of(VMSS)
    # provider, resource group, VNet, NSG, 2 subnets, action group, 2 budgets (6 notifications > 5)
    fixed = 9
    per_fleet = 2 * len(example_spec.fleets)  # a placement group and one set (each fleet <= 100 nodes)
    per_filesystem = len(example_spec.filesystems)
    assert len(scale_sets) == len(example_spec.fleets)
    assert len(custom) == fixed + per_fleet + per_filesystem


def test_example_exports_region_fleets_filesystems_budget(example):
    exports = example.value
    assert exports["region"] == "eastus"
    assert exports["fleets"] == {"trainers": ["speech-prod-trainers"]}
    assert set(exports["filesystems"]) == {"scratch"}
    assert exports["budget"] == "speech-prod-budget"


def test_scale_sets_are_single_placement_group_uniform(example):
    (vmss,) = example.of(VMSS)
    assert vmss.inputs["orchestrationMode"] == "Uniform"
    assert vmss.inputs["singlePlacementGroup"] is True
    assert vmss.inputs["platformFaultDomainCount"] == 1
    assert vmss.inputs["overprovision"] is False
    assert vmss.inputs["upgradePolicy"] == {"mode": "Manual"}


def test_sku_name_and_capacity_are_literal_at_preview(example):
    (vmss,) = example.of(VMSS)
    assert vmss.inputs["sku"] == {"name": "Standard_ND96isr_H100_v5", "tier": "Standard", "capacity": 4}
    # the subnet reference is unknown in this preview, which proves the run is a real preview
    nic = vmss.inputs["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]
    assert contains_unknown(nic["ipConfigurations"][0]["subnet"])


def test_location_is_the_literal_region_on_every_resource(example):
    for r in example.package("azure-native"):
        if r.type in NO_LOCATION:
            continue
        expected = "global" if r.type == ACTION_GROUP else "eastus"
        assert r.inputs.get("location") == expected, r.name
    provider = example.one(PROVIDER, "speech-prod-azure")
    assert provider.inputs["location"] == "eastus"


def test_tags_on_every_taggable_resource(example, example_spec):
    expected = example_spec.merged_tags()
    taggable = [r for r in example.package("azure-native") if r.type not in UNTAGGED]
    assert len(taggable) >= 7
    for r in taggable:
        assert r.inputs.get("tags") == expected, r.name


def test_every_azure_resource_uses_the_facility_provider(example):
    provider = example.one(PROVIDER, "speech-prod-azure")
    assert provider.parent.endswith("aifactory-azure:index:Facility::speech-prod")
    for r in example.package("azure-native"):
        assert provider_name(r) == "speech-prod-azure", r.name


def test_children_are_parented_to_their_component(example):
    components_by_urn = {r.type for r in example.resources if r.type.startswith("aifactory-azure:")}
    assert components_by_urn == {f"aifactory-azure:index:{k}" for k in
                                 ("Facility", "ClusterNetwork", "GpuFleet", "ParallelFilesystem", "BudgetGuard")}
    owners = {
        "VirtualNetwork": "ClusterNetwork", "NetworkSecurityGroup": "ClusterNetwork", "Subnet": "ClusterNetwork",
        "VirtualMachineScaleSet": "GpuFleet", "ProximityPlacementGroup": "GpuFleet",
        "AmlFilesystem": "ParallelFilesystem", "Budget": "BudgetGuard", "ActionGroup": "BudgetGuard",
        "ResourceGroup": "Facility",
    }
    for r in example.package("azure-native"):
        kind = r.type.rsplit(":", 1)[-1]
        assert f"aifactory-azure:index:{owners[kind]}::" in r.parent, r.name


def test_image_is_the_ubuntu_hpc_marketplace_image(example):
    (vmss,) = example.of(VMSS)
    image = vmss.inputs["virtualMachineProfile"]["storageProfile"]["imageReference"]
    assert image == {"publisher": "microsoft-dsvm", "offer": "ubuntu-hpc", "sku": "2204", "version": "latest"}


def test_ssh_keys_only(example, example_spec):
    (vmss,) = example.of(VMSS)
    os_profile = vmss.inputs["virtualMachineProfile"]["osProfile"]
    assert "adminPassword" not in os_profile
    linux = os_profile["linuxConfiguration"]
    assert linux["disablePasswordAuthentication"] is True
    assert linux["ssh"]["publicKeys"] == [
        {"path": "/home/azureuser/.ssh/authorized_keys", "keyData": example_spec.azure.ssh_public_keys[0]}
    ]


def test_no_public_ips_on_gpu_nodes_and_accelerated_networking(example):
    (vmss,) = example.of(VMSS)
    for nic in vmss.inputs["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"]:
        assert nic["enableAcceleratedNetworking"] is True
        for ip in nic["ipConfigurations"]:
            assert "publicIPAddressConfiguration" not in ip
    assert example.of(PUBLIC_IP) == []  # nat is off in the example
    for subnet in example.of(SUBNET):
        assert subnet.inputs["defaultOutboundAccess"] is False


def test_nsg_denies_internet_inbound_and_allows_the_vnet(example):
    (nsg,) = example.of(NSG)
    rules = {r["name"]: r for r in nsg.inputs["securityRules"]}
    allow, deny = rules["allow-vnet-inbound"], rules["deny-internet-inbound"]
    assert (allow["direction"], allow["access"], allow["sourceAddressPrefix"], allow["destinationAddressPrefix"]) == (
        "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork")
    assert (deny["direction"], deny["access"], deny["sourceAddressPrefix"]) == ("Inbound", "Deny", "Internet")
    assert allow["priority"] < deny["priority"] <= 4096
    assert len({r["priority"] for r in rules.values() if r["direction"] == "Inbound"}) == 2


def test_subnets_come_from_the_netplan(example, example_spec):
    from aifactory import rules

    plan = rules.subnet_plan(example_spec)
    compute = example.one(SUBNET, "speech-prod-net-compute")
    storage = example.one(SUBNET, "speech-prod-net-storage")
    assert compute.inputs["addressPrefix"] == plan.compute
    assert storage.inputs["addressPrefix"] == plan.storage
    assert "networkSecurityGroup" in compute.inputs and "networkSecurityGroup" not in storage.inputs
    (vnet,) = example.of(VNET)
    assert vnet.inputs["addressSpace"] == {"addressPrefixes": ["10.50.0.0/16"]}


def test_lustre_sku_and_capacity_are_literal(example):
    (fs,) = example.of(AMLFS)
    assert fs.inputs["sku"] == {"name": "AMLFS-Durable-Premium-125"}
    assert fs.inputs["storageCapacityTiB"] == 16
    assert fs.inputs["maintenanceWindow"] == {"dayOfWeek": "Sunday", "timeOfDayUTC": "02:00"}


def test_lustre_is_protected_from_deletion(example):
    (fs,) = example.of(AMLFS)
    assert fs.protect is True
    assert fs.retain_on_delete is True
    assert all(not r.protect for r in example.package("azure-native") if r is not fs)


def test_lustre_capacity_off_the_sku_steps_is_refused():
    args = ParallelFilesystemArgs(kind="lustre", capacity_gib=20 * 1024, throughput_mbps_per_tib=125, network=None)
    with pytest.raises(ValueError, match="AMLFS-Durable-Premium-125"):
        ParallelFilesystem("bad", args)


def test_budget_amount_literal_and_monthly_cost(example):
    budgets = example.of(BUDGET)
    assert budgets
    for b in budgets:
        assert b.inputs["amount"] == 300000
        assert (b.inputs["category"], b.inputs["timeGrain"]) == ("Cost", "Monthly")
        assert b.inputs["timePeriod"] == {"startDate": budget_module.first_of_month()}
        assert re.fullmatch(r"\d{4}-\d{2}-01T00:00:00Z", b.inputs["timePeriod"]["startDate"])


def test_first_of_month_is_the_first_day():
    assert budget_module.first_of_month(dt.date(2026, 2, 17)) == "2026-02-01T00:00:00Z"


# --------------------------------------------------------------------------- the large facility


def test_250_node_fleet_gives_three_sets_of_at_most_100(large):
    sets = large.of(VMSS, "asr-big-trainers")
    assert sorted(r.name for r in sets) == ["asr-big-trainers-000", "asr-big-trainers-001", "asr-big-trainers-002"]
    capacities = [r.inputs["sku"]["capacity"] for r in sets]
    assert sum(capacities) == 250 and max(capacities) <= 100
    assert all(r.inputs["singlePlacementGroup"] is True for r in sets)
    assert large.outputs["exports"]["fleets"]["trainers"] == [r.name for r in sorted(sets, key=lambda r: r.name)]
    assert large.outputs["group_ids"] == [f"asr-big-trainers-00{i}_id" for i in range(3)]


def test_sets_of_a_fleet_share_its_proximity_placement_group(large):
    ppg = large.one(PPG, "asr-big-trainers-ppg")
    assert ppg.inputs["proximityPlacementGroupType"] == "Standard"
    sets = large.of(VMSS, "asr-big-trainers")
    assert {r.inputs["proximityPlacementGroup"]["id"] for r in sets} == {"asr-big-trainers-ppg_id"}


def test_spot_fleet_is_spot_with_delete_eviction_and_no_price_cap(large):
    spot = large.one(VMSS, "asr-big-spot")
    profile = spot.inputs["virtualMachineProfile"]
    assert (profile["priority"], profile["evictionPolicy"]) == ("Spot", "Delete")
    assert profile["billingProfile"] == {"maxPrice": -1}
    trainers = large.one(VMSS, "asr-big-trainers-000")
    assert trainers.inputs["virtualMachineProfile"]["priority"] == "Regular"


def test_reservation_fleet_uses_the_capacity_reservation_group(large):
    reserved = large.one(VMSS, "asr-big-reserved")
    profile = reserved.inputs["virtualMachineProfile"]
    assert profile["capacityReservation"] == {"capacityReservationGroup": {"id": large_spec()["fleets"][2]["reservation_id"]}}
    # Azure refuses a capacity reservation with a single placement group or a placement group.
    assert reserved.inputs["singlePlacementGroup"] is False
    assert "proximityPlacementGroup" not in reserved.inputs
    assert sorted(r.name for r in large.of(PPG)) == ["asr-big-spot-ppg", "asr-big-trainers-ppg"]


def test_nat_gateway_gives_the_compute_subnet_egress(large):
    (nat,) = large.of(NAT)
    (ip,) = large.of(PUBLIC_IP)
    assert nat.inputs["publicIpAddresses"] == [{"id": f"{ip.name}_id"}]
    compute = large.one(SUBNET, "asr-big-net-compute")
    assert compute.inputs["natGateway"] == {"id": f"{nat.name}_id"}


def test_blob_integration_names_the_container_resource_ids(large):
    (fs,) = large.of(AMLFS)
    account = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/asr-big-rg/providers/Microsoft.Storage/"
               "storageAccounts/speechdata/blobServices/default/containers/")
    assert fs.inputs["hsm"]["settings"] == {
        "container": account + "corpus", "loggingContainer": account + "corpus-logs", "importPrefix": "/v2"}
    assert fs.inputs["sku"] == {"name": "AMLFS-Durable-Premium-250"} and fs.inputs["storageCapacityTiB"] == 8
    assert fs.inputs["filesystemSubnet"] == "asr-big-net-storage_id"


def test_bootstrap_checks_infiniband_sets_nccl_and_mounts_lustre(large):
    vmss = large.one(VMSS, "asr-big-trainers-000")
    script = base64.b64decode(vmss.inputs["virtualMachineProfile"]["osProfile"]["customData"]).decode()
    assert "ibstat" in script and "ibv_devinfo" in script and "expected_ib_ports=8" in script
    assert "export NCCL_IB_PCI_RELAXED_ORDERING=1" in script
    assert "NCCL_TOPO_FILE=/opt/microsoft/ndv5-topo.xml" in script
    assert f"mount -t lustre -o noatime,flock {MGS_ADDRESS}@tcp:/lustrefs /mnt/data" in script
    a100 = large.one(VMSS, "asr-big-spot")
    a100_script = base64.b64decode(a100.inputs["virtualMachineProfile"]["osProfile"]["customData"]).decode()
    assert "/opt/microsoft/ndv4-topo.xml" in a100_script
    assert large.outputs["mount_command"] == f"mount -t lustre -o noatime,flock {MGS_ADDRESS}@tcp:/lustrefs /mnt/data"


def test_budget_scoped_to_the_resource_group(large):
    for budget in large.of(BUDGET):
        assert budget.inputs["scope"] == "asr-big-rg_id"
        assert budget.inputs["amount"] == 20_000_000


def test_budget_notifications_actual_and_forecasted_per_threshold(large):
    budgets = large.of(BUDGET)
    (group,) = large.of(ACTION_GROUP)
    assert [r["emailAddress"] for r in group.inputs["emailReceivers"]] == ["a@example.com", "b@example.com"]
    seen = set()
    for budget in budgets:
        notifications = budget.inputs["notifications"]
        assert len(notifications) <= 5
        for n in notifications.values():
            assert n["contactEmails"] == ["a@example.com", "b@example.com"]
            assert n["contactGroups"] == [f"{group.name}_id"]
            assert n["operator"] == "GreaterThanOrEqualTo" and n["enabled"] is True
            seen.add((n["thresholdType"], n["threshold"]))
    assert seen == {(kind, pct) for kind in ("Actual", "Forecasted") for pct in (25, 50, 80, 100)}
    assert large.outputs["exports"]["budget"] == "asr-big-budget"


# --------------------------------------------------------------------------- standalone use


def test_components_work_without_a_spec(standalone):
    (vmss,) = standalone.of(VMSS)
    assert vmss.name == "lab-gpu" and standalone.outputs["names"] == ["lab-gpu"]
    assert vmss.inputs["location"] == "westeurope"
    assert "aifactory-azure:index:GpuFleet::lab-gpu" in vmss.parent
    assert provider_name(vmss) == "westeu"
    subnet = standalone.one(SUBNET, "lab-compute")
    assert subnet.inputs["addressPrefix"] == "10.9.0.0/21"


def test_capacity_block_is_refused_on_azure():
    with pytest.raises(ValueError, match="capacity on Azure"):
        GpuFleet("x", GpuFleetArgs(instance_type="Standard_ND96isr_H100_v5", nodes=1, network=None,
                                   admin_username="a", ssh_public_keys=[SSH_KEY], capacity="capacity-block"))
