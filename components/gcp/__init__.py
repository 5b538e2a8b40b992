"""Google Cloud components: the same four kinds as every cloud, and a Facility composing them."""

from components.gcp.budget import BudgetGuard, BudgetGuardArgs
from components.gcp.facility import Facility
from components.gcp.filesystem import ParallelFilesystem, ParallelFilesystemArgs
from components.gcp.fleet import GpuFleet, GpuFleetArgs
from components.gcp.network import ClusterNetwork, ClusterNetworkArgs

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
