"""The facility a team declares under the `aifactory:facility` stack config key.

`load_facility(data)` is the one way in: it checks the shape with pydantic, then the
catalog and cloud rules in `aifactory.rules`, and returns a `FacilitySpec` whose fleets
have their instance type and zone resolved. Every problem is reported by its config path
in one `SpecError`, so a bad config is refused before anything is registered.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError

from aifactory.problems import Problem, SpecError

CONFIG_KEY = "aifactory:facility"

Cloud = Literal["aws", "azure", "gcp"]
Capacity = Literal["on-demand", "spot", "reservation", "capacity-block"]
FilesystemKind = Literal["lustre", "parallelstore", "filestore"]

# Lower-case DNS label that also starts with a letter, as Google Cloud resource names require.
DNS_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, str_strip_whitespace=True)


class FleetSpec(_Model):
    name: str = Field(pattern=DNS_LABEL, max_length=16)
    instance_type: str | None = None
    gpu: str | None = None
    gpus_per_node: int | None = Field(default=None, ge=1)
    nodes: int = Field(ge=1, le=100_000)
    capacity: Capacity = "on-demand"
    reservation_id: str | None = None


class NetworkSpec(_Model):
    cidr: str = "10.40.0.0/16"
    nat: bool = False


class FilesystemSpec(_Model):
    name: str = Field(pattern=DNS_LABEL, max_length=16)
    kind: FilesystemKind = "lustre"
    # Exactly one of the two: TiB as the cloud names its sizes (FSx's "1.2 TiB" is 1200 GiB),
    # or GiB as the cloud's API takes them (Google Cloud's Lustre tiers step in GiB).
    capacity_tib: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    capacity_gib: int | None = Field(default=None, gt=0)
    throughput_mbps_per_tib: int | None = Field(default=None, gt=0)
    data_repository: str | None = None
    tier: str | None = None  # Filestore service tier (ZONAL, REGIONAL, ENTERPRISE, ...)


class BudgetSpec(_Model):
    monthly_usd: float = Field(gt=0)
    alert_emails: list[EmailStr] = Field(min_length=1)
    thresholds_pct: list[int] = Field(default_factory=lambda: [50, 80, 100], min_length=1)
    enforce: Literal["none", "stop"] = "none"


class AwsSpec(_Model):
    key_name: str | None = None  # EC2 key pair for SSH; none means SSM access only


class AzureSpec(_Model):
    admin_username: str = Field(default="azureuser", pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    ssh_public_keys: list[str] = Field(default_factory=list)


class GcpSpec(_Model):
    project: str = Field(pattern=r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")
    billing_account: str | None = Field(default=None, pattern=r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$")


class FacilitySpec(_Model):
    name: str = Field(pattern=DNS_LABEL, max_length=24)
    team: str = Field(pattern=DNS_LABEL, max_length=32)
    cloud: Cloud
    region: str = Field(min_length=1)
    zone: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    # Share of the month the nodes draw their maximum power (0 < f <= 1); unset: the catalog default.
    load_factor: float | None = Field(default=None, gt=0, le=1, strict=True, allow_inf_nan=False)
    fleets: list[FleetSpec] = Field(default_factory=list)
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    filesystems: list[FilesystemSpec] = Field(default_factory=list)
    budget: BudgetSpec | None = None
    aws: AwsSpec | None = None
    azure: AzureSpec | None = None
    gcp: GcpSpec | None = None

    @property
    def gpus(self) -> int:
        from aifactory import catalog

        total = 0
        for fleet in self.fleets:
            itype = catalog.instance(self.cloud, fleet.instance_type or "")
            total += fleet.nodes * (itype.gpu_count if itype else 0)
        return total

    def merged_tags(self) -> dict[str, str]:
        """Tags every resource carries: the facility's identity first, the team's own after."""
        return {
            "facility": self.name,
            "team": self.team,
            "managed-by": "aifactory",
            **self.tags,
        }


def config_path(loc: tuple[Any, ...] | list[Any], root: str = CONFIG_KEY) -> str:
    path = root
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _message(error: dict[str, Any]) -> str:
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known key (check the spelling)"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge'):g}"
    if kind == "greater_than":
        return f"must be greater than {ctx.get('gt'):g}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)"
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == DNS_LABEL:
            return "must be DNS-safe: lower-case letters, digits and '-', starting with a letter"
        return f"must match {ctx.get('pattern')}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind == "value_error" and "email" in error.get("msg", ""):
        reason = ctx.get("reason")
        return f"is not a valid email address ({reason})" if reason else "is not a valid email address"
    return error.get("msg", "is invalid").removeprefix("Value error, ")


def _problems_from(error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        loc = list(item["loc"])
        problems.append(Problem(config_path(loc), _message(item)))
    return problems


LISTS = ("fleets", "filesystems")


def _without_invalid_entries(data: dict, error: ValidationError) -> tuple[dict, dict[str, list[int]]] | None:
    """The config minus the list entries and optional sections that failed validation.

    Returned with, per list, the original index of every kept entry, so that rule problems
    found on the rest still name the user's own paths. None when a required key itself failed.
    """
    bad_items: dict[str, set[int]] = {name: set() for name in LISTS}
    bad_sections: set[str] = set()
    for item in error.errors(include_url=False):
        loc = item["loc"]
        if not loc:
            return None
        head = loc[0]
        if head in LISTS and len(loc) > 1 and isinstance(loc[1], int):
            bad_items[head].add(loc[1])
        elif head in ("network", "budget", "tags", "aws", "azure", "gcp", "zone"):
            bad_sections.add(head)
        else:
            return None
    pruned = {key: value for key, value in data.items() if key not in bad_sections}
    kept: dict[str, list[int]] = {}
    for name in LISTS:
        items = data.get(name)
        if isinstance(items, list):
            kept[name] = [i for i in range(len(items)) if i not in bad_items[name]]
            pruned[name] = [items[i] for i in kept[name]]
    return pruned, kept


def _renumbered(problem: Problem, kept: dict[str, list[int]]) -> Problem:
    path = problem.path
    for name, indices in kept.items():
        prefix = f"{CONFIG_KEY}.{name}["
        if path.startswith(prefix):
            index, rest = path[len(prefix) :].split("]", 1)
            path = f"{prefix}{indices[int(index)]}]{rest}"
    return Problem(path, problem.message)


def load_facility(data: Any) -> FacilitySpec:
    """Validate a raw `aifactory:facility` value; return a resolved spec or raise SpecError.

    Shape problems and catalog/cloud rule problems are reported together: when some entries
    fail the shape check, the rules still run on the rest.
    """
    from aifactory import rules

    if not isinstance(data, dict):
        raise SpecError([Problem(CONFIG_KEY, "must be a mapping (see the README for its keys)")])
    try:
        spec = FacilitySpec.model_validate(data)
    except ValidationError as error:
        problems = _problems_from(error)
        partial = _without_invalid_entries(data, error)
        if partial is not None:
            pruned, kept = partial
            try:
                rest = FacilitySpec.model_validate(pruned)
            except ValidationError:
                rest = None
            if rest is not None:
                problems += [_renumbered(p, kept) for p in rules.check(rest)]
        raise SpecError(problems) from None

    problems = rules.check(spec)
    if problems:
        raise SpecError(problems)
    return rules.resolve(spec)
