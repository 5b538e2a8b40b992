"""What a `Facility` takes and gives on every cloud.

It takes the fields of the `aifactory:facility` stack config as its args (`FacilityArgs`, with
the cloud's own section added per cloud), checked by `aifactory.loader.load_facility` -- the same
rules and the same messages, by config path -- or an already loaded `FacilitySpec` (the Python
`from_spec` path). It gives the same outputs on every cloud (`FacilityExports`), the ones a
component provider reports to a program in any language, and one `exports()` shape for
`__main__.py`.
"""

from collections.abc import Mapping
from typing import Any, NotRequired, Optional, TypedDict

import pulumi

from aifactory.components.args import whole_numbers
from aifactory.loader import load_facility
from aifactory.spec import FacilitySpec


class FacilityFleet(TypedDict):
    """One GPU fleet: an instance type (or a GPU the catalog resolves) and a node count."""

    name: str
    instance_type: NotRequired[Optional[str]]
    gpu: NotRequired[Optional[str]]
    """A GPU model (e.g. H100) the catalog resolves to an instance type of the region."""
    gpus_per_node: NotRequired[Optional[int]]
    nodes: int
    capacity: NotRequired[str]
    """on-demand (default) | spot | reservation | capacity-block"""
    reservation_id: NotRequired[Optional[str]]


class FacilityNetwork(TypedDict):
    cidr: NotRequired[str]
    """Default 10.40.0.0/16."""
    nat: NotRequired[bool]


class FacilityFilesystem(TypedDict):
    name: str
    kind: NotRequired[str]
    """lustre (default) | parallelstore | filestore"""
    capacity_tib: NotRequired[Optional[float]]
    capacity_gib: NotRequired[Optional[int]]
    throughput_mbps_per_tib: NotRequired[Optional[int]]
    data_repository: NotRequired[Optional[str]]
    tier: NotRequired[Optional[str]]
    """Filestore service tier."""


class FacilityBudget(TypedDict):
    monthly_usd: float
    alert_emails: list[str]
    thresholds_pct: NotRequired[list[int]]
    enforce: NotRequired[str]
    """none (default) | stop"""


class FacilityArgs(TypedDict):
    """The `aifactory:facility` stack config's fields (see the README)."""

    name: str
    """DNS-safe; prefixes every resource name."""
    team: str
    cloud: NotRequired[str]
    """The provider's own cloud (the default); any other is refused."""
    region: str
    zone: NotRequired[Optional[str]]
    tags: NotRequired[dict[str, str]]
    fleets: NotRequired[list[FacilityFleet]]
    network: NotRequired[FacilityNetwork]
    filesystems: NotRequired[list[FacilityFilesystem]]
    budget: NotRequired[Optional[FacilityBudget]]


def facility_spec(args: Any, cloud: str) -> FacilitySpec:
    """The checked spec a Facility builds: `args` itself if it is one, else `args` (the config's
    fields) through `load_facility`, which raises `SpecError` naming every problem by its path."""
    if isinstance(args, FacilitySpec):
        return args
    if not isinstance(args, Mapping):
        raise TypeError(f"a Facility takes the aifactory:facility fields or a FacilitySpec, not {type(args).__name__}")
    # Every number crosses the provider protocol as a double: 16.0 is the 16 nodes the caller wrote.
    data = whole_numbers(FacilityArgs, {key: value for key, value in args.items() if value is not None})
    data.setdefault("cloud", cloud)
    return load_facility(data)


class FacilityExports:
    """Mixed into every cloud's `Facility` (before `pulumi.ComponentResource`): built from a spec under
    the spec's name, the same outputs on every cloud, and one `exports()` shape for `__main__.py`.

    The facility sets `region`, `fleets` (fleet name -> GpuFleet, each with `group_names`),
    `filesystems` (filesystem name -> ParallelFilesystem, each with `dns_name`, `mount_name` and
    `mount_command`), `network` and `budget` (a BudgetGuard with `budget_name`, or None), then
    calls `set_outputs()`.
    """

    region: str
    zone: Optional[str]
    network_id: pulumi.Output[str]
    fleet_groups: dict[str, list[str]]
    """Fleet name -> the names of its node groups (Auto Scaling groups, scale sets, MIGs)."""
    filesystem_mount_commands: dict[str, pulumi.Output[str]]
    """Filesystem name -> the command that mounts it on a node."""
    budget_name: Optional[str]

    @classmethod
    def from_spec(cls, spec: FacilitySpec, opts: Optional[pulumi.ResourceOptions] = None):
        return cls(spec.name, spec, opts)

    def set_outputs(self) -> None:
        """The outputs above, from the facility's components."""
        self.zone = getattr(self, "zone", None)
        self.network_id = self.network.network_id
        self.fleet_groups = {name: list(fleet.group_names) for name, fleet in self.fleets.items()}
        self.filesystem_mount_commands = {name: fs.mount_command for name, fs in self.filesystems.items()}
        self.budget_name = self.budget.budget_name if self.budget is not None else None

    def exports(self) -> dict[str, Any]:
        """`{"region", "fleets": {name: [group names]}, "filesystems": {name: {"dns_name", "mount_name"}}, "budget"}`."""
        return {
            "region": self.region,
            "fleets": {name: list(fleet.group_names) for name, fleet in self.fleets.items()},
            "filesystems": {
                name: {"dns_name": fs.dns_name, "mount_name": fs.mount_name} for name, fs in self.filesystems.items()
            },
            "budget": self.budget.budget_name if self.budget is not None else None,
        }
