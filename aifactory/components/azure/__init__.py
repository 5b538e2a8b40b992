"""Azure components: ClusterNetwork, GpuFleet, ParallelFilesystem, BudgetGuard, and the Facility composing them."""

from .budget import BudgetGuard, BudgetGuardArgs
from .facility import Facility
from .filesystem import ParallelFilesystem, ParallelFilesystemArgs
from .fleet import GpuFleet, GpuFleetArgs
from .network import ClusterNetwork, ClusterNetworkArgs

__all__ = [
    "BudgetGuard",
    "BudgetGuardArgs",
    "ClusterNetwork",
    "ClusterNetworkArgs",
    "Facility",
    "GpuFleet",
    "GpuFleetArgs",
    "ParallelFilesystem",
    "ParallelFilesystemArgs",
]
