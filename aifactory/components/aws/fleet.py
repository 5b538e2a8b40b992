"""GpuFleet: GPU nodes of one instance type as fixed-size Auto Scaling groups over one launch template.

Scale is O(groups), not O(nodes): a fleet is one launch template plus one Auto Scaling group (and,
for on-demand and spot capacity, one cluster placement group) per group, and it is split into
several groups only above `max_nodes_per_group`. Amazon EC2 Auto Scaling documents no maximum
group size (its quotas page lists groups per Region, not instances per group:
docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-quotas.html), so the default cap is
the documented ceiling of one fleet launch, "Target capacity per EC2 Fleet or Spot Fleet: 10,000"
(docs.aws.amazon.com/AWSEC2/latest/UserGuide/fleet-quotas.html).

The launch template carries one network interface on every EFA network card the type has (count
and cards from `aifactory.catalog`), laid out as the EC2 user guide's "Maximize network bandwidth on
Amazon EC2 instances with multiple network cards" (efa-acc-inst-types.html) describes. For P4d/P5/
P5en/P6-B200: card 0, device index 0, an EFA (with ENA) primary interface; every other card device
index 1, EFA-only. Where the guide names the EFA cards itself (P6-B300: cards 1-16; P6e-GB200:
cards 1, 5, 9 and 13, one per GPU), card 0 is an ENA-only primary, as both types' card 0
supports ENA only, and each named card gets an EFA-only interface at device index 0. EFA-only
interfaces take no IP address. No interface gets a public IP; each carries the cluster security
group and is deleted with the instance.

Grace-based types (P6e-GB200) are arm64 and boot the arm64 build of the same DLAMI.

Instance type, node count (min = max = desired) and zone are literal inputs; the group also
carries the instance type, capacity and zone as literal tags (`aifactory:instance-type`, ...)
so a policy reading only the group sees them, and it depends on its launch template explicitly.
"""

import base64
import json
from collections.abc import Sequence
from typing import Any, NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from aifactory import catalog
from aifactory.components.args import legacy_alias, read_args
from aifactory.components.aws.filesystem import LustreMount
from aifactory.components import nodehealth
from aifactory.components.common import mount_path, render, split_nodes

TYPE = "aifactory-aws:index:GpuFleet"
LEGACY_TYPE = "aifactory:aws:GpuFleet"
CAPACITIES = ("on-demand", "spot", "reservation", "capacity-block")
# AWS Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04), resolved by EC2 at launch. The
# parameter name follows /aws/service/deeplearning/ami/$architecture/$ami_type/latest/ami-id
# (docs.aws.amazon.com/dlami/latest/devguide/find-dlami-id.html); `resolve:ssm:` in a launch
# template (docs.aws.amazon.com/autoscaling/ec2/userguide/using-systems-manager-parameters.html).
DLAMI_BASE_SSM = (
    "resolve:ssm:/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"
)
# The same AMI's arm64 build, for NVIDIA Grace hosts (parameter path .../ami/arm64/..., as the DLAMI
# guide's $architecture takes it).
DLAMI_BASE_SSM_ARM64 = DLAMI_BASE_SSM.replace("/ami/x86_64/", "/ami/arm64/")
MAX_NODES_PER_GROUP = 10_000
USER_DATA_LIMIT = 16 * 1024  # EC2 user data, raw, before base64
TEMPLATE = "aws-node-bootstrap.sh.j2"


class GpuFleetArgs(TypedDict):
    instance_type: str
    nodes: int
    zone: str
    subnet_id: pulumi.Input[str]
    """The nodes' subnet, in `zone` (the ClusterNetwork's computeSubnetId)."""
    security_group_id: pulumi.Input[str]
    """The cluster security group on every interface (the ClusterNetwork's clusterSecurityGroupId)."""
    capacity: NotRequired[str]
    """on-demand (default) | spot | reservation | capacity-block"""
    reservation_id: NotRequired[Optional[str]]
    tags: NotRequired[dict[str, str]]
    filesystems: NotRequired[list[LustreMount]]
    """Lustre file systems every node mounts at boot."""
    image_id: NotRequired[Optional[str]]
    """Default: the DLAMI Base OSS Nvidia Driver GPU AMI of the type's architecture."""
    root_volume_gib: NotRequired[int]
    key_name: NotRequired[Optional[str]]
    """An EC2 key pair; none: SSM Session Manager access only."""
    instance_profile_arn: NotRequired[Optional[pulumi.Input[str]]]
    max_nodes_per_group: NotRequired[int]
    efa_interfaces: NotRequired[Optional[int]]
    """Default: every EFA card the catalog lists for the type."""
    placement_group: NotRequired[Optional[bool]]
    """Default: a cluster placement group for on-demand and spot."""
    metadata_hop_limit: NotRequired[int]
    """Default 2, which lets containers on the node reach IMDSv2."""
    node_check: NotRequired[bool]
    """Default true: the node checks itself at boot (a launch lifecycle hook holds it until it has) and
    every `check_interval_minutes`; a failing node is abandoned or marked Unhealthy and replaced."""
    check_interval_minutes: NotRequired[int]
    instance_role_name: NotRequired[Optional[pulumi.Input[str]]]
    """With instance_profile_arn: the role the node-health grant goes on."""


DEFAULTS = {
    "capacity": "on-demand",
    "tags": {},
    "filesystems": [],
    "root_volume_gib": 200,
    "max_nodes_per_group": MAX_NODES_PER_GROUP,
    "metadata_hop_limit": 2,
    "node_check": True,
    "check_interval_minutes": nodehealth.CHECK_INTERVAL_MINUTES,
}


def network_links(network: Any) -> dict[str, Any]:
    """The keys a ClusterNetwork passed as `network` stands for (a Python convenience)."""
    return {"subnet_id": network.compute_subnet_id, "security_group_id": network.cluster_security_group_id}


def efa_interface_count(instance_type: str) -> int:
    itype = catalog.instance("aws", instance_type)
    if itype is None or itype.fabric != "efa":
        return 0
    return itype.fabric_interfaces or 0


def efa_cards(instance_type: str) -> tuple[int, ...]:
    """The cards the EC2 user guide puts the type's EFA interfaces on, where it names them."""
    itype = catalog.instance("aws", instance_type)
    return itype.fabric_cards if itype is not None and itype.fabric == "efa" else ()


def default_image(instance_type: str) -> str:
    itype = catalog.instance("aws", instance_type)
    return DLAMI_BASE_SSM_ARM64 if itype is not None and itype.arm64 else DLAMI_BASE_SSM


def network_interfaces(
    efa_interfaces: int, subnet_id: pulumi.Input[str], security_group_id: pulumi.Input[str],
    cards: Sequence[int] = (),
) -> list[dict]:
    """Card 0 / device 0: the primary (EFA with ENA, or plain ENA on a type without EFA);
    cards 1..n-1 / device 1: EFA-only. With `cards` (the type's documented EFA cards): an ENA-only
    primary on card 0 and an EFA-only interface at device 0 on each of those cards. No public IPs,
    deleted with the instance."""
    common = {
        "subnet_id": subnet_id,
        "security_groups": [security_group_id],
        "associate_public_ip_address": "false",
        "delete_on_termination": "true",
    }
    primary = {**common, "network_card_index": 0, "device_index": 0}
    if cards:
        return [primary, *({**common, "network_card_index": card, "device_index": 0, "interface_type": "efa-only"}
                           for card in cards[:efa_interfaces])]
    if efa_interfaces > 0:
        primary["interface_type"] = "efa"
    others = [
        {**common, "network_card_index": card, "device_index": 1, "interface_type": "efa-only"}
        for card in range(1, efa_interfaces)
    ]
    return [primary, *others]


def user_data(context: dict) -> str:
    """Base64 user data; gzip-compressed (cloud-init unpacks gzip user data) when the script alone is
    over EC2's 16 KB."""
    script = render(TEMPLATE, **context).encode()
    if len(script) > USER_DATA_LIMIT:
        script = nodehealth.gzip_bytes(script.decode())
        if len(script) > USER_DATA_LIMIT:
            raise ValueError(f"node bootstrap is {len(script)} bytes gzip-compressed; EC2 user data is at most 16 KB")
    return base64.b64encode(script).decode()


def group_arn(group: str) -> str:
    return f"arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/{group}"


def node_health_policy(fleet: str, groups: Sequence[str]) -> str:
    """What a node may do to its own group: complete its launch lifecycle hook and mark an instance
    Unhealthy, on this fleet's groups only (by ARN and by the group's `aifactory:fleet` tag); and find
    which group it is in (DescribeAutoScalingInstances has no resource-level permission)."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "NodeHealthOnOwnGroups",
                "Effect": "Allow",
                "Action": ["autoscaling:CompleteLifecycleAction", "autoscaling:SetInstanceHealth"],
                "Resource": [group_arn(g) for g in groups],
                "Condition": {"StringEquals": {"autoscaling:ResourceTag/aifactory:fleet": fleet}},
            },
            {"Sid": "FindOwnGroup", "Effect": "Allow", "Action": "autoscaling:DescribeAutoScalingInstances",
             "Resource": "*"},
        ],
    }, sort_keys=True)


class GpuFleet(pulumi.ComponentResource):
    group_names: list[str]
    group_sizes: list[int]
    group_ids: list[pulumi.Output[str]]
    launch_template_id: pulumi.Output[str]

    def __init__(self, name: str, args: GpuFleetArgs, opts: Optional[pulumi.ResourceOptions] = None):
        network = args.get("network") if isinstance(args, dict) else None
        args = read_args(GpuFleetArgs, args, DEFAULTS, {"network": network_links})
        if args.capacity not in CAPACITIES:
            raise ValueError(f"capacity must be one of {', '.join(CAPACITIES)}, not '{args.capacity}'")
        if args.capacity in ("reservation", "capacity-block") and not args.reservation_id:
            raise ValueError(f"capacity '{args.capacity}' needs reservation_id")
        if not isinstance(args.nodes, int) or isinstance(args.nodes, bool):
            raise TypeError("nodes must be a plain int (policies read it)")
        if not isinstance(args.instance_type, str) or not isinstance(args.zone, str):
            raise TypeError("instance_type and zone must be plain strings (policies read them)")
        itype = catalog.instance("aws", args.instance_type)
        if itype is not None and not itype.sold_as(args.capacity):
            raise ValueError(f"{itype.name} is sold only as {' or '.join(itype.capacities)}, not '{args.capacity}'")
        if itype is not None and itype.ultraserver_nodes and args.nodes % min(itype.ultraserver_nodes):
            raise ValueError(f"{itype.name} comes in UltraServers of {' or '.join(map(str, itype.ultraserver_nodes))} "
                             f"instances; nodes must be a multiple of {min(itype.ultraserver_nodes)}")
        if getattr(network, "zone", args.zone) != args.zone:
            raise ValueError(f"fleet zone {args.zone} differs from its network's zone {network.zone}")
        args.require()
        super().__init__(TYPE, name, None, legacy_alias(opts, LEGACY_TYPE))

        child = pulumi.ResourceOptions(parent=self)
        efa = args.efa_interfaces if args.efa_interfaces is not None else efa_interface_count(args.instance_type)
        want_pg = args.placement_group
        if want_pg is None:
            # Capacity Blocks are already placed together (in EC2 UltraClusters); forcing a placement
            # group onto them, or onto a targeted reservation made outside one, fails to launch.
            want_pg = args.capacity in ("on-demand", "spot")

        sizes = split_nodes(args.nodes, args.max_nodes_per_group)
        names = [name if len(sizes) == 1 else f"{name}-{i:03d}" for i in range(len(sizes))]

        mounts = [m.mount() if hasattr(m, "mount") else m for m in args.filesystems]
        for m in mounts:
            mount_path(m.get("mount_point", "/fsx"))
        context = {
            "fleet": name,
            "instance_type": args.instance_type,
            "efa_interfaces": efa,
            "node_check": args.node_check,
        }
        if args.node_check:
            context.update(nodehealth.context("aws", args.instance_type, args.check_interval_minutes))
        profile_arn = args.instance_profile_arn
        if args.node_check:
            role_name = args.instance_role_name
            if profile_arn is None:
                role = aws.iam.Role(
                    f"{name}-node",
                    description=f"aifactory {name} GPU nodes",
                    assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
                    tags={**args.tags, "Name": f"{name}-node"},
                    opts=child,
                )
                role_name = role.name
                profile_arn = aws.iam.InstanceProfile(
                    f"{name}-node", role=role.name, tags={**args.tags, "Name": f"{name}-node"}, opts=child
                ).arn
            if role_name is not None:
                aws.iam.RolePolicy(f"{name}-node-health", role=role_name, policy=node_health_policy(name, names),
                                   opts=child)
        if mounts:
            encoded = pulumi.Output.all(
                *[m["dns_name"] for m in mounts], *[m["mount_name"] for m in mounts]
            ).apply(
                lambda values: user_data(
                    {
                        **context,
                        "mounts": [
                            {"dns_name": values[i], "mount_name": values[len(mounts) + i], "mount_point": m.get("mount_point", "/fsx")}
                            for i, m in enumerate(mounts)
                        ],
                    }
                )
            )
        else:
            encoded = user_data({**context, "mounts": []})

        market = None
        reservation = None
        if args.capacity == "spot":
            market = {"market_type": "spot", "spot_options": {"instance_interruption_behavior": "terminate"}}
        elif args.capacity == "capacity-block":
            market = {"market_type": "capacity-block"}
        if args.capacity in ("reservation", "capacity-block"):
            reservation = {"capacity_reservation_target": {"capacity_reservation_id": args.reservation_id}}

        node_tags = {**args.tags, "Name": name, "aifactory:fleet": name}
        template = aws.ec2.LaunchTemplate(
            f"{name}-template",
            description=f"aifactory {name}: {args.instance_type}, {efa} EFA interfaces",
            instance_type=args.instance_type,
            image_id=args.image_id or default_image(args.instance_type),
            key_name=args.key_name,
            iam_instance_profile={"arn": profile_arn} if profile_arn else None,
            user_data=encoded,
            network_interfaces=network_interfaces(efa, args.subnet_id, args.security_group_id,
                                                  efa_cards(args.instance_type)),
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": args.metadata_hop_limit,
            },
            block_device_mappings=[
                {
                    "device_name": "/dev/sda1",
                    "ebs": {
                        "volume_size": args.root_volume_gib,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "delete_on_termination": "true",
                    },
                }
            ],
            instance_market_options=market,
            capacity_reservation_specification=reservation,
            tag_specifications=[
                {"resource_type": kind, "tags": node_tags} for kind in ("instance", "volume", "network-interface")
            ],
            update_default_version=True,
            tags={**args.tags, "Name": f"{name}-template"},
            opts=child,
        )

        group_tags = {
            **args.tags,
            "aifactory:fleet": name,
            "aifactory:instance-type": args.instance_type,
            "aifactory:capacity": args.capacity,
            "aifactory:zone": args.zone,
        }
        if args.reservation_id:
            group_tags["aifactory:reservation"] = args.reservation_id

        ids = []
        for group, size in zip(names, sizes):
            depends: list[pulumi.Resource] = [template]
            placement = None
            if want_pg:
                pg = aws.ec2.PlacementGroup(
                    f"{group}-pg", strategy="cluster", tags={**args.tags, "Name": group}, opts=child
                )
                placement = pg.id
                depends.append(pg)
            asg = aws.autoscaling.Group(
                group,
                name=group,
                min_size=size,
                max_size=size,
                desired_capacity=size,
                vpc_zone_identifiers=[args.subnet_id],
                launch_template={"id": template.id, "version": "$Latest"},
                placement_group=placement,
                health_check_type="EC2",
                health_check_grace_period=900,
                initial_lifecycle_hooks=[
                    {
                        "name": nodehealth.AWS_LIFECYCLE_HOOK,
                        "lifecycle_transition": "autoscaling:EC2_INSTANCE_LAUNCHING",
                        "default_result": "ABANDON",
                        "heartbeat_timeout": nodehealth.BOOT_CHECK_SECONDS,
                    }
                ] if args.node_check else None,
                wait_for_capacity_timeout="0",
                tags=[
                    {"key": key, "value": value, "propagate_at_launch": True}
                    for key, value in {**group_tags, "Name": group}.items()
                ],
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
            )
            ids.append(asg.id)

        self.instance_type = args.instance_type
        self.capacity = args.capacity
        self.efa_interfaces = efa
        self.group_names = names
        self.group_sizes = sizes
        self.group_ids = ids
        self.launch_template_id = template.id
        self.register_outputs(
            {"group_names": names, "group_ids": ids, "launch_template_id": template.id}
        )
