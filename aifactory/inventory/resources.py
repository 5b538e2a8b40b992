"""One resource as the engine hands it to an analyzer, and the small readers every cloud shares."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aifactory import catalog
from aifactory.inventory.values import MISSING, UNKNOWN, as_float, as_int, lookup, plain

if TYPE_CHECKING:
    from aifactory.inventory.reader import Reader


@dataclass
class Resource:
    """One resource as the engine hands it to an analyzer (the fields the inventory reads)."""

    urn: str
    type: str
    name: str
    inputs: dict
    parent: str | None = None
    provider: str | None = None
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    protect: bool = False
    retain_on_delete: bool = False

    @property
    def cloud(self) -> str | None:
        return cloud_of(self.type)

    @property
    def is_provider(self) -> bool:
        return self.type.startswith("pulumi:providers:")

    def get(self, *path: str | int) -> Any:
        """`lookup` on the inputs, treating a top-level input that an Output feeds but that is
        absent (dropped because it was unknown) as UNKNOWN."""
        value = lookup(self.inputs, *path)
        if value is MISSING and path and isinstance(path[0], str) and self.property_dependencies.get(path[0]):
            if lookup(self.inputs, path[0]) is MISSING:
                return UNKNOWN
        return value

    def deps_of(self, key: str) -> list[str]:
        return list(self.property_dependencies.get(key) or ())


def as_resource(obj: Any, *, with_inputs: bool = True) -> Resource:
    """A `Resource` from a dict (the preview JSON or a hand-built one), a recorded resource, or
    anything else with `urn`, `type`, `name`, `inputs` attributes (a `PolicyResource`'s `props`).
    `with_inputs=False` leaves the inputs out (for resources no reader looks into)."""
    if isinstance(obj, Resource):
        return obj
    if isinstance(obj, Mapping):
        get = obj.get
    else:

        def get(key: str, default: Any = None) -> Any:
            return getattr(obj, key, default)

    urn = get("urn")
    rtype = canonical_type(get("type") or get("resource_type") or _type_of_urn(urn))
    inputs = None
    if with_inputs:
        inputs = get("inputs")
        if inputs is None:
            inputs = get("props")
    pdeps = get("property_dependencies")
    if pdeps is None:
        pdeps = get("propertyDependencies")
    return Resource(
        urn=urn,
        type=rtype,
        name=get("name") or _name_of_urn(urn),
        inputs=plain(inputs or {}),
        parent=_urn_of(get("parent")),
        provider=_urn_of(get("provider")),
        dependencies=[u for u in (_urn_of(d) for d in get("dependencies") or ()) if u],
        property_dependencies={k: [u for u in (_urn_of(d) for d in v or ()) if u] for k, v in (pdeps or {}).items()},
        protect=bool(get("protect", False) or getattr(get("opts"), "protect", False)),
        retain_on_delete=bool(get("retain_on_delete", False) or get("retainOnDelete", False)),
    )


_AZURE_VERSIONED = re.compile(r"^azure-native:([A-Za-z]+)/v[0-9a-z]+:")


def canonical_type(resource_type: str) -> str:
    """A type token as the inventory knows it: Azure's API-versioned tokens
    (`azure-native:compute/v20240301:VirtualMachineScaleSet`) name the same resource unversioned."""
    return _AZURE_VERSIONED.sub(r"azure-native:\1:", resource_type) if resource_type else resource_type


def _urn_of(ref: Any) -> str | None:
    if ref is None or ref == "":
        return None
    if isinstance(ref, str):
        # A provider reference may carry its ID: "<urn>::<id>".
        if ref.startswith("urn:pulumi:") and ref.count("::") > 3:
            return ref.rsplit("::", 1)[0]
        return ref
    return getattr(ref, "urn", None)


def _type_of_urn(urn: str | None) -> str:
    if not urn:
        return ""
    qualified = urn.split("::")[2] if urn.count("::") >= 3 else ""
    return qualified.rsplit("$", 1)[-1]


def _name_of_urn(urn: str | None) -> str:
    return urn.rsplit("::", 1)[-1] if urn else ""


def cloud_of(resource_type: str) -> str | None:
    if resource_type.startswith(("aws:", "pulumi:providers:aws")):
        return "aws"
    if resource_type.startswith(("azure-native:", "pulumi:providers:azure-native", "azure:", "pulumi:providers:azure")):
        return "azure"
    if resource_type.startswith(("gcp:", "google-native:", "pulumi:providers:gcp")):
        return "gcp"
    return None



ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


def resource_tags(res: Resource) -> dict[str, Any]:
    """Tags on a resource: a map, or the AWS Auto Scaling group's list of {key, value}."""
    tags = res.get("tags")
    if isinstance(tags, Mapping):
        return dict(tags)
    out: dict[str, Any] = {}
    if isinstance(tags, list):
        for item in tags:
            if isinstance(item, Mapping) and isinstance(item.get("key"), str):
                out[item["key"]] = item.get("value")
    return out


def capacity_gib(reader: Reader, res: Resource, path: tuple[str, ...], scale: float = 1.0) -> int | None:
    value = as_float(res.get(*path))
    if value is UNKNOWN or value is MISSING:
        reader.note("filesystem capacity", res, ".".join(path))
        return None
    return int(round(value * scale))


def throughput(reader: Reader, res: Resource, path: tuple[str, ...], required: bool = True) -> int | None:
    value = as_int(res.get(*path))
    if value is UNKNOWN or (value is MISSING and required):
        reader.note("filesystem throughput tier", res, ".".join(path))
        return None
    return None if value is MISSING else value



@dataclass(frozen=True)
class BudgetTerms:
    """What a budget resource says about its amount, read by its cloud's module."""

    amount: Any  # a float, UNKNOWN or MISSING
    path: str  # the input the amount comes from
    period: Any  # the cloud's period name, UNKNOWN, or None for a fixed amount
    foreign: bool = False  # in a currency other than USD


def _worst_rank(cloud: str, instance_type: str) -> tuple:
    itype = catalog.instance(cloud, instance_type)
    if itype is None:
        return (2, 0.0, 0)  # not catalogued: its power is unknown, so the gate must say so
    if itype.node_power_w is None:
        return (1, 0.0, itype.gpu_count)
    return (0, itype.node_power_w, itype.gpu_count)


def worst_type(cloud: str, candidates: list[tuple[Any, str]], is_gpu: Callable[[str], bool]) -> tuple[Any, str]:
    """Of the instance types a group may launch, (type, input path) the gates must assume: the
    first unknown one if any is unknown, else the GPU type drawing the most node power (one the
    catalog lacks, or lacks a power figure for, ranks first so its gap fails the gate); MISSING if
    none carries GPUs."""
    for value, path in candidates:
        if value is UNKNOWN:
            return UNKNOWN, path
    gpus = [(v, p) for v, p in candidates if isinstance(v, str) and is_gpu(v)]
    if not gpus:
        return MISSING, ""
    return max(gpus, key=lambda pair: _worst_rank(cloud, pair[0]))


def node_counts(reader: Reader, res: Resource, desired: tuple[Any, str],
                maxima: Iterable[tuple[Any, str]] = ()) -> tuple[int | None, int | None]:
    """(most nodes, desired nodes) of a group: the largest of its desired count and every maximum it
    may scale to. An unknown value, or no count at all, is noted and makes the most None."""
    value, path = desired
    want = as_int(value)
    most = None if want is UNKNOWN or want is MISSING else want
    unknown = path if want is UNKNOWN else None
    for value, where in maxima:
        bound = as_int(value)
        if bound is UNKNOWN:
            unknown = unknown or where
        elif bound is not MISSING:
            most = bound if most is None else max(most, bound)
    if unknown is None and most is None:
        unknown = path
    if unknown is not None:
        reader.note("node count", res, unknown)
        return None, None
    return most, (want if isinstance(want, int) and want < most else None)


def per_node_units(values: list[Any]) -> Any:
    """The smallest capacity a launched node may count for, of a fleet's weights (default 1)."""
    weights = []
    for value in values:
        weight = as_float(value)
        if weight is UNKNOWN:
            return UNKNOWN
        weights.append(1.0 if weight is MISSING else weight)
    return min(weights) if weights else 1.0


def instances_for(units: Any, per_node: Any) -> Any:
    """How many nodes a target of `units` may launch when each counts for at least `per_node`."""
    if units is UNKNOWN or per_node is UNKNOWN:
        return UNKNOWN
    if units is MISSING:
        return MISSING
    if not per_node or per_node <= 0:
        return UNKNOWN
    return math.ceil(float(units) / per_node - 1e-9)
