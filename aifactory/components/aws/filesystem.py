"""ParallelFilesystem: FSx for Lustre (PERSISTENT_2) next to the GPU fleet, protected from deletion.

Capacity (GiB) and per-unit throughput (MB/s/TiB) are literal inputs, as the storage policy and
the estimator read them. Lustre 2.15, LZ4 compression, encrypted with a customer-managed KMS key
that rotates. The file system's security group admits Lustre traffic -- TCP 988 and 1018-1023
(docs.aws.amazon.com/fsx/latest/LustreGuide/limit-access-security-groups.html; the create error
"...do not permit Lustre LNET network traffic on port 988", .../cannot-create-fs.html) -- from
the cluster security group and from itself; the cluster group gets the matching egress rules.
With `data_repository` set, an S3 data repository association imports and exports changes.

The file system and its key are registered with `protect=True`: a change that would replace or
delete them fails instead of destroying data.
"""

import shlex
from typing import Any, NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from aifactory.components.args import legacy_alias, read_args
from aifactory.components.aws.network import security_group_rule
from aifactory.components.common import mount_path

TYPE = "aifactory-aws:index:ParallelFilesystem"
LEGACY_TYPE = "aifactory:aws:ParallelFilesystem"
LUSTRE_PORTS = ((988, 988), (1018, 1023))


class LustreMount(TypedDict):
    """What a node needs to mount a Lustre file system."""

    dns_name: pulumi.Input[str]
    mount_name: pulumi.Input[str]
    mount_point: NotRequired[str]
    """Default /fsx."""


class ParallelFilesystemArgs(TypedDict):
    capacity_gib: int
    throughput_mbps_per_tib: int
    zone: str
    vpc_id: pulumi.Input[str]
    """The VPC the file system's security group lives in (the ClusterNetwork's vpcId)."""
    cluster_security_group_id: pulumi.Input[str]
    """The GPU nodes' security group, admitted to Lustre (the ClusterNetwork's clusterSecurityGroupId)."""
    subnet_id: pulumi.Input[str]
    """The subnet of the file system, in the fleet's zone (the ClusterNetwork's storageSubnetId)."""
    kind: NotRequired[str]
    """lustre (the only kind AWS offers here)."""
    data_repository: NotRequired[Optional[str]]
    """s3://bucket/prefix"""
    data_repository_path: NotRequired[str]
    """Where the S3 prefix appears inside the file system (default /data)."""
    tags: NotRequired[dict[str, str]]
    deployment_type: NotRequired[str]
    file_system_type_version: NotRequired[str]
    data_compression_type: NotRequired[str]
    mount_point: NotRequired[str]


DEFAULTS = {
    "kind": "lustre",
    "data_repository_path": "/data",
    "tags": {},
    "deployment_type": "PERSISTENT_2",
    "file_system_type_version": "2.15",
    "data_compression_type": "LZ4",
    "mount_point": "/fsx",
}


def network_links(network: Any) -> dict[str, Any]:
    """The keys a ClusterNetwork passed as `network` stands for (a Python convenience)."""
    return {
        "vpc_id": network.vpc_id,
        "cluster_security_group_id": network.cluster_security_group_id,
        "subnet_id": network.storage_subnet_id,
    }


class ParallelFilesystem(pulumi.ComponentResource):
    dns_name: pulumi.Output[str]
    mount_name: pulumi.Output[str]
    mount_command: pulumi.Output[str]
    file_system_id: pulumi.Output[str]
    security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: ParallelFilesystemArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = read_args(ParallelFilesystemArgs, args, DEFAULTS, {"network": network_links})
        if args.kind != "lustre":
            raise ValueError(f"AWS parallel filesystems are FSx for Lustre; '{args.kind}' is not offered")
        if not isinstance(args.capacity_gib, int) or not isinstance(args.throughput_mbps_per_tib, int):
            raise TypeError("capacity_gib and throughput_mbps_per_tib must be plain ints (policies read them)")
        mount_path(args.mount_point)
        args.require()
        super().__init__(TYPE, name, None, legacy_alias(opts, LEGACY_TYPE))
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags, "Name": name}

        sg = aws.ec2.SecurityGroup(
            f"{name}-lustre",
            vpc_id=args.vpc_id,
            description="FSx for Lustre: LNET (TCP 988, 1018-1023) from the cluster and itself",
            tags=tags,
            opts=child,
        )
        for low, high in LUSTRE_PORTS:
            ports = f"{low}" if low == high else f"{low}-{high}"
            for peer, label in ((args.cluster_security_group_id, "cluster"), (sg.id, "self")):
                for direction, way in (("in", "from"), ("out", "to")):
                    security_group_rule(
                        direction,
                        f"{name}-{direction}-{label}-{ports}",
                        sg.id,
                        ports=(low, high),
                        referenced_security_group_id=peer,
                        description=f"Lustre {ports} {way} the {label}",
                        opts=child,
                    )
            security_group_rule(
                "out",
                f"{name}-cluster-out-{ports}",
                args.cluster_security_group_id,
                ports=(low, high),
                referenced_security_group_id=sg.id,
                description=f"Lustre {ports} from the cluster to {name}",
                opts=child,
            )

        key = aws.kms.Key(
            f"{name}-key",
            description=f"FSx for Lustre {name} encryption at rest",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        fs = aws.fsx.LustreFileSystem(
            f"{name}-fsx",
            deployment_type=args.deployment_type,
            storage_type="SSD",
            storage_capacity=args.capacity_gib,
            per_unit_storage_throughput=args.throughput_mbps_per_tib,
            file_system_type_version=args.file_system_type_version,
            data_compression_type=args.data_compression_type,
            kms_key_id=key.arn,
            # pulumi_aws 7 types subnet_ids as one string (FSx for Lustre is single-subnet)
            subnet_ids=args.subnet_id,
            security_group_ids=[sg.id],
            copy_tags_to_backups=True,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True),
        )
        if args.data_repository:
            aws.fsx.DataRepositoryAssociation(
                f"{name}-s3",
                file_system_id=fs.id,
                file_system_path=args.data_repository_path,
                data_repository_path=args.data_repository,
                batch_import_meta_data_on_create=True,
                delete_data_in_filesystem=False,
                s3={
                    "auto_import_policy": {"events": ["NEW", "CHANGED", "DELETED"]},
                    "auto_export_policy": {"events": ["NEW", "CHANGED", "DELETED"]},
                },
                tags=tags,
                opts=child,
            )

        self.file_system_id = fs.id
        self.dns_name = fs.dns_name
        self.mount_name = fs.mount_name
        self.security_group_id = sg.id
        self.mount_point = args.mount_point
        self.mount_command = pulumi.Output.all(fs.dns_name, fs.mount_name).apply(
            lambda v: shlex.join(["mount", "-t", "lustre", "-o", "relatime,flock", f"{v[0]}@tcp:/{v[1]}", args.mount_point])
        )
        self.register_outputs(
            {
                "file_system_id": fs.id,
                "dns_name": fs.dns_name,
                "mount_name": fs.mount_name,
                "mount_command": self.mount_command,
            }
        )

    def mount(self, mount_point: Optional[str] = None) -> LustreMount:
        """The mount a GpuFleet needs for this file system."""
        return LustreMount(dns_name=self.dns_name, mount_name=self.mount_name, mount_point=mount_point or self.mount_point)
