"""Health: GPU groups replace the nodes that fail their checks.

`node-health-required` (resource) asks every group that can hold GPU nodes to be wired so a node
that fails its own check (`aifactory.nodecheck`) leaves the group and is replaced:

- an AWS Auto Scaling group has a launch lifecycle hook whose default result is ABANDON, so a node
  that never proves itself is terminated, and one that proves itself is let in by completing it;
- an Azure scale set runs the Application Health extension (Microsoft.ManagedServices
  ApplicationHealthLinux/Windows) and has automatic instance repairs enabled;
- a Google Cloud managed instance group has an autohealing policy with a health check;
- an EKS managed node group has node auto repair on (`nodeRepairConfig.enabled`, off by default): EKS
  replaces or reboots a node whose `AcceleratedHardwareReady` condition, set by the EKS node monitoring
  agent, fails (docs.aws.amazon.com/eks/latest/userguide/node-repair.html);
- a GKE node pool (or a cluster's own pool) of GPU nodes keeps node auto-repair, on unless
  `management.autoRepair` is false;
- an AKS pool has nothing to wire: AKS repairs unhealthy nodes of every pool and has no input to turn
  it off (learn.microsoft.com/azure/aks/node-auto-repair).

A resource policy sees one resource: a group whose instance type is not on the group itself (an
Auto Scaling group naming only its launch template; every managed instance group, whose machine type
is in its template) is held to the rule, as it may hold GPUs. The platform team exempts groups it
knows hold none by name (`exemptGroups`).
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from aifactory import inventory as inv
from aifactory.inventory import MISSING, UNKNOWN, as_bool, is_unknown, lookup
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
    if s.type in (inv.GCP_MIG, inv.GCP_REGION_MIG):
        return False  # a flexibility policy's types say nothing of the versions' templates
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


def _eks(s: Subject, report: ReportViolation) -> None:
    enabled = as_bool(s.get("nodeRepairConfig", "enabled"))
    if enabled is UNKNOWN:
        report(cannot_prove("node auto repair", s.resource.urn, "nodeRepairConfig.enabled",
                            "unhealthy GPU nodes are replaced"))
    elif enabled is not True:
        report(f"{s.resource.name} runs {_what(s)} that stay in the node group when they fail: EKS node auto repair "
               "is off unless enabled. Set nodeRepairConfig.enabled = true (a node whose AcceleratedHardwareReady "
               "condition fails is replaced or rebooted after 10 minutes) and install the EKS node monitoring agent "
               "(aws.eks.Addon with addonName eks-node-monitoring-agent), which reports that condition.")


def _gke_pools(s: Subject) -> list[tuple[str, str, Any]]:
    """(pool name, input prefix, its nodeConfig.machineType and management.autoRepair) of a node pool or
    each of a cluster's own pools (its default pool has no management input: auto-repair is on)."""
    if s.type == inv.GCP_NODE_POOL:
        return [(s.resource.name, "", (s.get("nodeConfig", "machineType"), s.get("management", "autoRepair")))]
    pools = s.get("nodePools")
    return [(f"{s.resource.name}/{lookup(p, 'name') if isinstance(lookup(p, 'name'), str) else i}", f"nodePools[{i}].",
             (lookup(p, "nodeConfig", "machineType"), lookup(p, "management", "autoRepair")))
            for i, p in enumerate(pools if isinstance(pools, list) else [])]


def _gke(s: Subject, report: ReportViolation) -> None:
    for pool, prefix, (machine, repair) in _gke_pools(s):
        if machine is MISSING or (isinstance(machine, str) and not is_unknown(machine) and not inv.is_gpu_type(
                "gcp", inv.machine_type_name(machine))):
            continue  # GKE's default machine type (e2-medium) carries no GPU
        repair = as_bool(repair)
        if repair is UNKNOWN:
            report(cannot_prove("node auto-repair", s.resource.urn, f"{prefix}management.autoRepair",
                                "unhealthy GPU nodes are repaired"))
        elif repair is False:
            report(f"GKE pool {pool} runs GPU nodes with node auto-repair off, so a node that fails its health "
                   f"checks stays in the pool. Remove {prefix}management.autoRepair=false (auto-repair is on by "
                   "default; GKE recreates a node that reports NotReady or fails its GPU health checks).")


_CHECKS = {inv.AWS_ASG: _aws, inv.AWS_EKS_NODE_GROUP: _eks, inv.AZURE_VMSS: _azure, inv.GCP_MIG: _gcp,
           inv.GCP_REGION_MIG: _gcp, inv.GCP_NODE_POOL: _gke, inv.gcp.CLUSTER: _gke}


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
                "Application Health + automatic repairs, Google Cloud autohealing, EKS node auto repair, GKE "
                "node auto-repair).",
    validate=validate_node_health,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=config_schema(NODE_HEALTH),
)

POLICIES = [node_health_required]
