"""The Blackwell-generation types and A3 Edge end to end: what the components register for them,
what the config accepts and refuses (CLI exit codes and JSON), what `quote` offers, and the
pack's verdicts over its gRPC interface on the facilities the real program builds.

AWS p6-b300.48xlarge and p6e-gb200.36xlarge (UltraServers), Google Cloud a4x-highgpu-4g (GB200)
and a3-edgegpu-8g, Azure Standard_ND128isr_GB300_v6. Expected fabric layouts are the ones the
providers document (EC2 user guide efa-acc-inst-types; Cluster Toolkit a4x-vm.yaml; SkyPilot's
GPUDirect-TCPX layout shared by A3 High and A3 Edge), as the catalog rows cite them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest
import yaml

from aifactory.analyzer import PolicyPackClient
from aifactory.components.aws import ClusterNetwork, ClusterNetworkArgs, GpuFleet, GpuFleetArgs
from aifactory.components.azure import GpuFleet as AzureFleet
from aifactory.components.aws import fleet as aws_fleet
from aifactory.preview import PROGRAM
from aifactory.recording import run_program
from tests.harness import FakeCloud, run

ROOT = Path(__file__).resolve().parent.parent
LT = "aws:ec2/launchTemplate:LaunchTemplate"
ASG = "aws:autoscaling/group:Group"
PG = "aws:ec2/placementGroup:PlacementGroup"
GCP_TEMPLATE = "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"
GCP_NETWORK = "gcp:compute/network:Network"
VMSS = "azure-native:compute:VirtualMachineScaleSet"
ARM64_DLAMI = "resolve:ssm:/aws/service/deeplearning/ami/arm64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"
X86_DLAMI = "resolve:ssm:/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"

BUDGET = {"monthly_usd": 1000000, "alert_emails": ["ml-infra@example.com"]}
AWS_FACILITY = {
    "name": "nvl-prod", "team": "vision", "cloud": "aws", "region": "us-east-1", "zone": "us-east-1-dfw-2a",
    "tags": {"cost-center": "cc-4711"},
    "fleets": [
        {"name": "nvl", "instance_type": "p6e-gb200.36xlarge", "nodes": 18, "capacity": "capacity-block",
         "reservation_id": "cr-0123456789abcdef0"},
        {"name": "b300", "instance_type": "p6-b300.48xlarge", "nodes": 2, "capacity": "capacity-block",
         "reservation_id": "cr-0fedcba9876543210"},
    ],
    "budget": BUDGET,
}
GCP_FACILITY = {
    "name": "a4x-prod", "team": "llm", "cloud": "gcp", "region": "us-central1", "zone": "us-central1-a",
    "tags": {"cost-center": "cc-4711"}, "gcp": {"project": "llm-prod-4711", "billing_account": "012345-6789AB-CDEF01"},
    "fleets": [{"name": "nvl", "instance_type": "a4x-highgpu-4g", "nodes": 18, "capacity": "reservation",
                "reservation_id": "a4x-block-1"}],
    "budget": BUDGET,
}
EDGE_FACILITY = {
    "name": "edge-prod", "team": "llm", "cloud": "gcp", "region": "europe-west2", "zone": "europe-west2-b",
    "tags": {"cost-center": "cc-4711"}, "gcp": {"project": "llm-prod-4711"},
    "fleets": [{"name": "serve", "instance_type": "a3-edgegpu-8g", "nodes": 2}],
}


def record(facility: dict):
    return run_program(PROGRAM, project="aifactory", stack="test", config={"aifactory:facility": json.dumps(facility)},
                       known_ids=False).resources


def cli(tmp_path: Path, *args: str, facility: dict | None = None) -> subprocess.CompletedProcess:
    if facility is not None:
        stack = tmp_path / "Pulumi.new-types.yaml"
        stack.write_text(yaml.safe_dump({"config": {"aifactory:facility": facility}}))
        args = tuple(str(stack) if a == "STACK" else a for a in args)
    return subprocess.run([sys.executable, "-m", "aifactory", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def with_fleet(facility: dict, **changes) -> dict:
    changed = json.loads(json.dumps(facility))
    changed["fleets"][0].update(changes)
    return changed


# ------------------------------------------------------------------------------- AWS components


@pytest.fixture(scope="module")
def aws_run():
    def program():
        opts = pulumi.ResourceOptions(providers={"aws": aws.Provider("nt-us-east-1", region="us-east-1")})
        net = ClusterNetwork("nt-net", ClusterNetworkArgs(region="us-east-1", cidr="10.60.0.0/16", zone="us-east-1-dfw-2a"), opts=opts)
        GpuFleet("nt-b300", GpuFleetArgs(instance_type="p6-b300.48xlarge", nodes=2, zone="us-east-1-dfw-2a",
                                         network=net), opts=opts)
        GpuFleet("nt-nvl", GpuFleetArgs(instance_type="p6e-gb200.36xlarge", nodes=18, capacity="capacity-block",
                                        reservation_id="cr-0123456789abcdef0", zone="us-east-1-dfw-2a", network=net),
                 opts=opts)

    return run(program, mocks=FakeCloud(lambda t, n, s: {"arn": f"arn:aws:mock:::{n}"}))


def cards(nics: list[dict]) -> list[tuple]:
    """(card, device, type) of each interface, as recorded (camelCase) or as the component builds it."""
    def get(n, camel, snake):
        return n.get(camel, n.get(snake))
    return [(get(n, "networkCardIndex", "network_card_index"), get(n, "deviceIndex", "device_index"),
             get(n, "interfaceType", "interface_type")) for n in nics]


def test_p6_b300_has_an_ena_primary_and_an_efa_only_interface_on_each_of_cards_1_to_16(aws_run):
    nics = aws_run.one(LT, "nt-b300-template").inputs["networkInterfaces"]
    # EC2 user guide: card 0 supports ENA only; cards 1-16 carry 400 Gbps EFA each, device index 0
    assert cards(nics) == [(0, 0, None)] + [(card, 0, "efa-only") for card in range(1, 17)]
    assert all(n["associatePublicIpAddress"] == "false" for n in nics)
    assert aws_run.one(LT, "nt-b300-template").inputs["imageId"] == X86_DLAMI
    assert aws_run.of(PG, "nt-b300")  # on-demand: a cluster placement group


def test_p6e_gb200_ultraserver_fleet_uses_the_four_efa_cards_aws_names_and_the_arm64_dlami(aws_run):
    template = aws_run.one(LT, "nt-nvl-template").inputs
    assert cards(template["networkInterfaces"]) == [(0, 0, None), (1, 0, "efa-only"), (5, 0, "efa-only"),
                                                    (9, 0, "efa-only"), (13, 0, "efa-only")]
    assert template["imageId"] == ARM64_DLAMI
    assert template["instanceMarketOptions"] == {"marketType": "capacity-block"}
    assert template["capacityReservationSpecification"]["capacityReservationTarget"] == {
        "capacityReservationId": "cr-0123456789abcdef0"}
    group = aws_run.one(ASG, "nt-nvl").inputs
    assert (group["minSize"], group["maxSize"], group["desiredCapacity"]) == (18, 18, 18)
    assert not aws_run.of(PG, "nt-nvl")  # a Capacity Block is placed already


@pytest.mark.parametrize("capacity,nodes,reservation,message", [
    ("on-demand", 18, None, "sold only as capacity-block, not 'on-demand'"),
    ("capacity-block", 10, "cr-1", "nodes must be a multiple of 9"),
])
def test_the_ultraserver_component_refuses_what_aws_does_not_sell(capacity, nodes, reservation, message):
    def program():
        GpuFleet("bad", GpuFleetArgs(instance_type="p6e-gb200.36xlarge", nodes=nodes, capacity=capacity,
                                     reservation_id=reservation, zone="us-east-1-dfw-2a", subnet_id="subnet-1",
                                     security_group_id="sg-1"))

    with pytest.raises(Exception, match=message):
        run(program)


def test_an_older_type_keeps_the_p5_layout():
    nics = aws_fleet.network_interfaces(4, "s", "g")
    assert cards(nics) == [(0, 0, "efa"), (1, 1, "efa-only"), (2, 1, "efa-only"), (3, 1, "efa-only")]


# ------------------------------------------------------------------------ Facilities, end to end


@pytest.fixture(scope="module")
def pack():
    with PolicyPackClient(ROOT / "policies", timeout=120) as client:
        yield client


def verdicts(client: PolicyPackClient, records) -> dict[str, list]:
    client.configure(None)
    providers = {r.urn: r for r in records if r.is_provider}
    found: dict[str, list] = {}
    for v in [x for r in records for x in client.analyze(r, providers)] + client.analyze_stack(records, providers):
        found.setdefault(v.policy, []).append(v)
    return found


def test_aws_blackwell_facility_passes_fabric_and_placement_and_the_power_gate_fails_closed(pack):
    records = record(AWS_FACILITY)
    found = verdicts(pack, records)
    assert "fabric-complete" not in found and "placement" not in found and "instance-availability" not in found
    # no node power for either type is in the catalog: the gate says so and blocks
    power = found["power-cap"]
    assert {v.enforcement for v in power} == {"mandatory"}
    assert any("no node power figure for p6e-gb200.36xlarge" in v.message for v in power)
    assert any("no node power figure for p6-b300.48xlarge" in v.message for v in power)
    assert "cost-cap" not in found  # both priced as Capacity Blocks, within the budget


def test_the_fabric_gate_counts_only_the_efa_cards_the_type_has(pack):
    records = record(AWS_FACILITY)
    template = next(r for r in records if r.type == LT and r.name == "nvl-prod-nvl-template")
    # EFA on cards 1-4 instead of 1, 5, 9, 13: only card 1 is one of the four EFA cards AWS names
    # (2 and 4 share a NIC with 1 and 3; 1 and 3 feed the same GPU)
    template.inputs["networkInterfaces"] = [
        {**template.inputs["networkInterfaces"][1], "networkCardIndex": float(card)} for card in (1, 2, 3, 4)]
    fabric = verdicts(pack, records)["fabric-complete"]
    assert len(fabric) == 1 and fabric[0].enforcement == "mandatory"
    assert "provisions 1 (400 Gbps, 25% of the type's fabric bandwidth)" in fabric[0].message
    assert "networkCardIndex 1, 5, 9, 13" in fabric[0].message


def test_a4x_facility_builds_two_host_vpcs_and_four_mrdma_nics_on_the_arm64_image(pack):
    records = record(GCP_FACILITY)
    template = next(r for r in records if r.type == GCP_TEMPLATE).inputs
    assert [n["nicType"] for n in template["networkInterfaces"]] == ["GVNIC", "GVNIC"] + ["MRDMA"] * 4
    assert template["disks"][0]["sourceImage"].endswith("ubuntu-accelerator-2404-arm64-with-nvidia-580")
    assert template["reservationAffinity"]["type"] == "SPECIFIC_RESERVATION"
    # Google: A4X MIGs need a HIGH_THROUGHPUT workload policy, topology 1x72, reservation-bound VMs, and a
    # template without a placement policy
    assert template["scheduling"]["provisioningModel"] == "RESERVATION_BOUND" and "resourcePolicies" not in template
    policy = next(r for r in records if r.type == "gcp:compute/resourcePolicy:ResourcePolicy")
    assert policy.inputs["workloadPolicy"] == {"type": "HIGH_THROUGHPUT", "acceleratorTopology": "1x72"}
    groups = [r for r in records if r.type == "gcp:compute/instanceGroupManager:InstanceGroupManager"]
    assert groups and all("workloadPolicy" in g.inputs["resourcePolicies"] for g in groups)
    assert all(policy.urn in g.dependencies for g in groups)
    roce = [r.inputs for r in records if r.type == GCP_NETWORK and "vpc-roce" in str(r.inputs.get("networkProfile"))]
    assert len(roce) == 1 and roce[0]["mtu"] == 8896
    found = verdicts(pack, records)
    assert "fabric-complete" not in found and "placement" not in found
    assert {"power-cap", "cost-cap"} <= set(found)  # no node power, no reservation price: both fail closed


def test_a3_edge_facility_builds_the_tcpx_layout(pack):
    records = record(EDGE_FACILITY)
    template = next(r for r in records if r.type == GCP_TEMPLATE).inputs
    assert [n["nicType"] for n in template["networkInterfaces"]] == ["GVNIC"] * 5  # 1 host + 4 GPU NICs
    vpcs = [r.inputs for r in records if r.type == GCP_NETWORK]
    assert len(vpcs) == 5 and {v["mtu"] for v in vpcs} == {8244}  # the host VPC and 4 GPU VPCs
    found = verdicts(pack, records)
    assert "fabric-complete" not in found and "power-cap" not in found
    assert "budget-guard-required" in found  # this facility has no budget


# -------------------------------------------------------------------------------- Azure GB300


def test_gb300_scale_set_is_one_infiniband_placement_group_and_needs_an_arm64_image():
    image = {"publisher": "example", "offer": "ubuntu-hpc-arm64", "sku": "2404", "version": "latest"}

    def program(with_image: bool):
        AzureFleet("gb300", {"instance_type": "Standard_ND128isr_GB300_v6", "nodes": 18,
                             "resource_group_name": "rg", "region": "eastus", "subnet_id": "subnet-1",
                             "ssh_public_keys": ["ssh-ed25519 AAAA"], "admin_username": "azureuser", **({"image": image} if with_image else {})})

    built = run(lambda: program(True))
    scale_set = built.of(VMSS)[0].inputs
    assert scale_set["sku"]["name"] == "Standard_ND128isr_GB300_v6" and scale_set["sku"]["capacity"] == 18
    assert scale_set["singlePlacementGroup"] is True
    assert scale_set["virtualMachineProfile"]["storageProfile"]["imageReference"]["offer"] == "ubuntu-hpc-arm64"
    with pytest.raises(Exception, match="arm64"):
        run(lambda: program(False))


# ------------------------------------------------------------------------------ the CLI


def test_validate_accepts_the_ultraserver_facility_and_prices_its_blocks(tmp_path):
    result = cli(tmp_path, "validate", "STACK", "--format", "json", facility=AWS_FACILITY)
    assert result.returncode == 0, result.stderr
    lines = {line["name"]: line for line in json.loads(result.stdout)["estimate"]["lines"]}
    assert lines["nvl"]["usd_per_hour"] == 42.328 and lines["nvl"]["gpus"] == 72
    # AWS: 72 GPUs in one NVLink domain give "360 petaflops of FP8 compute (without sparsity)"
    assert lines["nvl"]["pflops_fp8"] == pytest.approx(360.0)
    assert lines["b300"]["usd_per_hour"] == 112.32
    assert lines["nvl"]["it_power_kw"] is None


@pytest.mark.parametrize("facility,problem", [
    (with_fleet(AWS_FACILITY, capacity="on-demand", reservation_id=None),
     "fleets[0].capacity: p6e-gb200.36xlarge is sold only as 'capacity-block', not 'on-demand'"),
    (with_fleet(AWS_FACILITY, nodes=12), "fleets[0].nodes: p6e-gb200.36xlarge comes in UltraServers of 9 instances "
                                         "(36 GPUs) or 18 instances (72 GPUs)"),
    (with_fleet(GCP_FACILITY, capacity="on-demand", reservation_id=None),
     "fleets[0].capacity: a4x-highgpu-4g is sold only as 'reservation', not 'on-demand'"),
    (with_fleet(GCP_FACILITY, capacity="spot", reservation_id=None), "sold only as 'reservation', not 'spot'"),
    (with_fleet(GCP_FACILITY, gpu="GB200", gpus_per_node=8, instance_type=None),
     "no gcp type has GB200 with 8 per node"),
])
def test_validate_refuses_what_the_types_are_not_sold_as(tmp_path, facility, problem):
    result = cli(tmp_path, "validate", "STACK", facility=facility)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert problem in result.stderr


def test_validate_refuses_gb300_without_a_region_or_an_image(tmp_path):
    facility = {"name": "gb300", "team": "speech", "cloud": "azure", "region": "eastus",
                "azure": {"ssh_public_keys": ["ssh-ed25519 AAAA"]},
                "fleets": [{"name": "nvl", "instance_type": "Standard_ND128isr_GB300_v6", "nodes": 18}]}
    result = cli(tmp_path, "validate", "STACK", facility=facility)
    assert result.returncode == 2
    assert "Standard_ND128isr_GB300_v6 is not offered in eastus; the catalog knows no region offering it" in result.stderr
    assert "runs on arm64 NVIDIA Grace CPUs" in result.stderr


def test_quote_offers_ultraservers_as_capacity_blocks_only_and_rounds_to_whole_ultraservers(tmp_path):
    blocks = json.loads(cli(tmp_path, "quote", "--gpu", "GB200", "--gpus", "100", "--capacity", "capacity-block",
                            "--format", "json").stdout)
    nvl = next(q for q in blocks if q["instance_type"] == "p6e-gb200.36xlarge")
    assert (nvl["nodes"], nvl["gpus"], nvl["region"]) == (27, 108, "us-east-1")  # 3 UltraServers of 9
    assert nvl["monthly_usd"] == pytest.approx(27 * 42.328 * 730)
    on_demand = json.loads(cli(tmp_path, "quote", "--gpu", "GB200", "--gpus", "100", "--format", "json").stdout)
    assert not {q["instance_type"] for q in on_demand} & {"p6e-gb200.36xlarge", "a4x-highgpu-4g"}
    reserved = json.loads(cli(tmp_path, "quote", "--gpu", "GB200", "--gpus", "100", "--capacity", "reservation",
                              "--format", "json").stdout)
    a4x = [q for q in reserved if q["instance_type"] == "a4x-highgpu-4g"]
    assert {q["region"] for q in a4x} == {"europe-west4", "us-central1", "us-east1", "us-east4"}
    assert all(q["monthly_usd"] is None and q["fabric_gbps_per_gpu"] == 400.0 for q in a4x)
    b300 = json.loads(cli(tmp_path, "quote", "--gpu", "B300", "--gpus", "64", "--capacity", "capacity-block",
                          "--format", "json").stdout)
    assert [(q["region"], q["nodes"], q["fabric_gbps_per_gpu"]) for q in b300] == [
        ("us-east-1", 8, 800.0), ("us-west-2", 8, 800.0)]


def test_the_capacity_block_list_prices_ultraservers_per_instance_as_the_catalog_holds_them():
    from aifactory import catalog
    from aifactory.catalog.importers import aws_capacity_blocks

    feed = ROOT / "tests/fixtures/prices/ec2_capacity_blocks_2026-07-22.json"
    rows = {(r.instance_type, r.region): r for r in aws_capacity_blocks.parse(feed.read_text(), source="s")}
    # u-p6e-gb200x72 761.904 USD/h / 18 instances = u-p6e-gb200x36 380.952 / 9, in us-east-1-dfw-2a
    assert rows[("p6e-gb200.36xlarge", "us-east-1")].usd_per_hour == pytest.approx(42.328)
    assert not any(itype.startswith("u-") for itype, _ in rows)
    for key in (("p6e-gb200.36xlarge", "us-east-1"), ("p6-b300.48xlarge", "us-east-1"), ("p6-b300.48xlarge", "us-west-2")):
        held = catalog.price("aws", key[0], key[1], "capacity-block")
        assert held.usd_per_hour == pytest.approx(rows[key].usd_per_hour) and held.valid_from == "2026-07-22"


@pytest.mark.parametrize("itype,cloud,expected", [
    # (GPUs, nvidia-smi name, NVLink links, fabric manager in the guest, fabric, interfaces, Gbps per interface)
    ("p6-b300.48xlarge", "aws", (8, "B300", 18, True, "efa", 16, 400.0)),
    ("p6e-gb200.36xlarge", "aws", (4, "GB200", 18, False, "efa", 4, 400.0)),
    ("a4x-highgpu-4g", "gcp", (4, "GB200", 18, False, "rdma", 4, 400.0)),
    ("a3-edgegpu-8g", "gcp", (8, "H100 80GB HBM3", 18, False, "gpudirect-tcpx", 4, None)),
    ("Standard_ND128isr_GB300_v6", "azure", (4, "GB300", 18, False, "infiniband", 4, 800.0)),
])
def test_the_node_checker_expects_what_the_catalog_says_of_each_new_type(itype, cloud, expected):
    from aifactory.nodecheck.expect import from_catalog

    e = from_catalog(itype, cloud)
    assert (e.gpu_count, e.gpu_name_contains, e.nvlink_links, e.fabric_manager, e.fabric, e.fabric_interfaces,
            e.fabric_gbps_per_interface) == expected
    assert e.power_default_w is None or itype == "a3-edgegpu-8g"  # no sourced default limit for Blackwell parts


@pytest.mark.parametrize("facility", [AWS_FACILITY, GCP_FACILITY, EDGE_FACILITY], ids=["aws", "a4x", "a3-edge"])
def test_every_resource_the_new_facilities_register_conforms_to_its_provider_schema(facility):
    from tests.provider_schema import problems

    custom = [r for r in record(facility) if r.custom]
    assert [f"{r.type} {r.name}: {p}" for r in custom for p in problems(r.type, r.inputs)] == []
