"""The facility a team declares under the `aifactory:facility` stack config key.

The shape only: strict pydantic models (numbers must be numbers, booleans booleans, no
coercion from text), with bounds every cloud shares. `aifactory.loader.load_facility` is the
one way in: it checks this shape, then the catalog and cloud rules in `aifactory.rules`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator

from aifactory.problems import Problem, SpecError

CONFIG_KEY = "aifactory:facility"

Cloud = Literal["aws", "azure", "gcp"]
Capacity = Literal["on-demand", "spot", "reservation", "capacity-block"]
FilesystemKind = Literal["lustre", "parallelstore", "filestore"]

# Lower-case DNS label that also starts with a letter, as Google Cloud resource names require.
DNS_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"

MAX_FILESYSTEM_TIB = 100_000  # 100 PiB
MAX_MONTHLY_USD = 10_000_000_000  # $10 billion a month: more than 100,000 nodes of any catalog type cost

# OSProfile.adminUsername "Disallowed values" in the Azure compute API reference
# (learn.microsoft.com/javascript/api/@azure/arm-compute/osprofile, read 2026-12-02).
AZURE_RESERVED_ADMIN_USERNAMES = frozenset({
    "administrator", "admin", "user", "user1", "test", "user2", "test1", "user3", "admin1", "1", "123", "a",
    "actuser", "adm", "admin2", "aspnet", "backup", "console", "david", "guest", "john", "owner", "root",
    "server", "sql", "support", "support_388945a0", "sys", "test2", "test3", "user4", "user5",
})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, str_strip_whitespace=True, strict=True)


class FleetSpec(_Model):
    name: str = Field(pattern=DNS_LABEL, max_length=16)
    instance_type: str | None = None
    gpu: str | None = None
    gpus_per_node: int | None = Field(default=None, ge=1, le=64)
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
    # Bounds far above any cloud's largest filesystem (the catalog's steps are the real limits),
    # low enough that every size converts between TiB and GiB without overflowing.
    capacity_tib: float | None = Field(default=None, gt=0, le=MAX_FILESYSTEM_TIB, allow_inf_nan=False)
    capacity_gib: int | None = Field(default=None, gt=0, le=MAX_FILESYSTEM_TIB * 1024)
    throughput_mbps_per_tib: int | None = Field(default=None, gt=0, le=100_000)
    data_repository: str | None = None
    tier: str | None = None  # Filestore service tier (ZONAL, REGIONAL, ENTERPRISE, ...)


class BudgetSpec(_Model):
    monthly_usd: float = Field(gt=0, le=MAX_MONTHLY_USD, allow_inf_nan=False)
    alert_emails: list[EmailStr] = Field(min_length=1)
    thresholds_pct: list[int] = Field(default_factory=lambda: [50, 80, 100], min_length=1)
    enforce: Literal["none", "stop"] = "none"


class AwsSpec(_Model):
    key_name: str | None = None  # EC2 key pair for SSH; none means SSM access only


class AzureSpec(_Model):
    admin_username: str = Field(default="azureuser", pattern=r"^[a-z_][a-z0-9_-]{0,31}$")

    @field_validator("admin_username")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in AZURE_RESERVED_ADMIN_USERNAMES:
            raise ValueError(f"'{value}' is a name Azure refuses for a VM's admin account; choose another (e.g. azureuser)")
        return value
    ssh_public_keys: list[str] = Field(default_factory=list)


class GcpSpec(_Model):
    project: str = Field(pattern=r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")
    billing_account: str | None = Field(default=None, pattern=r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$")


class FacilitySpec(_Model):
    name: str = Field(pattern=DNS_LABEL, max_length=24)
    team: str = Field(pattern=DNS_LABEL, max_length=32)
    cloud: Cloud
    region: str = Field(min_length=1)
    zone: str | None = Field(default=None, min_length=1)
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
        return f"must be at most {_number(ctx.get('le'))}"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)"
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == DNS_LABEL:
            return "must be DNS-safe: lower-case letters, digits and '-', starting with a letter"
        return f"must match {ctx.get('pattern')}"
    if kind in _TYPE_WORDS:
        return f"must be {_TYPE_WORDS[kind]}, not {_kind_of(error.get('input'))}"
    if kind == "finite_number":
        return "must be a finite number"
    if kind == "less_than":
        return f"must be less than {ctx.get('lt')}"
    if kind == "string_too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else f"must be at least {ctx.get('min_length')} characters"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind == "value_error" and "email" in error.get("msg", ""):
        reason = ctx.get("reason")
        return f"is not a valid email address ({reason})" if reason else "is not a valid email address"
    return error.get("msg", "is invalid").removeprefix("Value error, ")


_TYPE_WORDS = {
    "int_type": "a whole number", "int_from_float": "a whole number", "float_type": "a number",
    "bool_type": "true or false", "string_type": "a string (quote it)", "dict_type": "a mapping",
    "list_type": "a list", "model_type": "a mapping", "none_required": "empty",
}


def _number(value: Any) -> str:
    return f"{int(value):,}" if isinstance(value, (int, float)) and float(value).is_integer() else str(value)


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value:g}" if isinstance(value, float) else f"the number {value}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if value is None:
        return "empty"
    return {"list": "a list", "dict": "a mapping"}.get(type(value).__name__, type(value).__name__)


def problems_from(error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        loc = list(item["loc"])
        problems.append(Problem(config_path(loc), _message(item)))
    return problems


