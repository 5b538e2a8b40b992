"""ClusterNetwork on Azure: a VNet with a compute and a filesystem subnet, an NSG on the compute subnet.

The NSG lets the VNet talk to itself and denies anything from the Internet with explicit,
numbered rules (the platform's default rules would already do most of this; the explicit ones
make the intent visible to a reviewer and to the policy pack). Both subnets are private
(`defaultOutboundAccess: false`): GPU nodes have no public IPs, and Internet egress exists only
through the optional NAT gateway.
"""

from typing import NotRequired, Optional, TypedDict

import pulumi
import pulumi_azure_native as azure_native

from aifactory import netplan
from aifactory.components.args import legacy_alias, read_args

TYPE = "aifactory-azure:index:ClusterNetwork"
LEGACY_TYPE = "aifactory:azure:ClusterNetwork"

# Explicit NSG rules (priority 100..4096; lower wins). The Internet deny sits above the
# platform defaults (65000+) so that nothing added later between them can open the cluster.
RULE_ALLOW_VNET_IN = 100
RULE_DENY_INTERNET_IN = 4000
RULE_ALLOW_VNET_OUT = 100


class ClusterNetworkArgs(TypedDict):
    region: str
    """Azure location, e.g. eastus (literal on every resource)."""
    cidr: str
    """The VNet address space; carved by aifactory.netplan unless the subnets are given."""
    resource_group_name: pulumi.Input[str]
    zone: NotRequired[Optional[str]]
    """1 | 2 | 3; zonal NAT gateway and public IP when set."""
    tags: NotRequired[dict[str, str]]
    nat: NotRequired[bool]
    """A NAT gateway for Internet egress from the compute subnet."""
    compute_cidr: NotRequired[Optional[str]]
    storage_cidr: NotRequired[Optional[str]]


DEFAULTS = {"tags": {}, "nat": False}


class ClusterNetwork(pulumi.ComponentResource):
    """A facility's VNet: compute subnet (GPU NICs, NSG-guarded) and filesystem subnet (Managed Lustre)."""

    network_id: pulumi.Output[str]
    compute_subnet_id: pulumi.Output[str]
    storage_subnet_id: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterNetworkArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = read_args(ClusterNetworkArgs, args, DEFAULTS)
        args.require()
        super().__init__(TYPE, name, None, legacy_alias(opts, LEGACY_TYPE))
        self.region = args.region
        self.zone = args.zone
        self.resource_group_name = args.resource_group_name
        plan = netplan.plan(args.cidr)
        self.compute_cidr = args.compute_cidr or plan.compute
        self.storage_cidr = args.storage_cidr or plan.storage
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)

        self.vnet = azure_native.network.VirtualNetwork(
            f"{name}-vnet",
            virtual_network_name=f"{name}-vnet",
            resource_group_name=args.resource_group_name,
            location=args.region,
            address_space={"address_prefixes": [args.cidr]},
            tags=tags,
            opts=child,
        )

        self.nsg = azure_native.network.NetworkSecurityGroup(
            f"{name}-compute-nsg",
            network_security_group_name=f"{name}-compute-nsg",
            resource_group_name=args.resource_group_name,
            location=args.region,
            security_rules=_security_rules(),
            tags=tags,
            opts=child,
        )

        nat_gateway = None
        if args.nat:
            zones = [args.zone] if args.zone else None
            self.nat_ip = azure_native.network.PublicIPAddress(
                f"{name}-nat-ip",
                public_ip_address_name=f"{name}-nat-ip",
                resource_group_name=args.resource_group_name,
                location=args.region,
                sku={"name": "Standard", "tier": "Regional"},
                public_ip_allocation_method="Static",
                public_ip_address_version="IPv4",
                zones=zones,
                tags=tags,
                opts=child,
            )
            self.nat_gateway = azure_native.network.NatGateway(
                f"{name}-nat",
                nat_gateway_name=f"{name}-nat",
                resource_group_name=args.resource_group_name,
                location=args.region,
                sku={"name": "Standard"},
                public_ip_addresses=[{"id": self.nat_ip.id}],
                idle_timeout_in_minutes=10,
                zones=zones,
                tags=tags,
                opts=child,
            )
            nat_gateway = {"id": self.nat_gateway.id}

        self.compute_subnet = azure_native.network.Subnet(
            f"{name}-compute",
            subnet_name="compute",
            resource_group_name=args.resource_group_name,
            virtual_network_name=self.vnet.name,
            address_prefix=self.compute_cidr,
            network_security_group={"id": self.nsg.id},
            nat_gateway=nat_gateway,
            default_outbound_access=False,
            opts=child,
        )
        # Managed Lustre wants its own subnet (at least /24) and no delegation; created after the
        # compute subnet because Azure serialises subnet writes within one VNet.
        self.storage_subnet = azure_native.network.Subnet(
            f"{name}-storage",
            subnet_name="storage",
            resource_group_name=args.resource_group_name,
            virtual_network_name=self.vnet.name,
            address_prefix=self.storage_cidr,
            default_outbound_access=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.compute_subnet]),
        )

        self.network_id = self.vnet.id
        self.compute_subnet_id = self.compute_subnet.id
        self.storage_subnet_id = self.storage_subnet.id
        self.register_outputs(
            {
                "network_id": self.network_id,
                "compute_subnet_id": self.compute_subnet_id,
                "storage_subnet_id": self.storage_subnet_id,
            }
        )


def _security_rules() -> list[dict]:
    """Inbound: the VNet to itself, the Internet denied. Outbound: the VNet to itself explicit."""
    return [
        {
            "name": "allow-vnet-inbound",
            "priority": RULE_ALLOW_VNET_IN,
            "direction": "Inbound",
            "access": "Allow",
            "protocol": "*",
            "source_address_prefix": "VirtualNetwork",
            "source_port_range": "*",
            "destination_address_prefix": "VirtualNetwork",
            "destination_port_range": "*",
            "description": "cluster traffic (NCCL bootstrap, SSH between nodes, Lustre) stays inside the VNet",
        },
        {
            "name": "deny-internet-inbound",
            "priority": RULE_DENY_INTERNET_IN,
            "direction": "Inbound",
            "access": "Deny",
            "protocol": "*",
            "source_address_prefix": "Internet",
            "source_port_range": "*",
            "destination_address_prefix": "*",
            "destination_port_range": "*",
            "description": "nothing reaches the GPU nodes from the Internet",
        },
        {
            "name": "allow-vnet-outbound",
            "priority": RULE_ALLOW_VNET_OUT,
            "direction": "Outbound",
            "access": "Allow",
            "protocol": "*",
            "source_address_prefix": "VirtualNetwork",
            "source_port_range": "*",
            "destination_address_prefix": "VirtualNetwork",
            "destination_port_range": "*",
            "description": "nodes reach each other and the filesystem subnet",
        },
    ]
