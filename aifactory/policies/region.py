"""Region: where resources go, and whether the GPU types asked for are offered there.

`region-allowlist` (resource) keeps every regional resource in the team's allowed regions; the
region is the resource's own `region`/`location`/zone, else its provider's. `instance-availability`
(resource) checks each GPU instance type against the catalog's regions and zones, so a type a
region does not offer is caught at preview, not after a failed deploy.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from aifactory import catalog
from aifactory import inventory as inv
from aifactory.inventory import normalize_region
from aifactory.policies.common import Setting, cannot_prove, config_schema, join, settings, subject

# The major GPU regions of each cloud (where the catalog offers the current H100/H200/B200 types).
DEFAULT_REGIONS = [
    # AWS
    "us-east-1", "us-east-2", "us-west-2", "eu-north-1", "eu-west-2", "ap-northeast-1", "ap-southeast-2",
    # Azure
    "eastus", "eastus2", "southcentralus", "westus", "westus2", "westus3",
    # Google Cloud
    "us-central1", "us-east1", "us-east4", "us-east5", "us-west1", "us-south1", "europe-west1", "europe-west4",
    "asia-southeast1", "asia-northeast1",
]

REGION_ALLOWLIST = [
    Setting("allowedRegions", "array", DEFAULT_REGIONS,
            "Regions (AWS, Azure and Google Cloud names) the team may deploy to.", items="string"),
]
INSTANCE_AVAILABILITY = [
    Setting("checkZones", "boolean", True,
            "Also check the zone where the catalog knows which zones offer the type."),
]

# Services that have no region of their own (their provider's region is only an API endpoint).
GLOBAL_PREFIXES = (
    "aws:iam/", "aws:budgets/", "aws:organizations/", "aws:route53/", "aws:cloudfront/", "aws:ce/",
    "azure-native:consumption:", "azure-native:authorization:", "azure-native:managementgroups:",
    "azure-native:billing:", "azure-native:subscription:",
    "gcp:billing/", "gcp:projects/", "gcp:organizations/", "gcp:serviceaccount/", "gcp:folder/",
    "pulumi:pulumi:",
)
# Single nodes that land in their provider's default zone when they name none.
ZONAL_TYPES = {inv.AWS_INSTANCE, inv.aws.SPOT_INSTANCE_REQUEST, inv.AZURE_VM, inv.GCP_INSTANCE}
# Resources the facility cannot do without a region for: they must show one.
REGION_REQUIRED = inv.NODE_TYPES | inv.FILESYSTEM_TYPES


def validate_region_allowlist(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type.startswith(GLOBAL_PREFIXES) or inv.cloud_of(args.resource_type) is None:
        return
    s = subject(args)
    allowed = [str(r) for r in settings(args, REGION_ALLOWLIST)["allowedRegions"]]
    cloud = s.resource.cloud
    where = s.placement
    if where.unknown:
        report_violation(cannot_prove("region", s.resource.urn, where.unknown,
                                      f"it is in an allowed region ({join(allowed)})"), None)
        return
    if where.region is None:
        if s.type in REGION_REQUIRED:
            report_violation(
                f"{s.type} {s.resource.name} names no region, and neither does its provider, so the gate cannot "
                f"prove it is in an allowed region ({join(allowed)}). Give the resource an explicit provider "
                "with a region (or location) set.",
                None,
            )
        return
    wanted = {normalize_region(cloud, r) for r in allowed}
    if where.region not in wanted:
        same_cloud = [r for r in allowed if _cloud_of_region(r) in (cloud, None)]
        report_violation(
            f"{s.type} {s.resource.name} is in {where.region} ({_SOURCE.get(where.source, 'its inputs')}), which is not an "
            f"allowed region for this team. Allowed {cloud} regions: {join(same_cloud, 20) or 'none'}. Move it "
            f"(set its provider's region) or ask the platform team to add {where.region} to "
            "region-allowlist.allowedRegions in the team's policies/config file.",
            None,
        )


_SOURCE = {"resource": "its own region/location/zone", "provider": "its provider's region"}


def _cloud_of_region(region: str) -> str | None:
    for cloud in catalog.CLOUDS:
        if region in catalog.known_regions(cloud):
            return cloud
    if "-" not in region:
        return "azure"
    return None


def validate_instance_availability(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in inv.NODE_TYPES:
        return
    s = subject(args)
    facts = s.facts
    if facts is None:
        return
    check_zones = bool(settings(args, INSTANCE_AVAILABILITY)["checkZones"])
    where = s.placement
    if facts.unknown:
        report_violation(cannot_prove("instance type", s.resource.urn, facts.path,
                                      f"it is offered in {where.region or 'its region'}"), None)
    for name in facts.gpu_types:
        itype = catalog.instance(facts.cloud, name)
        if itype is None:
            report_violation(
                f"{name} looks like a {facts.cloud} GPU type but is not in the aifactory catalog, so the gate cannot "
                f"prove it is offered in {where.region or 'its region'}. Use a catalogued type "
                f"({join((t.name for t in catalog.instances(facts.cloud)), 12)}) or add it to the catalog.",
                None,
            )
            continue
        _check_capacity_block(s, itype, report_violation)
        if where.unknown:
            report_violation(cannot_prove("region", s.resource.urn, where.unknown, f"{itype.name} is offered there"), None)
            continue
        if where.region is None:
            continue  # region-allowlist reports a missing region
        offered = catalog.regions(facts.cloud, itype.name)
        if where.region not in offered:
            report_violation(
                f"{itype.name} is not offered in {where.region} (catalog); it is offered in: {join(offered, 30)}. "
                "Choose one of those regions or a type offered here "
                f"(`aifactory quote --gpu {itype.gpu_model} --cloud {facts.cloud} --region {where.region}`).",
                None,
            )
            continue
        if not check_zones:
            continue
        zones = catalog.zones(facts.cloud, itype.name, where.region)
        # A zone the resource names, or its provider's default zone where the resource is zonal.
        placed = facts.zones_of(itype.name) or ([where.zone] if where.zone and s.type in ZONAL_TYPES else [])
        for zone in placed:
            if zones and zone not in zones:
                report_violation(
                    f"{itype.name} is not offered in zone {zone} (catalog); zones of {where.region} offering it: "
                    f"{join(zones)}. Move the group to one of them.",
                    None,
                )


def _check_capacity_block(s, itype: catalog.InstanceType, report_violation: ReportViolation) -> None:
    market = s.get("instanceMarketOptions", "marketType")
    tag = inv.resource_tags(s.resource).get(inv.CAPACITY_TAG) if s.type == inv.AWS_ASG else None
    kind = s.get("capacityType") if s.type == inv.AWS_EKS_NODE_GROUP else (
        s.get("targetCapacitySpecification", "defaultTargetCapacityType") if s.type == inv.aws.FLEET else None)
    blocks = "capacity-block" in (market, tag, kind.lower().replace("_", "-") if isinstance(kind, str) else None)
    if blocks and not itype.capacity_block:
        sold = join(t.name for t in catalog.instances("aws") if t.capacity_block)
        report_violation(
            f"{itype.name} is not sold as EC2 Capacity Blocks for ML, so this capacity-block launch fails at deploy. "
            f"Types sold that way: {sold}.",
            None,
        )


region_allowlist = ResourceValidationPolicy(
    name="region-allowlist",
    description="Every regional resource is in one of the team's allowed regions.",
    validate=validate_region_allowlist,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=config_schema(REGION_ALLOWLIST),
)

instance_availability = ResourceValidationPolicy(
    name="instance-availability",
    description="Each GPU instance type is offered in its region and zone (catalog), caught at preview.",
    validate=validate_instance_availability,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=config_schema(INSTANCE_AVAILABILITY),
)

POLICIES = [region_allowlist, instance_availability]
