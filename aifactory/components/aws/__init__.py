"""AWS components of an AI factory: ClusterNetwork, GpuFleet, ParallelFilesystem, BudgetGuard, Facility."""

from aifactory.components.aws.budget import BudgetGuard, BudgetGuardArgs
from aifactory.components.aws.facility import Facility
from aifactory.components.aws.filesystem import LustreMount, ParallelFilesystem, ParallelFilesystemArgs
from aifactory.components.aws.fleet import GpuFleet, GpuFleetArgs
from aifactory.components.aws.network import ClusterNetwork, ClusterNetworkArgs

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
