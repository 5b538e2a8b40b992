"""AWS components of an AI factory: ClusterNetwork, GpuFleet, ParallelFilesystem, BudgetGuard, Facility."""

from components.aws.budget import BudgetGuard, BudgetGuardArgs
from components.aws.facility import Facility
from components.aws.filesystem import LustreMount, ParallelFilesystem, ParallelFilesystemArgs
from components.aws.fleet import GpuFleet, GpuFleetArgs
from components.aws.network import ClusterNetwork, ClusterNetworkArgs

__all__ = [
    "ClusterNetwork",
    "ClusterNetworkArgs",
    "GpuFleet",
    "GpuFleetArgs",
    "ParallelFilesystem",
    "ParallelFilesystemArgs",
    "LustreMount",
    "BudgetGuard",
    "BudgetGuardArgs",
    "Facility",
]
