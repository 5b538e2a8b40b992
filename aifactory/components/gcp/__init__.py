"""Google Cloud components: the same four kinds as every cloud, and a Facility composing them."""

from aifactory.components.gcp.budget import BudgetGuard, BudgetGuardArgs
from aifactory.components.gcp.facility import Facility
from aifactory.components.gcp.filesystem import ParallelFilesystem, ParallelFilesystemArgs
from aifactory.components.gcp.fleet import GpuFleet, GpuFleetArgs
from aifactory.components.gcp.network import ClusterNetwork, ClusterNetworkArgs

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
