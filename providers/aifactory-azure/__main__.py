"""The aifactory-azure component provider: aifactory's Azure components for every Pulumi language.

Pulumi's Python language host runs this directory (`python <dir> <engine address>`) with the uv
toolchain, whose environment is the repository's (the nearest uv.lock), so `aifactory` is importable.
The schema is inferred from the components' annotations; every type is in module `index`.
"""

from pulumi.provider.experimental import component_provider_host

from aifactory.components.azure import BudgetGuard, ClusterNetwork, Facility, GpuFleet, ParallelFilesystem

if __name__ == "__main__":
    component_provider_host([Facility, ClusterNetwork, GpuFleet, ParallelFilesystem, BudgetGuard], "aifactory-azure")
