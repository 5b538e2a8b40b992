"""ClusterNetwork: the VPC a facility's GPU fleets and filesystems live in.

One VPC with DNS support and hostnames, a private compute subnet and a private storage subnet
in the facility zone (CIDRs from `aifactory.netplan`), a private route table with an S3 gateway
endpoint, and -- only when `nat=True` -- a public subnet with an internet gateway and a NAT
gateway as the private default route. Without NAT there is no internet gateway at all.

One cluster security group: ingress and egress for all protocols from and to itself (what EFA
needs: "a security group that allows all inbound and outbound traffic to and from the security
group itself", docs.aws.amazon.com/AWSEC2/latest/UserGuide/efa-start.html#efa-start-security),
plus HTTPS egress to the S3 prefix list (and to the internet only when NAT is on). Rules are
separate `aws.vpc.SecurityGroupIngressRule`/`EgressRule` resources, the provider's current best
practice (pulumi_aws `ec2.SecurityGroup` docstring: "use the current best practice of the
`vpc.SecurityGroupEgressRule` and `vpc.SecurityGroupIngressRule` resources").

The public subnet (NAT only) is carved from the upper half of the storage slot, so the compute
and storage subnets never change when NAT is switched on or off.
"""

import ipaddress
from typing import NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from aifactory import netplan, rules
from aifactory.components.args import ComponentArgs, legacy_alias, read_args

TYPE = "aifactory-aws:index:ClusterNetwork"
LEGACY_TYPE = "aifactory:aws:ClusterNetwork"


def zone_inputs(zone: str) -> dict[str, str]:
    """A subnet's zone input: `availability_zone_id` for a zone ID (use1-az4, the same physical
    zone in every account, as capacity reservations are placed), else `availability_zone`."""
    if rules.is_aws_zone_id(zone):
        return {"availability_zone_id": zone}
    return {"availability_zone": zone}


def security_group_rule(
    direction: str,
    name: str,
    security_group_id: pulumi.Input[str],
    *,
    description: str,
    opts: pulumi.ResourceOptions,
    ip_protocol: str = "tcp",
    ports: tuple[int, int] | None = None,
    **peer: pulumi.Input[str],
) -> aws.vpc.SecurityGroupIngressRule | aws.vpc.SecurityGroupEgressRule:
    """One `aws.vpc.SecurityGroupIngressRule` (`direction="in"`) or `EgressRule` (`"out"`) on
    `security_group_id`, for `ports` (from, to; all ports when None) and one peer given by keyword:
    `referenced_security_group_id`, `prefix_list_id` or `cidr_ipv4`."""
    rule = {"in": aws.vpc.SecurityGroupIngressRule, "out": aws.vpc.SecurityGroupEgressRule}[direction]
    port_range = {} if ports is None else {"from_port": ports[0], "to_port": ports[1]}
    return rule(
        name,
        security_group_id=security_group_id,
        ip_protocol=ip_protocol,
        **port_range,
        **peer,
        description=description,
        opts=opts,
    )


class ClusterNetworkArgs(TypedDict):
    region: str
    """AWS region, e.g. us-east-1."""
    cidr: str
    """The VPC's CIDR, carved into the compute, storage (and public) subnets."""
    zone: str
    """A zone name (us-east-1a) or a zone ID (use1-az4)."""
    tags: NotRequired[dict[str, str]]
    nat: NotRequired[bool]
    """A public subnet, internet gateway and NAT gateway for egress (default false)."""
    compute_cidr: NotRequired[Optional[str]]
    """Default: netplan slot 0."""
    storage_cidr: NotRequired[Optional[str]]
    """Default: the lower half of netplan slot 1."""
    public_cidr: NotRequired[Optional[str]]
    """Default: the first /26 of the upper half of netplan slot 1 (NAT only)."""


DEFAULTS = {"tags": {}, "nat": False}


def _carve(args: ComponentArgs) -> tuple[str, str, str]:
    plan = netplan.plan(args.cidr)
    slot = ipaddress.ip_network(plan.storage)
    if slot.prefixlen >= 28:
        raise ValueError(f"{args.cidr} leaves no room for a storage and a public subnet (slot {slot})")
    lower, upper = slot.subnets(prefixlen_diff=1)
    public = next(upper.subnets(new_prefix=max(upper.prefixlen, 26)))
    return (
        args.compute_cidr or plan.compute,
        args.storage_cidr or str(lower),
        args.public_cidr or str(public),
    )


class ClusterNetwork(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    network_id: pulumi.Output[str]
    compute_subnet_id: pulumi.Output[str]
    storage_subnet_id: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    private_route_table_id: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterNetworkArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = read_args(ClusterNetworkArgs, args, DEFAULTS)
        args.require()
        compute_cidr, storage_cidr, public_cidr = _carve(args)
        super().__init__(TYPE, name, None, legacy_alias(opts, LEGACY_TYPE))
        self.region = args.region
        self.zone = args.zone
        self.compute_cidr, self.storage_cidr = compute_cidr, storage_cidr
        child = pulumi.ResourceOptions(parent=self)

        def tags(suffix: str) -> dict[str, str]:
            return {**args.tags, "Name": f"{name}-{suffix}"}

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=tags("vpc"),
            opts=child,
        )

        def subnet(label: str, cidr: str) -> aws.ec2.Subnet:
            # No subnet maps public IPs: the public one (NAT only) holds just the NAT gateway and its EIP.
            return aws.ec2.Subnet(
                f"{name}-{label}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                **zone_inputs(args.zone),
                map_public_ip_on_launch=False,
                tags=tags(label),
                opts=child,
            )

        compute = subnet("compute", compute_cidr)
        storage = subnet("storage", storage_cidr)
        private_rt = aws.ec2.RouteTable(f"{name}-private", vpc_id=vpc.id, tags=tags("private"), opts=child)
        for routed, label in ((compute, "compute"), (storage, "storage")):
            aws.ec2.RouteTableAssociation(
                f"{name}-{label}-rt", subnet_id=routed.id, route_table_id=private_rt.id, opts=child
            )
        s3 = aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[private_rt.id],
            tags=tags("s3"),
            opts=child,
        )

        if args.nat:
            igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=tags("igw"), opts=child)
            public = subnet("public", public_cidr)
            public_rt = aws.ec2.RouteTable(f"{name}-public", vpc_id=vpc.id, tags=tags("public"), opts=child)
            aws.ec2.Route(
                f"{name}-public-default",
                route_table_id=public_rt.id,
                destination_cidr_block="0.0.0.0/0",
                gateway_id=igw.id,
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-rt", subnet_id=public.id, route_table_id=public_rt.id, opts=child
            )
            eip = aws.ec2.Eip(f"{name}-nat", domain="vpc", tags=tags("nat"), opts=child)
            nat = aws.ec2.NatGateway(
                f"{name}-nat",
                allocation_id=eip.id,
                subnet_id=public.id,
                connectivity_type="public",
                tags=tags("nat"),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )
            aws.ec2.Route(
                f"{name}-private-default",
                route_table_id=private_rt.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nat.id,
                opts=child,
            )

        cluster_sg = aws.ec2.SecurityGroup(
            f"{name}-cluster",
            vpc_id=vpc.id,
            description="aifactory GPU cluster: all traffic within the group (EFA), HTTPS out",
            tags=tags("cluster"),
            opts=child,
        )
        for direction, way in (("in", "from"), ("out", "to")):
            security_group_rule(
                direction,
                f"{name}-cluster-{direction}-self",
                cluster_sg.id,
                ip_protocol="-1",
                referenced_security_group_id=cluster_sg.id,
                description=f"all traffic {way} the cluster itself (EFA, NCCL)",
                opts=child,
            )
        security_group_rule(
            "out",
            f"{name}-cluster-out-s3",
            cluster_sg.id,
            ports=(443, 443),
            prefix_list_id=s3.prefix_list_id,
            description="HTTPS to S3 through the gateway endpoint",
            opts=child,
        )
        if args.nat:
            security_group_rule(
                "out",
                f"{name}-cluster-out-https",
                cluster_sg.id,
                ports=(443, 443),
                cidr_ipv4="0.0.0.0/0",
                description="HTTPS to the internet through the NAT gateway",
                opts=child,
            )

        self.vpc_id = vpc.id
        self.network_id = vpc.id
        self.compute_subnet_id = compute.id
        self.storage_subnet_id = storage.id
        self.cluster_security_group_id = cluster_sg.id
        self.private_route_table_id = private_rt.id
        self.register_outputs(
            {
                "network_id": vpc.id,
                "compute_subnet_id": compute.id,
                "storage_subnet_id": storage.id,
                "cluster_security_group_id": cluster_sg.id,
            }
        )
