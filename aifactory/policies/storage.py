"""Storage: parallel filesystems outlive mistakes.

`storage-protected` (resource): an FSx for Lustre, Azure Managed Lustre, Google Cloud Managed
Lustre, Parallelstore or Filestore instance must not be deletable by a `pulumi destroy` or a
replacing update without a deliberate step first: the `protect` resource option, or (where the
cloud has one, and `acceptDeletionProtection` allows it) the provider-side deletion protection
(`deletionPolicy: PREVENT` on Managed Lustre and Parallelstore, `deletionProtectionEnabled` on
Filestore). `retainOnDelete` is not part of what the engine sends an analyzer
(`AnalyzerResourceOptions` carries `protect`, not `retainOnDelete`), so a pack cannot see it; a
filesystem relying on it alone is reported, with `protect` as the fix.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from aifactory import inventory as inv
from aifactory.inventory import UNKNOWN, as_bool
from aifactory.policies.common import Setting, cannot_prove, config_schema, settings, subject

STORAGE_PROTECTED = [
    Setting("acceptDeletionProtection", "boolean", True,
            "Accept the cloud's own deletion protection (Managed Lustre/Parallelstore deletionPolicy PREVENT, "
            "Filestore deletionProtectionEnabled) in place of the protect option."),
]

_KIND = {
    inv.AWS_FSX_LUSTRE: "FSx for Lustre file system",
    inv.AZURE_AML: "Azure Managed Lustre file system",
    inv.GCP_LUSTRE: "Managed Lustre instance",
    inv.GCP_PARALLELSTORE: "Parallelstore instance",
    inv.GCP_FILESTORE: "Filestore instance",
}


def validate_storage_protected(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    kind = _KIND.get(args.resource_type)
    if kind is None:
        return
    s = subject(args)
    if s.resource.protect:
        return
    if settings(args, STORAGE_PROTECTED)["acceptDeletionProtection"]:
        if s.type in (inv.GCP_LUSTRE, inv.GCP_PARALLELSTORE):
            policy = s.get("deletionPolicy")
            if policy is UNKNOWN:
                report_violation(cannot_prove("deletionPolicy", s.resource.urn, "deletionPolicy",
                                              "the filesystem cannot be deleted by accident"))
                return
            if isinstance(policy, str) and policy.upper() == "PREVENT":
                return
        if s.type == inv.GCP_FILESTORE:
            enabled = as_bool(s.get("deletionProtectionEnabled"))
            if enabled is UNKNOWN:
                report_violation(cannot_prove("deletionProtectionEnabled", s.resource.urn,
                                              "deletionProtectionEnabled", "the filesystem cannot be deleted by accident"))
                return
            if enabled is True:
                return
    report_violation(
        f"{kind} {s.resource.name} can be deleted by `pulumi destroy` or a replacing update, losing its data. "
        "Set the `protect` resource option (pulumi.ResourceOptions(protect=True)); retainOnDelete alone is not "
        "visible to policy packs. Unprotect deliberately (`pulumi state unprotect`) when it really must go."
    )


storage_protected = ResourceValidationPolicy(
    name="storage-protected",
    description="Parallel filesystems are protected from accidental deletion.",
    validate=validate_storage_protected,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=config_schema(STORAGE_PROTECTED),
)

POLICIES = [storage_protected]
