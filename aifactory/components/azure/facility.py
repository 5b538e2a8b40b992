"""Facility on Azure: one provider and one resource group per facility, then network, fleets,
filesystems and the budget, from a resolved `FacilitySpec`."""

from typing import NotRequired, Optional, TypedDict

import pulumi
import pulumi_azure_native as azure_native

from aifactory import rules
from aifactory.components.args import legacy_alias
from aifactory.components.common import budget_alerts
from aifactory.components.facility_interface import FacilityArgs, FacilityExports, facility_spec

from .budget import BudgetGuard, BudgetGuardArgs
from .filesystem import ParallelFilesystem, ParallelFilesystemArgs
from .fleet import GpuFleet, GpuFleetArgs
from .network import ClusterNetwork, ClusterNetworkArgs


TYPE = "aifactory-azure:index:Facility"
LEGACY_TYPE = "aifactory:azure:Facility"


class AzureSettings(TypedDict):
    admin_username: NotRequired[str]
    """Default azureuser."""
    ssh_public_keys: NotRequired[list[str]]


class AzureFacilityArgs(FacilityArgs):
    azure: NotRequired[Optional[AzureSettings]]


class Facility(FacilityExports, pulumi.ComponentResource):
    """A team's Azure AI factory: resource group, VNet, GPU scale sets, Managed Lustre, budget."""

    def __init__(self, name: str, args: AzureFacilityArgs, opts: Optional[pulumi.ResourceOptions] = None):
        spec = facility_spec(args, "azure")
        super().__init__(TYPE, name, None, legacy_alias(opts, LEGACY_TYPE))
        if spec.cloud != "azure":
            raise ValueError(f"aifactory.components.azure builds Azure facilities, not {spec.cloud}")
        self.spec = spec
        self.region = spec.region
        self.zone = spec.zone
        tags = spec.merged_tags()
        azure = spec.azure

        # One explicit provider for the facility's region; every resource below inherits it.
        self.provider = azure_native.Provider(
            f"{name}-azure", location=spec.region, opts=pulumi.ResourceOptions(parent=self)
        )
        child = pulumi.ResourceOptions(parent=self, providers=[self.provider])

        self.resource_group = azure_native.resources.ResourceGroup(
            f"{name}-rg",
            resource_group_name=f"{name}-rg",
            location=spec.region,
            tags=tags,
            opts=child,
        )
        subnets = rules.subnet_plan(spec)
        self.network = ClusterNetwork(
            f"{name}-net",
            ClusterNetworkArgs(
                region=spec.region,
                cidr=spec.network.cidr,
                resource_group_name=self.resource_group.name,
                zone=spec.zone,
                tags=tags,
                nat=spec.network.nat,
                compute_cidr=subnets.compute,
                storage_cidr=subnets.storage,
            ),
            opts=child,
        )

        self.filesystems: dict[str, ParallelFilesystem] = {}
        for fs in spec.filesystems:
            self.filesystems[fs.name] = ParallelFilesystem(
                f"{name}-{fs.name}",
                ParallelFilesystemArgs(
                    kind=fs.kind,
                    capacity_gib=rules.filesystem_size_gib("azure", fs),
                    throughput_mbps_per_tib=fs.throughput_mbps_per_tib or 0,
                    resource_group_name=self.network.resource_group_name,
                    region=self.network.region,
                    subnet_id=self.network.storage_subnet_id,
                    data_repository=fs.data_repository,
                    zone=spec.zone,
                    tags=tags,
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
                    resource_group_name=self.network.resource_group_name,
                    region=self.network.region,
                    subnet_id=self.network.compute_subnet_id,
                    admin_username=azure.admin_username if azure else "azureuser",
                    ssh_public_keys=list(azure.ssh_public_keys) if azure else [],
                    capacity=fleet.capacity,
                    reservation_id=fleet.reservation_id,
                    zone=spec.zone,
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
                    scope=self.resource_group.id,
                    resource_group_name=self.resource_group.name,
                    tags=tags,
                ),
                opts=child,
            )

        self.set_outputs()
        self.register_outputs(
            {
                "region": self.region,
                "resource_group": self.resource_group.name,
                "fleets": {n: f.group_names for n, f in self.fleets.items()},
                "budget": self.budget.budget_name if self.budget else None,
            }
        )
