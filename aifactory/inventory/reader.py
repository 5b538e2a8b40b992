"""The reader every cloud's module reads through: resources by URN, their providers, where each
resource is (region and zone), links from a group to the template it launches, tags that reach a
node, and the values it could not know (noted as it reads)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aifactory.inventory import aws, azure, gcp
from aifactory.inventory.model import Unknown
from aifactory.inventory.resources import Resource, as_resource, resource_tags
from aifactory.inventory.values import MISSING, UNKNOWN, as_mapping, is_unknown, lookup

CLOUDS = {room.CLOUD: room for room in (aws, azure, gcp)}

GROUP_READERS = {**aws.GROUP_READERS, **azure.GROUP_READERS, **gcp.GROUP_READERS}
SINGLE_READERS = {**aws.SINGLE_READERS, **azure.SINGLE_READERS, **gcp.SINGLE_READERS}
FILESYSTEM_READERS = {**aws.FILESYSTEM_READERS, **azure.FILESYSTEM_READERS, **gcp.FILESYSTEM_READERS}
BUDGET_READERS = {**aws.BUDGETS, **azure.BUDGETS, **gcp.BUDGETS}
AUTOSCALERS = {**aws.AUTOSCALERS, **azure.AUTOSCALERS, **gcp.AUTOSCALERS}

GROUP_TYPES = frozenset(GROUP_READERS)
TEMPLATE_TYPES = aws.TEMPLATE_TYPES | azure.TEMPLATE_TYPES | gcp.TEMPLATE_TYPES
SINGLE_NODE_TYPES = frozenset(SINGLE_READERS)
NODE_TYPES = GROUP_TYPES | TEMPLATE_TYPES | SINGLE_NODE_TYPES
FILESYSTEM_TYPES = frozenset(FILESYSTEM_READERS)
BUDGET_TYPES = frozenset(BUDGET_READERS)
# Every type whose inputs the inventory reads (besides providers).
READ_TYPES = NODE_TYPES | FILESYSTEM_TYPES | BUDGET_TYPES | frozenset(AUTOSCALERS) | {azure.RESOURCE_GROUP}


def is_gpu_type(cloud: str | None, instance_type: str | None) -> bool:
    """Whether a type carries GPUs: the catalog knows it, or its family does (so a group of a type
    the catalog lacks is still counted, and named as a catalog gap, rather than ignored)."""
    room = CLOUDS.get(cloud or "")
    return bool(room and instance_type and room.is_gpu(instance_type))


def region_of_zone(cloud: str | None, zone: str) -> str | None:
    room = CLOUDS.get(cloud or "")
    return room.region_of_zone(zone) if room else None


def normalize_region(cloud: str | None, region: str) -> str:
    room = CLOUDS.get(cloud or "")
    return room.normalize_region(region) if room else region


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
            if cloud == "gcp" and region_of_zone(cloud, value):  # a GCP location that is a zone
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


class Reader:
    def __init__(self, resources: Iterable[Any], providers: Mapping[str, Mapping[str, Any]] | None) -> None:
        self.resources = [as_resource(r) for r in resources]
        self.by_urn = {r.urn: r for r in self.resources}
        self.providers: dict[str, Mapping[str, Any]] = {r.urn: r.inputs for r in self.resources if r.is_provider}
        self.providers.update(providers or {})
        self.unknowns: list[Unknown] = []
        self._name_index: dict[str, list[Resource]] | None = None
        self._scaling: dict[str, list[tuple[Any, str]]] | None = None
        self._unresolved_scaling: list[tuple[Resource, str]] = []
        self._placements: dict[str, Placement] = {}

    def note(self, what: str, res: Resource, path: str) -> None:
        self.unknowns.append(Unknown(what, res.urn, path))

    def provider_inputs(self, res: Resource) -> Mapping[str, Any] | None:
        return self.providers.get(res.provider) if res.provider else None

    def placement(self, res: Resource, *, note: bool = True) -> Placement:
        # Several readers ask for the same resource's placement (a group, its budget's scope).
        known = self.by_urn.get(res.urn) is res
        where = self._placements.get(res.urn) if known else None
        if where is None:
            where = placement(res, self.provider_inputs(res))
            if known:
                self._placements[res.urn] = where
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

    def linked_all(self, res: Resource, key: str, types: frozenset[str] | set[str],
                   literal: Any = MISSING) -> list[Resource] | None:
        """Every resource of `types` that input `key` may point at: the one a literal names (none
        when it names something outside the program), else every one the input depends on. None
        when the reference is unknown and nothing it depends on is of `types`."""
        if isinstance(literal, str) and literal and not is_unknown(literal):
            found = self.linked(res, key, types, literal)
            return [found] if found is not None else []
        found = [self.by_urn[u] for u in res.deps_of(key) if u in self.by_urn and self.by_urn[u].type in types]
        if found:
            return found
        loose = [self.by_urn[u] for u in res.dependencies if u in self.by_urn and self.by_urn[u].type in types]
        return loose if len(loose) == 1 else None

    def autoscaled(self, group: Resource) -> list[tuple[Any, str]]:
        """(maximum, where) of every autoscaler of the program that scales `group`. An autoscaler
        whose target is unknown may scale any group of its cloud that has no autoscaler of its own:
        for those its target is noted as unknown."""
        if self._scaling is None:
            self._scaling = {}
            for other in self.resources:
                read = AUTOSCALERS.get(other.type)
                scaling = read(self, other) if read else None
                if scaling is None:
                    continue
                targets, maximum, path = scaling
                where = f"{other.urn}: {path}"
                if targets is None:
                    self._unresolved_scaling.append((other, f"{other.urn}: target"))
                    continue
                for target in targets:
                    self._scaling.setdefault(target.urn, []).append((maximum, where))
        found = self._scaling.get(group.urn)
        if found:
            return found
        return [(UNKNOWN, where) for other, where in self._unresolved_scaling if other.cloud == group.cloud]

    def _names(self) -> dict[str, list[Resource]]:
        """Templates and groups by every literal that can designate them (resource name, name
        input, ID)."""
        if self._name_index is None:
            self._name_index = {}
            for other in self.resources:
                if other.type not in TEMPLATE_TYPES and other.type not in GROUP_TYPES:
                    continue
                names = {other.name, f"{other.name}_id"}  # the ID the recording mocks hand out
                for key in ("name", "namePrefix", "id", "vmScaleSetName"):
                    value = other.inputs.get(key)
                    if isinstance(value, str) and value and not is_unknown(value):
                        names.add(value)
                for name in names:
                    self._name_index.setdefault(name, []).append(other)
        return self._name_index


def effective_tags(reader_or_providers: Any, res: Resource) -> dict[str, Any]:
    """Tags/labels that end up on a resource: its own, plus its provider's default tags/labels."""
    providers = reader_or_providers.providers if isinstance(reader_or_providers, Reader) else reader_or_providers
    out: dict[str, Any] = {}
    prov = providers.get(res.provider) if res.provider and providers else None
    if prov is not None and res.type != aws.ASG:  # AWS default tags never reach Auto Scaling groups
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


def group_tags(reader: Reader, item: Resource) -> dict[str, Any]:
    """Tags that reach a group's nodes: its own, its provider's defaults, its template's."""
    tags = effective_tags(reader, item)
    room = CLOUDS.get(item.cloud or "")
    template = room.template_of(reader, item) if room else None
    if template is not None:
        tags = {**effective_tags(reader, template), **tags}
    return tags
