"""Catalog and cloud rules for a facility spec: one small check per rule.

Each check takes the structurally valid `FacilitySpec` and yields `Problem`s naming the
config path, what is wrong and what to do. `check` runs them all, so a config gets every
problem at once; `resolve` fills in what the spec left to the catalog (instance type from
`gpu:`, the zone).

Name limits: the facility name (24) and fleet/filesystem names (16) are capped in the model
so that the longest derived name, `<facility>-<fleet>-<NNN>-template` (54 characters), fits
every cloud's tightest limit: Google Cloud resource names (63, and a managed instance group
appends `-xxxx` to its base instance name), Azure scale-set computer-name prefixes and AWS IAM
role names (64).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator

from aifactory import catalog, netplan, tag_limits
from aifactory.spec import FacilitySpec, FleetSpec, Problem, config_path

Check = Callable[[FacilitySpec], Iterator[Problem]]
_CHECKS: list[Check] = []

RESERVED_TAG_KEYS = ("facility", "team", "managed-by")
_AWS_ZONE_ID = re.compile(r"^[a-z]{2,}[0-9]-az[0-9]+$")
RFC1918 = tuple(ipaddress.ip_network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
DATA_REPOSITORY_SCHEMES = {"aws": ("s3://",), "azure": ("https://",), "gcp": ("gs://",)}


_WHOLE: set[Check] = set()  # rules that judge the config as a whole, not entry by entry


def rule(fn: Check) -> Check:
    _CHECKS.append(fn)
    return fn


def whole_config_rule(fn: Check) -> Check:
    """A rule that is only right about the complete config (it judges what is missing), so it
    is skipped when some entries were set aside for failing their shape check."""
    _WHOLE.add(fn)
    return rule(fn)


def _path(*parts: object) -> str:
    return config_path(list(parts))


def fleet_instance(spec: FacilitySpec, fleet: FleetSpec) -> catalog.InstanceType | None:
    """The catalog entry a fleet runs on, whether named directly or through `gpu:`."""
    if fleet.instance_type:
        return catalog.instance(spec.cloud, fleet.instance_type)
    if fleet.gpu:
        candidates = _gpu_candidates(spec, fleet)
        return candidates[0] if candidates else None
    return None


def _gpu_candidates(spec: FacilitySpec, fleet: FleetSpec) -> list[catalog.InstanceType]:
    """Types with the asked GPU offered in the region: the richest fabric first, then the cheapest."""
    offered = [
        itype
        for itype in catalog.resolve_gpu(spec.cloud, fleet.gpu or "", fleet.gpus_per_node)
        if spec.region in catalog.regions(spec.cloud, itype.name)
    ]

    def rank(itype: catalog.InstanceType) -> tuple[float, float]:
        price = catalog.price(spec.cloud, itype.name, spec.region, fleet.capacity) or catalog.price(
            spec.cloud, itype.name, spec.region
        )
        return (-(itype.fabric_gbps_per_gpu or 0.0), price.usd_per_hour if price else float("inf"))

    return sorted(offered, key=rank)


@rule
def region_known(spec: FacilitySpec) -> Iterator[Problem]:
    known = catalog.known_regions(spec.cloud)
    if spec.region not in known:
        yield Problem(
            _path("region"),
            f"'{spec.region}' offers none of the {spec.cloud} GPU types in the catalog; "
            f"GPU regions are: {', '.join(sorted(known))}",
        )


@rule
def fleet_type_known(spec: FacilitySpec) -> Iterator[Problem]:
    for i, fleet in enumerate(spec.fleets):
        if bool(fleet.instance_type) == bool(fleet.gpu):
            yield Problem(_path("fleets", i), "give exactly one of instance_type or gpu")
            continue
        if fleet.instance_type:
            if catalog.instance(spec.cloud, fleet.instance_type) is None:
                names = ", ".join(t.name for t in catalog.instances(spec.cloud))
                yield Problem(
                    _path("fleets", i, "instance_type"),
                    f"'{fleet.instance_type}' is not a {spec.cloud} GPU type in the catalog; known: {names}",
                )
            if fleet.gpus_per_node is not None:
                yield Problem(_path("fleets", i, "gpus_per_node"), "is only used with gpu:, not instance_type")
            continue
        if not catalog.resolve_gpu(spec.cloud, fleet.gpu or "", fleet.gpus_per_node):
            models = sorted({t.gpu_model for t in catalog.instances(spec.cloud)})
            per_node = f" with {fleet.gpus_per_node} per node" if fleet.gpus_per_node else ""
            yield Problem(
                _path("fleets", i, "gpu"),
                f"no {spec.cloud} type has {fleet.gpu}{per_node}; GPU models on {spec.cloud}: {', '.join(models)}",
            )
        elif not _gpu_candidates(spec, fleet):
            yield Problem(
                _path("fleets", i, "gpu"),
                f"no {spec.cloud} type with {fleet.gpu} is offered in {spec.region}; "
                f"try `aifactory quote --gpu {fleet.gpu} --cloud {spec.cloud}`",
            )


@rule
def fleet_offered_in_region(spec: FacilitySpec) -> Iterator[Problem]:
    for i, fleet in enumerate(spec.fleets):
        itype = catalog.instance(spec.cloud, fleet.instance_type or "")
        if itype is None:
            continue
        regions = catalog.regions(spec.cloud, itype.name)
        if spec.region not in regions:
            where = f"it is offered in: {', '.join(regions)}" if regions else "the catalog knows no region offering it"
            yield Problem(_path("fleets", i, "instance_type"), f"{itype.name} is not offered in {spec.region}; {where}")
        elif spec.zone:
            zones = zone_options(spec.cloud, itype.name, spec.region, spec.zone)
            if zones and spec.zone not in zones:
                yield Problem(
                    _path("zone"),
                    f"{itype.name} (fleet '{fleet.name}') is not offered in {spec.zone}; "
                    f"zones offering it: {', '.join(zones)}",
                )


def is_aws_zone_id(zone: str) -> bool:
    return bool(_AWS_ZONE_ID.match(zone))


def zone_options(cloud: str, instance_type: str, region: str, like: str | None = None) -> tuple[str, ...]:
    """Zones the catalog says offer a type; on AWS zone IDs (stable across accounts) unless
    `like` is a zone name, which the catalog cannot check (names map to IDs per account)."""
    if cloud == "aws":
        if like is not None and not is_aws_zone_id(like):
            return ()
        for offering in catalog.offerings(cloud, instance_type):
            if offering.region == region:
                return tuple(getattr(offering, "zone_ids", ()) or offering.zones)
        return ()
    return catalog.zones(cloud, instance_type, region)


def zone_name_pattern(cloud: str, region: str) -> re.Pattern | None:
    """What a zone name of the region looks like: AWS `<region><letter>` (or a Local Zone's
    `<region>-<place>-<n><letter>`), Google Cloud `<region>-<letter>`, Azure `1`, `2` or `3`."""
    escaped = re.escape(region)
    return {
        "aws": re.compile(rf"^{escaped}([a-z]|-[a-z]+-[0-9]+[a-z])$"),
        "gcp": re.compile(rf"^{escaped}-[a-z]$"),
        "azure": re.compile(r"^[123]$"),
    }.get(cloud)


@rule
def zone_in_region(spec: FacilitySpec) -> Iterator[Problem]:
    if spec.zone is None:
        return
    if spec.cloud == "aws" and is_aws_zone_id(spec.zone):
        known = {z.rsplit("-az", 1)[0] for f in spec.fleets if f.instance_type
                 for z in zone_options("aws", f.instance_type, spec.region, spec.zone)}
        if known and spec.zone.rsplit("-az", 1)[0] not in known:
            yield Problem(_path("zone"), f"'{spec.zone}' is not a zone ID of {spec.region} ({', '.join(sorted(known))}-az…)")
        return
    pattern = zone_name_pattern(spec.cloud, spec.region)
    if pattern is None or pattern.match(spec.zone):
        return
    if spec.cloud == "azure":
        yield Problem(_path("zone"), "Azure availability zones are '1', '2' or '3'")
    else:
        example = f"{spec.region}a or a zone ID like use1-az4" if spec.cloud == "aws" else f"{spec.region}-a"
        yield Problem(_path("zone"), f"'{spec.zone}' is not a zone of {spec.region} (for example {example})")


@rule
def common_zone_exists(spec: FacilitySpec) -> Iterator[Problem]:
    if spec.zone or len(spec.fleets) < 2:
        return
    if _common_zones(spec) == []:
        yield Problem(
            _path("fleets"),
            f"no zone of {spec.region} offers every fleet's type; split the facility or set zone",
        )


def _common_zones(spec: FacilitySpec) -> list[str] | None:
    """Zones offering every fleet's type; None when the catalog knows no zones for some type."""
    common: set[str] | None = None
    for fleet in spec.fleets:
        itype = fleet_instance(spec, fleet)
        if itype is None:
            return None
        zones = set(zone_options(spec.cloud, itype.name, spec.region))
        if not zones:
            return None
        common = zones if common is None else common & zones
    return sorted(common) if common is not None else None


@whole_config_rule
def zone_known(spec: FacilitySpec) -> Iterator[Problem]:
    """AWS and Google Cloud facilities live in one zone (an AWS subnet, a GCP zonal group and
    filesystem); the facility must know which: given, or chosen from the fleets' types."""
    if spec.cloud not in ("aws", "gcp") or spec.zone:
        return
    example = f"a zone ID like use1-az4, or a zone name like {spec.region}a" if spec.cloud == "aws" else f"like {spec.region}-a"
    if not spec.fleets:
        yield Problem(_path("zone"), f"is required on {spec.cloud} when there are no fleets to choose it from ({example})")
        return
    zones = _common_zones(spec)
    # An empty list (no zone offers every type) is common_zone_exists's to report on Google Cloud.
    if zones is None or (spec.cloud == "aws" and not zones):
        yield Problem(
            _path("zone"),
            f"the catalog knows no zone of {spec.region} offering every fleet's type; set zone ({example})",
        )


@rule
def budget_fits_cloud_limits(spec: FacilitySpec) -> Iterator[Problem]:
    if spec.budget is None:
        return
    # AWS Budgets: 10 notifications a budget (one actual and one forecasted per threshold) and
    # 10 email subscribers a notification; Google Cloud budgets: 5 monitoring channels.
    limits = {"aws": ("thresholds_pct", 5, "AWS allows 10 notifications a budget: an actual and a forecasted one each"),
              "gcp": ("alert_emails", 5, "a Google Cloud budget notifies at most 5 monitoring channels")}
    emails = {"aws": 10}
    if spec.cloud in limits:
        key, most, why = limits[spec.cloud]
        if len(getattr(spec.budget, key)) > most:
            yield Problem(_path("budget", key), f"at most {most} on {spec.cloud}: {why}")
    if len(spec.budget.alert_emails) > emails.get(spec.cloud, 10**6):
        yield Problem(_path("budget", "alert_emails"), "at most 10 on aws (email subscribers a notification)")


@rule
def budget_enforcement_supported(spec: FacilitySpec) -> Iterator[Problem]:
    # AWS (a Lambda function) and Google Cloud (a Cloud Run function on the budget's Pub/Sub topic)
    # scale the facility's groups to zero at 100 %; Azure has no stop action here yet.
    if spec.budget is not None and spec.budget.enforce == "stop" and spec.cloud == "azure":
        yield Problem(
            _path("budget", "enforce"),
            "'stop' is not available on azure yet (budgets there alert only); use 'none'",
        )


@rule
def reservation_matches_capacity(spec: FacilitySpec) -> Iterator[Problem]:
    for i, fleet in enumerate(spec.fleets):
        reserved = fleet.capacity in ("reservation", "capacity-block")
        if reserved and not fleet.reservation_id:
            yield Problem(
                _path("fleets", i, "reservation_id"),
                f"is required for capacity '{fleet.capacity}' (the reservation to launch into)",
            )
        if not reserved and fleet.reservation_id:
            yield Problem(
                _path("fleets", i, "reservation_id"),
                f"is only used with capacity 'reservation' or 'capacity-block', not '{fleet.capacity}'",
            )


@rule
def capacity_block_sold(spec: FacilitySpec) -> Iterator[Problem]:
    for i, fleet in enumerate(spec.fleets):
        if fleet.capacity != "capacity-block":
            continue
        if spec.cloud != "aws":
            yield Problem(
                _path("fleets", i, "capacity"),
                f"capacity blocks are an AWS offering; on {spec.cloud} use 'reservation'",
            )
            continue
        itype = fleet_instance(spec, fleet)
        if itype is not None and not itype.capacity_block:
            sold = ", ".join(t.name for t in catalog.instances("aws") if t.capacity_block)
            yield Problem(
                _path("fleets", i, "capacity"),
                f"{itype.name} is not sold as EC2 Capacity Blocks for ML; types that are: {sold}",
            )


# How each restricted capacity type is bought, for the refusal message.
_HOW_SOLD = {
    "capacity-block": "buy an EC2 Capacity Block and give its ID as reservation_id",
    "reservation": "reserve the capacity and give the reservation as reservation_id",
}


@rule
def capacity_sold(spec: FacilitySpec) -> Iterator[Problem]:
    """A type sold only some ways (UltraServers only as Capacity Blocks, A4X only through
    reservations) refuses every other capacity type."""
    for i, fleet in enumerate(spec.fleets):
        itype = fleet_instance(spec, fleet)
        if itype is None or itype.sold_as(fleet.capacity):
            continue
        if fleet.capacity == "capacity-block" and spec.cloud != "aws":
            continue  # capacity_block_sold says so
        sold = " or ".join(f"'{c}'" for c in itype.capacities)
        how = "; ".join(_HOW_SOLD[c] for c in itype.capacities if c in _HOW_SOLD)
        yield Problem(
            _path("fleets", i, "capacity"),
            f"{itype.name} is sold only as {sold}, not '{fleet.capacity}'" + (f": {how}" if how else ""),
        )


@rule
def ultraserver_sizes(spec: FacilitySpec) -> Iterator[Problem]:
    for i, fleet in enumerate(spec.fleets):
        itype = fleet_instance(spec, fleet)
        if itype is None or not itype.ultraserver_nodes:
            continue
        unit = min(itype.ultraserver_nodes)
        if fleet.nodes % unit:
            sizes = " or ".join(f"{n} instances ({n * itype.gpu_count} GPUs)" for n in itype.ultraserver_nodes)
            yield Problem(
                _path("fleets", i, "nodes"),
                f"{itype.name} comes in UltraServers of {sizes}, one NVLink domain each; "
                f"nodes must be a multiple of {unit}, not {fleet.nodes}",
            )


@rule
def arm64_image_known(spec: FacilitySpec) -> Iterator[Problem]:
    # Azure's Ubuntu-HPC marketplace image is x64 only (azhpc-images lists no arm64 SKU); a
    # facility has no image key, so a Grace-based size cannot be given a bootable image here.
    if spec.cloud != "azure":
        return
    for i, fleet in enumerate(spec.fleets):
        itype = fleet_instance(spec, fleet)
        if itype is not None and itype.arm64:
            yield Problem(
                _path("fleets", i, "instance_type"),
                f"{itype.name} runs on arm64 NVIDIA Grace CPUs and no arm64 Azure HPC image is known to the "
                "facility; build this fleet with the azure GpuFleet component and an arm64 image of your own "
                "(GpuFleetArgs.image)",
            )


@rule
def unique_names(spec: FacilitySpec) -> Iterator[Problem]:
    for key, items in (("fleets", spec.fleets), ("filesystems", spec.filesystems)):
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.name in seen:
                yield Problem(_path(key, i, "name"), f"'{item.name}' is used by another entry in {key}")
            seen.add(item.name)


@rule
def filesystem_on_cloud_steps(spec: FacilitySpec) -> Iterator[Problem]:
    kinds = catalog.storage_kinds(spec.cloud)
    for i, fs in enumerate(spec.filesystems):
        if fs.kind not in kinds:
            yield Problem(_path("filesystems", i, "kind"), f"{spec.cloud} offers: {', '.join(kinds)}")
            continue
        skus = catalog.storage_skus(spec.cloud, fs.kind)
        tiers = sorted(s.throughput_mbps_per_tib for s in skus if s.throughput_mbps_per_tib)
        if tiers and fs.throughput_mbps_per_tib is None:
            yield Problem(
                _path("filesystems", i, "throughput_mbps_per_tib"),
                f"is required for {spec.cloud} {fs.kind}: one of {', '.join(map(str, tiers))}",
            )
            continue
        if (fs.capacity_tib is None) == (fs.capacity_gib is None):
            yield Problem(_path("filesystems", i), "give exactly one of capacity_tib or capacity_gib")
            continue
        service_tiers = [s.sku for s in skus if not s.throughput_mbps_per_tib and len(skus) > 1]
        if fs.tier is not None and fs.tier not in service_tiers:
            offered = f"one of {', '.join(service_tiers)}" if service_tiers else f"not used by {fs.kind}; leave it out"
            yield Problem(_path("filesystems", i, "tier"), f"{spec.cloud} {fs.kind} tier is {offered}")
            continue
        sku = filesystem_sku(spec.cloud, fs)
        if sku is None:
            if tiers:
                message = f"{spec.cloud} {fs.kind} offers {', '.join(map(str, tiers))} MB/s per TiB"
            else:
                message = f"{spec.cloud} {fs.kind} has no throughput tiers; leave it out"
            yield Problem(_path("filesystems", i, "throughput_mbps_per_tib"), message)
            continue
        gib = filesystem_gib(fs, sku)
        if not sku.allows(gib):
            key = "capacity_tib" if fs.capacity_tib is not None else "capacity_gib"
            yield Problem(_path("filesystems", i, key), _steps_message(gib, sku))


def filesystem_sku(cloud: str, fs) -> catalog.StorageSku | None:
    """The catalog SKU a filesystem spec asks for: by throughput tier, or by service tier (Filestore)."""
    if fs.tier is not None:
        return next((s for s in catalog.storage_skus(cloud, fs.kind) if s.sku == fs.tier), None)
    return catalog.storage_sku(cloud, fs.kind, fs.throughput_mbps_per_tib)


def filesystem_size_gib(cloud: str, fs) -> int:
    """A checked filesystem spec's size in the cloud API's GiB, whichever of capacity_tib or
    capacity_gib it gave (what every cloud's Facility passes to its ParallelFilesystem)."""
    sku = filesystem_sku(cloud, fs)
    if sku is None:
        raise ValueError(f"the catalog has no {cloud} {fs.kind} SKU for this filesystem")
    return filesystem_gib(fs, sku)


def filesystem_gib(fs, sku: catalog.StorageSku) -> int:
    """A filesystem spec's (or a bare TiB figure's) size in the cloud API's GiB."""
    if isinstance(fs, (int, float)):
        return round(fs * sku.gib_per_tib)
    if fs.capacity_gib is not None:
        return fs.capacity_gib
    return round(fs.capacity_tib * sku.gib_per_tib)


def _size(gib: int, sku: catalog.StorageSku) -> str:
    """Sizes in TiB where the cloud's steps are whole TiB, else in GiB (capacity_gib)."""
    steps = [v for v in (sku.min_gib, sku.step_gib) if v]
    if all(v % sku.gib_per_tib == 0 or sku.gib_per_tib == 1000 for v in steps):
        return f"{gib / sku.gib_per_tib:g} TiB"
    return f"{gib} GiB"


def _steps_message(gib: int, sku: catalog.StorageSku) -> str:
    text = f"{_size(gib, sku)} is not a size {sku.sku} offers: it takes {_size(sku.min_gib, sku)}"
    if sku.step_gib:
        text += f" or a multiple of {_size(sku.step_gib, sku)}"
    large = getattr(sku, "large_step_gib", None)
    above = getattr(sku, "large_step_above_gib", None)
    if large and above:
        text += f" ({_size(large, sku)} steps above {_size(above, sku)})"
    if sku.max_gib:
        text += f", up to {_size(sku.max_gib, sku)}"
    return text


@rule
def data_repository_scheme(spec: FacilitySpec) -> Iterator[Problem]:
    schemes = DATA_REPOSITORY_SCHEMES[spec.cloud]
    for i, fs in enumerate(spec.filesystems):
        if fs.data_repository and not fs.data_repository.startswith(schemes):
            yield Problem(
                _path("filesystems", i, "data_repository"),
                f"on {spec.cloud} a data repository is a {' or '.join(schemes)} URL",
            )
        if fs.data_repository and fs.kind != "lustre":
            yield Problem(_path("filesystems", i, "data_repository"), f"{fs.kind} has no data repository link")


@rule
def cidr_fits_fleets(spec: FacilitySpec) -> Iterator[Problem]:
    path = _path("network", "cidr")
    try:
        network = ipaddress.ip_network(spec.network.cidr, strict=True)
    except ValueError as error:
        yield Problem(path, f"is not a valid network: {error}")
        return
    if network.version != 4 or not any(network.subnet_of(block) for block in RFC1918):
        yield Problem(path, "must be a private IPv4 range (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)")
        return
    low = 16 if spec.cloud == "aws" else 8
    if not low <= network.prefixlen <= 24:
        yield Problem(path, f"prefix must be between /{low} and /24 on {spec.cloud}")
        return
    try:
        subnets = subnet_plan(spec)
    except ValueError as error:
        yield Problem(path, str(error))
        return
    nodes = sum(f.nodes for f in spec.fleets)
    usable = subnets.usable_per_subnet - netplan.RESERVED_PER_SUBNET[spec.cloud]
    if nodes > usable:
        yield Problem(
            path,
            f"its compute subnet ({subnets.compute}) holds {usable} nodes but the fleets have {nodes}; "
            "use a larger range",
        )


def subnet_plan(spec: FacilitySpec) -> netplan.SubnetPlan:
    fabric = 0
    if spec.cloud == "gcp":
        for fleet in spec.fleets:
            itype = fleet_instance(spec, fleet)
            if itype is not None:
                fabric = max(
                    fabric, netplan.gcp_fabric_subnets(itype.fabric, itype.fabric_interfaces, itype.host_nics)
                )
    return netplan.plan(spec.network.cidr, fabric)


@rule
def one_gcp_fabric(spec: FacilitySpec) -> Iterator[Problem]:
    if spec.cloud != "gcp":
        return
    families = {
        itype.fabric for fleet in spec.fleets if (itype := fleet_instance(spec, fleet)) and itype.fabric != "none"
    }
    if len(families) > 1:
        yield Problem(
            _path("fleets"),
            f"fleets use different GPU networks ({', '.join(sorted(families))}); "
            "one facility shares one set of GPU VPCs, so put each family in its own facility",
        )


@rule
def budget_thresholds(spec: FacilitySpec) -> Iterator[Problem]:
    if spec.budget is None:
        return
    thresholds = spec.budget.thresholds_pct
    for j, value in enumerate(thresholds):
        if not 1 <= value <= 1000:
            yield Problem(_path("budget", "thresholds_pct", j), "must be between 1 and 1000 (percent)")
    if thresholds != sorted(set(thresholds)):
        yield Problem(_path("budget", "thresholds_pct"), "must be in ascending order without repeats")


@rule
def cloud_sections(spec: FacilitySpec) -> Iterator[Problem]:
    for other in ("aws", "azure", "gcp"):
        if other != spec.cloud and getattr(spec, other) is not None:
            yield Problem(_path(other), f"is for cloud {other}, but this facility is on {spec.cloud}")
    if spec.cloud == "gcp":
        if spec.gcp is None:
            yield Problem(_path("gcp", "project"), "is required on gcp (the project to build in)")
        elif spec.budget is not None and not spec.gcp.billing_account:
            yield Problem(
                _path("gcp", "billing_account"),
                "is required for a budget on gcp (format 012345-6789AB-CDEF01)",
            )
    if spec.cloud == "azure" and spec.fleets and not (spec.azure and spec.azure.ssh_public_keys):
        yield Problem(
            _path("azure", "ssh_public_keys"),
            "at least one SSH public key is required: Azure GPU nodes allow SSH keys only, no passwords",
        )


@rule
def tags_allowed(spec: FacilitySpec) -> Iterator[Problem]:
    for key in spec.tags:
        if key in RESERVED_TAG_KEYS:
            yield Problem(_path("tags", key), f"is set by aifactory itself ({', '.join(RESERVED_TAG_KEYS)})")
    yield from tag_limits.problems(spec.cloud, spec.merged_tags(), reserved=RESERVED_TAG_KEYS)


def check(spec: FacilitySpec, *, partial: bool = False) -> list[Problem]:
    """Every rule's problems; `partial`: the spec lacks entries that failed their shape check."""
    problems: list[Problem] = []
    for check_rule in _CHECKS:
        if partial and check_rule in _WHOLE:
            continue
        problems.extend(check_rule(spec))
    return problems


def resolve(spec: FacilitySpec) -> FacilitySpec:
    """A copy of a checked spec with each fleet's instance type and the facility zone filled in."""
    fleets = [
        fleet.model_copy(update={"instance_type": fleet_instance(spec, fleet).name}) for fleet in spec.fleets
    ]
    resolved = spec.model_copy(update={"fleets": fleets})
    if resolved.zone is None and resolved.fleets:
        zones = _common_zones(resolved)
        if zones:
            resolved = resolved.model_copy(update={"zone": zones[0]})
    return resolved
