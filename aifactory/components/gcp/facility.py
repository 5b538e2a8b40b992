"""A whole Google Cloud facility from a spec: provider, network, fleets, filesystems, budget."""

from typing import NotRequired, Optional, TypedDict

import pulumi
import pulumi_gcp as gcp

from aifactory import rules
from aifactory.components.args import legacy_alias
from aifactory.components.common import budget_alerts
from aifactory.components.facility_interface import FacilityArgs, FacilityExports, facility_spec
from aifactory.components.gcp.budget import BudgetGuard, BudgetGuardArgs
from aifactory.components.gcp.filesystem import ParallelFilesystem, ParallelFilesystemArgs
from aifactory.components.gcp.fleet import GpuFleet, GpuFleetArgs
from aifactory.components.gcp.labels import label_safe
from aifactory.components.gcp.network import ClusterNetwork, ClusterNetworkArgs, fabric_layout, plan_ranges


TYPE = "aifactory-gcp:index:Facility"
LEGACY_TYPE = "aifactory:gcp:Facility"


class GcpSettings(TypedDict):
    project: str
    billing_account: NotRequired[Optional[str]]
    """012345-6789AB-CDEF01, for the budget."""


class GcpFacilityArgs(FacilityArgs):
    gcp: NotRequired[Optional[GcpSettings]]


class Facility(FacilityExports, pulumi.ComponentResource):
    """One facility: an explicit `gcp.Provider` for its project, region and zone, and everything on it."""

    def __init__(self, name: str, args: GcpFacilityArgs, opts: Optional[pulumi.ResourceOptions] = None):
        spec = facility_spec(args, "gcp")
        super().__init__(TYPE, name, None, legacy_alias(opts, LEGACY_TYPE))
        if spec.cloud != "gcp" or spec.gcp is None:
            raise ValueError("a gcp Facility needs a spec with cloud gcp and a gcp: section (project)")
        if not spec.zone:
            raise ValueError(f"set zone: the catalog knows no zone of {spec.region} for this facility")
        self.spec = spec
        self.region = spec.region
        self.zone = spec.zone
        self.project = spec.gcp.project
        tags = spec.merged_tags()
        self.labels = label_safe(tags)

        self.provider = gcp.Provider(
            f"{name}-gcp",
            project=self.project,
            region=spec.region,
            zone=spec.zone,
            default_labels=self.labels,
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, provider=self.provider)

        # One set of VPCs per facility, laid out for the fleet type with the most NICs.
        types = [f.instance_type for f in spec.fleets if f.instance_type]
        richest = max(types, key=lambda t: fabric_layout(t).nics, default=None)
        self.network = ClusterNetwork(
            name,
            ClusterNetworkArgs(
                region=spec.region,
                zone=spec.zone,
                tags=tags,
                nat=spec.network.nat,
                instance_type=richest,
                project=self.project,
                private_service_access=bool(spec.filesystems),
                **plan_ranges(rules.subnet_plan(spec)),
            ),
            opts=child,
        )

        self.filesystems: dict[str, ParallelFilesystem] = {}
        for fs in spec.filesystems:
            self.filesystems[fs.name] = ParallelFilesystem(
                f"{name}-{fs.name}",
                ParallelFilesystemArgs(
                    kind=fs.kind,
                    capacity_gib=rules.filesystem_size_gib("gcp", fs),
                    throughput_mbps_per_tib=fs.throughput_mbps_per_tib,
                    network_id=self.network.network_id,
                    network_name=self.network.network_name,
                    psa_connection_id=self.network.psa_connection_id,
                    reserved_ip_range=self.network.psa_range_name,
                    client_cidr=self.network.compute_cidr,
                    zone=spec.zone,
                    data_repository=fs.data_repository,
                    tags=tags,
                    tier=fs.tier,
                    mount_path=f"/mnt/{fs.name}",
                ),
                opts=child,
            )

        self.fleets: dict[str, GpuFleet] = {}
        for fleet in spec.fleets:
            self.fleets[fleet.name] = GpuFleet(
                f"{name}-{fleet.name}",
                GpuFleetArgs(
                    instance_type=fleet.instance_type or "",
                    nodes=fleet.nodes,
                    capacity=fleet.capacity,
                    reservation_id=fleet.reservation_id,
                    zone=spec.zone,
                    network_fabric=self.network.fabric,
                    host_subnetworks=self.network.host_subnetworks,
                    gpu_subnetworks=self.network.gpu_subnetworks,
                    rdma_subnetworks=self.network.rdma_subnetworks,
                    host_network=self.network.network_id,
                    filesystems=[fs.mount() for fs in self.filesystems.values()],
                    tags=tags,
                ),
                opts=child,
            )

        self.budget: Optional[BudgetGuard] = None
        if spec.budget is not None:
            self.budget = BudgetGuard(
                f"{name}-budget",
                BudgetGuardArgs(
                    **budget_alerts(spec.budget),
                    billing_account=spec.gcp.billing_account or "",
                    project=self.project,
                    facility=spec.name,
                    tags=tags,
                    enforce=spec.budget.enforce if self.fleets else "none",
                    stop_group_names=[g for f in self.fleets.values() for g in f.group_names],
                    zone=spec.zone,
                ),
                opts=child,
            )

        self.set_outputs()
        self.register_outputs(
            {
                "region": self.region,
                "zone": self.zone,
                "network_id": self.network.network_id,
                "fleets": {k: f.group_names for k, f in self.fleets.items()},
            }
        )
