"""Security: secure defaults on GPU nodes and everything else the facility creates.

`no-public-ip` (no public address on GPU nodes), `imdsv2-required` (AWS instance metadata only
with session tokens), `encryption-at-rest` (every volume encrypted; Azure managed disks, Google
Cloud disks and the managed Lustre services are always encrypted by the cloud), `required-tags`
(team, facility, cost-center on everything taggable: AWS tags or the provider's defaultTags --
which never reach Auto Scaling groups --, Azure tags, Google Cloud labels or the provider's
defaultLabels). All resource policies.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from aifactory import inventory as inv
from aifactory.inventory import MISSING, UNKNOWN, as_bool, lookup
from aifactory.policies.common import Setting, Subject, cannot_prove, config_schema, join, settings, subject

NO_PUBLIC_IP = [
    Setting("gpuNodesOnly", "boolean", True, "Judge GPU nodes only (true) or every compute node (false)."),
]
IMDSV2 = [
    Setting("gpuNodesOnly", "boolean", False, "Judge GPU nodes only (true) or every EC2 node (false)."),
]
ENCRYPTION = [
    Setting("azureEncryptionAtHost", "boolean", False,
            "Also require encryption at host on Azure VMs and scale sets (temp disks and caches); needs the "
            "EncryptionAtHost feature on the subscription."),
]
REQUIRED_TAGS = [
    Setting("tags", "array", ["team", "facility", "cost-center"], "Tag (label) keys every taggable resource carries.",
            items="string"),
]


def _in_scope(s: Subject, gpu_only: bool) -> bool:
    facts = s.facts
    if facts is None:
        return False
    return facts.is_gpu or facts.unknown or not gpu_only


# --------------------------------------------------------------------------- no-public-ip


def _public_ips(s: Subject) -> tuple[list[str], list[str]]:
    """(paths that give the node a public address, paths whose value is unknown)."""
    public: list[str] = []
    unknown: list[str] = []

    def flag(value: Any, path: str) -> None:
        if value is UNKNOWN:
            unknown.append(path)
        elif value is not MISSING and value not in ([], {}, None):
            public.append(path)

    def truth(value: Any, path: str) -> None:
        b = as_bool(value)
        if b is UNKNOWN:
            unknown.append(path)
        elif b is True:
            public.append(path)

    if s.type == inv.AWS_LAUNCH_TEMPLATE:
        nics = s.get("networkInterfaces")
        if nics is UNKNOWN:
            unknown.append("networkInterfaces")
        for i, nic in enumerate(nics if isinstance(nics, list) else []):
            truth(lookup(nic, "associatePublicIpAddress"), f"networkInterfaces[{i}].associatePublicIpAddress")
    elif s.type == inv.AWS_INSTANCE:
        truth(s.get("associatePublicIpAddress"), "associatePublicIpAddress")
    elif s.type in (inv.AZURE_VMSS, inv.AZURE_VM):
        base = ("virtualMachineProfile", "networkProfile") if s.type == inv.AZURE_VMSS else ("networkProfile",)
        nics = s.get(*base, "networkInterfaceConfigurations")
        if nics is UNKNOWN:
            unknown.append(".".join(base) + ".networkInterfaceConfigurations")
        for i, nic in enumerate(nics if isinstance(nics, list) else []):
            configs = lookup(nic, "ipConfigurations")
            for j, ip in enumerate(configs if isinstance(configs, list) else []):
                flag(lookup(ip, "publicIPAddressConfiguration"),
                     f"networkInterfaceConfigurations[{i}].ipConfigurations[{j}].publicIPAddressConfiguration")
    elif s.type in (inv.GCP_TEMPLATE, inv.GCP_REGION_TEMPLATE, inv.GCP_INSTANCE):
        nics = s.get("networkInterfaces")
        if nics is UNKNOWN:
            unknown.append("networkInterfaces")
        for i, nic in enumerate(nics if isinstance(nics, list) else []):
            flag(lookup(nic, "accessConfigs"), f"networkInterfaces[{i}].accessConfigs")
            flag(lookup(nic, "ipv6AccessConfigs"), f"networkInterfaces[{i}].ipv6AccessConfigs")
    return public, unknown


_NO_PUBLIC_FIX = {
    "aws": "Set associatePublicIpAddress false and reach the nodes through SSM or a bastion; use a NAT gateway for egress.",
    "azure": "Remove publicIPAddressConfiguration and reach the nodes through Azure Bastion; use a NAT gateway for egress.",
    "gcp": "Remove accessConfigs (external IPs) and reach the nodes through IAP; use Cloud NAT for egress.",
}


_NODE_NETWORK_TYPES = {inv.AWS_LAUNCH_TEMPLATE, inv.AWS_INSTANCE, inv.AZURE_VMSS, inv.AZURE_VM, inv.GCP_TEMPLATE,
                       inv.GCP_REGION_TEMPLATE, inv.GCP_INSTANCE}


def validate_no_public_ip(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in _NODE_NETWORK_TYPES:
        return
    s = subject(args)
    if not _in_scope(s, bool(settings(args, NO_PUBLIC_IP)["gpuNodesOnly"])):
        return
    public, unknown = _public_ips(s)
    if public:
        report_violation(f"{s.resource.name} gives its nodes a public IP address ({join(public)}). "
                         f"{_NO_PUBLIC_FIX.get(s.resource.cloud or '', '')}")
    for path in unknown:
        report_violation(cannot_prove("public IP setting", s.resource.urn, path, "the nodes have no public IP"))


# --------------------------------------------------------------------------- imdsv2-required


def validate_imdsv2(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in (inv.AWS_LAUNCH_TEMPLATE, inv.AWS_INSTANCE):
        return
    s = subject(args)
    if s.type == inv.AWS_INSTANCE and s.get("launchTemplate") is not MISSING and s.get("metadataOptions") is MISSING:
        return  # its launch template sets the metadata options and is judged itself
    if not _in_scope(s, bool(settings(args, IMDSV2)["gpuNodesOnly"])):
        return
    tokens = s.get("metadataOptions", "httpTokens")
    endpoint = s.get("metadataOptions", "httpEndpoint")
    if endpoint == "disabled" or tokens == "required":
        return
    if tokens is UNKNOWN:
        report_violation(cannot_prove("metadataOptions.httpTokens", s.resource.urn, "metadataOptions.httpTokens",
                                      "IMDSv2 is required"))
        return
    report_violation(
        f"{s.resource.name} allows IMDSv1 (metadataOptions.httpTokens is "
        f"{tokens if isinstance(tokens, str) else 'unset, which defaults to optional'}): any SSRF in a job can read "
        "the node's credentials. Set metadataOptions.httpTokens = 'required' (and httpPutResponseHopLimit = 2 for "
        "containers)."
    )


# --------------------------------------------------------------------------- encryption-at-rest


def _aws_volumes(s: Subject) -> tuple[list[str], list[str]]:
    """(unencrypted volume paths, unknown paths) of an AWS launch template, instance or volume."""
    bad: list[str] = []
    unknown: list[str] = []

    def check(value: Any, path: str) -> None:
        b = as_bool(value)
        if b is UNKNOWN:
            unknown.append(path)
        elif b is not True:
            bad.append(path)

    if s.type == inv.AWS_LAUNCH_TEMPLATE:
        mappings = s.get("blockDeviceMappings")
        if mappings is UNKNOWN:
            unknown.append("blockDeviceMappings")
        elif not isinstance(mappings, list) or not mappings:
            bad.append("blockDeviceMappings (none: the root volume keeps the AMI snapshot's setting)")
        else:
            for i, m in enumerate(mappings):
                if lookup(m, "ebs") is not MISSING:
                    check(lookup(m, "ebs", "encrypted"), f"blockDeviceMappings[{i}].ebs.encrypted")
    elif s.type == inv.AWS_INSTANCE:
        if s.get("launchTemplate") is MISSING or s.get("rootBlockDevice") is not MISSING:
            check(s.get("rootBlockDevice", "encrypted"), "rootBlockDevice.encrypted")
        devices = s.get("ebsBlockDevices")
        for i, d in enumerate(devices if isinstance(devices, list) else []):
            check(lookup(d, "encrypted"), f"ebsBlockDevices[{i}].encrypted")
    elif s.type in ("aws:ebs/volume:Volume", "aws:efs/fileSystem:FileSystem"):
        check(s.get("encrypted"), "encrypted")
    return bad, unknown


_VOLUME_TYPES = {inv.AWS_LAUNCH_TEMPLATE, inv.AWS_INSTANCE, "aws:ebs/volume:Volume", "aws:efs/fileSystem:FileSystem",
                 inv.AZURE_VMSS, inv.AZURE_VM}


def validate_encryption(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in _VOLUME_TYPES:
        return
    s = subject(args)
    if s.resource.cloud == "aws":
        bad, unknown = _aws_volumes(s)
        if bad:
            report_violation(f"{s.resource.name} has volumes not encrypted at rest: {join(bad)}. Set "
                             "encrypted = true on every EBS volume (block device mapping), with a KMS key if "
                             "the team's data needs one.")
        for path in unknown:
            report_violation(cannot_prove("volume encryption", s.resource.urn, path, "the volume is encrypted"))
    elif s.type in (inv.AZURE_VMSS, inv.AZURE_VM) and settings(args, ENCRYPTION)["azureEncryptionAtHost"]:
        base = ("virtualMachineProfile",) if s.type == inv.AZURE_VMSS else ()
        value = as_bool(s.get(*base, "securityProfile", "encryptionAtHost"))
        if value is UNKNOWN:
            report_violation(cannot_prove("encryptionAtHost", s.resource.urn, "securityProfile.encryptionAtHost",
                                          "temp disks and caches are encrypted"))
        elif value is not True:
            report_violation(f"{s.resource.name} does not encrypt temp disks and caches at the host. Set "
                             "securityProfile.encryptionAtHost = true (register the EncryptionAtHost feature).")


# --------------------------------------------------------------------------- required-tags

# Types that must carry tags even when their inputs name none (every node, group template,
# filesystem and the networks they sit in); any other resource is judged when it has tags/labels.
_TAGGED = (
    inv.NODE_TYPES - {inv.GCP_MIG, inv.GCP_REGION_MIG, inv.GCP_NODE_POOL, inv.AZURE_AKS_POOL}
) | inv.FILESYSTEM_TYPES | {
    "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/placementGroup:PlacementGroup",
    inv.AWS_BUDGET,
    "azure-native:resources:ResourceGroup", "azure-native:network:VirtualNetwork",
    "azure-native:compute:ProximityPlacementGroup",
}


def _tags(s: Subject) -> dict[str, Any]:
    """The tags/labels that end up on the resource: its own and its provider's defaults."""
    providers = {s.resource.provider: s.provider} if s.provider is not None and s.resource.provider else {}
    return inv.effective_tags(providers, s.resource)


def validate_required_tags(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    cloud = inv.cloud_of(args.resource_type)
    if cloud is None or args.resource_type.startswith("pulumi:providers:"):
        return
    s = subject(args)
    own_key = "labels" if cloud == "gcp" else "tags"
    own = s.get(own_key)
    if s.type not in _TAGGED and own is MISSING:
        return
    required = [str(t) for t in settings(args, REQUIRED_TAGS)["tags"]]
    if cloud == "gcp":
        required = [t.lower() for t in required]
    if own is UNKNOWN:
        report_violation(cannot_prove(own_key, s.resource.urn, own_key, f"it carries {join(required)}"))
        return
    tags = _tags(s)
    missing = [t for t in required if t not in tags or tags[t] in (None, "")]
    if not missing:
        return
    if cloud == "aws":
        where = ("its tags list ({key, value, propagateAtLaunch}); the provider's defaultTags never reach Auto "
                 "Scaling groups" if s.type == inv.AWS_ASG else "its tags or the AWS provider's defaultTags")
    elif cloud == "gcp":
        where = "its labels or the Google Cloud provider's defaultLabels"
    else:
        where = "its tags"
    report_violation(f"{s.resource.name} is missing the tag(s) {join(missing)} that cost reports and ownership "
                     f"rely on. Add them to {where}.")


no_public_ip = ResourceValidationPolicy(
    name="no-public-ip",
    description="GPU nodes get no public IP address.",
    validate=validate_no_public_ip,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=config_schema(NO_PUBLIC_IP),
)

imdsv2_required = ResourceValidationPolicy(
    name="imdsv2-required",
    description="EC2 nodes require IMDSv2 (session-token instance metadata).",
    validate=validate_imdsv2,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=config_schema(IMDSV2),
)

encryption_at_rest = ResourceValidationPolicy(
    name="encryption-at-rest",
    description="Volumes and disks are encrypted at rest.",
    validate=validate_encryption,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=config_schema(ENCRYPTION),
)

required_tags = ResourceValidationPolicy(
    name="required-tags",
    description="Taggable resources carry the org's required tags (team, facility, cost-center).",
    validate=validate_required_tags,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=config_schema(REQUIRED_TAGS),
)

POLICIES = [no_public_ip, imdsv2_required, encryption_at_rest, required_tags]
