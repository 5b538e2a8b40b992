"""What every rule family shares: CrossGuard args turned into inventory inputs, config, messages.

A stack policy gets `StackValidationArgs.resources` (`PolicyResource`: `resource_type`, `props`,
`urn`, `name`, `opts`, `provider`, `parent`, `dependencies`, `property_dependencies`); a resource
policy gets one `ResourceValidationArgs` whose `provider` carries the provider resource's
`props`. Both wrap their properties in pulumi_policy's unknown-checking proxies, which raise
`UnknownValueError` on an unknown value -- and the SDK then reports the policy as an *advisory*
"can't run during preview" diagnostic, so a mandatory gate would silently stop blocking. The
helpers here read through the proxies (`aifactory.inventory.plain`), so an unknown value reaches
the rule as a value it can name ("... is unknown at preview; the gate cannot prove ...").

Config: each rule declares its properties once (`Setting`s), from which come both its
`PolicyConfigSchema` (with defaults, so `pulumi policy` tooling shows them) and the values the
rule reads (`settings(args, SETTINGS)`: the policy-pack config over the defaults).
"""

from __future__ import annotations

import operator
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pulumi_policy import PolicyConfigSchema, ResourceValidationArgs, StackValidationArgs

from aifactory import inventory as inv
from aifactory.catalog.pricing import NO_PRICING, OrgPricing
from aifactory.estimate import Estimate, Line, estimate
from aifactory.inventory import (
    MISSING,
    UNKNOWN,
    Inventory,
    Placement,
    Resource,
    as_bool,
    as_resource,
    from_resources,
    is_gpu_type,
    is_unknown,
    lookup,
    placement,
    plain,
)


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class Setting:
    """One policy config property: JSON schema type, default, description."""

    name: str
    type: str  # "number" | "integer" | "boolean" | "string" | "array"
    default: Any
    description: str
    items: str | None = None  # element type of an array
    minimum: float | None = None

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "default": self.default, "description": self.description}
        if self.items:
            out["items"] = {"type": self.items}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        return out


def config_schema(settings_: Sequence[Setting]) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties={s.name: s.schema() for s in settings_})


def settings(args: Any, settings_: Sequence[Setting]) -> dict[str, Any]:
    """The rule's settings: its policy-pack config (if any) over the declared defaults."""
    values = {s.name: s.default for s in settings_}
    config = plain(args.get_config() or {})
    for s in settings_:
        if s.name in config and config[s.name] is not None:
            values[s.name] = config[s.name]
    return values


# --------------------------------------------------------------------------- resources


# What one request's policies can share. pulumi_policy (1.x, `_PolicyAnalyzerServicer`) builds the
# args afresh for every policy of a request: it deserializes the properties again, wraps them in new
# proxies and makes new `PolicyResource`s (AnalyzeStack) -- so nothing a policy receives is shared with
# the next policy of the same request, except `opts.ignore_changes`, which is the request message's
# own repeated-field container (`request.options.ignoreChanges`). protobuf hands out the same container
# object for the same field of the same message for as long as it is referenced, so a container held
# here (which keeps its message alive: its identity cannot pass to another request) identifies the
# request: a later policy of the same request gets that very object, any other request another one.
# Should an SDK or protobuf runtime ever copy the field instead, tokens never match and every policy
# computes its own facts -- slower, never wrong. Plain lists and tuples (hand-built args) never count.


def _request_token(args: Any) -> Any:
    """The request message's `options.ignoreChanges` container, or None if it is not one."""
    token = getattr(getattr(args, "opts", None), "ignore_changes", None)
    return token if type(token).__module__.startswith("google.") else None


def stack_resources(args: StackValidationArgs) -> tuple[list[Resource], dict[str, dict]]:
    """The stack's resources as inventory inputs, and every provider's inputs by URN."""
    # Only the types the inventory reads are unwrapped from the SDK's proxies (the costly part).
    resources = [as_resource(r, with_inputs=r.resource_type in inv.READ_TYPES or r.resource_type.startswith(
        "pulumi:providers:")) for r in args.resources]
    providers: dict[str, dict] = {}
    for r in args.resources:
        prov = getattr(r, "provider", None)
        if prov is not None and getattr(prov, "urn", None) and prov.urn not in providers:
            providers[prov.urn] = plain(prov.props)
    return resources, providers


@dataclass
class _StackMemo:
    tokens: list[Any] | None  # the request's containers, one per resource (held: see _request_token)
    inventory: Inventory
    resources: list[Any]  # the PolicyResources it was read from (held, so their ids stay theirs)
    estimate: Estimate | None = None
    pricing: OrgPricing | None = None  # what `estimate` was priced with


_STACK_LOCK = threading.Lock()
_stack_memo: _StackMemo | None = None


def _stack_tokens(args: StackValidationArgs) -> list[Any] | None:
    tokens = [_request_token(r) for r in args.resources]
    return tokens if tokens and all(t is not None for t in tokens) else None


def stack_inventory(args: StackValidationArgs) -> Inventory:
    """The stack's inventory, read once per AnalyzeStack request and shared by its stack policies
    (the inventory is a function of the request's resources alone; policies only read it)."""
    global _stack_memo
    with _STACK_LOCK:
        memo = _stack_memo
    given = args.resources
    # The same PolicyResource objects: the request's other stack policies (`stack_once` shares them).
    if memo is not None and len(memo.resources) == len(given) and all(map(operator.is_, memo.resources, given)):
        return memo.inventory
    tokens = _stack_tokens(args)
    if tokens is not None and memo is not None and memo.tokens is not None and len(memo.tokens) == len(tokens) \
            and all(map(operator.is_, memo.tokens, tokens)):
        return memo.inventory
    resources, providers = stack_resources(args)
    inventory = from_resources(resources, providers)
    if tokens is not None:
        with _STACK_LOCK:
            _stack_memo = _StackMemo(tokens, inventory, list(given))
    return inventory


@dataclass
class Subject:
    """The one resource a resource policy judges, with its provider's inputs. Shared by the policies
    of one Analyze request (`subject`): read it, never change it."""

    resource: Resource
    provider: dict | None

    @property
    def type(self) -> str:
        return self.resource.type

    def get(self, *path: str | int) -> Any:
        return self.resource.get(*path)

    @cached_property
    def placement(self) -> Placement:
        return placement(self.resource, self.provider)

    @cached_property
    def facts(self) -> NodeFacts | None:
        """`node_facts` of the resource."""
        return node_facts(self.resource)


_SUBJECT_LOCK = threading.Lock()
_subjects: OrderedDict[int, tuple[Any, Subject]] = OrderedDict()
_SUBJECTS_KEPT = 16  # requests in flight at once (the SDK's gRPC server runs 4 workers)


def subject(args: ResourceValidationArgs) -> Subject:
    """The resource a resource policy judges, built once per Analyze request and shared by the
    request's policies (see `_request_token`)."""
    token = _request_token(args)
    if token is not None:
        with _SUBJECT_LOCK:
            hit = _subjects.get(id(token))
        if hit is not None and hit[0] is token and hit[1].resource.urn == args.urn:
            return hit[1]
    s = _subject(args)
    if token is not None:
        with _SUBJECT_LOCK:
            _subjects[id(token)] = (token, s)
            while len(_subjects) > _SUBJECTS_KEPT:
                _subjects.popitem(last=False)
    return s


def _subject(args: ResourceValidationArgs) -> Subject:
    opts = args.opts
    resource = Resource(
        urn=args.urn,
        type=args.resource_type,
        name=args.name,
        inputs=plain(args.props),
        parent=getattr(opts, "parent", None),
        provider=args.provider.urn if args.provider is not None else None,
        protect=bool(getattr(opts, "protect", False)),
    )
    provider = plain(args.provider.props) if args.provider is not None else None
    return Subject(resource, provider)


# --------------------------------------------------------------------------- estimates


def group_lines(inventory: Inventory, pricing: OrgPricing = NO_PRICING) -> tuple[Estimate, list[tuple[Any, Line]]]:
    """The estimate of an inventory at the org's prices, each line paired with the group or
    filesystem it prices (`estimate` lists groups first, then filesystems, in inventory order).
    The estimate of the inventory `stack_inventory` shares is computed once per pricing."""
    memo = _stack_memo
    if memo is not None and memo.inventory is inventory:
        if memo.estimate is None or memo.pricing != pricing:
            memo.estimate, memo.pricing = estimate(inventory, pricing), pricing
        est = memo.estimate
    else:
        est = estimate(inventory, pricing)
    items = [*inventory.groups, *inventory.filesystems]
    return est, list(zip(items, est.lines, strict=True))


# --------------------------------------------------------------------------- messages


def kw(value: float) -> str:
    return f"{value:,.1f} kW"


def usd(value: float) -> str:
    return f"${value:,.0f}"


def pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "n/a"


def join(items: Iterable[str], limit: int = 8) -> str:
    items = list(items)
    if len(items) > limit:
        return ", ".join(items[:limit]) + f" and {len(items) - limit} more"
    return ", ".join(items)


def cannot_prove(what: str, urn: str | None, path: str, gate: str) -> str:
    where = f" ({path})" if path else ""
    return (
        f"{what} of {urn}{where} is unknown at preview (or not a value the gate can read); the gate cannot prove {gate}. "
        "Make it a literal input (not another resource's output), or run the gate again on `pulumi up`."
    )


# --------------------------------------------------------------------------- node resources


@dataclass
class NodeFacts:
    """What one compute resource says about itself: the instance type(s) it may launch and the zone(s)
    it places them in."""

    cloud: str
    instance_types: list[Any]  # names, or UNKNOWN
    path: str  # the input the (first unknown, else first) type comes from
    zones: list[str]
    # Zones of a type that only some of the resource's parts place (a fleet override, a cluster's pool).
    type_zones: dict[str, list[str]] = field(default_factory=dict)

    @property
    def known_types(self) -> list[str]:
        return [t for t in self.instance_types if isinstance(t, str)]

    @property
    def unknown(self) -> bool:
        return any(t is UNKNOWN for t in self.instance_types)

    @cached_property
    def gpu_types(self) -> list[str]:
        return list(dict.fromkeys(t for t in self.known_types if is_gpu_type(self.cloud, t)))

    @property
    def is_gpu(self) -> bool:
        return bool(self.gpu_types)

    def zones_of(self, instance_type: str) -> list[str]:
        return self.type_zones.get(instance_type, self.zones)


def _strs(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str) and not is_unknown(v)] if isinstance(value, list) else []


def _zone(value: Any) -> list[str]:
    return [value] if isinstance(value, str) and value and not is_unknown(value) else []


# A candidate type: (value, input path, the zones it is placed in or None for the resource's own).
_Candidate = tuple[Any, str, "list[str] | None"]


def _listed(value: Any, path: str, read) -> list[_Candidate]:
    """Candidates of each entry of a list input (`read(entry, path_of_entry)`); an unknown or
    unreadable list is one unknown candidate."""
    if value is MISSING:
        return []
    if not isinstance(value, list):
        return [(UNKNOWN, path, None)]
    out: list[_Candidate] = []
    for i, entry in enumerate(value):
        where = f"{path}[{i}]"
        out += read(entry, where) if isinstance(entry, Mapping) else [(UNKNOWN, where, None)]
    return out


def _named(value: Any, path: str, *, required: bool = False) -> list[_Candidate]:
    """Candidates of a list of type names (an absent list adds none unless it is required)."""
    if value is MISSING and not required:
        return []
    if not isinstance(value, list):
        return [(UNKNOWN, path, None)]
    return [(x, f"{path}[{i}]", None) for i, x in enumerate(value)]


def _aws_override(entry: Any, where: str) -> list[_Candidate]:
    """A mixed-instances, fleet or spot fleet override (or inline launch specification): its type or
    the types its instance requirements allow; one that names only a launch template adds nothing
    (the template is judged itself)."""
    zones = _zone(lookup(entry, "availabilityZone")) or None
    itype = lookup(entry, "instanceType")
    if itype is not MISSING:
        return [(itype, f"{where}.instanceType", zones)]
    found = inv.aws.requirement_types(lookup(entry, "instanceRequirements"), f"{where}.instanceRequirements")
    return [(t, p, zones) for t, p in found]


def _aws_fleet_configs(res: Resource) -> list[_Candidate]:
    return _listed(res.get("launchTemplateConfigs"), "launchTemplateConfigs",
                   lambda c, w: _listed(lookup(c, "overrides"), f"{w}.overrides", _aws_override))


def _azure_pool(get, prefix: str) -> list[_Candidate]:
    """An AKS pool's size, or each size of a VirtualMachines pool, in the pool's zones."""
    zones = _strs(get("availabilityZones")) or None
    manual = get("virtualMachinesProfile", "scale", "manual")
    if manual is UNKNOWN or (isinstance(manual, list) and manual):
        return [(t, p, zones) for t, p, _ in _listed(manual, f"{prefix}virtualMachinesProfile.scale.manual",
                                                      lambda m, w: [(lookup(m, "size"), f"{w}.size", None)])]
    return [(get("vmSize"), f"{prefix}vmSize", zones)]


def _gke_pool(get, prefix: str, default_zones: list[str] | None) -> list[_Candidate]:
    zones = _strs(get("nodeLocations")) or default_zones
    return [(get("nodeConfig", "machineType"), f"{prefix}nodeConfig.machineType", zones)]


def _candidates(res: Resource) -> tuple[list[_Candidate], list[str]] | None:
    """(candidate types, the resource's zones), or None for anything that is not a compute node or group."""
    t = res.type
    get = res.get
    if t in (inv.AWS_LAUNCH_TEMPLATE, inv.AWS_INSTANCE, inv.aws.SPOT_INSTANCE_REQUEST, inv.aws.LAUNCH_CONFIGURATION):
        if t != inv.AWS_LAUNCH_TEMPLATE and get("instanceType") is MISSING:
            return None  # launched from a template, which is judged on its own
        zone = get("placement", "availabilityZone") if t == inv.AWS_LAUNCH_TEMPLATE else get("availabilityZone")
        return [(get("instanceType"), "instanceType", None)], _zone(zone)
    if t == inv.AWS_ASG:
        found = _listed(get("mixedInstancesPolicy", "launchTemplate", "overrides"),
                        "mixedInstancesPolicy.launchTemplate.overrides", _aws_override)
        tags = inv.resource_tags(res)
        if not found and isinstance(tags.get(inv.INSTANCE_TYPE_TAG), str):
            found = [(tags[inv.INSTANCE_TYPE_TAG], f"tags[{inv.INSTANCE_TYPE_TAG}]", None)]
        return found, _strs(get("availabilityZones")) or _zone(tags.get(inv.ZONE_TAG))
    if t == inv.AWS_EKS_NODE_GROUP:
        return _named(get("instanceTypes"), "instanceTypes"), []  # none: its launch template's, judged itself
    if t == inv.aws.FLEET:
        return _aws_fleet_configs(res), []
    if t == inv.aws.SPOT_FLEET_REQUEST:
        inline = _listed(get("launchSpecifications"), "launchSpecifications", _aws_override)
        return inline + _aws_fleet_configs(res), []
    if t == inv.AZURE_VMSS:
        sizes = _listed(get("skuProfile", "vmSizes"), "skuProfile.vmSizes",
                        lambda v, w: [(lookup(v, "name"), f"{w}.name", None)])
        return [(get("sku", "name"), "sku.name", None), *sizes], _strs(get("zones"))
    if t == inv.AZURE_VM:
        return [(get("hardwareProfile", "vmSize"), "hardwareProfile.vmSize", None)], _strs(get("zones"))
    if t == inv.AZURE_AKS_POOL:
        return _azure_pool(get, ""), []
    if t == inv.azure.MANAGED_CLUSTER:
        return _listed(get("agentPoolProfiles"), "agentPoolProfiles",
                       lambda p, w: _azure_pool(lambda *path: lookup(p, *path), f"{w}.")), []
    if t in (inv.GCP_TEMPLATE, inv.GCP_REGION_TEMPLATE, inv.GCP_INSTANCE):
        if t == inv.GCP_INSTANCE and get("machineType") is MISSING:
            return None  # made from an instance template, which is judged on its own
        return [(get("machineType"), "machineType", None)], _zone(get("zone"))
    if t in (inv.GCP_MIG, inv.GCP_REGION_MIG):
        # The versions' templates are judged on their own; a flexibility policy may launch other types.
        found = _listed(get("instanceFlexibilityPolicy", "instanceSelections"), "instanceFlexibilityPolicy.instanceSelections",
                        lambda sel, w: _named(lookup(sel, "machineTypes"), f"{w}.machineTypes", required=True))
        return found, _zone(get("zone")) or _strs(get("distributionPolicyZones"))
    if t == inv.GCP_NODE_POOL:
        return _gke_pool(get, "", None), _strs(get("nodeLocations"))
    if t == inv.gcp.CLUSTER:
        cluster_zones = _strs(get("nodeLocations")) or None
        pools = get("nodePools")
        found = _listed(pools, "nodePools", lambda p, w: _gke_pool(lambda *path: lookup(p, *path), f"{w}.", cluster_zones))
        if as_bool(get("removeDefaultNodePool")) is not True and not (isinstance(pools, list) and pools):
            found += [(get("nodeConfig", "machineType"), "nodeConfig.machineType", cluster_zones)]
        return found, []
    return None


def node_facts(res: Resource) -> NodeFacts | None:
    """Instance types and zones a compute resource carries itself (no links followed: a resource
    policy sees one resource). None for anything that is not a compute node or group, or names no
    type itself."""
    found = _candidates(res)
    if found is None:
        return None
    candidates, zones = found
    cloud = res.cloud or ""
    types: list[Any] = []
    paths: list[str] = []
    type_zones: dict[str, list[str]] = {}
    parts_zones: dict[str, bool] = {}  # whether every part placing the type names its zones
    for value, path, placed in candidates:
        if value is MISSING:
            continue
        if is_unknown(value) or not isinstance(value, str):
            value = UNKNOWN
        elif cloud == "gcp":
            value = inv.machine_type_name(value)
        types.append(value)
        paths.append(path)
        if isinstance(value, str):
            parts_zones[value] = parts_zones.get(value, True) and placed is not None
            if placed is not None:
                type_zones.setdefault(value, []).extend(z for z in placed if z not in type_zones.get(value, []))
    if not types:
        return None
    # A type some part places without naming zones is judged at the resource's zones.
    type_zones = {k: v for k, v in type_zones.items() if parts_zones.get(k)}
    path = next((p for v, p in zip(types, paths) if v is UNKNOWN), paths[0])
    return NodeFacts(cloud, types, path, zones, type_zones)
