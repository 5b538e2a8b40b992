"""What a set of resources holds: GPU node groups, parallel filesystems, budgets.

The estimator and the policy pack read the same `Inventory`, so the report and the pack
always agree. `from_spec` builds one from a facility spec (before any program runs);
`from_resources` builds one from the resources a Pulumi program registers -- any program,
not only ours: it reads resource types and inputs (camelCase, as the engine sends them),
follows group -> template links through dependencies, and takes the region from the
resource or else its provider.

A value that is unknown during a preview (the engine's unknown sentinel, the recorder's
``"<unknown>"``, or an input missing although an Output feeds it) becomes None in the
inventory *and* is listed in `Inventory.unknowns`, so a gate can say what it cannot prove
instead of silently passing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from aifactory import catalog

# --------------------------------------------------------------------------- the inventory


@dataclass(frozen=True)
class GpuGroup:
    name: str
    cloud: str
    region: str | None
    instance_type: str | None
    nodes: int | None  # None: unknown at preview
    capacity: str = "on-demand"
    zone: str | None = None
    urn: str | None = None
    resource_type: str | None = None  # the Pulumi type token the group was read from

    @property
    def instance(self) -> catalog.InstanceType | None:
        return catalog.instance(self.cloud, self.instance_type or "")

    @property
    def gpus(self) -> int | None:
        itype = self.instance
        if itype is None or self.nodes is None:
            return None
        return itype.gpu_count * self.nodes


@dataclass(frozen=True)
class Filesystem:
    name: str
    cloud: str
    region: str | None
    kind: str
    throughput_mbps_per_tib: int | None
    capacity_gib: int | None
    urn: str | None = None
    tier: str | None = None  # a service tier that is its own SKU (Filestore: ZONAL, REGIONAL, ...)

    @property
    def sku(self) -> catalog.StorageSku | None:
        if self.tier:
            for sku in catalog.storage_skus(self.cloud, self.kind):
                if sku.sku.upper() == self.tier.upper():
                    return sku
        return catalog.storage_sku(self.cloud, self.kind, self.throughput_mbps_per_tib)


@dataclass(frozen=True)
class Budget:
    name: str
    cloud: str
    monthly_usd: float | None
    urn: str | None = None
    # URNs of the GPU groups and filesystems this budget provably covers, and of those it may
    # cover but whose coverage depends on a value unknown at preview.
    covers: tuple[str, ...] = ()
    may_cover: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unknown:
    """A value a gate needs that is not known at preview: what it is, on which resource."""

    what: str  # "node count", "instance type", "region", "budget amount", ...
    urn: str | None
    path: str = ""  # the input it comes from, e.g. "desiredCapacity"

    def __str__(self) -> str:
        where = f" ({self.path})" if self.path else ""
        return f"{self.what} of {self.urn}{where} is unknown at preview"


@dataclass
class Inventory:
    cloud: str | None = None
    groups: list[GpuGroup] = field(default_factory=list)
    filesystems: list[Filesystem] = field(default_factory=list)
    budgets: list[Budget] = field(default_factory=list)
    unknowns: list[Unknown] = field(default_factory=list)

    @property
    def gpus(self) -> int:
        return sum(g.gpus or 0 for g in self.groups)

    def unknowns_of(self, urn: str | None) -> list[Unknown]:
        return [u for u in self.unknowns if u.urn == urn]

    def unknowns_by_urn(self) -> dict[str | None, list[Unknown]]:
        index: dict[str | None, list[Unknown]] = {}
        for u in self.unknowns:
            index.setdefault(u.urn, []).append(u)
        return index


def from_spec(spec: Any) -> Inventory:
    """The inventory a (resolved) facility spec asks for."""
    groups = [
        GpuGroup(
            name=fleet.name,
            cloud=spec.cloud,
            region=spec.region,
            zone=spec.zone,
            instance_type=fleet.instance_type,
            nodes=fleet.nodes,
            capacity=fleet.capacity,
        )
        for fleet in spec.fleets
    ]
    filesystems = []
    for fs in spec.filesystems:
        tier = getattr(fs, "tier", None) if fs.kind == "filestore" else None
        probe = Filesystem(fs.name, spec.cloud, spec.region, fs.kind, fs.throughput_mbps_per_tib, None, tier=tier)
        sku = probe.sku
        per_tib = sku.gib_per_tib if sku else 1024
        filesystems.append(
            Filesystem(
                name=fs.name,
                cloud=spec.cloud,
                region=spec.region,
                kind=fs.kind,
                throughput_mbps_per_tib=fs.throughput_mbps_per_tib,
                capacity_gib=fs.capacity_gib if getattr(fs, "capacity_gib", None) is not None else round(fs.capacity_tib * per_tib),
                tier=tier,
            )
        )
    budgets = [Budget(f"{spec.name}-budget", spec.cloud, spec.budget.monthly_usd)] if spec.budget else []
    return Inventory(cloud=spec.cloud, groups=groups, filesystems=filesystems, budgets=budgets)


# --------------------------------------------------------------------------- reading values

# What "unknown at preview" looks like: the recorder's marker (aifactory.recording.UNKNOWN) and the
# engine's wire sentinels (pulumi.runtime.rpc.UNKNOWN and the typed ones pulumi_policy knows).
RECORDED_UNKNOWN = "<unknown>"
UNKNOWN_SENTINELS = frozenset(
    {
        RECORDED_UNKNOWN,
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string (the SDK's rpc.UNKNOWN)
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Marker("UNKNOWN")  # a value that exists but is not known at preview
MISSING: Any = _Marker("MISSING")  # no value at all


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in UNKNOWN_SENTINELS)


def lookup(data: Any, *path: str | int) -> Any:
    """The value at `path` inside `data`; UNKNOWN if it or a container on the way is unknown,
    MISSING if it is absent."""
    value = data
    for key in path:
        if value in UNKNOWN_SENTINELS if type(value) is str else type(value) is not dict and is_unknown(value):
            return UNKNOWN
        if type(value) is dict and type(key) is str:  # the common case, as below
            value = value.get(key)
            if value is None:
                return MISSING
            continue
        if isinstance(key, int):
            if not isinstance(value, (list, tuple)) or not -len(value) <= key < len(value):
                return MISSING
            value = value[key]
        else:
            if not isinstance(value, Mapping) or key not in value or value[key] is None:
                return MISSING
            value = value[key]
    if value in UNKNOWN_SENTINELS if type(value) is str else type(value) is not dict and is_unknown(value):
        return UNKNOWN
    return value


def as_int(value: Any) -> Any:
    """A count from the engine (numbers arrive as floats, some SDKs send numeric strings)."""
    number = as_float(value)
    return number if number is UNKNOWN or number is MISSING else int(round(number))


def as_float(value: Any) -> Any:
    if value is UNKNOWN or value is MISSING:
        return value
    if isinstance(value, bool):
        return MISSING
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return MISSING
    return MISSING


def as_bool(value: Any) -> Any:
    """Booleans as the providers send them: true/false, or "true"/"false" (AWS launch templates)."""
    if value is UNKNOWN or value is MISSING:
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return MISSING


def as_mapping(value: Any) -> Any:
    """A map input; provider config arrives JSON-encoded (`defaultTags: "{\\"tags\\": ...}"`)."""
    if value is UNKNOWN or value is MISSING:
        return value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return MISSING
    return value if isinstance(value, Mapping) else MISSING


_SCALARS = (str, int, float, bool, type(None))
_DICT_PROXIES = ("_DictProxy", "_DictSecretsProxy")
_LIST_PROXIES = ("_ListProxy", "_ListSecretsProxy")


def plain(value: Any) -> Any:
    """Plain dicts and lists from whatever mapping/sequence proxies carry them (pulumi_policy wraps
    inputs in proxies that raise on unknown values; reading through them here never raises).
    Plain dicts and lists (the recorder's, JSON's) are returned as they are."""
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return value
    name = kind.__name__
    if name in _DICT_PROXIES:
        # Most members are scalars: keep them without a call (what plain() would return).
        return {k: v if type(v) in _PLAIN_TYPES else plain(v) for k, v in value["__target"].items()}
    if name in _LIST_PROXIES:
        return [v if type(v) in _PLAIN_TYPES else plain(v) for v in value["__target"]]
    if isinstance(value, Mapping):
        return {k: plain(value[k]) for k in value}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


_PLAIN_TYPES = frozenset({*_SCALARS, dict, list})


# --------------------------------------------------------------------------- resources


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
    rtype = get("type") or get("resource_type") or _type_of_urn(urn)
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


# --------------------------------------------------------------------------- types read

AWS_ASG = "aws:autoscaling/group:Group"
AWS_LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
AWS_INSTANCE = "aws:ec2/instance:Instance"
AWS_EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
AWS_FSX_LUSTRE = "aws:fsx/lustreFileSystem:LustreFileSystem"
AWS_BUDGET = "aws:budgets/budget:Budget"
AZURE_VMSS = "azure-native:compute:VirtualMachineScaleSet"
AZURE_VM = "azure-native:compute:VirtualMachine"
AZURE_AKS_POOL = "azure-native:containerservice:AgentPool"
AZURE_AML = "azure-native:storagecache:AmlFilesystem"
AZURE_BUDGET = "azure-native:consumption:Budget"
GCP_MIG = "gcp:compute/instanceGroupManager:InstanceGroupManager"
GCP_REGION_MIG = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"
GCP_TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
GCP_REGION_TEMPLATE = "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"
GCP_INSTANCE = "gcp:compute/instance:Instance"
GCP_NODE_POOL = "gcp:container/nodePool:NodePool"
GCP_LUSTRE = "gcp:lustre/instance:Instance"
GCP_PARALLELSTORE = "gcp:parallelstore/instance:Instance"
GCP_FILESTORE = "gcp:filestore/instance:Instance"
GCP_BUDGET = "gcp:billing/budget:Budget"

GROUP_TYPES = frozenset({AWS_ASG, AWS_EKS_NODE_GROUP, AZURE_VMSS, AZURE_AKS_POOL, GCP_MIG, GCP_REGION_MIG, GCP_NODE_POOL})
TEMPLATE_TYPES = frozenset({AWS_LAUNCH_TEMPLATE, GCP_TEMPLATE, GCP_REGION_TEMPLATE})
SINGLE_NODE_TYPES = frozenset({AWS_INSTANCE, AZURE_VM, GCP_INSTANCE})
NODE_TYPES = GROUP_TYPES | TEMPLATE_TYPES | SINGLE_NODE_TYPES
FILESYSTEM_TYPES = frozenset({AWS_FSX_LUSTRE, AZURE_AML, GCP_LUSTRE, GCP_PARALLELSTORE, GCP_FILESTORE})
BUDGET_TYPES = frozenset({AWS_BUDGET, AZURE_BUDGET, GCP_BUDGET})

AZURE_RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
# Every type whose inputs the inventory reads (besides providers).
READ_TYPES = NODE_TYPES | FILESYSTEM_TYPES | BUDGET_TYPES | {AZURE_RESOURCE_GROUP}

INSTANCE_TYPE_TAG = "aifactory:instance-type"  # literal fallback on an AWS Auto Scaling group
CAPACITY_TAG = "aifactory:capacity"  # optional literal capacity type on an Auto Scaling group
ZONE_TAG = "aifactory:zone"  # optional literal zone on an Auto Scaling group (it names subnets, not zones)

# Families that carry GPUs even when the catalog does not know the exact type, so a group of
# one is still counted (and named as a catalog gap) rather than ignored.
_GPU_FAMILIES = {
    "aws": re.compile(r"^(p\d|g\d|trn\d|inf\d|dl\d)", re.I),
    "azure": re.compile(r"^standard_n", re.I),
    "gcp": re.compile(r"^(a\d|g\d)-", re.I),
}


def is_gpu_type(cloud: str | None, instance_type: str | None) -> bool:
    if not cloud or not instance_type:
        return False
    if catalog.instance(cloud, instance_type) is not None:
        return True
    pattern = _GPU_FAMILIES.get(cloud)
    return bool(pattern and pattern.match(instance_type))


def machine_type_name(value: str) -> str:
    """`zones/us-central1-a/machineTypes/a3-highgpu-8g` (or a URL) -> `a3-highgpu-8g`."""
    return value.rstrip("/").rsplit("/", 1)[-1]


# --------------------------------------------------------------------------- regions

_AWS_ZONE = re.compile(r"^([a-z]{2}(?:-[a-z]+)+-\d+)[a-z]$")
_GCP_ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")


def region_of_zone(cloud: str | None, zone: str) -> str | None:
    if cloud == "aws":
        m = _AWS_ZONE.match(zone)
        return m.group(1) if m else None
    if cloud == "gcp":
        m = _GCP_ZONE.match(zone)
        return m.group(1) if m else None
    return None


def normalize_region(cloud: str | None, region: str) -> str:
    if cloud == "azure":
        return region.replace(" ", "").lower()
    return region


@dataclass(frozen=True)
class Placement:
    region: str | None
    zone: str | None
    unknown: str | None = None  # the input path that made the region unknown
    source: str = ""  # "resource" | "provider" | ""


def placement(res: Resource, provider_inputs: Mapping[str, Any] | None) -> Placement:
    """Region and zone of a resource: its own region/location/zone inputs, else its provider's."""
    cloud = res.cloud
    zone: str | None = None
    # A zone on the resource itself.
    for path in (("zone",), ("availabilityZone",), ("placement", "availabilityZone"), ("availabilityZones", 0),
                 ("zones", 0), ("nodeLocations", 0), ("distributionPolicyZones", 0)):
        value = res.get(*path)
        if isinstance(value, str) and value:
            zone = value
            break
    for path in (("region",), ("location",)):
        value = res.get(*path)
        if value is UNKNOWN:
            return Placement(None, zone, ".".join(map(str, path)), "resource")
        if isinstance(value, str) and value:
            if cloud == "gcp" and _GCP_ZONE.match(value):  # a GCP location that is a zone
                return Placement(region_of_zone(cloud, value), zone or value, None, "resource")
            if cloud == "azure" and value.lower() == "global":
                break
            return Placement(normalize_region(cloud, value), zone, None, "resource")
    if zone:
        region = region_of_zone(cloud, zone)
        if region:
            return Placement(region, zone, None, "resource")
    if res.get("zone") is UNKNOWN:
        return Placement(None, None, "zone", "resource")
    if provider_inputs:
        prov = Resource(urn="", type="", name="", inputs=dict(provider_inputs))
        for key in ("region", "location"):
            value = prov.get(key)
            if value is UNKNOWN:
                return Placement(None, zone, f"provider.{key}", "provider")
            if isinstance(value, str) and value:
                pzone = prov.get("zone")
                return Placement(normalize_region(cloud, value), zone or (pzone if isinstance(pzone, str) else None),
                                 None, "provider")
        pzone = prov.get("zone")
        if isinstance(pzone, str) and pzone:
            return Placement(region_of_zone(cloud, pzone), zone or pzone, None, "provider")
    return Placement(None, zone, None, "")


# --------------------------------------------------------------------------- building


class _Reader:
    def __init__(self, resources: Iterable[Any], providers: Mapping[str, Mapping[str, Any]] | None) -> None:
        self.resources = [as_resource(r) for r in resources]
        self.by_urn = {r.urn: r for r in self.resources}
        self.providers: dict[str, Mapping[str, Any]] = {r.urn: r.inputs for r in self.resources if r.is_provider}
        self.providers.update(providers or {})
        self.unknowns: list[Unknown] = []
        self._name_index: dict[str, list[Resource]] | None = None

    def note(self, what: str, res: Resource, path: str) -> None:
        self.unknowns.append(Unknown(what, res.urn, path))

    def provider_inputs(self, res: Resource) -> Mapping[str, Any] | None:
        return self.providers.get(res.provider) if res.provider else None

    def placement(self, res: Resource, *, note: bool = True) -> Placement:
        where = placement(res, self.provider_inputs(res))
        if note:
            self.note_placement(res, where)
        return where

    def note_placement(self, res: Resource, where: Placement) -> None:
        if where.unknown:
            self.note("region", res, where.unknown)
        elif where.region is None:
            self.note("region", res, "set on neither the resource nor its provider")

    def linked(self, res: Resource, key: str, types: frozenset[str] | set[str], literal: Any = MISSING) -> Resource | None:
        """The resource of one of `types` that input `key` points at: by a literal ID/name/self
        link it carries, else by the property dependency (or, failing that, any dependency)."""
        if isinstance(literal, str) and literal:
            ref = literal.split("?", 1)[0]  # a GCP selfLinkUnique ends in ?uniqueId=...
            for name in (ref, ref.rstrip("/").rsplit("/", 1)[-1]):
                for other in self._names().get(name, ()):
                    if other.type in types:
                        return other
        candidates = [self.by_urn[u] for u in res.deps_of(key) if u in self.by_urn and self.by_urn[u].type in types]
        if candidates:
            return candidates[0]
        if isinstance(literal, str) and literal:
            return None  # a literal reference to something outside the program
        loose = [self.by_urn[u] for u in res.dependencies if u in self.by_urn and self.by_urn[u].type in types]
        return loose[0] if len(loose) == 1 else None

    def _names(self) -> dict[str, list[Resource]]:
        """Templates by every literal that can designate them (resource name, name input, ID)."""
        if self._name_index is None:
            self._name_index = {}
            for other in self.resources:
                if other.type not in TEMPLATE_TYPES:
                    continue
                names = {other.name, f"{other.name}_id"}  # the ID the recording mocks hand out
                for key in ("name", "namePrefix", "id"):
                    value = other.inputs.get(key)
                    if isinstance(value, str) and value and not is_unknown(value):
                        names.add(value)
                for name in names:
                    self._name_index.setdefault(name, []).append(other)
        return self._name_index


def from_resources(
    resources: Iterable[Any], providers: Mapping[str, Mapping[str, Any]] | None = None
) -> Inventory:
    """The inventory a list of registered resources holds.

    `resources` are dicts or objects with `urn, type, name, inputs` (or `props`), `parent`,
    `provider` (a URN, or None for the default provider), `dependencies` and
    `property_dependencies`; provider resources among them (`pulumi:providers:*`) supply the
    region of the resources that use them. `providers` maps further provider URNs to their
    inputs (a policy pack sees a resource's provider, not always as a resource of its own).
    """
    reader = _Reader(resources, providers)
    groups: list[GpuGroup] = []
    used_templates: set[str] = set()

    # Groups first: they claim the templates they launch.
    for res in reader.resources:
        if res.type in GROUP_TYPES:
            group = _GROUP_READERS[res.type](reader, res, used_templates)
            if group is not None:
                groups.append(group)
    for res in reader.resources:
        if res.type in SINGLE_NODE_TYPES:
            group = _SINGLE_READERS[res.type](reader, res, used_templates)
            if group is not None:
                groups.append(group)
    for res in reader.resources:
        if res.type in TEMPLATE_TYPES and res.urn not in used_templates:
            group = _orphan_template(reader, res)
            if group is not None:
                groups.append(group)

    filesystems = [fs for res in reader.resources if res.type in FILESYSTEM_TYPES
                   if (fs := _FILESYSTEM_READERS[res.type](reader, res)) is not None]
    scopes = _Scopes(reader, groups, filesystems)
    budgets = [b for res in reader.resources if res.type in BUDGET_TYPES
               if (b := _read_budget(reader, res, scopes)) is not None]

    groups, filesystems = _named(reader, groups), _named(reader, filesystems)
    budgets = _named(reader, budgets, relative=False)
    clouds = [g.cloud for g in groups] + [f.cloud for f in filesystems] + [b.cloud for b in budgets]
    cloud = max(set(clouds), key=clouds.count) if clouds else None
    return Inventory(cloud=cloud, groups=groups, filesystems=filesystems, budgets=budgets, unknowns=reader.unknowns)


ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


def _named(reader: _Reader, items: list, *, relative: bool = True) -> list:
    """Items renamed after the component that holds them, as a facility's author names them.

    A resource directly under the stack keeps its own name. One inside a component (a fleet, a
    filesystem) takes the component's name relative to the component above it: the group
    `vision-prod-trainers` of fleet component `vision-prod-trainers` in facility `vision-prod` is
    `trainers`, as in the spec and `from_spec`; siblings of one component (a fleet split into
    several groups) keep what tells them apart (`trainers-001`). `relative=False` keeps the
    component's full name (a budget guard `vision-prod-budget`)."""
    siblings: dict[str, int] = {}
    for item in items:
        res = reader.by_urn.get(item.urn or "")
        if res is not None and res.parent:
            siblings[res.parent] = siblings.get(res.parent, 0) + 1
    out = []
    for item in items:
        res = reader.by_urn.get(item.urn or "")
        parent = reader.by_urn.get(res.parent or "") if res is not None else None
        if parent is None or parent.type == ROOT_STACK_TYPE:
            out.append(item)
            continue
        base = parent.name
        grand = reader.by_urn.get(parent.parent or "")
        if relative and grand is not None and grand.type != ROOT_STACK_TYPE and base.startswith(grand.name + "-"):
            base = base[len(grand.name) + 1:]
        name = base
        if siblings.get(parent.urn, 0) > 1:
            name = base + res.name[len(parent.name):] if res.name.startswith(parent.name) else f"{base}/{res.name}"
        out.append(replace(item, name=name))
    return out


# --------------------------------------------------------------------------- AWS


def _aws_capacity(res: Resource) -> str:
    market = res.get("instanceMarketOptions", "marketType")
    if isinstance(market, str):
        if market.lower() == "spot":
            return "spot"
        if market.lower() == "capacity-block":
            return "capacity-block"
    if isinstance(res.get("instanceMarketOptions", "spotOptions"), Mapping):
        return "spot"
    target = res.get("capacityReservationSpecification", "capacityReservationTarget")
    if target is not MISSING:
        return "reservation"
    return "on-demand"


def _aws_launch_template_of(reader: _Reader, res: Resource, used: set[str]) -> Resource | None:
    spec = res.get("launchTemplate")
    if spec is not MISSING:
        literal = lookup(spec, "id") if isinstance(spec, Mapping) else MISSING
        if literal is MISSING and isinstance(spec, Mapping):
            literal = lookup(spec, "name")
        lt = reader.linked(res, "launchTemplate", {AWS_LAUNCH_TEMPLATE}, literal)
        if lt is not None:
            used.add(lt.urn)
            return lt
    spec = res.get("mixedInstancesPolicy", "launchTemplate", "launchTemplateSpecification")
    if spec is not MISSING:
        literal = lookup(spec, "launchTemplateId") if isinstance(spec, Mapping) else MISSING
        if literal is MISSING and isinstance(spec, Mapping):
            literal = lookup(spec, "launchTemplateName")
        lt = reader.linked(res, "mixedInstancesPolicy", {AWS_LAUNCH_TEMPLATE}, literal)
        if lt is not None:
            used.add(lt.urn)
            return lt
    return None


def resource_tags(res: Resource) -> dict[str, Any]:
    """Tags on an AWS resource: a map, or the Auto Scaling group's list of {key, value}."""
    tags = res.get("tags")
    if isinstance(tags, Mapping):
        return dict(tags)
    out: dict[str, Any] = {}
    if isinstance(tags, list):
        for item in tags:
            if isinstance(item, Mapping) and isinstance(item.get("key"), str):
                out[item["key"]] = item.get("value")
    return out


def _read_asg(reader: _Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    where = reader.placement(res, note=False)
    lt = _aws_launch_template_of(reader, res, used)
    tags = resource_tags(res)
    itype: Any = MISSING
    capacity = "on-demand"
    itype_path = "launchTemplate"
    overrides = res.get("mixedInstancesPolicy", "launchTemplate", "overrides")
    if isinstance(overrides, list) and overrides:
        itype = lookup(overrides, 0, "instanceType")
        itype_path = "mixedInstancesPolicy.launchTemplate.overrides[0].instanceType"
    if (itype is MISSING or itype is UNKNOWN) and lt is not None:
        itype, capacity = lt.get("instanceType"), _aws_capacity(lt)
        itype_path = f"{lt.urn}: instanceType"
    elif lt is not None:
        capacity = _aws_capacity(lt)
    if (itype is MISSING or itype is UNKNOWN) and isinstance(tags.get(INSTANCE_TYPE_TAG), str) and not is_unknown(tags[INSTANCE_TYPE_TAG]):
        itype = tags[INSTANCE_TYPE_TAG]
    if isinstance(tags.get(CAPACITY_TAG), str) and tags[CAPACITY_TAG] in catalog.CAPACITY_TYPES:
        capacity = tags[CAPACITY_TAG]
    dist = res.get("mixedInstancesPolicy", "instancesDistribution")
    if isinstance(dist, Mapping):
        base = as_int(lookup(dist, "onDemandBaseCapacity"))
        pct = as_int(lookup(dist, "onDemandPercentageAboveBaseCapacity"))
        if pct == 0 and base in (MISSING, 0):
            capacity = "spot"
    if itype is MISSING:
        linked = bool(res.deps_of("launchTemplate") or res.deps_of("mixedInstancesPolicy")
                      or res.get("launchTemplate") is UNKNOWN)
        if not linked:
            return None  # an Auto Scaling group of nothing we can read
        itype = UNKNOWN
    if itype is UNKNOWN:
        reader.note("instance type", res, itype_path)
        itype = None
    elif not is_gpu_type("aws", itype):
        return None
    nodes = as_int(res.get("desiredCapacity"))
    if nodes is MISSING:
        nodes = as_int(res.get("minSize"))
        path = "minSize"
    else:
        path = "desiredCapacity"
    if nodes is UNKNOWN or nodes is MISSING:
        reader.note("node count", res, path)
        nodes = None
    zone = where.zone
    azs = res.get("availabilityZones")
    if isinstance(azs, list) and len(azs) > 1:
        zone = None
    if zone is None and lt is not None:
        lt_zone = lt.get("placement", "availabilityZone")
        zone = lt_zone if isinstance(lt_zone, str) else None
    if zone is None and isinstance(tags.get(ZONE_TAG), str) and not is_unknown(tags[ZONE_TAG]):
        zone = tags[ZONE_TAG]
    reader.note_placement(res, where)
    return GpuGroup(res.name, "aws", where.region, itype, nodes, capacity, zone, res.urn, res.type)


def _read_eks_node_group(reader: _Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    where = reader.placement(res, note=False)
    lt = _aws_launch_template_of(reader, res, used)
    itype = res.get("instanceTypes", 0)
    if itype is MISSING and lt is not None:
        itype = lt.get("instanceType")
    if itype is MISSING:
        return None
    if itype is UNKNOWN:
        reader.note("instance type", res, "instanceTypes")
        itype = None
    elif not is_gpu_type("aws", itype):
        return None
    nodes = as_int(res.get("scalingConfig", "desiredSize"))
    if nodes is UNKNOWN or nodes is MISSING:
        reader.note("node count", res, "scalingConfig.desiredSize")
        nodes = None
    kind = res.get("capacityType")
    capacity = {"SPOT": "spot", "CAPACITY_BLOCK": "capacity-block"}.get(kind, "on-demand") if isinstance(kind, str) else "on-demand"
    if lt is not None and capacity == "on-demand":
        capacity = _aws_capacity(lt)
    reader.note_placement(res, where)
    return GpuGroup(res.name, "aws", where.region, itype, nodes, capacity, where.zone, res.urn, res.type)


def _read_aws_instance(reader: _Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    lt = _aws_launch_template_of(reader, res, used)
    itype = res.get("instanceType")
    capacity = _aws_capacity(res)
    if itype is MISSING and lt is not None:
        itype = lt.get("instanceType")
        capacity = _aws_capacity(lt) if capacity == "on-demand" else capacity
    if itype is MISSING:
        return None
    where = reader.placement(res, note=False)
    if itype is UNKNOWN:
        reader.note("instance type", res, "instanceType")
        itype = None
    elif not is_gpu_type("aws", itype):
        return None
    reader.note_placement(res, where)
    return GpuGroup(res.name, "aws", where.region, itype, 1, capacity, where.zone, res.urn, res.type)


# --------------------------------------------------------------------------- Azure


def _azure_capacity(profile_priority: Any, reservation: Any) -> str:
    if isinstance(profile_priority, str) and profile_priority.lower() in ("spot", "low"):
        return "spot"
    if reservation is not MISSING:
        return "reservation"
    return "on-demand"


def _read_vmss(reader: _Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    itype = res.get("sku", "name")
    if itype is MISSING:
        return None
    where = reader.placement(res, note=False)
    if itype is UNKNOWN:
        reader.note("instance type", res, "sku.name")
        itype = None
    elif not is_gpu_type("azure", itype):
        return None
    nodes = as_int(res.get("sku", "capacity"))
    if nodes is UNKNOWN or nodes is MISSING:
        reader.note("node count", res, "sku.capacity")
        nodes = None
    capacity = _azure_capacity(res.get("virtualMachineProfile", "priority"),
                               res.get("virtualMachineProfile", "capacityReservation", "capacityReservationGroup"))
    reader.note_placement(res, where)
    return GpuGroup(res.name, "azure", where.region, itype, nodes, capacity, where.zone, res.urn, res.type)


def _read_aks_pool(reader: _Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    itype = res.get("vmSize")
    if itype is MISSING:
        return None
    where = reader.placement(res, note=False)
    if itype is UNKNOWN:
        reader.note("instance type", res, "vmSize")
        itype = None
    elif not is_gpu_type("azure", itype):
        return None
    nodes = as_int(res.get("count"))
    if nodes is UNKNOWN or nodes is MISSING:
        reader.note("node count", res, "count")
        nodes = None
    priority = res.get("scaleSetPriority")
    capacity = "spot" if isinstance(priority, str) and priority.lower() == "spot" else (
        "reservation" if res.get("capacityReservationGroupID") is not MISSING else "on-demand")
    reader.note_placement(res, where)
    return GpuGroup(res.name, "azure", where.region, itype, nodes, capacity, where.zone, res.urn, res.type)


def _read_azure_vm(reader: _Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    itype = res.get("hardwareProfile", "vmSize")
    if itype is MISSING:
        return None
    where = reader.placement(res, note=False)
    if itype is UNKNOWN:
        reader.note("instance type", res, "hardwareProfile.vmSize")
        itype = None
    elif not is_gpu_type("azure", itype):
        return None
    capacity = _azure_capacity(res.get("priority"), res.get("capacityReservation", "capacityReservationGroup"))
    reader.note_placement(res, where)
    return GpuGroup(res.name, "azure", where.region, itype, 1, capacity, where.zone, res.urn, res.type)


# --------------------------------------------------------------------------- Google Cloud


def _gcp_capacity(scheduling: Any, reservation: Any) -> str:
    if isinstance(scheduling, Mapping):
        model = lookup(scheduling, "provisioningModel")
        if (isinstance(model, str) and model.upper() == "SPOT") or as_bool(lookup(scheduling, "preemptible")) is True:
            return "spot"
    if isinstance(reservation, Mapping):
        kind = lookup(reservation, "type")
        if isinstance(kind, str) and kind.upper() == "SPECIFIC_RESERVATION":
            return "reservation"
    return "on-demand"


def _gcp_machine_type(reader: _Reader, res: Resource, path: tuple[str, ...]) -> Any:
    value = res.get(*path)
    if isinstance(value, str):
        return machine_type_name(value)
    return value


def _gcp_template_facts(reader: _Reader, tpl: Resource) -> tuple[Any, str]:
    return (_gcp_machine_type(reader, tpl, ("machineType",)),
            _gcp_capacity(tpl.get("scheduling"), tpl.get("reservationAffinity")))


def _read_mig(reader: _Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    where = reader.placement(res, note=False)
    literal = res.get("versions", 0, "instanceTemplate")
    tpl = None
    if literal is not MISSING or res.deps_of("versions"):
        tpl = reader.linked(res, "versions", {GCP_TEMPLATE, GCP_REGION_TEMPLATE}, literal)
    if tpl is not None:
        used.add(tpl.urn)
        itype, capacity = _gcp_template_facts(reader, tpl)
        path = f"{tpl.urn}: machineType"
    else:
        itype, capacity, path = (UNKNOWN if literal is UNKNOWN else MISSING), "on-demand", "versions[0].instanceTemplate"
    if itype is MISSING:
        return None
    if itype is UNKNOWN:
        reader.note("instance type", res, path)
        itype = None
    elif not is_gpu_type("gcp", itype):
        return None
    nodes = as_int(res.get("targetSize"))
    if nodes is UNKNOWN or nodes is MISSING:
        reader.note("node count", res, "targetSize")
        nodes = None
    zone = where.zone
    if res.type == GCP_REGION_MIG:
        zones = res.get("distributionPolicyZones")
        zone = zones[0] if isinstance(zones, list) and len(zones) == 1 and isinstance(zones[0], str) else None
    reader.note_placement(res, where)
    return GpuGroup(res.name, "gcp", where.region, itype, nodes, capacity, zone, res.urn, res.type)


def _read_node_pool(reader: _Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    itype = _gcp_machine_type(reader, res, ("nodeConfig", "machineType"))
    if itype is MISSING:
        return None
    where = reader.placement(res, note=False)
    if itype is UNKNOWN:
        reader.note("instance type", res, "nodeConfig.machineType")
        itype = None
    elif not is_gpu_type("gcp", itype):
        return None
    per_zone = as_int(res.get("nodeCount"))
    path = "nodeCount"
    if per_zone is MISSING:
        per_zone, path = as_int(res.get("initialNodeCount")), "initialNodeCount"
    locations = res.get("nodeLocations")
    zones = len(locations) if isinstance(locations, list) and locations else 1
    if per_zone is UNKNOWN or per_zone is MISSING or locations is UNKNOWN:
        reader.note("node count", res, path)
        nodes = None
    else:
        nodes = per_zone * zones
    capacity = "spot" if (as_bool(res.get("nodeConfig", "spot")) is True
                          or as_bool(res.get("nodeConfig", "preemptible")) is True) else _gcp_capacity(
        None, res.get("nodeConfig", "reservationAffinity") if isinstance(res.get("nodeConfig", "reservationAffinity"), Mapping) else None)
    zone = where.zone if zones == 1 else None
    reader.note_placement(res, where)
    return GpuGroup(res.name, "gcp", where.region, itype, nodes, capacity, zone, res.urn, res.type)


def _read_gcp_instance(reader: _Reader, res: Resource, used: set[str]) -> GpuGroup | None:
    itype = _gcp_machine_type(reader, res, ("machineType",))
    capacity = _gcp_capacity(res.get("scheduling"), res.get("reservationAffinity"))
    source = res.get("sourceInstanceTemplate")
    if itype is MISSING and (source is not MISSING or res.deps_of("sourceInstanceTemplate")):
        tpl = reader.linked(res, "sourceInstanceTemplate", {GCP_TEMPLATE, GCP_REGION_TEMPLATE}, source)
        if tpl is not None:
            used.add(tpl.urn)
            itype, capacity = _gcp_template_facts(reader, tpl)
    if itype is MISSING:
        return None
    where = reader.placement(res, note=False)
    if itype is UNKNOWN:
        reader.note("instance type", res, "machineType")
        itype = None
    elif not is_gpu_type("gcp", itype):
        return None
    reader.note_placement(res, where)
    return GpuGroup(res.name, "gcp", where.region, itype, 1, capacity, where.zone, res.urn, res.type)


def _orphan_template(reader: _Reader, res: Resource) -> GpuGroup | None:
    """A launch/instance template nothing in the program launches: a group of 0 nodes."""
    cloud = res.cloud or ""
    itype = res.get("instanceType") if res.type == AWS_LAUNCH_TEMPLATE else _gcp_machine_type(reader, res, ("machineType",))
    if not isinstance(itype, str) or not is_gpu_type(cloud, itype):
        return None
    where = reader.placement(res, note=False)
    capacity = _aws_capacity(res) if cloud == "aws" else _gcp_capacity(res.get("scheduling"), res.get("reservationAffinity"))
    return GpuGroup(res.name, cloud, where.region, itype, 0, capacity, where.zone, res.urn, res.type)


_GROUP_READERS = {
    AWS_ASG: _read_asg,
    AWS_EKS_NODE_GROUP: _read_eks_node_group,
    AZURE_VMSS: _read_vmss,
    AZURE_AKS_POOL: _read_aks_pool,
    GCP_MIG: _read_mig,
    GCP_REGION_MIG: _read_mig,
    GCP_NODE_POOL: _read_node_pool,
}
_SINGLE_READERS = {
    AWS_INSTANCE: _read_aws_instance,
    AZURE_VM: _read_azure_vm,
    GCP_INSTANCE: _read_gcp_instance,
}


# --------------------------------------------------------------------------- filesystems


def _capacity_gib(reader: _Reader, res: Resource, path: tuple[str, ...], scale: float = 1.0) -> int | None:
    value = as_float(res.get(*path))
    if value is UNKNOWN or value is MISSING:
        reader.note("filesystem capacity", res, ".".join(path))
        return None
    return int(round(value * scale))


def _throughput(reader: _Reader, res: Resource, path: tuple[str, ...], required: bool = True) -> int | None:
    value = as_int(res.get(*path))
    if value is UNKNOWN or (value is MISSING and required):
        reader.note("filesystem throughput tier", res, ".".join(path))
        return None
    return None if value is MISSING else value


def _read_fsx(reader: _Reader, res: Resource) -> Filesystem:
    where = reader.placement(res)
    return Filesystem(res.name, "aws", where.region, "lustre", _throughput(reader, res, ("perUnitStorageThroughput",)),
                      _capacity_gib(reader, res, ("storageCapacity",)), res.urn)


_AML_TIER = re.compile(r"-(\d+)$")


def _read_aml(reader: _Reader, res: Resource) -> Filesystem:
    where = reader.placement(res)
    sku = res.get("sku", "name")
    throughput = None
    if isinstance(sku, str) and (m := _AML_TIER.search(sku)):
        throughput = int(m.group(1))
    else:
        reader.note("filesystem throughput tier", res, "sku.name")
    probe = catalog.storage_sku("azure", "lustre", throughput) if throughput else None
    per_tib = probe.gib_per_tib if probe else 1024
    return Filesystem(res.name, "azure", where.region, "lustre", throughput,
                      _capacity_gib(reader, res, ("storageCapacityTiB",), per_tib), res.urn)


def _read_gcp_lustre(reader: _Reader, res: Resource) -> Filesystem:
    where = reader.placement(res)
    if res.get("perUnitStorageThroughput") is MISSING and res.get("dynamicTierOptions") is not MISSING:
        throughput = 25  # the dynamic tier (catalog row `dynamic`)
    else:
        throughput = _throughput(reader, res, ("perUnitStorageThroughput",))
    return Filesystem(res.name, "gcp", where.region, "lustre", throughput,
                      _capacity_gib(reader, res, ("capacityGib",)), res.urn)


def _read_parallelstore(reader: _Reader, res: Resource) -> Filesystem:
    where = reader.placement(res)
    return Filesystem(res.name, "gcp", where.region, "parallelstore", None,
                      _capacity_gib(reader, res, ("capacityGib",)), res.urn)


def _read_filestore(reader: _Reader, res: Resource) -> Filesystem:
    where = reader.placement(res)
    tier = res.get("tier")
    if tier is UNKNOWN:
        reader.note("filesystem tier", res, "tier")
    shares = res.get("fileShares")
    path: tuple[Any, ...] = ("fileShares", 0, "capacityGb") if isinstance(shares, list) else ("fileShares", "capacityGb")
    return Filesystem(res.name, "gcp", where.region, "filestore", None, _capacity_gib(reader, res, path), res.urn,
                      tier=tier.upper() if isinstance(tier, str) else None)


_FILESYSTEM_READERS = {
    AWS_FSX_LUSTRE: _read_fsx,
    AZURE_AML: _read_aml,
    GCP_LUSTRE: _read_gcp_lustre,
    GCP_PARALLELSTORE: _read_parallelstore,
    GCP_FILESTORE: _read_filestore,
}


# --------------------------------------------------------------------------- budgets

_PER_MONTH = {
    "MONTHLY": 1.0, "MONTH": 1.0, "BILLINGMONTH": 1.0,
    "QUARTERLY": 1 / 3, "QUARTER": 1 / 3, "BILLINGQUARTER": 1 / 3,
    "ANNUALLY": 1 / 12, "YEAR": 1 / 12, "BILLINGANNUAL": 1 / 12,
    "DAILY": 365 / 12,
}


def _monthly(amount: float, period: Any) -> float | None:
    if period is UNKNOWN:
        return None
    if not isinstance(period, str):
        return amount
    factor = _PER_MONTH.get(period.replace("_", "").upper())
    return round(amount * factor, 2) if factor is not None else None


def _read_budget(reader: _Reader, res: Resource, scopes: _Scopes) -> Budget | None:
    cloud = res.cloud or ""
    amount: Any
    if res.type == AWS_BUDGET:
        kind = res.get("budgetType")
        if isinstance(kind, str) and kind.upper() != "COST":
            return None  # a usage or savings-plan budget guards no dollars
        amount, path = as_float(res.get("limitAmount")), "limitAmount"
        unit = res.get("limitUnit")
        period = res.get("timeUnit")
        foreign = isinstance(unit, str) and unit.upper() != "USD"
    elif res.type == AZURE_BUDGET:
        category = res.get("category")
        if isinstance(category, str) and category.lower() != "cost":
            return None
        amount, path = as_float(res.get("amount")), "amount"
        period = res.get("timeGrain")
        foreign = False
    else:
        units = res.get("amount", "specifiedAmount", "units")
        nanos = as_float(res.get("amount", "specifiedAmount", "nanos"))
        amount = as_float(units)
        if isinstance(amount, float) and isinstance(nanos, float):
            amount += nanos / 1e9
        path = "amount.specifiedAmount.units"
        if amount is MISSING and res.get("amount", "lastPeriodAmount") is not MISSING:
            amount, path = UNKNOWN, "amount.lastPeriodAmount (last period's spend)"
        period = res.get("budgetFilter", "calendarPeriod")
        if res.get("budgetFilter", "customPeriod") is not MISSING:
            period = None
        currency = res.get("amount", "specifiedAmount", "currencyCode")
        foreign = isinstance(currency, str) and currency.upper() != "USD"
    monthly: float | None
    if amount is UNKNOWN or amount is MISSING or foreign:
        reader.note("budget amount" + (" in USD" if foreign else ""), res, path)
        monthly = None
    else:
        monthly = _monthly(amount, period)
        if monthly is None:
            reader.note("budget period", res, "timeUnit/timeGrain/calendarPeriod")
    covers, may_cover = scopes.coverage(res)
    return Budget(res.name, cloud, monthly, res.urn, covers, may_cover)


def effective_tags(reader_or_providers: Any, res: Resource) -> dict[str, Any]:
    """Tags/labels that end up on a resource: its own, plus its provider's default tags/labels."""
    providers = reader_or_providers.providers if isinstance(reader_or_providers, _Reader) else reader_or_providers
    out: dict[str, Any] = {}
    prov = providers.get(res.provider) if res.provider and providers else None
    if prov is not None and res.type != AWS_ASG:  # AWS default tags never reach Auto Scaling groups
        defaults = as_mapping(lookup(prov, "defaultTags"))
        if isinstance(defaults, Mapping):
            tags = defaults.get("tags")
            if isinstance(tags, Mapping):
                out.update(tags)
        labels = as_mapping(lookup(prov, "defaultLabels"))
        if isinstance(labels, Mapping):
            out.update(labels)
    if res.cloud == "gcp":
        labels = res.get("labels")
        if isinstance(labels, Mapping):
            out.update(labels)
        labels = res.get("nodeConfig", "labels")
        if isinstance(labels, Mapping):
            out.update(labels)
    else:
        out.update(resource_tags(res))
    return out


def _group_tags(reader: _Reader, item: Resource) -> dict[str, Any]:
    """Tags that reach a group's nodes: its own, its provider's defaults, its template's."""
    tags = effective_tags(reader, item)
    template = None
    if item.type in (AWS_ASG, AWS_EKS_NODE_GROUP, AWS_INSTANCE):
        template = _aws_launch_template_of(reader, item, set())
    elif item.type in (GCP_MIG, GCP_REGION_MIG):
        template = reader.linked(item, "versions", {GCP_TEMPLATE, GCP_REGION_TEMPLATE}, item.get("versions", 0, "instanceTemplate"))
    if template is not None:
        tags = {**effective_tags(reader, template), **tags}
    return tags


def _gcp_project(reader: _Reader, item: Resource) -> Any:
    project = item.get("project")
    if project is MISSING:
        project = lookup(reader.provider_inputs(item) or {}, "project")
    return project


class _Scopes:
    """What each budget covers, by index rather than by pairs, so a stack of thousands of groups
    and budgets is read in linear time. A budget's scope narrows the items of its cloud filter by
    filter; each filter yields the items it provably keeps and those it may keep (a value it
    depends on is unknown at preview)."""

    def __init__(self, reader: _Reader, groups: list[GpuGroup], filesystems: list[Filesystem]) -> None:
        self.reader = reader
        self.order: dict[str, int] = {}
        self.by_cloud: dict[str, set[str]] = {}
        self.by_region: dict[tuple[str, str], set[str]] = {}
        self.no_region: set[str] = set()
        self.by_tag: dict[tuple[str, str], set[str]] = {}
        self.unknown_tag: dict[str, set[str]] = {}
        self.by_project: dict[str, set[str]] = {}
        self.unknown_project: set[str] = set()
        self.by_rg: dict[str, set[str]] = {}  # resource group URN or lower-case name -> items
        self.unknown_rg: set[str] = set()
        self.by_subscription: dict[str, set[str]] = {}
        for item in [*groups, *filesystems]:
            if item.urn is None or item.urn not in reader.by_urn:
                continue
            self._add(item.urn, item.cloud, reader.by_urn[item.urn])

    def _add(self, urn: str, cloud: str, res: Resource) -> None:
        reader = self.reader
        self.order[urn] = len(self.order)
        self.by_cloud.setdefault(cloud, set()).add(urn)
        region = reader.placement(res, note=False).region
        if region is None:
            self.no_region.add(urn)
        else:
            self.by_region.setdefault((cloud, region), set()).add(urn)
        for key, value in _group_tags(reader, res).items():
            if is_unknown(value):
                self.unknown_tag.setdefault(key, set()).add(urn)
            else:
                self.by_tag.setdefault((key, str(value)), set()).add(urn)
        if cloud == "gcp":
            project = _gcp_project(reader, res)
            if isinstance(project, str):
                self.by_project.setdefault(project, set()).add(urn)
            else:
                self.unknown_project.add(urn)
        if cloud == "azure":
            for rg in res.deps_of("resourceGroupName"):
                self.by_rg.setdefault(rg, set()).add(urn)
            group = res.get("resourceGroupName")
            if isinstance(group, str):
                self.by_rg.setdefault(group.lower(), set()).add(urn)
            elif not res.deps_of("resourceGroupName"):
                self.unknown_rg.add(urn)
            sub = lookup(reader.provider_inputs(res) or {}, "subscriptionId")
            if isinstance(sub, str):
                self.by_subscription.setdefault(sub.lower(), set()).add(urn)

    def _union(self, index: dict, keys: Any) -> set[str]:
        out: set[str] = set()
        for key in keys:
            out |= index.get(key, set())
        return out

    def coverage(self, budget: Resource) -> tuple[tuple[str, ...], tuple[str, ...]]:
        everything = self.by_cloud.get(budget.cloud or "", set())
        filters = _BUDGET_FILTERS[budget.type](self, budget, everything)
        yes, maybe = set(everything), set()
        for keep, may_keep in filters:
            maybe = (maybe & (keep | may_keep)) | (yes & may_keep - keep)
            yes &= keep
        maybe -= yes
        return tuple(sorted(yes, key=self.order.__getitem__)), tuple(sorted(maybe, key=self.order.__getitem__))


def _aws_budget_filters(scopes: _Scopes, budget: Resource, everything: set[str]) -> list[tuple[set[str], set[str]]]:
    filters = budget.get("costFilters")
    if filters is UNKNOWN:
        return [(set(), everything)]
    out = []
    for f in filters if isinstance(filters, list) else []:
        name, values = lookup(f, "name"), lookup(f, "values")
        if not isinstance(name, str) or values is UNKNOWN or (isinstance(values, list) and any(is_unknown(v) for v in values)):
            out.append((set(), everything))
            continue
        values = [v for v in values if isinstance(v, str)] if isinstance(values, list) else []
        if name == "Region":
            out.append((scopes._union(scopes.by_region, [("aws", v) for v in values]), scopes.no_region))
        elif name == "TagKeyValue":
            pairs = [tuple(v.removeprefix("user:").split("$", 1)) for v in values]
            pairs = [p for p in pairs if len(p) == 2]
            out.append((scopes._union(scopes.by_tag, pairs), scopes._union(scopes.unknown_tag, [k for k, _ in pairs])))
        # Other dimensions (service, account, usage type...) are taken to include the facility.
    return out


def _azure_budget_filters(scopes: _Scopes, budget: Resource, everything: set[str]) -> list[tuple[set[str], set[str]]]:
    scope = budget.get("scope")
    if scope is UNKNOWN:
        # A scope computed from a resource group of the program (its ID) is that group's scope.
        reader = scopes.reader
        groups = [u for u in budget.deps_of("scope")
                  if u in reader.by_urn and reader.by_urn[u].type == AZURE_RESOURCE_GROUP]
        if len(groups) != 1:
            return [(set(), everything)]
        rg = reader.by_urn[groups[0]]
        name = rg.get("resourceGroupName")
        keys = [rg.urn] + ([name.lower()] if isinstance(name, str) else [])
        return [(scopes._union(scopes.by_rg, keys), scopes.unknown_rg)]
    if not isinstance(scope, str):
        return []
    parts = [p.lower() for p in scope.strip("/").split("/")]
    out = []
    if parts[:1] == ["subscriptions"] and len(parts) > 1:
        others = scopes._union(scopes.by_subscription, [k for k in scopes.by_subscription if k != parts[1]])
        out.append((everything - others, set()))
    if "resourcegroups" in parts and parts.index("resourcegroups") + 1 < len(parts):
        name = parts[parts.index("resourcegroups") + 1]
        reader = scopes.reader
        keys = [name] + [r.urn for r in reader.resources if r.type == AZURE_RESOURCE_GROUP
                         and str(r.get("resourceGroupName")).lower() == name]
        out.append((scopes._union(scopes.by_rg, keys), scopes.unknown_rg))
    return out


def _gcp_budget_filters(scopes: _Scopes, budget: Resource, everything: set[str]) -> list[tuple[set[str], set[str]]]:
    out = []
    projects = budget.get("budgetFilter", "projects")
    if projects is UNKNOWN or (isinstance(projects, list) and any(is_unknown(p) for p in projects)):
        out.append((set(), everything))
    elif isinstance(projects, list) and projects:
        names = [p.rsplit("/", 1)[-1] for p in projects if isinstance(p, str)]
        out.append((scopes._union(scopes.by_project, names), scopes.unknown_project))
    labels = budget.get("budgetFilter", "labels")
    if labels is UNKNOWN:
        out.append((set(), everything))
    elif isinstance(labels, Mapping):
        for key, value in labels.items():
            values = value if isinstance(value, list) else [value]
            out.append((scopes._union(scopes.by_tag, [(key, str(v)) for v in values]),
                        scopes.unknown_tag.get(key, set())))
    return out


_BUDGET_FILTERS = {
    AWS_BUDGET: _aws_budget_filters,
    AZURE_BUDGET: _azure_budget_filters,
    GCP_BUDGET: _gcp_budget_filters,
}
