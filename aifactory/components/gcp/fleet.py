"""A GPU fleet on Google Cloud: a regional instance template and zonal managed instance groups.

One fleet is one template and as few zonal MIGs as the MIG size cap allows (2,000 VMs with
paginated instance listing, cloud.google.com/compute/docs/samples/compute-zonal-instance-group-manager-paginated-tag),
so a facility is O(fleets) resources, never O(nodes).

Choices:
- **Regional instance template** (`compute.RegionInstanceTemplate`): the template carries the
  facility's region as a literal, lives and is replaced with the facility (no project-global
  object other regions' MIGs could pick up), and every subnet it names is regional anyway; a
  zonal MIG can use a regional template of its own region.
- **Every NIC of the type, in order**: the host gVNIC NICs first, then one gVNIC per GPU VPC
  (GPUDirect-TCPX/TCPXO) or one MRDMA NIC per RoCE subnet (RDMA). No `access_configs`: nodes
  have no external IP (use `nat` on the network for outbound traffic).
- **GPUs** are implied by the accelerator-optimized machine types (a2/a3/a4 bundle their GPUs),
  so there are no `guest_accelerators`.
- **Capacity**: on-demand = STANDARD; spot = SPOT with `instance_termination_action` DELETE (the
  MIG re-creates deleted VMs when capacity returns; GCE requires `automatic_restart` false for
  spot); reservation = STANDARD with `reservation_affinity` SPECIFIC_RESERVATION.
- **Compact placement** (`group_placement_policy.collocation = COLLOCATED`) for on-demand fleets
  of more than one node only: a reservation already fixes where its capacity sits (a placement
  policy on top conflicts with it), and spot VMs come from whatever spare capacity exists and may
  be reclaimed at any time, so a collocation constraint would only make them harder to obtain
  without keeping them together. A4X groups instead take a HIGH_THROUGHPUT workload policy with
  the NVLink domain's accelerator topology (1x72), with reservation-bound VMs, as Google requires.
- **Boot disk**: Google-managed encryption at rest by default (every persistent disk is
  encrypted), or a customer key with `kms_key`; Hyperdisk Balanced on A3 Ultra/A4 (they take
  Hyperdisk only, as Cluster Toolkit's a3ultra-vm.yaml sets), PD Balanced otherwise.
- **Shielded VM**: vTPM and integrity monitoring on; Secure Boot off by default because the
  GPU fabric stacks load DKMS-built, unsigned modules (gVNIC, dmabuf-import-helper for TCPXO, as
  Cluster Toolkit's a3mega-slurm-blueprint.yaml installs them); turn it on with `secure_boot=True`.
"""

from typing import Any, NotRequired, Optional, TypedDict

import pulumi
import pulumi_gcp as gcp

from aifactory import catalog
from aifactory.components import nodehealth
from aifactory.components.args import ComponentArgs, legacy_alias, read_args
from aifactory.components.common import mount_path, render, split_nodes
from aifactory.components.gcp.filesystem import FilesystemMount
from aifactory.components.gcp.labels import label_safe, region_of
from aifactory.components.gcp.network import fabric_layout

TYPE = "aifactory-gcp:index:GpuFleet"
LEGACY_TYPE = "aifactory:gcp:GpuFleet"

# Zonal MIG size limit with list_managed_instances_results = PAGINATED.
MAX_GROUP_SIZE = 2000
# Ubuntu 22.04 accelerator image with the NVIDIA 570 driver: Cluster Toolkit's A3 Mega blueprint
# source image (a3mega-slurm-blueprint.yaml `source_image_family`, project ubuntu-os-accelerator-images
# as in a3ultra-vm.yaml); Ubuntu 22.04 is also what the Managed Lustre and Parallelstore clients support.
DEFAULT_IMAGE = (
    "projects/ubuntu-os-accelerator-images/global/images/family/ubuntu-accelerator-2204-amd64-with-nvidia-570"
)
# arm64 (NVIDIA Grace) machine types: Cluster Toolkit's A4X blueprint source image (a4x-vm.yaml
# `source_image_family: ubuntu-accelerator-2404-arm64-with-nvidia-580`, project ubuntu-os-accelerator-images).
ARM64_IMAGE = (
    "projects/ubuntu-os-accelerator-images/global/images/family/ubuntu-accelerator-2404-arm64-with-nvidia-580"
)
# Cluster Toolkit a3high-slurm-blueprint.yaml `disk_size_gb: 200`.
DEFAULT_BOOT_DISK_GB = 200
RESERVATION_KEY = "compute.googleapis.com/reservation-name"
CAPACITIES = ("on-demand", "spot", "reservation")
# NVLink domains spanning VMs (Compute Engine, "Create an AI-optimized MIG with A4X"): an A4X MIG of
# more than one VM needs a HIGH_THROUGHPUT workload policy, accelerator topology 1x72 ("72 GPUs
# connected via a NVLink within a block"); its VMs use the reservation-bound provisioning model and
# its template names no placement policy.
WORKLOAD_TOPOLOGY = {"a4x-highgpu-4g": "1x72"}
# NCCL plugin and RxDM containers (Artifact Registry gce-ai-infra); versions are overridable.
TCPX_PLUGIN_IMAGE = "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpx/nccl-plugin-gpudirecttcpx-dev:v3.1.9"
TCPX_RXDM_IMAGE = "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpx/tcpgpudmarxd-dev:v2.0.9"
TCPXO_PLUGIN_IMAGE = "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/nccl-plugin-gpudirecttcpx-dev:v1.0.8-1"
TCPXO_RXDM_IMAGE = "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/tcpgpudmarxd-dev:v1.0.14"
# Where Google's health-check probes come from (Compute Engine, "Create a firewall to allow health
# checks for autohealing in MIGs": source_ranges 130.211.0.0/22 and 35.191.0.0/16).
HEALTH_CHECK_RANGES = ["35.191.0.0/16", "130.211.0.0/22"]


class GpuFleetArgs(TypedDict):
    instance_type: str
    """Machine type, e.g. a3-megagpu-8g."""
    nodes: int
    zone: str
    network_fabric: str
    """The fabric the network is laid out for (the ClusterNetwork's fabric)."""
    host_subnetworks: list[pulumi.Input[str]]
    """Host (gVNIC) subnet self links, the primary first (the ClusterNetwork's hostSubnetworks)."""
    gpu_subnetworks: NotRequired[list[pulumi.Input[str]]]
    """GPUDirect-TCPX/TCPXO subnet self links (the ClusterNetwork's gpuSubnetworks)."""
    rdma_subnetworks: NotRequired[list[pulumi.Input[str]]]
    """RoCE subnet self links (the ClusterNetwork's rdmaSubnetworks)."""
    capacity: NotRequired[str]
    """on-demand (default) | spot | reservation"""
    reservation_id: NotRequired[Optional[str]]
    """Reservation name, for capacity reservation."""
    tags: NotRequired[dict[str, str]]
    filesystems: NotRequired[list[FilesystemMount]]
    """Mounted at boot."""
    image: NotRequired[Optional[str]]
    """Default: the Ubuntu accelerator image of the machine type's architecture."""
    boot_disk_gb: NotRequired[int]
    kms_key: NotRequired[Optional[str]]
    """Customer-managed boot disk key; none = Google-managed encryption."""
    service_account: NotRequired[Optional[str]]
    """None = the project's default compute service account."""
    secure_boot: NotRequired[bool]
    compact_placement: NotRequired[Optional[bool]]
    """None: on for multi-node on-demand fleets."""
    max_group_size: NotRequired[int]
    host_network: NotRequired[Optional[pulumi.Input[str]]]
    """The primary host VPC (the ClusterNetwork's networkId): the health-check firewall rule's network;
    required with node_check."""
    node_check: NotRequired[bool]
    """Default true: the node checks itself at boot and every `check_interval_minutes`; the groups
    autoheal on a health check of the node's endpoint, which answers only while the last check passed."""
    check_interval_minutes: NotRequired[int]


DEFAULTS = {
    "gpu_subnetworks": [],
    "rdma_subnetworks": [],
    "capacity": "on-demand",
    "tags": {},
    "filesystems": [],
    "boot_disk_gb": DEFAULT_BOOT_DISK_GB,
    "secure_boot": False,
    "max_group_size": MAX_GROUP_SIZE,
    "node_check": True,
    "check_interval_minutes": nodehealth.CHECK_INTERVAL_MINUTES,
}


def network_links(network: Any) -> dict[str, Any]:
    """The keys a ClusterNetwork passed as `network` stands for (a Python convenience)."""
    return {
        "network_fabric": network.fabric,
        "host_subnetworks": network.host_subnetworks,
        "gpu_subnetworks": network.gpu_subnetworks,
        "rdma_subnetworks": network.rdma_subnetworks,
        "host_network": network.network_id,
    }


class GpuFleet(pulumi.ComponentResource):
    """A fleet of identical GPU nodes: one template, zonal MIGs of `nodes` VMs in total."""

    group_names: list[str]
    group_ids: list[pulumi.Output[str]]

    def __init__(self, name: str, args: GpuFleetArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = read_args(GpuFleetArgs, args, DEFAULTS, {"network": network_links})
        super().__init__(TYPE, name, None, legacy_alias(opts, LEGACY_TYPE))
        if not isinstance(args.nodes, int) or args.nodes < 1:
            raise ValueError("nodes must be a positive int (a literal the policies can read)")
        if args.capacity not in CAPACITIES:
            raise ValueError(f"capacity on gcp is one of {', '.join(CAPACITIES)}, not {args.capacity!r}")
        if (args.capacity == "reservation") != bool(args.reservation_id):
            raise ValueError("reservation_id is required for, and only used with, capacity 'reservation'")
        itype = catalog.instance("gcp", args.instance_type)
        if itype is not None and not itype.sold_as(args.capacity):
            raise ValueError(f"{itype.name} is sold only as {' or '.join(itype.capacities)}, not '{args.capacity}'")
        self.instance_type = args.instance_type
        self.nodes = args.nodes
        self.capacity = args.capacity
        self.zone = args.zone
        self.region = region_of(args.zone)
        self.itype = catalog.instance("gcp", args.instance_type)
        layout = fabric_layout(args.instance_type)
        args.require()
        hosts, gpus, rdmas = args.host_subnetworks, args.gpu_subnetworks, args.rdma_subnetworks
        fits = layout.host_vpcs <= len(hosts) and (
            layout.fabric == "none"
            or (
                layout.fabric == args.network_fabric
                and layout.gpu_vpcs <= len(gpus)
                and layout.rdma_subnets <= len(rdmas)
            )
        )
        if not fits:
            raise ValueError(
                f"{args.instance_type} needs {layout.nics} NICs ({layout.fabric}); the network is laid out for "
                f"{args.network_fabric} with {len(hosts) + len(gpus) + len(rdmas)}: "
                f"build it with instance_type={args.instance_type!r}"
            )
        # `aifactory-nodes`: the fleet's size on its template, which the placement policy reads.
        self.labels = {
            **label_safe(args.tags),
            "fleet": label_safe({"f": name})["f"],
            "aifactory-nodes": str(args.nodes),
        }
        child = pulumi.ResourceOptions(parent=self)

        topology = WORKLOAD_TOPOLOGY.get(args.instance_type.lower())
        compact = args.compact_placement
        if compact and topology:
            raise ValueError(f"{args.instance_type} groups take a workload policy, which a template's placement "
                             "policy conflicts with")
        if compact is None:
            compact = args.capacity == "on-demand" and args.nodes > 1 and not topology
        elif compact and args.capacity == "reservation":
            raise ValueError("a compact placement policy conflicts with consuming a reservation")
        self.workload_policy: gcp.compute.ResourcePolicy | None = None
        if topology:
            self.workload_policy = gcp.compute.ResourcePolicy(
                f"{name}-workload",
                region=region_of(args.zone),
                workload_policy={"type": "HIGH_THROUGHPUT", "accelerator_topology": topology},
                description=f"NVLink domain ({topology}) of {name}",
                opts=child,
            )
        self.placement_policy: gcp.compute.ResourcePolicy | None = None
        if compact:
            self.placement_policy = gcp.compute.ResourcePolicy(
                f"{name}-placement",
                region=self.region,
                group_placement_policy={"collocation": "COLLOCATED"},
                description=f"compact placement of {name}",
                opts=child,
            )

        # The network's NICs in order, as many as the type has: host gVNICs, then GPU NICs.
        nics = [(s, "GVNIC") for s in hosts[: layout.host_vpcs]]
        nics += ([(s, "GVNIC") for s in gpus] + [(s, "MRDMA") for s in rdmas])[: layout.gpu_vpcs + layout.rdma_subnets]
        network_interfaces = [
            {"subnetwork": subnetwork, "nic_type": nic_type, "stack_type": "IPV4_ONLY"} for subnetwork, nic_type in nics
        ]

        self.health_tag = f"{label_safe({'f': name})['f']}-health"[:63]
        self.health_check: gcp.compute.HealthCheck | None = None
        if args.node_check:
            if args.host_network is None:
                raise ValueError("node_check needs host_network (the ClusterNetwork's network_id) for its health-check firewall rule")
            self.health_check = gcp.compute.HealthCheck(
                f"{name}-health",
                description=f"node health endpoint of {name} (answers 200 only while the node's last check passed)",
                http_health_check={"port": nodehealth.HEALTH_PORT, "request_path": nodehealth.HEALTH_PATH},
                check_interval_sec=60,
                timeout_sec=10,
                healthy_threshold=1,
                unhealthy_threshold=3,
                opts=child,
            )
            gcp.compute.Firewall(
                f"{name}-health-probes",
                network=args.host_network,
                direction="INGRESS",
                source_ranges=HEALTH_CHECK_RANGES,
                target_tags=[self.health_tag],
                allows=[{"protocol": "tcp", "ports": [str(nodehealth.HEALTH_PORT)]}],
                description=f"Google health-check probes to the node health endpoint of {name}",
                opts=child,
            )
        self.startup_script = self._startup_script(name, args, layout.fabric)
        boot_disk: dict = {
            "boot": True,
            "auto_delete": True,
            "source_image": args.image or (ARM64_IMAGE if self.itype is not None and self.itype.arm64 else DEFAULT_IMAGE),
            "disk_size_gb": args.boot_disk_gb,
            "disk_type": "hyperdisk-balanced" if layout.fabric == "rdma" else "pd-balanced",
            "labels": self.labels,
        }
        if args.kms_key:
            boot_disk["disk_encryption_key"] = {"kms_key_self_link": args.kms_key}

        template_args: dict = {}
        if self.placement_policy is not None:
            template_args["resource_policies"] = self.placement_policy.self_link
        if args.capacity == "reservation":
            template_args["reservation_affinity"] = {
                "type": "SPECIFIC_RESERVATION",
                "specific_reservation": {"key": RESERVATION_KEY, "values": [args.reservation_id]},
            }

        self.template = gcp.compute.RegionInstanceTemplate(
            f"{name}-template",
            region=self.region,
            machine_type=args.instance_type,
            description=f"GPU nodes of {name} ({args.capacity})",
            disks=[boot_disk],
            network_interfaces=network_interfaces,
            scheduling=self._scheduling(args.capacity, reservation_bound=topology is not None),
            shielded_instance_config={
                "enable_secure_boot": args.secure_boot,
                "enable_vtpm": True,
                "enable_integrity_monitoring": True,
            },
            metadata={
                "startup-script": self.startup_script,
                "enable-oslogin": "TRUE",
                "block-project-ssh-keys": "TRUE",
            },
            # Access is governed by the service account's IAM roles, not by scopes.
            service_account={
                **({"email": args.service_account} if args.service_account else {}),
                "scopes": ["https://www.googleapis.com/auth/cloud-platform"],
            },
            labels=self.labels,
            tags=[self.health_tag] if args.node_check else None,
            **template_args,
            opts=child,
        )

        sizes = split_nodes(args.nodes, args.max_group_size)
        # Same names as components.common.group_name(facility, fleet, i, n) when name = "<facility>-<fleet>".
        self.group_names = [name if len(sizes) == 1 else f"{name}-{i:03d}" for i in range(len(sizes))]
        self.groups: list[gcp.compute.InstanceGroupManager] = []
        for group, size in zip(self.group_names, sizes):
            self.groups.append(
                gcp.compute.InstanceGroupManager(
                    f"{group}-mig",
                    base_instance_name=group,
                    zone=args.zone,
                    target_size=size,
                    versions=[{"name": "primary", "instance_template": self.template.self_link}],
                    list_managed_instances_results="PAGINATED",
                    # Running GPU nodes are not replaced behind a job's back when the template changes.
                    update_policy={"type": "OPPORTUNISTIC", "minimal_action": "REPLACE"},
                    wait_for_instances=False,
                    auto_healing_policies={"health_check": self.health_check.id,
                                           "initial_delay_sec": nodehealth.BOOT_CHECK_SECONDS}
                    if self.health_check is not None else None,
                    resource_policies={"workload_policy": self.workload_policy.self_link}
                    if self.workload_policy is not None else None,
                    description=f"{size} x {args.instance_type} of {name}",
                    opts=child,
                )
            )
        self.group_ids = [g.id for g in self.groups]
        self.register_outputs({"group_names": self.group_names, "group_ids": self.group_ids})

    @staticmethod
    def _scheduling(capacity: str, reservation_bound: bool = False) -> dict:
        if capacity == "reservation" and reservation_bound:
            return {"provisioning_model": "RESERVATION_BOUND", "automatic_restart": True,
                    "on_host_maintenance": "TERMINATE"}
        if capacity == "spot":
            return {
                "provisioning_model": "SPOT",
                "preemptible": True,
                "automatic_restart": False,
                "on_host_maintenance": "TERMINATE",
                "instance_termination_action": "DELETE",
            }
        return {"provisioning_model": "STANDARD", "automatic_restart": True, "on_host_maintenance": "TERMINATE"}

    @staticmethod
    def _startup_script(name: str, args: ComponentArgs, fabric: str) -> pulumi.Input[str]:
        filesystems = [fs.mount() if hasattr(fs, "mount") else fs for fs in args.filesystems]

        def script(sources: list[str]) -> str:
            mounts = [
                {"kind": fs["kind"], "path": mount_path(fs["mount_path"]), "source": source}
                for fs, source in zip(filesystems, sources, strict=True)
            ]
            return render(
                "gcp-startup.sh.j2",
                group=name,
                machine_type=args.instance_type,
                fabric=fabric,
                mounts=mounts,
                tcpx_plugin_image=TCPX_PLUGIN_IMAGE,
                tcpx_rxdm_image=TCPX_RXDM_IMAGE,
                tcpxo_plugin_image=TCPXO_PLUGIN_IMAGE,
                tcpxo_rxdm_image=TCPXO_RXDM_IMAGE,
                node_check=args.node_check,
                **(nodehealth.context("gcp", args.instance_type, args.check_interval_minutes) if args.node_check else {}),
            )

        if not filesystems:
            return script([])
        return pulumi.Output.all(*[fs["mount_source"] for fs in filesystems]).apply(list).apply(script)
