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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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
    tokens: list[Any]  # the request's containers, one per resource (held: see _request_token)
    inventory: Inventory
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
    tokens = _stack_tokens(args)
    if tokens is not None:
        with _STACK_LOCK:
            memo = _stack_memo
        if memo is not None and len(memo.tokens) == len(tokens) and all(map(operator.is_, memo.tokens, tokens)):
            return memo.inventory
    resources, providers = stack_resources(args)
    inventory = from_resources(resources, providers)
    if tokens is not None:
        with _STACK_LOCK:
            _stack_memo = _StackMemo(tokens, inventory)
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
        f"{what} of {urn}{where} is unknown at preview; the gate cannot prove {gate}. "
        "Make it a literal input (not another resource's output), or run the gate again on `pulumi up`."
    )


# --------------------------------------------------------------------------- node resources


@dataclass
class NodeFacts:
    """What one compute resource says about itself: its instance type(s) and zone(s)."""

    cloud: str
    instance_types: list[Any]  # names, or UNKNOWN
    path: str  # the input the type comes from
    zones: list[str]

    @property
    def known_types(self) -> list[str]:
        return [t for t in self.instance_types if isinstance(t, str)]

    @property
    def unknown(self) -> bool:
        return any(t is UNKNOWN for t in self.instance_types)

    @cached_property
    def gpu_types(self) -> list[str]:
        return [t for t in self.known_types if is_gpu_type(self.cloud, t)]

    @property
    def is_gpu(self) -> bool:
        return bool(self.gpu_types)


def _strs(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str) and not is_unknown(v)] if isinstance(value, list) else []


def node_facts(res: Resource) -> NodeFacts | None:
    """Instance types and zones a compute resource carries itself (no links followed: a resource
    policy sees one resource). None for anything that is not a compute node or group."""
    t = res.type
    cloud = res.cloud or ""
    types: list[Any] = []
    path = ""
    zones: list[str] = []
    if t in (inv.AWS_LAUNCH_TEMPLATE, inv.AWS_INSTANCE):
        if t == inv.AWS_INSTANCE and res.get("instanceType") is MISSING:
            return None  # launched from a template, which is judged on its own
        types, path = [res.get("instanceType")], "instanceType"
        zone = res.get("placement", "availabilityZone") if t == inv.AWS_LAUNCH_TEMPLATE else res.get("availabilityZone")
        zones = [zone] if isinstance(zone, str) else []
    elif t == inv.AWS_ASG:
        overrides = res.get("mixedInstancesPolicy", "launchTemplate", "overrides")
        if isinstance(overrides, list) and overrides:
            types = [lookup(o, "instanceType") for o in overrides]
            types, path = [x for x in types if x is not MISSING], "mixedInstancesPolicy.launchTemplate.overrides"
        if not types:
            tags = inv.resource_tags(res)
            if isinstance(tags.get(inv.INSTANCE_TYPE_TAG), str):
                types, path = [tags[inv.INSTANCE_TYPE_TAG]], f"tags[{inv.INSTANCE_TYPE_TAG}]"
        zones = _strs(res.get("availabilityZones")) or (
            [inv.resource_tags(res)[inv.ZONE_TAG]] if isinstance(inv.resource_tags(res).get(inv.ZONE_TAG), str) else [])
    elif t == inv.AWS_EKS_NODE_GROUP:
        value = res.get("instanceTypes")
        types = [x for x in value] if isinstance(value, list) else ([UNKNOWN] if value is UNKNOWN else [])
        path = "instanceTypes"
    elif t == inv.AZURE_VMSS:
        types, path, zones = [res.get("sku", "name")], "sku.name", _strs(res.get("zones"))
    elif t == inv.AZURE_VM:
        types, path, zones = [res.get("hardwareProfile", "vmSize")], "hardwareProfile.vmSize", _strs(res.get("zones"))
    elif t == inv.AZURE_AKS_POOL:
        types, path, zones = [res.get("vmSize")], "vmSize", _strs(res.get("availabilityZones"))
    elif t in (inv.GCP_TEMPLATE, inv.GCP_REGION_TEMPLATE, inv.GCP_INSTANCE):
        types, path = [res.get("machineType")], "machineType"
        zone = res.get("zone")
        zones = [zone] if isinstance(zone, str) else []
    elif t == inv.GCP_NODE_POOL:
        types, path, zones = [res.get("nodeConfig", "machineType")], "nodeConfig.machineType", _strs(res.get("nodeLocations"))
    else:
        return None
    types = [inv.machine_type_name(x) if isinstance(x, str) and cloud == "gcp" else x for x in types]
    types = [UNKNOWN if is_unknown(x) else x for x in types if x is not MISSING]
    if not types:
        return None
    return NodeFacts(cloud, types, path, zones)
