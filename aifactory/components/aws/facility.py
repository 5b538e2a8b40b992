"""Facility: one AWS AI factory from a `FacilitySpec` -- provider, network, fleets, filesystems, budget.

One explicit `aws.Provider` per facility for its region, with the facility's tags as
`default_tags`, is handed to every child through `opts.providers`, so each resource is tagged and
the region is visible to policies. Nodes get an instance profile with SSM Session Manager access
(AmazonSSMManagedInstanceCore), since they have no public IPs and, without `aws.key_name`, no SSH.
"""

import json
from typing import NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from aifactory import catalog, rules
from aifactory.components.args import legacy_alias
from aifactory.components.aws.budget import BudgetGuard, BudgetGuardArgs
from aifactory.components.aws.filesystem import ParallelFilesystem, ParallelFilesystemArgs
from aifactory.components.aws.fleet import GpuFleet, GpuFleetArgs
from aifactory.components.aws.network import ClusterNetwork, ClusterNetworkArgs
from aifactory.components.common import budget_alerts
from aifactory.components.facility_interface import FacilityArgs, FacilityExports, facility_spec

TYPE = "aifactory-aws:index:Facility"
LEGACY_TYPE = "aifactory:aws:Facility"
SSM_CORE_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


class AwsSettings(TypedDict):
    key_name: NotRequired[Optional[str]]
    """An EC2 key pair for SSH; none means SSM Session Manager access only."""


class AwsFacilityArgs(FacilityArgs):
    aws: NotRequired[Optional[AwsSettings]]


class Facility(FacilityExports, pulumi.ComponentResource):
    """A team's AWS AI factory from the aifactory:facility fields: provider, VPC, GPU fleets, FSx for Lustre, budget."""

    def __init__(self, name: str, args: AwsFacilityArgs, opts: Optional[pulumi.ResourceOptions] = None):
        spec = facility_spec(args, "aws")
        if spec.cloud != "aws":
            raise ValueError(f"aifactory.components.aws builds AWS facilities, not '{spec.cloud}'")
        super().__init__(TYPE, name, None, legacy_alias(opts, LEGACY_TYPE))
        self.spec = spec
        self.region = spec.region
        tags = spec.merged_tags()
        if spec.zone is None:
            # rules.zone_known refuses such a spec; a hand-built one gets the same answer.
            raise ValueError(f"{name}: set the facility zone (a zone ID like use1-az4 or a zone name)")
        zone = spec.zone
        self.zone = zone

        self.provider: aws.Provider = aws.Provider(
            f"{name}-aws",
            region=spec.region,
            default_tags={"tags": tags},
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, providers={"aws": self.provider})

        plan = rules.subnet_plan(spec)
        self.network = ClusterNetwork(
            f"{name}-net",
            ClusterNetworkArgs(
                region=spec.region,
                cidr=spec.network.cidr,
                zone=zone,
                tags=tags,
                nat=spec.network.nat,
                compute_cidr=plan.compute,
            ),
            opts=child,
        )

        self.filesystems: dict[str, ParallelFilesystem] = {}
        lustre = [fs for fs in spec.filesystems if fs.kind == "lustre"]
        for fs in spec.filesystems:
            sku = catalog.storage_sku("aws", fs.kind, fs.throughput_mbps_per_tib)
            if sku is None:
                raise ValueError(f"no AWS {fs.kind} SKU at {fs.throughput_mbps_per_tib} MB/s/TiB")
            self.filesystems[fs.name] = ParallelFilesystem(
                f"{name}-{fs.name}",
                ParallelFilesystemArgs(
                    kind=fs.kind,
                    capacity_gib=rules.filesystem_size_gib("aws", fs),
                    throughput_mbps_per_tib=int(fs.throughput_mbps_per_tib or sku.throughput_mbps_per_tib),
                    data_repository=fs.data_repository,
                    vpc_id=self.network.vpc_id,
                    cluster_security_group_id=self.network.cluster_security_group_id,
                    subnet_id=self.network.storage_subnet_id,
                    zone=zone,
                    tags=tags,
                    mount_point="/fsx" if len(lustre) == 1 else f"/fsx/{fs.name}",
                ),
                opts=child,
            )

        profile = role = None
        if spec.fleets:
            role = aws.iam.Role(
                f"{name}-node",
                assume_role_policy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "ec2.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                ),
                opts=child,
            )
            aws.iam.RolePolicyAttachment(f"{name}-node-ssm", role=role.name, policy_arn=SSM_CORE_POLICY, opts=child)
            profile = aws.iam.InstanceProfile(f"{name}-node", role=role.name, opts=child)

        mounts = [self.filesystems[fs.name].mount() for fs in lustre]
        key_name = spec.aws.key_name if spec.aws else None
        self.fleets: dict[str, GpuFleet] = {}
        for fleet in spec.fleets:
            self.fleets[fleet.name] = GpuFleet(
                f"{name}-{fleet.name}",
                GpuFleetArgs(
                    instance_type=fleet.instance_type,
                    nodes=fleet.nodes,
                    capacity=fleet.capacity,
                    reservation_id=fleet.reservation_id,
                    zone=zone,
                    subnet_id=self.network.compute_subnet_id,
                    security_group_id=self.network.cluster_security_group_id,
                    tags=tags,
                    filesystems=mounts,
                    key_name=key_name,
                    instance_profile_arn=profile.arn if profile is not None else None,
                    instance_role_name=role.name if role is not None else None,  # gets the node-health grant
                ),
                opts=child,
            )

        self.budget: Optional[BudgetGuard] = None
        if spec.budget is not None:
            groups = [g for f in self.fleets.values() for g in f.group_names]
            stop = spec.budget.enforce == "stop" and bool(groups)
            if spec.budget.enforce == "stop" and not groups:
                pulumi.log.warn(f"{name}: budget.enforce is 'stop' but there are no fleets to stop", resource=self)
            self.budget = BudgetGuard(
                f"{name}-budget",
                BudgetGuardArgs(
                    **budget_alerts(spec.budget),
                    facility=spec.name,
                    enforce="stop" if stop else "none",
                    stop_group_names=groups if stop else [],
                    region=spec.region,
                    tags=tags,
                ),
                opts=child,
            )

        self.set_outputs()
        self.register_outputs(self.exports())
