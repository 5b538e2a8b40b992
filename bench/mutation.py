"""Mutation run: plant one user-visible bug at a time and see whether the suite notices.

Each mutant is a small edit a user would notice (a gate that fails late, a cloud limit off by one,
a catalog figure changed by 5 %, a wrong exit code). For each, the tracked files are copied to a
temporary folder, the edit is applied there, and the tests that cover that behaviour run against
the copy (`PYTHONPATH` puts the copy first; the repository is never touched). A mutant is
*killed* when those tests fail, *survives* when they pass, and is *stale* when its code is no
longer there to mutate (the list is kept with the code; a stale mutant is a list to update).

    uv run python bench/mutation.py                 # every mutant
    uv run python bench/mutation.py power cost      # mutants whose id contains a word
    uv run python bench/mutation.py --list

Prints one line per mutant and the kill ratio; exits 1 when a mutant survives. Measured, not part
of `make test` (a full run takes several minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    id: str
    promise: str  # the behaviour the README promises, which the mutant breaks
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    occurrence: int = 0  # which match of `old` to replace, when it stands more than once
    keyword: str = ""  # pytest -k expression, narrowing the tests
    extra: tuple[tuple[str, str, str], ...] = field(default=())  # further (path, old, new) edits of one mutant


CATALOG = "aifactory/catalog/data"
P5_ROW = "aws,p5.48xlarge,us-east-1,on-demand,,55.04,"
P5_TYPE = "aws,p5.48xlarge,H100,NVIDIA H100 80GB SXM5,8,80,192,2048,"

MUTANTS: tuple[Mutant, ...] = (
    # ----------------------------------------------------------------- estimate
    Mutant("estimate-hours", "a month is 730 hours", "aifactory/estimate.py",
           "HOURS_PER_MONTH = 730", "HOURS_PER_MONTH = 720",
           ("tests/test_estimate.py", "tests/test_pins.py")),
    Mutant("estimate-pue-dropped", "facility kW = IT kW x the cloud's PUE", "aifactory/estimate.py",
           "return round(self.it_power_kw * self.pue, 3)", "return round(self.it_power_kw, 3)",
           ("tests/test_estimate.py", "tests/test_pins.py")),
    Mutant("estimate-spot-at-on-demand", "each capacity type is priced from its own rows", "aifactory/estimate.py",
           "price = catalog.price(group.cloud, itype.name, region, group.capacity, term)",
           "price = catalog.price(group.cloud, itype.name, region)",
           ("tests/test_estimate.py",)),
    Mutant("estimate-storage-free", "filesystems are priced per GiB-month", "aifactory/estimate.py",
           "line.monthly_usd = round(usd_per_gib_month * fs.capacity_gib, 2)",
           "line.monthly_usd = 0.0",
           ("tests/test_estimate.py", "tests/test_pins.py")),
    Mutant("org-discount-halved", "a discount_pct in the org pricing file lowers the line by exactly that",
           "aifactory/estimate.py",
           "listed * (100 - override.discount_pct) / 100",
           "listed * (100 - override.discount_pct / 2) / 100",
           ("tests/test_org_pricing.py",)),
    # ----------------------------------------------------------------- gates
    Mutant("carbon-cap-1t-late", "carbon-cap blocks above maxMonthlyTco2e", "aifactory/policies/carbon.py",
           "if total <= limit:", "if total <= limit + 1:",
           ("tests/test_boundaries.py", "tests/test_carbon_policies.py", "tests/test_energy.py"), keyword="carbon"),
    Mutant("asg-max-size-ignored", "a group that may scale is judged at its maxSize", "aifactory/inventory/aws.py",
           '[(instances_for(as_float(res.get("maxSize")), per_node), "maxSize")]', "[]",
           ("tests/test_gpu_capacity_shapes.py", "tests/test_inventory.py")),
    Mutant("autoscale-known-plan-unresolved", "an autoscale setting of a known non-scale-set resource counts nothing",
           "aifactory/inventory/azure.py",
           "    if sources and not any(s.type in _CONTAINERS for s in sources):\n        return []",
           "    if False:\n        return []",
           ("tests/test_gpu_capacity_shapes.py",), keyword="autoscale"),
    Mutant("power-cap-1kw-late", "power-cap blocks above maxFacilityKw", "aifactory/policies/power.py",
           "if total <= limit:", "if total <= limit + 1:",
           ("tests/test_boundaries.py", "tests/test_policies.py"), keyword="power"),
    Mutant("power-unknown-count-zero", "an unknown node count fails closed", "aifactory/policies/power.py",
           "if group.nodes == 0:", "if not group.nodes:",
           ("tests/test_policies.py", "tests/test_policy_pack_grpc.py"), keyword="power or unknown"),
    Mutant("cost-cap-50pct-over", "cost-cap blocks above maxMonthlyUsd", "aifactory/policies/cost.py",
           "if total > limit:", "if total > limit * 1.5:",
           ("tests/test_boundaries.py", "tests/test_policies.py"), keyword="cost"),
    Mutant("cost-cap-budget-50pct-over", "cost-cap holds the estimate to the stack's own budget",
           "aifactory/policies/cost.py",
           "if spend > budget.monthly_usd:", "if spend > budget.monthly_usd * 1.5:",
           ("tests/test_boundaries.py", "tests/test_policies.py"), keyword="cost or budget"),
    Mutant("budget-guard-min-gpus", "budget-guard-required from minGpus GPUs", "aifactory/policies/cost.py",
           "inventory.gpus < min_gpus", "inventory.gpus <= min_gpus",
           ("tests/test_boundaries.py", "tests/test_policies.py"), keyword="budget"),
    Mutant("fabric-share-10pct-slack", "fabric-complete requires minFabricShare of the EFA cards",
           "aifactory/policies/fabric.py",
           "if have / need < min_share:", "if have / need < min_share - 0.1:",
           ("tests/test_boundaries.py", "tests/test_policies.py"), keyword="fabric"),
    Mutant("availability-fleet-overrides-ignored", "an ec2.Fleet override's type is checked against its region",
           "aifactory/policies/common.py",
           '    return _listed(res.get("launchTemplateConfigs"), "launchTemplateConfigs",',
           '    return [] if True else _listed(res.get("launchTemplateConfigs"), "launchTemplateConfigs",',
           ("tests/test_fleet_shape_rules.py",), keyword="aws_shape"),
    Mutant("availability-pool-zones-merged", "each pool of a cluster is judged in its own zones",
           "aifactory/policies/common.py",
           "        return self.type_zones.get(instance_type, self.zones)",
           "        return sorted({z for zs in self.type_zones.values() for z in zs}) or self.zones",
           ("tests/test_fleet_shape_rules.py",), keyword="each_pool"),
    Mutant("fabric-gke-host-nics-counted", "a GKE pool's additional host networks are not GPU NICs",
           "aifactory/policies/fabric.py",
           "have = max(0, len(networks if isinstance(networks, list) else []) - (host - 1))",
           "have = len(networks if isinstance(networks, list) else [])",
           ("tests/test_fleet_shape_rules.py",), keyword="gke"),
    Mutant("fabric-launch-configuration-efa", "a launch configuration cannot carry EFA",
           "aifactory/policies/fabric.py",
           '                _no_interfaces(s, itype, "A launch configuration", min_share, report_violation)',
           "                pass",
           ("tests/test_fleet_shape_rules.py",), keyword="efa"),
    Mutant("group-fabric-override-template-ignored", "a group's override type is held to its template's EFA cards",
           "aifactory/policies/fabric.py",
           "            continue  # the template's own type: fabric-complete judges the template itself",
           "            continue\n        continue",
           ("tests/test_fleet_shape_rules.py",), keyword="overrides_are or flexibility_type"),
    Mutant("group-fabric-eks-default-template", "an EKS node group without a launch template gets no EFA",
           "aifactory/policies/fabric.py",
           "        if itype.fabric == \"efa\" and min_share > 0:\n            report(f\"{res.name} launches {value} ({path}) from the launch template EKS",
           "        if False:\n            report(f\"{res.name} launches {value} ({path}) from the launch template EKS",
           ("tests/test_fleet_shape_rules.py",), keyword="eks_node_group_gets"),
    Mutant("placement-min-nodes", "on-demand fleets of minNodes or more are placed together",
           "aifactory/policies/fabric.py",
           "if isinstance(nodes, int) and nodes >= min_nodes:", "if isinstance(nodes, int) and nodes > min_nodes:",
           ("tests/test_boundaries.py", "tests/test_policies.py"), keyword="placement"),
    Mutant("health-eks-repair-off-passes", "an EKS GPU node group needs node auto repair", "aifactory/policies/health.py",
           "    elif enabled is not True:", "    elif enabled is False and False:",
           ("tests/test_fleet_shape_rules.py",), keyword="eks"),
    Mutant("health-gke-cpu-pool-judged", "a GKE cluster's CPU pools are not held to GPU repair", "aifactory/policies/health.py",
           '                "gcp", inv.machine_type_name(machine))):\n            continue',
           '                "gcp", inv.machine_type_name(machine))):\n            pass',
           ("tests/test_fleet_shape_rules.py",), keyword="gke"),
    # ----------------------------------------------------------------- spec rules
    Mutant("budget-thresholds-1001", "budget thresholds are 1 to 1000 %", "aifactory/rules.py",
           "if not 1 <= value <= 1000:", "if not 1 <= value <= 1001:",
           ("tests/test_boundaries.py", "tests/test_spec.py"), keyword="threshold"),
    Mutant("cidr-prefix-25", "the network CIDR is /16../24 on AWS", "aifactory/rules.py",
           "if not low <= network.prefixlen <= 24:", "if not low <= network.prefixlen <= 25:",
           ("tests/test_boundaries.py", "tests/test_spec.py"), keyword="prefix or cidr"),
    Mutant("facility-name-25", "facility names are at most 24 characters", "aifactory/spec.py",
           "name: str = Field(pattern=DNS_LABEL, max_length=24)", "name: str = Field(pattern=DNS_LABEL, max_length=25)",
           ("tests/test_boundaries.py", "tests/test_spec.py"), keyword="name"),
    Mutant("fsx-step-halved", "FSx for Lustre sizes are 1.2 TiB or multiples of 2.4 TiB", f"{CATALOG}/storage.csv",
           "aws,lustre,PERSISTENT_2,250,1200,2400,", "aws,lustre,PERSISTENT_2,250,1200,1200,",
           ("tests/test_boundaries.py", "tests/test_catalog.py", "tests/test_spec.py"), keyword="lustre or fsx"),
    Mutant("gcp-lustre-large-step-ignored", "Managed Lustre's coarser step above its threshold",
           "aifactory/catalog/__init__.py",
           "return gib % self.large_step_gib == 0", "return gib % self.step_gib == 0",
           ("tests/test_boundaries.py", "tests/test_catalog.py", "tests/test_spec.py"), keyword="lustre"),
    # ----------------------------------------------------------------- components
    Mutant("azure-101-vms", "a single-placement-group scale set holds at most 100 VMs",
           "aifactory/components/azure/fleet.py", "MAX_VMS_PER_SET = 100", "MAX_VMS_PER_SET = 101",
           ("tests/test_boundaries.py", "tests/test_azure_components.py"), keyword="group_cap or split or sets"),
    Mutant("aws-10001-nodes", "an Auto Scaling group holds at most 10,000 nodes",
           "aifactory/components/aws/fleet.py", "MAX_NODES_PER_GROUP = 10_000", "MAX_NODES_PER_GROUP = 10_001",
           ("tests/test_boundaries.py", "tests/test_aws_components.py"), keyword="group_cap or split or sets"),
    Mutant("gcp-2001-vms", "a managed instance group holds at most 2,000 VMs",
           "aifactory/components/gcp/fleet.py", "MAX_GROUP_SIZE = 2000", "MAX_GROUP_SIZE = 2001",
           ("tests/test_boundaries.py", "tests/test_gcp_components.py"), keyword="group_cap or split or sets"),
    Mutant("aws-efa-card-missing", "every EFA card of the type is attached", "aifactory/components/aws/fleet.py",
           "for card in range(1, efa_interfaces)", "for card in range(1, efa_interfaces - 1)",
           ("tests/test_aws_components.py",)),
    Mutant("aws-ultraserver-efa-card-missing", "every EFA card AWS names for P6-B300 and P6e-GB200 is attached",
           "aifactory/components/aws/fleet.py", "for card in cards[:efa_interfaces])",
           "for card in cards[:efa_interfaces - 1])", ("tests/test_blackwell_types.py",), keyword="efa or ultraserver"),
    Mutant("fabric-any-card-counts", "an EFA interface counts only on the cards the type documents for EFA",
           "aifactory/policies/fabric.py", "cards &= set(itype.fabric_cards)", "cards |= set()",
           ("tests/test_blackwell_types.py",), keyword="fabric_gate"),
    Mutant("ultraserver-any-size", "UltraServer fleets come in whole UltraServers",
           "aifactory/rules.py", "if fleet.nodes % unit:", "if fleet.nodes < unit:",
           ("tests/test_blackwell_types.py",), keyword="refuses"),
    Mutant("capacity-block-only-on-demand", "types sold only one way refuse the other capacity types",
           "aifactory/rules.py", "if itype is None or itype.sold_as(fleet.capacity):",
           "if itype is None or fleet.capacity != 'spot' or itype.sold_as(fleet.capacity):",
           ("tests/test_blackwell_types.py",), keyword="refuses"),
    Mutant("a4x-no-workload-policy", "A4X groups take the NVLink-domain workload policy Google requires",
           "aifactory/components/gcp/fleet.py", 'WORKLOAD_TOPOLOGY = {"a4x-highgpu-4g": "1x72"}', "WORKLOAD_TOPOLOGY = {}",
           ("tests/test_blackwell_types.py",), keyword="a4x"),
    Mutant("gcp-gpu-vpc-mtu", "GPU VPCs carry the MTU their transport needs", "aifactory/components/gcp/network.py",
           "mtu=layout.mtu,", "mtu=1460,",
           ("tests/test_gcp_components.py",)),
    Mutant("azure-no-single-placement-group", "Azure GPU scale sets are one InfiniBand placement group",
           "aifactory/components/azure/fleet.py",
           "single_placement_group=not reserved,", "single_placement_group=False,",
           ("tests/test_azure_components.py",)),
    # ----------------------------------------------------------------- catalog data used by shipped stacks
    Mutant("price-p5-us-east-1-plus-5pct", "the catalog's sourced p5.48xlarge price", f"{CATALOG}/prices.csv",
           P5_ROW, "aws,p5.48xlarge,us-east-1,on-demand,,57.792,",
           ("tests/test_pins.py", "tests/test_estimate.py")),
    Mutant("power-p5-plus-5pct", "the catalog's sourced p5.48xlarge node power", f"{CATALOG}/instances.csv",
           P5_TYPE + "efa,32,3200,,,10200,", P5_TYPE + "efa,32,3200,,,10710,",
           ("tests/test_pins.py", "tests/test_estimate.py")),
    Mutant("efa-p5-31", "the catalog's p5.48xlarge EFA card count", f"{CATALOG}/instances.csv",
           P5_TYPE + "efa,32,3200,,,10200,", P5_TYPE + "efa,31,3200,,,10200,",
           ("tests/test_pins.py", "tests/test_catalog.py")),
    Mutant("pue-aws", "the catalog's AWS PUE", f"{CATALOG}/pue.csv", "aws,1.15,", "aws,1.2,",
           ("tests/test_pins.py", "tests/test_estimate.py")),
    Mutant("nodecheck-power-limit-ignored", "a node whose GPU power limit is not the default fails its check",
           "aifactory/nodecheck/checks.py", "        elif limit != default:", "        elif False:",
           ("tests/test_nodecheck.py",)),
    Mutant("gcp-kill-switch-late", "the Google Cloud kill switch stops the groups once spend reaches the budget",
           "aifactory/components/gcp/kill_switch.py",
           'return float(notification["costAmount"]) >= float(notification["budgetAmount"])',
           'return float(notification["costAmount"]) > float(notification["budgetAmount"])',
           ("tests/test_gcp_kill_switch.py",)),
    # ----------------------------------------------------------------- diff, reports, exit codes
    Mutant("diff-usd-limit-50pct", "--max-increase-usd fails a larger increase", "aifactory/diff.py",
           "if increase is not None and increase > value:", "if increase is not None and increase > value * 1.5:",
           ("tests/test_diff.py", "tests/test_boundaries.py"), keyword="limit"),
    Mutant("diff-new-mandatory-ignored", "a new mandatory violation fails the diff", "aifactory/diff.py",
           "    if new_mandatory:\n", "    if False:\n",
           ("tests/test_diff.py",), keyword="mandatory or violation"),
    Mutant("sarif-mandatory-warning", "mandatory violations are SARIF errors", "aifactory/report/sarif.py",
           '"mandatory": "error"', '"mandatory": "warning"',
           ("tests/test_report_formats.py",)),
    Mutant("junit-mandatory-advisory", "JUnit failures say mandatory", "aifactory/report/junit.py",
           '"type": "mandatory" if mandatory else', '"type": "advisory" if mandatory else',
           ("tests/test_report_formats.py",)),
    Mutant("preview-exit-0-on-violation", "preview exits 1 on a mandatory violation", "aifactory/cli.py",
           "    if result.mandatory:\n        raise typer.Exit(1)", "    if result.mandatory:\n        raise typer.Exit(0)",
           ("tests/test_preview.py", "tests/test_cli.py")),
    Mutant("bad-input-exit-1", "bad input exits 2", "aifactory/cli.py",
           "        err.print(f\"  {problem}\", markup=False)\n    raise typer.Exit(2)",
           "        err.print(f\"  {problem}\", markup=False)\n    raise typer.Exit(1)",
           ("tests/test_cli.py", "tests/test_preview.py")),
)


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    return [line for line in out.splitlines() if line and (ROOT / line).is_file()]


def copy_tree(files: list[str], target: Path) -> None:
    for name in files:
        dest = target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest)


def apply(tree: Path, path: str, old: str, new: str, occurrence: int) -> bool:
    file = tree / path
    if not file.exists():
        return False
    text = file.read_text()
    start = -1
    for _ in range(occurrence + 1):
        start = text.find(old, start + 1)
        if start < 0:
            return False
    file.write_text(text[:start] + new + text[start + len(old):])
    return True


def run_mutant(mutant: Mutant, files: list[str]) -> tuple[str, float, str]:
    """('killed' | 'survived' | 'stale', seconds, detail)."""
    with tempfile.TemporaryDirectory(prefix="aifactory-mutant-") as tmp:
        tree = Path(tmp)
        copy_tree(files, tree)
        edits = ((mutant.path, mutant.old, mutant.new, mutant.occurrence),
                 *((p, o, n, 0) for p, o, n in mutant.extra))
        for path, old, new, occurrence in edits:
            if not apply(tree, path, old, new, occurrence):
                return "stale", 0.0, f"{path}: {old.strip()!r} not found"
        tests = [t for t in mutant.tests if (tree / t.split("::")[0]).exists()]
        if not tests:
            return "stale", 0.0, "none of its tests exist"
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *tests]
        if mutant.keyword:
            command += ["-k", mutant.keyword]
        env = {**os.environ, "PYTHONPATH": str(tree)}
        started = time.monotonic()
        result = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=1800)
        seconds = time.monotonic() - started
        tail = (result.stdout.strip().splitlines() or [""])[-1]
        if result.returncode == 0:
            return "survived", seconds, tail
        if result.returncode == 5:  # no test selected: the mutant was not tested at all
            return "survived", seconds, "no test selected"
        failed = next((line for line in result.stdout.splitlines() if line.startswith("FAILED")), tail)
        return "killed", seconds, failed[:140]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("words", nargs="*", help="run only mutants whose id contains one of these words")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if not args.words or any(w in m.id for w in args.words)]
    if args.list:
        for m in chosen:
            print(f"{m.id:34} {m.promise}")
        return 0
    files = tracked_files()
    counts = {"killed": 0, "survived": 0, "stale": 0}
    survivors, started = [], time.monotonic()
    for mutant in chosen:
        verdict, seconds, detail = run_mutant(mutant, files)
        counts[verdict] += 1
        if verdict == "survived":
            survivors.append(mutant)
        print(f"{verdict:8} {mutant.id:34} {seconds:6.1f}s  {detail}", flush=True)
    tested = counts["killed"] + counts["survived"]
    ratio = counts["killed"] / tested if tested else 0.0
    print(f"\n{counts['killed']} killed, {counts['survived']} survived, {counts['stale']} stale of {len(chosen)} "
          f"mutants: kill ratio {ratio:.1%} ({time.monotonic() - started:.0f} s)")
    for mutant in survivors:
        print(f"  survivor {mutant.id}: {mutant.promise} ({mutant.path})")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
