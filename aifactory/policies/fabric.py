"""Fabric: GPU nodes get every high-bandwidth interface their type has, and multi-node fleets are
placed together.

`fabric-complete` (resource) compares what a node template provisions with the catalog's fabric
for its type: EFA network cards on AWS launch templates and instances, GPU NICs on Google Cloud
instance templates (MRDMA NICs for RDMA types, gVNICs beyond the host NICs for GPUDirect-TCPX/O)
and the RoCE networks' MTU, a single placement group on Azure InfiniBand scale sets. The message
gives the provisioned share of the type's fabric bandwidth.

`fabric-complete-groups` (stack) holds a type a group names itself (an override, EKS `instanceTypes`,
a MIG's instance flexibility) to the interfaces of the template it launches with, which a resource
policy cannot see from the group.

`placement` (resource) asks multi-node on-demand GPU fleets to be placed together: a cluster
placement group on the AWS Auto Scaling group, a compact (COLLOCATED) resource policy on the
Google Cloud instance template, a proximity placement group on the Azure scale set, COMPACT
placement on a GKE node pool. Capacity blocks, reservations and spot are not forced into one (a
capacity block or reservation already fixes where its capacity sits; spot takes what is spare).

A resource policy sees one resource: a Google Cloud instance template does not know how many
nodes its managed instance groups run, so a template is taken to serve a multi-node fleet unless
it carries the literal label `aifactory-nodes` (its node count).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from aifactory import catalog
from aifactory import inventory as inv
from aifactory.inventory import MISSING, UNKNOWN, Resource, as_bool, as_int, is_unknown, lookup
from aifactory.inventory.reader import Reader
from aifactory.policies.common import Setting, Subject, cannot_prove, config_schema, settings, stack_resources, subject

FABRIC_COMPLETE = [
    Setting("minFabricShare", "number", 1.0,
            "Share (0-1) of the type's fabric bandwidth a GPU node must be provisioned with.", minimum=0),
    Setting("aksInfinibandSupport", "boolean", False,
            "The org's subscriptions have the AKSInfinibandSupport feature registered, so AKS places a node "
            "pool's VMs on one InfiniBand network (no resource input shows it)."),
]
FABRIC_COMPLETE_GROUPS = FABRIC_COMPLETE[:1]
PLACEMENT = [
    Setting("minNodes", "integer", 2, "On-demand GPU fleets of at least this many nodes must be placed together.",
            minimum=1),
]

NODES_LABEL = "aifactory-nodes"
ROCE_PROFILE_MARK = "vpc-roce"


def _gbps(value: float) -> str:
    return f"{value:,.0f} Gbps"


def _share_message(s: Subject, itype: catalog.InstanceType, what: str, have: int, need: int, fix: str) -> str:
    if itype.fabric_gbps is None:  # the catalog states no bandwidth for the type: the share is of its interfaces
        return (f"{itype.name} has {need} {what} ({itype.fabric} fabric; its bandwidth is not in the catalog); "
                f"{s.resource.name} provisions {have} ({100 * have / need:.0f}% of the type's {what}). {fix}")
    total = itype.fabric_gbps
    provisioned = total * have / need if need else 0.0
    return (
        f"{itype.name} has {need} {what} ({_gbps(total)} of {itype.fabric} fabric); {s.resource.name} provisions "
        f"{have} ({_gbps(provisioned)}, {100 * have / need:.0f}% of the type's fabric bandwidth). {fix}"
    )


# --------------------------------------------------------------------------- fabric-complete


def _card(nic: Any) -> Any:
    """The network card index of an interface (card 0 when it names none)."""
    index = lookup(nic, "networkCardIndex")
    return as_int(index) if index is not MISSING else 0


def _aws_efa(s: Subject, itype: catalog.InstanceType, min_share: float, report: ReportViolation) -> None:
    if s.type != inv.AWS_LAUNCH_TEMPLATE and s.get("launchTemplate") is not MISSING:
        return  # the launch template carries the interfaces and is judged itself
    nics = s.get("networkInterfaces")
    if nics is UNKNOWN:
        report(cannot_prove("network interfaces", s.resource.urn, "networkInterfaces",
                            f"every EFA card of {itype.name} is provisioned"))
        return
    nics = nics if isinstance(nics, list) else []
    if s.type == inv.AWS_LAUNCH_TEMPLATE:
        cards = {_card(n) for n in nics if lookup(n, "interfaceType") in ("efa", "efa-only")}
        assumed = ""
    else:
        # An instance attaches existing ENIs by ID; their type is not visible here.
        cards = {_card(n) for n in nics}
        assumed = " (counting attached interfaces as EFA; their type is not visible on the instance)"
    if itype.fabric_cards:
        # The type's EFA cards are documented: an interface elsewhere (card 0 is ENA only, the
        # other cards share a NIC or carry ENA) adds no EFA bandwidth.
        cards &= set(itype.fabric_cards)
    need = itype.fabric_interfaces
    have = len(cards)
    if not need:
        if have == 0:
            report(f"{itype.name} has EFA, but {s.resource.name} provisions no EFA interface (the catalog does not "
                   "give its card count). Add a network interface with interfaceType 'efa'.")
        return
    if have / need < min_share:
        if itype.fabric_cards:
            layout = (f"an 'efa-only' interface at device index 0 on networkCardIndex "
                      f"{', '.join(map(str, itype.fabric_cards))} (card 0 carries the ENA primary only)")
        else:
            layout = (f"one interface per card, networkCardIndex 0..{need - 1}: 'efa' at device index 0 on card 0, "
                      "'efa-only' at device index 1 on the others")
        report(_share_message(
            s, itype, "EFA network cards", have, need,
            f"{assumed}Add {layout} (EC2 user guide, efa-acc-inst-types).",
        ))


def _azure_ib(s: Subject, itype: catalog.InstanceType, report: ReportViolation) -> None:
    if s.type != inv.AZURE_VMSS:
        return  # a single VM has no InfiniBand peers to wire
    if s.get("virtualMachineProfile", "capacityReservation") is not MISSING:
        return  # Azure refuses a single placement group together with a capacity reservation
    spg = as_bool(s.get("singlePlacementGroup"))
    if spg is UNKNOWN:
        report(cannot_prove("singlePlacementGroup", s.resource.urn, "singlePlacementGroup",
                            "the scale set's VMs share one InfiniBand fabric"))
        return
    if spg is not True:
        need = itype.fabric_interfaces or 1
        report(_share_message(
            s, itype, "InfiniBand ports", 0, need,
            "InfiniBand connects only the VMs of one placement group: set singlePlacementGroup=true (at most "
            "100 VMs per set; split larger fleets into several sets).",
        ))


def _gcp_nics(s: Subject, itype: catalog.InstanceType, min_share: float, report: ReportViolation) -> None:
    nics = s.get("networkInterfaces")
    if nics is UNKNOWN:
        report(cannot_prove("network interfaces", s.resource.urn, "networkInterfaces",
                            f"every GPU NIC of {itype.name} is provisioned"))
        return
    nics = nics if isinstance(nics, list) else []
    need = itype.fabric_interfaces or 0
    if not need:
        return
    host = itype.host_nics or 1
    if itype.fabric == "rdma":
        have = sum(1 for n in nics if str(lookup(n, "nicType")).upper() == "MRDMA")
        fix = (f"Add {need} network interfaces with nicType MRDMA, one per subnet of the RoCE VPC (network profile "
               f"...-vpc-roce, MTU {itype.fabric_mtu or 8896}), after the {host} gVNIC host NICs.")
    else:
        have = max(0, len(nics) - host)
        fix = (f"Give it {host} host NIC(s) plus {need} gVNIC NICs, each in its own GPU VPC with MTU "
               f"{itype.fabric_mtu or 8244} (Cluster Toolkit multivpc layout).")
    if have / need < min_share:
        report(_share_message(s, itype, "GPU NICs", min(have, need), need, fix))


def _gcp_network_mtu(s: Subject, report: ReportViolation) -> None:
    profile = s.get("networkProfile")
    if not (isinstance(profile, str) and ROCE_PROFILE_MARK in profile):
        return
    need = max((t.fabric_mtu or 0) for t in catalog.instances("gcp") if t.fabric == "rdma") or 8896
    mtu = as_int(s.get("mtu"))
    if mtu is UNKNOWN:
        report(cannot_prove("MTU", s.resource.urn, "mtu", f"the RoCE network runs at MTU {need}"))
    elif mtu is MISSING or mtu < need:
        report(f"{s.resource.name} is a RoCE (RDMA) network with MTU {mtu if mtu is not MISSING else 'default (1460)'}; "
               f"GPU RDMA traffic needs MTU {need} (catalog fabric_mtu). Set mtu={need}.")


def _no_interfaces(s: Subject, itype: catalog.InstanceType, what: str, min_share: float, report: ReportViolation) -> None:
    """A shape that has no network interfaces of its own to carry the type's EFA cards."""
    need = itype.fabric_interfaces or 1
    if min_share > 0:
        report(_share_message(
            s, itype, "EFA network cards", 0, need,
            f"{what} carries no network interfaces, so no EFA card can be attached. Launch the nodes from an "
            "aws.ec2.LaunchTemplate with one interface per card ('efa' at device index 0 on card 0, 'efa-only' at "
            "device index 1 on the others).",
        ))


def _spot_fleet_inline(s: Subject, min_share: float, report: ReportViolation) -> None:
    """A spot fleet's inline launch specifications (its launch template configs' templates are
    judged themselves)."""
    specs = s.get("launchSpecifications")
    for name in dict.fromkeys(lookup(spec, "instanceType") for spec in (specs if isinstance(specs, list) else [])):
        itype = catalog.instance("aws", name) if isinstance(name, str) else None
        if itype is not None and itype.fabric == "efa":
            _no_interfaces(s, itype, f"An inline launch specification ({name})", min_share, report)


def _aks_pools(s: Subject) -> list[tuple[str, Any]]:
    """(pool name, reader of its inputs) of an agent pool or each of a managed cluster's profiles."""
    if s.type == inv.AZURE_AKS_POOL:
        return [(s.resource.name, s.get)]
    profiles = s.get("agentPoolProfiles")
    return [(f"{s.resource.name}/{_label(p, i)}", lambda *path, _p=p: lookup(_p, *path))
            for i, p in enumerate(profiles if isinstance(profiles, list) else [])]


def _label(pool: Any, index: int) -> str:
    name = lookup(pool, "name")
    return name if isinstance(name, str) else str(index)


def _aks_ib(s: Subject, min_share: float, accepted: bool, report: ReportViolation) -> None:
    for pool, get in _aks_pools(s):
        manual = get("virtualMachinesProfile", "scale", "manual")
        sizes = ([lookup(m, "size") for m in manual if isinstance(m, Mapping)] if isinstance(manual, list) and manual
                 else [get("vmSize")])
        for name in dict.fromkeys(x for x in sizes if isinstance(x, str)):
            itype = catalog.instance("azure", name)
            if itype is None or itype.fabric != "infiniband" or accepted or min_share <= 0:
                continue
            report(f"AKS pool {pool} runs {itype.name}, whose {itype.fabric_interfaces or 'every'} InfiniBand ports "
                   "connect only VMs of one placement group, and AKS builds the pool's scale set itself: no input of "
                   "the pool can state that its VMs share one InfiniBand network. AKS places them on one when the "
                   "subscription has the AKSInfinibandSupport feature registered. Register it and set "
                   "fabric-complete.aksInfinibandSupport=true in the team's policy config, or run the fleet as a scale "
                   "set with singlePlacementGroup=true.")


def _gke_pools(s: Subject) -> list[tuple[str, str, Any]]:
    """(pool name, input prefix, reader of its inputs) of a node pool or each of a cluster's own pools."""
    if s.type == inv.GCP_NODE_POOL:
        return [(s.resource.name, "", s.get)]
    pools = s.get("nodePools")
    out = [(f"{s.resource.name}/{_label(p, i)}", f"nodePools[{i}].", lambda *path, _p=p: lookup(_p, *path))
           for i, p in enumerate(pools if isinstance(pools, list) else [])]
    if as_bool(s.get("removeDefaultNodePool")) is not True and not out:
        out.append((f"{s.resource.name}/default-pool", "", None))
    return out


def _gke_nics(s: Subject, min_share: float, report: ReportViolation) -> None:
    for pool, prefix, get in _gke_pools(s):
        machine = (get or s.get)("nodeConfig", "machineType")
        itype = catalog.instance("gcp", inv.machine_type_name(machine)) if isinstance(machine, str) else None
        if itype is None or not itype.fabric_interfaces or itype.fabric not in (
                "gpudirect-tcpx", "gpudirect-tcpxo", "rdma"):
            continue
        need, host = itype.fabric_interfaces, itype.host_nics or 1
        if get is None:
            report(f"The default node pool of {s.resource.name} runs {itype.name}, which has {need} GPU NICs, but a "
                   "cluster's default pool cannot attach additional node networks. Set removeDefaultNodePool=true and "
                   "run the GPU nodes in a gcp.container.NodePool with networkConfig.additionalNodeNetworkConfigs.")
            continue
        config = get("networkConfig")
        profile = lookup(config, "acceleratorNetworkProfile") if isinstance(config, Mapping) else config
        if itype.fabric == "rdma" and isinstance(profile, str) and profile.lower() == "auto":
            continue  # GKE creates the RDMA networks and attaches every NIC itself
        networks = lookup(config, "additionalNodeNetworkConfigs") if isinstance(config, Mapping) else config
        if networks is UNKNOWN or (isinstance(networks, list) and any(not isinstance(n, Mapping) for n in networks)):
            report(cannot_prove("additional node networks", s.resource.urn,
                                f"{prefix}networkConfig.additionalNodeNetworkConfigs",
                                f"every GPU NIC of {itype.name} is attached"))
            continue
        have = max(0, len(networks if isinstance(networks, list) else []) - (host - 1))
        if have / need < min_share:
            auto = " or set networkConfig.acceleratorNetworkProfile='auto'" if itype.fabric == "rdma" else ""
            report(_share_message(
                s, itype, "GPU NICs", min(have, need), need,
                f"Pool {pool}: give it {host - 1 + need} additionalNodeNetworkConfigs ({host - 1} more host network(s) "
                f"and one per GPU NIC, each its own VPC and subnet){auto} (counting every additional network as a GPU "
                "NIC; their NIC type is not visible on the pool).",
            ))


GCP_NETWORK = "gcp:compute/network:Network"
_FABRIC_TYPES = {inv.AWS_LAUNCH_TEMPLATE, inv.AWS_INSTANCE, inv.aws.SPOT_INSTANCE_REQUEST, inv.aws.LAUNCH_CONFIGURATION,
                 inv.AZURE_VMSS, inv.GCP_TEMPLATE, inv.GCP_REGION_TEMPLATE, inv.GCP_INSTANCE, GCP_NETWORK}
_POOL_TYPES = {inv.aws.SPOT_FLEET_REQUEST, inv.AZURE_AKS_POOL, inv.azure.MANAGED_CLUSTER, inv.GCP_NODE_POOL,
               inv.gcp.CLUSTER}


def validate_fabric_complete(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in _FABRIC_TYPES | _POOL_TYPES:
        return  # groups launch templates, and the templates carry the interfaces
    s = subject(args)
    if s.type == GCP_NETWORK:
        _gcp_network_mtu(s, report_violation)
        return
    facts = s.facts
    if facts is None:
        return
    config = settings(args, FABRIC_COMPLETE)
    min_share = float(config["minFabricShare"])
    if facts.unknown:
        report_violation(cannot_prove("instance type", s.resource.urn, facts.path,
                                      "its fabric interfaces are all provisioned"))
        return
    if s.type in _POOL_TYPES:
        if s.type == inv.aws.SPOT_FLEET_REQUEST:
            _spot_fleet_inline(s, min_share, report_violation)
        elif s.type in (inv.AZURE_AKS_POOL, inv.azure.MANAGED_CLUSTER):
            _aks_ib(s, min_share, bool(config["aksInfinibandSupport"]), report_violation)
        else:
            _gke_nics(s, min_share, report_violation)
        return
    for name in facts.gpu_types:
        itype = catalog.instance(facts.cloud, name)
        if itype is None or itype.fabric == "none":
            continue
        if itype.fabric == "efa":
            if s.type == inv.aws.LAUNCH_CONFIGURATION:
                _no_interfaces(s, itype, "A launch configuration", min_share, report_violation)
            else:
                _aws_efa(s, itype, min_share, report_violation)
        elif itype.fabric == "infiniband":
            _azure_ib(s, itype, report_violation)
        elif itype.fabric in ("gpudirect-tcpx", "gpudirect-tcpxo", "rdma"):
            _gcp_nics(s, itype, min_share, report_violation)


# --------------------------------------------------------------------------- fabric-complete-groups

# What a group says of the template a type launches with: the templates, or why there are none.
_UNKNOWN_TEMPLATE, _OUTSIDE, _EKS_DEFAULT = "unknown", "outside", "eks-default"


def _templates(reader: Reader, res: Resource, key: str, spec: Any, id_keys: tuple[str, str],
               types: frozenset[str]) -> list[Resource] | str:
    """The templates a launch template reference (a mapping with an ID or name) designates."""
    literal: Any = MISSING
    if isinstance(spec, Mapping):
        for id_key in id_keys:
            literal = lookup(spec, id_key)
            if literal is not MISSING:
                break
    elif spec is not MISSING:
        literal = spec
    found = reader.linked_all(res, key, types, UNKNOWN if is_unknown(literal) else literal)
    if found is None:
        return _UNKNOWN_TEMPLATE
    return found or _OUTSIDE


_AWS_LT = frozenset({inv.AWS_LAUNCH_TEMPLATE})
_GCP_TEMPLATES = frozenset({inv.GCP_TEMPLATE, inv.GCP_REGION_TEMPLATE})
_LT_IDS = ("launchTemplateId", "launchTemplateName")

# (instance type or UNKNOWN, its input path, its templates or why there are none, the template's input path)
_Pair = tuple[Any, str, Any, str]


def _override_pairs(reader: Reader, res: Resource, key: str, overrides: Any, path: str, base: Any,
                    base_path: str) -> list[_Pair]:
    if overrides is UNKNOWN:
        return [(UNKNOWN, path, base, base_path)]
    out: list[_Pair] = []
    for i, override in enumerate(overrides if isinstance(overrides, list) else []):
        where = f"{path}[{i}]"
        if not isinstance(override, Mapping):
            out.append((UNKNOWN, where, base, base_path))
            continue
        templates, tpl_path = base, base_path
        own = lookup(override, "launchTemplateSpecification")
        if own is not MISSING:
            templates = _templates(reader, res, key, own, _LT_IDS, _AWS_LT)
            tpl_path = f"{where}.launchTemplateSpecification"
        itype = lookup(override, "instanceType")
        if itype is not MISSING:
            out.append((itype, f"{where}.instanceType", templates, tpl_path))
        else:
            for t, p in inv.aws.requirement_types(lookup(override, "instanceRequirements"), f"{where}.instanceRequirements"):
                out.append((t, p, templates, tpl_path))
    return out


def _group_pairs(reader: Reader, res: Resource) -> list[_Pair]:
    """Each instance type a group names itself, with the template(s) it launches with."""
    t = res.type
    if t == inv.AWS_ASG:
        mip = ("mixedInstancesPolicy", "launchTemplate")
        if res.get("launchTemplate") is not MISSING:
            base = _templates(reader, res, "launchTemplate", res.get("launchTemplate"), ("id", "name"), _AWS_LT)
            base_path = "launchTemplate"
        else:
            base = _templates(reader, res, "mixedInstancesPolicy", res.get(*mip, "launchTemplateSpecification"),
                              _LT_IDS, _AWS_LT)
            base_path = "mixedInstancesPolicy.launchTemplate.launchTemplateSpecification"
        return _override_pairs(reader, res, "mixedInstancesPolicy", res.get(*mip, "overrides"),
                               "mixedInstancesPolicy.launchTemplate.overrides", base, base_path)
    if t == inv.AWS_EKS_NODE_GROUP:
        types = res.get("instanceTypes")
        if types is MISSING:
            return []  # the launch template's own type, judged with the template
        spec = res.get("launchTemplate")
        templates = _EKS_DEFAULT if spec is MISSING else _templates(reader, res, "launchTemplate", spec, ("id", "name"),
                                                                    _AWS_LT)
        if not isinstance(types, list):
            return [(UNKNOWN, "instanceTypes", templates, "launchTemplate")]
        return [(x, f"instanceTypes[{i}]", templates, "launchTemplate") for i, x in enumerate(types)]
    if t in (inv.aws.FLEET, inv.aws.SPOT_FLEET_REQUEST):
        configs = res.get("launchTemplateConfigs")
        ids = _LT_IDS if t == inv.aws.FLEET else ("id", "name")
        if configs is UNKNOWN:
            return [(UNKNOWN, "launchTemplateConfigs", _UNKNOWN_TEMPLATE, "launchTemplateConfigs")]
        out: list[_Pair] = []
        for i, config in enumerate(configs if isinstance(configs, list) else []):
            where = f"launchTemplateConfigs[{i}]"
            spec = lookup(config, "launchTemplateSpecification") if isinstance(config, Mapping) else UNKNOWN
            base = _templates(reader, res, "launchTemplateConfigs", spec, ids, _AWS_LT)
            overrides = lookup(config, "overrides") if isinstance(config, Mapping) else UNKNOWN
            out += _override_pairs(reader, res, "launchTemplateConfigs", overrides, f"{where}.overrides", base,
                                   f"{where}.launchTemplateSpecification")
        return out
    if t in (inv.GCP_MIG, inv.GCP_REGION_MIG):
        selections = res.get("instanceFlexibilityPolicy", "instanceSelections")
        if selections is MISSING:
            return []
        versions = res.get("versions")
        if not isinstance(versions, list):
            templates: Any = _UNKNOWN_TEMPLATE
        else:
            templates = []
            for version in versions:
                found = _templates(reader, res, "versions", lookup(version, "instanceTemplate"), ("", ""),
                                   _GCP_TEMPLATES) if isinstance(version, Mapping) else _UNKNOWN_TEMPLATE
                if isinstance(found, str):
                    templates = found
                    break
                templates += found
        if not isinstance(selections, list):
            return [(UNKNOWN, "instanceFlexibilityPolicy.instanceSelections", templates, "versions")]
        out = []
        for i, selection in enumerate(selections):
            path = f"instanceFlexibilityPolicy.instanceSelections[{i}].machineTypes"
            machines = lookup(selection, "machineTypes")
            if not isinstance(machines, list):
                out.append((UNKNOWN, path, templates, "versions"))
                continue
            out += [(m if is_unknown(m) or not isinstance(m, str) else inv.machine_type_name(m), f"{path}[{j}]",
                     templates, "versions") for j, m in enumerate(machines)]
        return out
    return []


_GROUP_TYPES = {inv.AWS_ASG, inv.AWS_EKS_NODE_GROUP, inv.aws.FLEET, inv.aws.SPOT_FLEET_REQUEST, inv.GCP_MIG,
                inv.GCP_REGION_MIG}


def _judge_pair(res: Resource, pair: _Pair, min_share: float, report: ReportViolation) -> None:
    value, path, templates, tpl_path = pair
    cloud = res.cloud or ""
    gate = "every fabric interface of its instance types is provisioned"
    if value is UNKNOWN or is_unknown(value) or not isinstance(value, str):
        report(cannot_prove("instance type", res.urn, path, gate), res.urn)
        return
    itype = catalog.instance(cloud, value)
    if itype is None or itype.fabric == "none":
        return
    if templates == _UNKNOWN_TEMPLATE:
        report(cannot_prove("launch template", res.urn, tpl_path, f"{value} gets its fabric interfaces"), res.urn)
        return
    if templates == _OUTSIDE:
        report(f"{res.name} launches {value} ({path}) from a template outside this program ({tpl_path}), so the "
               f"gate cannot prove it carries the type's {itype.fabric_interfaces or ''} {itype.fabric} interfaces. "
               "Declare the template in the program.", res.urn)
        return
    if templates == _EKS_DEFAULT:
        if itype.fabric == "efa" and min_share > 0:
            report(f"{res.name} launches {value} ({path}) from the launch template EKS makes itself, which attaches "
                   f"no EFA interface, so none of its {itype.fabric_interfaces or ''} EFA cards is used. Give the node "
                   "group a launch template with one interface per network card ('efa' at device index 0 on card 0, "
                   "'efa-only' at device index 1 on the others).", res.urn)
        return
    for template in templates:
        own = template.get("instanceType") if template.cloud == "aws" else template.get("machineType")
        if isinstance(own, str) and inv.machine_type_name(own) == value:
            continue  # the template's own type: fabric-complete judges the template itself
        subject_ = Subject(template, None)

        def prefixed(message: str, *_: Any, _t: Resource = template) -> None:
            report(f"{res.name} launches {value} ({path}) from {_t.name}: {message}", res.urn)

        if itype.fabric == "efa":
            _aws_efa(subject_, itype, min_share, prefixed)
        elif itype.fabric in ("gpudirect-tcpx", "gpudirect-tcpxo", "rdma"):
            _gcp_nics(subject_, itype, min_share, prefixed)


# The input by which each group names a type itself; a stack without one has nothing to judge.
_OWN_TYPES = {inv.AWS_ASG: "mixedInstancesPolicy", inv.AWS_EKS_NODE_GROUP: "instanceTypes",
              inv.aws.FLEET: "launchTemplateConfigs", inv.aws.SPOT_FLEET_REQUEST: "launchTemplateConfigs",
              inv.GCP_MIG: "instanceFlexibilityPolicy", inv.GCP_REGION_MIG: "instanceFlexibilityPolicy"}


def _names_types_itself(resource: Any) -> bool:
    key = _OWN_TYPES.get(resource.resource_type)
    # The keys only: reading a value through the SDK's proxy raises when it is unknown.
    return key is not None and (key in list(resource.props or {}) or bool((resource.property_dependencies or {}).get(key)))


def validate_fabric_complete_groups(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    if not any(_names_types_itself(r) for r in args.resources):
        return
    resources, providers = stack_resources(args)
    groups = [r for r in resources if r.type in _GROUP_TYPES]
    if not groups:
        return
    reader = Reader(resources, providers)
    min_share = float(settings(args, FABRIC_COMPLETE_GROUPS)["minFabricShare"])
    for res in groups:
        for pair in _group_pairs(reader, reader.by_urn[res.urn]):
            _judge_pair(res, pair, min_share, report_violation)


# --------------------------------------------------------------------------- placement


def _count(*values: Any) -> Any:
    """The largest known count; UNKNOWN if none is known but one is unknown."""
    known = [v for v in (as_int(x) for x in values) if isinstance(v, int)]
    if known:
        return max(known)
    return UNKNOWN if any(as_int(x) is UNKNOWN for x in values) else MISSING


def _placement_aws(s: Subject, min_nodes: int, report: ReportViolation) -> None:
    facts = s.facts
    if facts is None or not facts.is_gpu:
        return
    tags = inv.resource_tags(s.resource)
    capacity = tags.get(inv.CAPACITY_TAG)
    dist = s.get("mixedInstancesPolicy", "instancesDistribution")
    if isinstance(dist, Mapping) and as_int(lookup(dist, "onDemandPercentageAboveBaseCapacity")) == 0 \
            and as_int(lookup(dist, "onDemandBaseCapacity")) in (MISSING, 0):
        capacity = "spot"
    if capacity in ("capacity-block", "reservation", "spot"):
        return
    if s.get("placementGroup") is not MISSING:
        return  # set (an unknown ID of a placement group made in the same program counts)
    nodes = _count(s.get("desiredCapacity"), s.get("minSize"), s.get("maxSize"))
    if nodes is UNKNOWN:
        report(cannot_prove("node count", s.resource.urn, "desiredCapacity/maxSize",
                            "the fleet is small enough to go without a placement group"))
        return
    if isinstance(nodes, int) and nodes >= min_nodes:
        assumed = "" if capacity else (
            f" (capacity read as on-demand: tag the group {inv.CAPACITY_TAG}=capacity-block|reservation|spot if not)")
        report(f"{s.resource.name} runs up to {nodes} {facts.gpu_types[0]} nodes on demand{assumed} without a "
               "placement group, so EC2 may spread them across the zone's network spine and collective traffic "
               "slows. Create an aws.ec2.PlacementGroup with strategy 'cluster' and set the group's placementGroup.")


def _placement_azure(s: Subject, min_nodes: int, report: ReportViolation) -> None:
    facts = s.facts
    if facts is None or not facts.is_gpu:
        return
    priority = s.get("virtualMachineProfile", "priority")
    if isinstance(priority, str) and priority.lower() in ("spot", "low"):
        return
    if s.get("virtualMachineProfile", "capacityReservation") is not MISSING:
        return
    if s.get("proximityPlacementGroup", "id") is not MISSING:
        return
    nodes = as_int(s.get("sku", "capacity"))
    if nodes is UNKNOWN:
        report(cannot_prove("node count", s.resource.urn, "sku.capacity",
                            "the set is small enough to go without a proximity placement group"))
        return
    if isinstance(nodes, int) and nodes >= min_nodes:
        report(f"{s.resource.name} runs {nodes} {facts.gpu_types[0]} VMs on demand outside a proximity placement "
               "group. Create an azure-native compute.ProximityPlacementGroup and set proximityPlacementGroup.id "
               "on the scale set.")


def _placement_gcp_template(s: Subject, min_nodes: int, report: ReportViolation) -> None:
    facts = s.facts
    if facts is None or not facts.is_gpu:
        return
    model = s.get("scheduling", "provisioningModel")
    if (isinstance(model, str) and model.upper() == "SPOT") or as_bool(s.get("scheduling", "preemptible")) is True:
        return
    affinity = s.get("reservationAffinity", "type")
    if isinstance(affinity, str) and affinity.upper() == "SPECIFIC_RESERVATION":
        return
    policies = s.get("resourcePolicies")
    if policies is UNKNOWN or (policies is not MISSING and policies != [] and policies != ""):
        return  # a resource policy is attached (its self link is only known after deploy)
    declared = as_int(s.get("labels", NODES_LABEL))
    if isinstance(declared, int) and declared < min_nodes:
        return
    report(f"{s.resource.name} launches {facts.gpu_types[0]} nodes on demand without a compact placement policy, "
           "so a multi-node fleet may be spread out and its collective traffic slows. Create a "
           "gcp.compute.ResourcePolicy with groupPlacementPolicy.collocation = 'COLLOCATED' and set it in "
           f"resourcePolicies (a template for a single node: label it {NODES_LABEL}=1).")


def _placement_gke(s: Subject, min_nodes: int, report: ReportViolation) -> None:
    facts = s.facts
    if facts is None or not facts.is_gpu:
        return
    if as_bool(s.get("nodeConfig", "spot")) is True or as_bool(s.get("nodeConfig", "preemptible")) is True:
        return
    if s.get("nodeConfig", "reservationAffinity") is not MISSING:
        return
    kind = s.get("placementPolicy", "type")
    if kind is UNKNOWN or (isinstance(kind, str) and kind.upper() == "COMPACT"):
        return
    nodes = _count(s.get("nodeCount"), s.get("initialNodeCount"), s.get("autoscaling", "maxNodeCount"))
    if isinstance(nodes, int) and nodes >= min_nodes:
        report(f"{s.resource.name} runs {nodes} {facts.gpu_types[0]} nodes on demand without compact placement. "
               "Set placementPolicy.type = 'COMPACT'.")


_PLACEMENT_CHECKS = {
    inv.AWS_ASG: _placement_aws,
    inv.AZURE_VMSS: _placement_azure,
    inv.GCP_TEMPLATE: _placement_gcp_template,
    inv.GCP_REGION_TEMPLATE: _placement_gcp_template,
    inv.GCP_NODE_POOL: _placement_gke,
}


def validate_placement(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    check = _PLACEMENT_CHECKS.get(args.resource_type)
    if check is not None:
        check(subject(args), int(settings(args, PLACEMENT)["minNodes"]), report_violation)


fabric_complete = ResourceValidationPolicy(
    name="fabric-complete",
    description="GPU node templates carry every high-bandwidth interface their instance type has.",
    validate=validate_fabric_complete,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=config_schema(FABRIC_COMPLETE),
)

fabric_complete_groups = StackValidationPolicy(
    name="fabric-complete-groups",
    description="A type a group names itself (Auto Scaling group and fleet overrides, EKS instanceTypes, MIG instance "
                "flexibility) launches from a template carrying every fabric interface of that type.",
    validate=validate_fabric_complete_groups,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=config_schema(FABRIC_COMPLETE_GROUPS),
)

placement = ResourceValidationPolicy(
    name="placement",
    description="Multi-node on-demand GPU fleets are placed together (cluster / compact / proximity placement).",
    validate=validate_placement,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=config_schema(PLACEMENT),
)

POLICIES = [fabric_complete, placement, fabric_complete_groups]
