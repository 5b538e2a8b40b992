"""The cluster network of a Google Cloud facility: VPCs laid out for the GPU machine family.

Google Cloud gives every NIC of a VM its own VPC network, so the fabric of a GPU type is a
set of VPCs (cloud.google.com/compute/docs/gpus/gpu-network-bandwidth), laid out here the
way Google's Cluster Toolkit blueprints do (github.com/GoogleCloudPlatform/cluster-toolkit):

| fabric (catalog)                 | VPCs                                                | NIC type | MTU  |
|----------------------------------|-----------------------------------------------------|----------|------|
| none (a2-*)                      | 1 host VPC                                          | GVNIC    | 8896 |
| gpudirect-tcpx (a3-highgpu-8g)   | 1 host VPC + 4 GPU VPCs, one subnet each            | GVNIC    | 8244 |
| gpudirect-tcpxo (a3-megagpu-8g)  | 1 host VPC + 8 GPU VPCs, one subnet each            | GVNIC    | 8244 |
| rdma (a3-ultragpu-8g, a4-*)      | 2 host VPCs + 1 RoCE VPC with 8 subnets             | GVNIC ×2, MRDMA ×8 | 8896 |

Counts and MTUs come from the catalog (`fabric`, `fabric_interfaces`, `host_nics`,
`fabric_mtu`), subnet ranges from `aifactory.netplan` (slot 0 compute, slot 1 the storage
range reserved for private services access, then the fabric subnets in NIC order).
"""

import ipaddress
from dataclasses import dataclass
from typing import Any, NotRequired, Optional, TypedDict

import pulumi
import pulumi_gcp as gcp

from aifactory import catalog, netplan
from aifactory.components.args import legacy_alias, read_args
from aifactory.components.gcp.labels import label_safe

TYPE = "aifactory-gcp:index:ClusterNetwork"
LEGACY_TYPE = "aifactory:gcp:ClusterNetwork"

# Jumbo frames, the VPC maximum (cloud.google.com/vpc/docs/mtu); Cluster Toolkit's
# modules/network/multivpc and gpu-rdma-vpc default to it.
MAX_MTU = 8896
# Host VPC MTU of the GPUDirect-TCPX/TCPXO blueprints (a3high-slurm-blueprint.yaml and
# a3mega-slurm-blueprint.yaml: `sysnet` `mtu: 8244`).
TCPX_MTU = 8244
# Cluster Toolkit gpu-rdma-vpc: network_profile ".../global/networkProfiles/<zone>-vpc-roce".
ROCE_PROFILE = "projects/{project}/global/networkProfiles/{zone}-vpc-roce"
# Firewall protocols between cluster members (Cluster Toolkit vpc module internal-traffic rule).
INTERNAL_PROTOCOLS = ("tcp", "udp", "icmp")


@dataclass(frozen=True)
class FabricLayout:
    """How many VPCs of which kind a GPU machine type needs, and their MTU."""

    fabric: str
    host_vpcs: int  # gVNIC VPCs; the first is the primary (compute) network
    gpu_vpcs: int  # GPUDirect-TCPX/TCPXO: one VPC (one subnet) per GPU NIC
    rdma_subnets: int  # RDMA: subnets of the single RoCE VPC, one per MRDMA NIC
    mtu: int

    @property
    def fabric_subnets(self) -> int:
        """Subnets beyond the primary one; equals `netplan.gcp_fabric_subnets` for the type."""
        return self.host_vpcs - 1 + self.gpu_vpcs + self.rdma_subnets

    @property
    def nics(self) -> int:
        return self.host_vpcs + self.gpu_vpcs + self.rdma_subnets


def fabric_layout(instance_type: Optional[str]) -> FabricLayout:
    """The VPC layout for a machine type from the catalog (one gVNIC VPC if unknown or None)."""
    itype = catalog.instance("gcp", instance_type) if instance_type else None
    if itype is None:
        return FabricLayout("none", 1, 0, 0, MAX_MTU)
    interfaces = itype.fabric_interfaces or 0
    if itype.fabric in ("gpudirect-tcpx", "gpudirect-tcpxo"):
        return FabricLayout(itype.fabric, itype.host_nics or 1, interfaces, 0, itype.fabric_mtu or TCPX_MTU)
    if itype.fabric == "rdma":
        return FabricLayout("rdma", itype.host_nics or 2, 0, interfaces, itype.fabric_mtu or MAX_MTU)
    return FabricLayout("none", itype.host_nics or 1, 0, 0, itype.fabric_mtu or MAX_MTU)


@dataclass(frozen=True)
class Nic:
    """One network interface of a GPU node, in the order the instance template lists them."""

    subnetwork: pulumi.Output
    nic_type: str  # GVNIC | MRDMA


class ClusterNetworkArgs(TypedDict):
    region: str
    cidr: NotRequired[str]
    """Default 10.40.0.0/16."""
    zone: NotRequired[Optional[str]]
    """Required for RDMA types (the RoCE network profile is zonal)."""
    tags: NotRequired[dict[str, str]]
    nat: NotRequired[bool]
    """Cloud Router + Cloud NAT for outbound internet (nodes have no external IPs)."""
    instance_type: NotRequired[Optional[str]]
    """The machine type whose NICs the network serves (the richest layout of the facility's fleets)."""
    project: NotRequired[Optional[str]]
    """Required for RDMA types (the network profile names the project)."""
    private_service_access: NotRequired[bool]
    """Reserve the storage range for private services access (Managed Lustre, Parallelstore, Filestore)."""
    compute_cidr: NotRequired[Optional[str]]
    """Subnet ranges; default: netplan.plan(cidr, <fabric subnets of instance_type>)."""
    storage_cidr: NotRequired[Optional[str]]
    fabric_cidrs: NotRequired[Optional[list[str]]]


DEFAULTS = {"cidr": "10.40.0.0/16", "tags": {}, "nat": False, "private_service_access": False}


def plan_ranges(plan: netplan.SubnetPlan) -> dict[str, Any]:
    """The subnet-range keys a `netplan.SubnetPlan` passed as `subnets` stands for (a Python convenience)."""
    return {"cidr": plan.cidr, "compute_cidr": plan.compute, "storage_cidr": plan.storage, "fabric_cidrs": list(plan.fabric)}


class ClusterNetwork(pulumi.ComponentResource):
    """Host and GPU VPCs, their subnets, cluster-only firewall rules, optional NAT and PSA."""

    network_id: pulumi.Output[str]
    network_name: pulumi.Output[str]
    compute_subnet_id: pulumi.Output[str]
    fabric: str
    """The GPU fabric the VPCs are laid out for (none, gpudirect-tcpx, gpudirect-tcpxo, rdma)."""
    host_subnetworks: list[pulumi.Output[str]]
    """Self links of the host (gVNIC) subnets, the primary first."""
    gpu_subnetworks: list[pulumi.Output[str]]
    """Self links of the GPUDirect-TCPX/TCPXO subnets, one per GPU NIC."""
    rdma_subnetworks: list[pulumi.Output[str]]
    """Self links of the RoCE subnets, one per MRDMA NIC."""
    compute_cidr: str
    psa_range_name: Optional[pulumi.Output[str]]
    """The range reserved for private services access (with private_service_access)."""
    psa_connection_id: Optional[pulumi.Output[str]]

    def __init__(self, name: str, args: ClusterNetworkArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = read_args(ClusterNetworkArgs, args, DEFAULTS, {"subnets": plan_ranges})
        args.require()
        super().__init__(TYPE, name, None, legacy_alias(opts, LEGACY_TYPE))
        self.args = args
        self.region = args.region
        self.zone = args.zone
        self.layout = fabric_layout(args.instance_type)
        layout = self.layout
        if args.compute_cidr and args.storage_cidr:
            self.plan = netplan.SubnetPlan(args.cidr, args.compute_cidr, args.storage_cidr, tuple(args.fabric_cidrs or ()))
        else:
            self.plan = netplan.plan(args.cidr, layout.fabric_subnets)
        if len(self.plan.fabric) < layout.fabric_subnets:
            raise ValueError(
                f"subnet plan of {self.plan.cidr} has {len(self.plan.fabric)} fabric subnets, "
                f"{args.instance_type} needs {layout.fabric_subnets}"
            )
        self.labels = label_safe(args.tags)
        child = pulumi.ResourceOptions(parent=self)
        fabric = list(self.plan.fabric)

        # Host (gVNIC) VPCs: the primary network holds the compute subnet; RDMA types have a second.
        self.host_networks: list[gcp.compute.Network] = []
        self.host_subnets: list[gcp.compute.Subnetwork] = []
        host_ranges = [self.plan.compute] + [fabric.pop(0) for _ in range(layout.host_vpcs - 1)]
        for i, cidr in enumerate(host_ranges):
            net, sub = self._vpc(f"{name}-net-{i}", cidr, layout.mtu, child, private_google_access=i == 0)
            self.host_networks.append(net)
            self.host_subnets.append(sub)

        # GPUDirect-TCPX/TCPXO: one VPC with one subnet per GPU NIC.
        self.gpu_networks: list[gcp.compute.Network] = []
        self.gpu_subnets: list[gcp.compute.Subnetwork] = []
        for i in range(layout.gpu_vpcs):
            net, sub = self._vpc(f"{name}-gpunet-{i}", fabric.pop(0), layout.mtu, child)
            self.gpu_networks.append(net)
            self.gpu_subnets.append(sub)

        # RDMA: one RoCE VPC (zonal network profile) with one subnet per MRDMA NIC.
        self.rdma_network: gcp.compute.Network | None = None
        self.rdma_subnets: list[gcp.compute.Subnetwork] = []
        if layout.rdma_subnets:
            if not (args.project and args.zone):
                raise ValueError("an RDMA network needs project and zone (for the zone's RoCE network profile)")
            self.rdma_network = gcp.compute.Network(
                f"{name}-rdma-net",
                auto_create_subnetworks=False,
                mtu=layout.mtu,
                routing_mode="REGIONAL",
                network_profile=ROCE_PROFILE.format(project=args.project, zone=args.zone),
                description=f"RoCE (MRDMA) GPU network of {name}",
                opts=child,
            )
            for i in range(layout.rdma_subnets):
                self.rdma_subnets.append(
                    gcp.compute.Subnetwork(
                        f"{name}-rdma-sub-{i}",
                        network=self.rdma_network.id,
                        region=args.region,
                        ip_cidr_range=fabric.pop(0),
                        stack_type="IPV4_ONLY",
                        opts=child,
                    )
                )

        # Ingress only from the cluster's own ranges (Google Cloud denies other ingress by default).
        # The RoCE VPC takes no VPC firewall rules (Cluster Toolkit gpu-rdma-vpc refuses them).
        self.firewalls: list[gcp.compute.Firewall] = []
        primary_sources = [self.plan.compute] + ([self.plan.storage] if args.private_service_access else [])
        for i, (net, cidr) in enumerate(zip(self.host_networks, host_ranges)):
            sources = primary_sources if i == 0 else [cidr]
            self.firewalls.append(self._internal_rule(f"{name}-net-{i}-internal", net, sources, child))
        for i, net in enumerate(self.gpu_networks):
            cidr = self.plan.fabric[layout.host_vpcs - 1 + i]
            self.firewalls.append(self._internal_rule(f"{name}-gpunet-{i}-internal", net, [cidr], child))

        primary = self.host_networks[0]
        self.network_id = primary.id
        self.network_name = primary.name
        self.compute_subnet_id = self.host_subnets[0].id

        self.router: gcp.compute.Router | None = None
        self.nat: gcp.compute.RouterNat | None = None
        if args.nat:
            self.router = gcp.compute.Router(f"{name}-router", network=primary.id, region=args.region, opts=child)
            self.nat = gcp.compute.RouterNat(
                f"{name}-nat",
                router=self.router.name,
                region=args.region,
                nat_ip_allocate_option="AUTO_ONLY",
                source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
                subnetworks=[{"name": self.host_subnets[0].id, "source_ip_ranges_to_nats": ["ALL_IP_RANGES"]}],
                log_config={"enable": True, "filter": "ERRORS_ONLY"},
                opts=child,
            )

        # Private services access: the storage range peered to Google's service producer network,
        # which Managed Lustre, Parallelstore and Filestore (PRIVATE_SERVICE_ACCESS) are reached through.
        self.psa_range: gcp.compute.GlobalAddress | None = None
        self.psa_connection: gcp.servicenetworking.Connection | None = None
        if args.private_service_access:
            storage = ipaddress.ip_network(self.plan.storage)
            self.psa_range = gcp.compute.GlobalAddress(
                f"{name}-psa-range",
                purpose="VPC_PEERING",
                address_type="INTERNAL",
                address=str(storage.network_address),
                prefix_length=storage.prefixlen,
                network=primary.id,
                labels=self.labels,
                opts=child,
            )
            self.psa_connection = gcp.servicenetworking.Connection(
                f"{name}-psa",
                network=primary.id,
                service="servicenetworking.googleapis.com",
                reserved_peering_ranges=[self.psa_range.name],
                opts=child,
            )

        self.nics: list[Nic] = [Nic(s.self_link, "GVNIC") for s in self.host_subnets + self.gpu_subnets]
        self.nics += [Nic(s.self_link, "MRDMA") for s in self.rdma_subnets]
        self.fabric = layout.fabric
        self.host_subnetworks = [s.self_link for s in self.host_subnets]
        self.gpu_subnetworks = [s.self_link for s in self.gpu_subnets]
        self.rdma_subnetworks = [s.self_link for s in self.rdma_subnets]
        self.compute_cidr = self.plan.compute
        self.psa_range_name = self.psa_range.name if self.psa_range is not None else None
        self.psa_connection_id = self.psa_connection.id if self.psa_connection is not None else None

        self.register_outputs(
            {
                "network_id": self.network_id,
                "compute_subnet_id": self.compute_subnet_id,
                "network_ids": [n.id for n in self.all_networks],
                "subnet_ids": [s.id for s in self.host_subnets + self.gpu_subnets + self.rdma_subnets],
            }
        )

    @property
    def all_networks(self) -> list[gcp.compute.Network]:
        return self.host_networks + self.gpu_networks + ([self.rdma_network] if self.rdma_network else [])

    def _vpc(self, name: str, cidr: str, mtu: int, opts, private_google_access: bool = False):
        net = gcp.compute.Network(
            name,
            auto_create_subnetworks=False,
            mtu=mtu,
            routing_mode="REGIONAL",
            opts=opts,
        )
        sub = gcp.compute.Subnetwork(
            name.replace("-net-", "-sub-").replace("-gpunet-", "-gpusub-"),
            network=net.id,
            region=self.args.region,
            ip_cidr_range=cidr,
            private_ip_google_access=private_google_access,
            stack_type="IPV4_ONLY",
            opts=opts,
        )
        return net, sub

    def _internal_rule(self, name: str, network: gcp.compute.Network, sources: list[str], opts) -> gcp.compute.Firewall:
        return gcp.compute.Firewall(
            name,
            network=network.id,
            direction="INGRESS",
            priority=1000,
            source_ranges=list(sources),
            allows=[{"protocol": p} for p in INTERNAL_PROTOCOLS],
            description="cluster-internal traffic only",
            opts=opts,
        )
