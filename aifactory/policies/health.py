"""Health: GPU groups replace the nodes that fail their checks.

`node-health-required` (resource) asks every group that can hold GPU nodes to be wired so a node
that fails its own check (`aifactory.nodecheck`) leaves the group and is replaced:

- an AWS Auto Scaling group has a launch lifecycle hook whose default result is ABANDON, so a node
  that never proves itself is terminated, and one that proves itself is let in by completing it;
- an Azure scale set runs the Application Health extension (Microsoft.ManagedServices
  ApplicationHealthLinux/Windows) and has automatic instance repairs enabled;
- a Google Cloud managed instance group has an autohealing policy with a health check.

A resource policy sees one resource: a group whose instance type is not on the group itself (an
Auto Scaling group naming only its launch template; every managed instance group, whose machine type
is in its template) is held to the rule, as it may hold GPUs. The platform team exempts groups it
knows hold none by name (`exemptGroups`).
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from aifactory import inventory as inv
from aifactory.inventory import MISSING, UNKNOWN, as_bool, lookup
from aifactory.policies.common import Setting, Subject, cannot_prove, config_schema, settings, subject

NODE_HEALTH = [
    Setting("exemptGroups", "array", [], "Names of groups known to hold no GPU nodes.", items="string"),
]
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
HEALTH_EXTENSIONS = ("ApplicationHealthLinux", "ApplicationHealthWindows")
HEALTH_PUBLISHER = "Microsoft.ManagedServices"


def _what(s: Subject) -> str:
    """What the group holds, as far as the resource says."""
    facts = s.facts
    if facts is not None and facts.gpu_types:
        return f"{facts.gpu_types[0]} nodes"
    return "nodes whose type is not visible on the group (it may hold GPUs)"


def _cpu_only(s: Subject) -> bool:
    facts = s.facts
    return facts is not None and not facts.unknown and bool(facts.known_types) and not facts.is_gpu


def _aws(s: Subject, report: ReportViolation) -> None:
    hooks = s.get("initialLifecycleHooks")
    if hooks is UNKNOWN:
        report(cannot_prove("initial lifecycle hooks", s.resource.urn, "initialLifecycleHooks",
                            "unproven GPU nodes are abandoned"))
        return
    ok = isinstance(hooks, list) and any(
        lookup(h, "lifecycleTransition") == LAUNCHING and str(lookup(h, "defaultResult")).upper() == "ABANDON"
        for h in hooks)
    if not ok:
        report(f"{s.resource.name} launches {_what(s)} that go into service without proving themselves. Add an "
               f"initialLifecycleHooks entry {{lifecycleTransition: {LAUNCHING}, defaultResult: ABANDON}} and let "
               "each node complete it after its check (aifactory.nodecheck), marking itself Unhealthy "
               "(autoscaling:SetInstanceHealth) when a later check fails.")


def _azure(s: Subject, report: ReportViolation) -> None:
    extensions = s.get("virtualMachineProfile", "extensionProfile", "extensions")
    repairs = as_bool(s.get("automaticRepairsPolicy", "enabled"))
    if extensions is UNKNOWN:
        report(cannot_prove("extensions", s.resource.urn, "virtualMachineProfile.extensionProfile.extensions",
                            "unhealthy GPU nodes are repaired"))
        return
    if repairs is UNKNOWN:
        report(cannot_prove("automatic repairs", s.resource.urn, "automaticRepairsPolicy.enabled",
                            "unhealthy GPU nodes are repaired"))
        return
    has_health = isinstance(extensions, list) and any(
        lookup(e, "type") in HEALTH_EXTENSIONS and lookup(e, "publisher") == HEALTH_PUBLISHER for e in extensions)
    missing = []
    if not has_health:
        missing.append(f"the Application Health extension ({HEALTH_PUBLISHER} ApplicationHealthLinux) probing the "
                       "node's health endpoint")
    if repairs is not True:
        missing.append("automaticRepairsPolicy.enabled = true")
    if missing:
        report(f"{s.resource.name} runs {_what(s)} that stay in the set when they fail their checks. Add "
               + " and ".join(missing) + ".")


def _gcp(s: Subject, report: ReportViolation) -> None:
    policies = s.get("autoHealingPolicies")
    if policies is UNKNOWN:
        report(cannot_prove("autohealing policies", s.resource.urn, "autoHealingPolicies",
                            "unhealthy GPU nodes are recreated"))
        return
    entries = policies if isinstance(policies, list) else ([policies] if isinstance(policies, dict) else [])
    if not any(lookup(p, "healthCheck") not in (MISSING, None, "") for p in entries):
        report(f"{s.resource.name} runs {_what(s)} that stay in the group when they fail their checks. Set "
               "autoHealingPolicies with a health check on the node's health endpoint (and a firewall rule "
               "from Google's health-check ranges 35.191.0.0/16 and 130.211.0.0/22).")


_CHECKS = {inv.AWS_ASG: _aws, inv.AZURE_VMSS: _azure, inv.GCP_MIG: _gcp, inv.GCP_REGION_MIG: _gcp}


def validate_node_health(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    check = _CHECKS.get(args.resource_type)
    if check is None:
        return
    s = subject(args)
    exempt: Any = settings(args, NODE_HEALTH)["exemptGroups"]
    if s.resource.name in (exempt or []) or _cpu_only(s):
        return
    check(s, report_violation)


node_health_required = ResourceValidationPolicy(
    name="node-health-required",
    description="GPU groups replace nodes that fail their checks (AWS launch hook + instance health, Azure "
                "Application Health + automatic repairs, Google Cloud autohealing).",
    validate=validate_node_health,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=config_schema(NODE_HEALTH),
)

POLICIES = [node_health_required]
