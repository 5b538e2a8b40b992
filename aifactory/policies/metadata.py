"""What Pulumi Cloud shows beside each policy: its severity, how to fix a violation, where to read more.

Kept apart from the rules so a rule module stays about judging; `all_policies()` applies it. Every
policy of the pack has an entry (a test holds the two lists together).
"""

from __future__ import annotations

from pulumi_policy import Severity

DOCS_URL = "https://github.com/aifactory/aifactory/blob/main/README.md#the-policy-pack"

# policy name -> (severity, remediation steps)
METADATA: dict[str, tuple[Severity, str]] = {
    "power-cap": (
        Severity.CRITICAL,
        "Lower the node counts of the largest fleets (the message names them), or ask the platform team to raise "
        "maxFacilityKw in the team's policy config once the site can supply the power.",
    ),
    "cost-cap": (
        Severity.HIGH,
        "Reduce nodes or move fleets to a cheaper capacity type (spot, reservation, capacity block); keep the stack's "
        "budget at or above the estimate, or ask the platform team to raise maxMonthlyUsd.",
    ),
    "budget-guard-required": (
        Severity.HIGH,
        "Add a cost budget whose scope covers every GPU group (the aifactory BudgetGuard component, or an AWS Budget, "
        "Azure consumption budget or Google Cloud billing budget filtered on the facility's tag or project).",
    ),
    "region-allowlist": (
        Severity.HIGH,
        "Move the resources to a region in the team's allowedRegions, or ask the platform team to add the region to "
        "the team's policy config.",
    ),
    "instance-availability": (
        Severity.MEDIUM,
        "Pick a region and zone that offer the instance type (`aifactory catalog show TYPE` lists them), or another type.",
    ),
    "fabric-complete": (
        Severity.MEDIUM,
        "Give each GPU node every high-bandwidth interface its type has (all EFA cards on AWS, an InfiniBand-capable "
        "scale set on Azure, every GPU NIC on Google Cloud); the aifactory GpuFleet component does.",
    ),
    "fabric-complete-groups": (
        Severity.MEDIUM,
        "Give the launch (or instance) template every fabric interface of each type the group names itself (EFA "
        "interfaces for every card, every GPU NIC), or name only types whose fabric the template carries.",
    ),
    "placement": (
        Severity.MEDIUM,
        "Place multi-node on-demand fleets together (a cluster placement group, a single-placement-group scale set, "
        "compact placement); leave reservations and capacity blocks unforced.",
    ),
    "no-public-ip": (
        Severity.CRITICAL,
        "Remove the public IP from the GPU nodes' network interfaces and reach them through the cluster network "
        "(a bastion, SSM or IAP), with egress through NAT.",
    ),
    "imdsv2-required": (
        Severity.HIGH,
        "Set the launch template's metadata options to httpTokens: required.",
    ),
    "encryption-at-rest": (
        Severity.HIGH,
        "Turn on encryption for the volume, disk or filesystem (a KMS key or the platform-managed key).",
    ),
    "required-tags": (
        Severity.LOW,
        "Add the missing tags (team, facility, cost-center) to the resource or to the provider's default tags.",
    ),
    "carbon-cap": (
        Severity.HIGH,
        "Move fleets to a region with a cleaner grid (`aifactory quote --rank carbon`), lower node counts or the load "
        "factor, or ask the platform team to raise the team's carbon cap.",
    ),
    "efficiency-floor": (
        Severity.LOW,
        "Prefer instance types with more dense compute per MW of facility power (`aifactory quote --rank efficiency`).",
    ),
    "node-health-required": (
        Severity.HIGH,
        "Wire the GPU groups to replace failing nodes: the AWS launch hook and instance health, Azure Application "
        "Health with automatic repairs, or Google Cloud autohealing (the aifactory GpuFleet component does).",
    ),
    "storage-protected": (
        Severity.HIGH,
        "Set protect: true on the parallel filesystem (and deletion protection where the cloud offers it), so a "
        "change cannot delete its data.",
    ),
}


def describe(policies: list) -> list:
    """Set severity, remediation steps and the documentation URL on each policy that has an entry."""
    for policy in policies:
        entry = METADATA.get(policy.name)
        if entry is not None:
            policy.severity, policy.remediation_steps = entry
            policy.url = DOCS_URL
    return policies
