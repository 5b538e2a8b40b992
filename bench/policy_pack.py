"""Benchmark: the aifactory policy pack analysing 10,000 resources over its real gRPC interface.

The resources are AWS facilities (provider with default tags, launch template with 32 EFA
interfaces, cluster placement group, Auto Scaling group, FSx for Lustre, cost budget) repeated
as distinct facilities up to 10,000 resources (tests/policy_fixtures.scaled_stack). Each pack
runs as its own process started by `aifactory.analyzer.PolicyPackClient`, and is driven as the
engine drives it during a preview: `Analyze` once per resource, then `AnalyzeStack` once with
all of them. The baseline is a pack with one trivial resource policy (it returns at once), over
the same resources, in the same run; rounds interleave the two packs and the best round of each
counts. Prints resources/second for each and the ratio of the times.
Run: `uv run python bench/policy_pack.py [resources]`.
"""

from __future__ import annotations

import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aifactory.analyzer import PolicyPackClient  # noqa: E402
from aifactory.recording import RecordedResource  # noqa: E402
from tests.policy_fixtures import scaled_stack  # noqa: E402

ROUNDS = 3
TRIVIAL_MAIN = textwrap.dedent(
    """
    from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

    def nothing(args, report_violation):
        return None

    PolicyPack("trivial", [ResourceValidationPolicy("nothing", "Does nothing.", validate=nothing)],
               enforcement_level=EnforcementLevel.ADVISORY)
    """
)


def analyse(client: PolicyPackClient, resources: list, providers: dict) -> tuple[float, float, int]:
    """(seconds for every Analyze, seconds for AnalyzeStack, violations)."""
    t0 = time.perf_counter()
    found = 0
    for r in resources:
        found += len(client.analyze(r, providers))
    t1 = time.perf_counter()
    found += len(client.analyze_stack(resources, providers))
    return t1 - t0, time.perf_counter() - t1, found


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    resources = [RecordedResource.from_json(r) for r in scaled_stack(total)]
    providers = {r.urn: r for r in resources if r.is_provider}
    kinds = len({r.type for r in resources})
    print(f"{len(resources):,} resources ({kinds} types, {len(providers):,} providers)")

    with tempfile.TemporaryDirectory() as tmp:
        trivial_dir = Path(tmp)
        (trivial_dir / "PulumiPolicy.yaml").write_text("runtime: python\ndescription: one trivial policy\n")
        (trivial_dir / "__main__.py").write_text(TRIVIAL_MAIN)
        with PolicyPackClient(ROOT / "policies", timeout=600) as ours, \
                PolicyPackClient(trivial_dir, python=sys.executable, timeout=600) as trivial:
            print(f"pack start-up: aifactory {ours.startup_seconds:.2f} s, trivial {trivial.startup_seconds:.2f} s")
            best: dict[str, tuple[float, float, int]] = {}
            for _ in range(ROUNDS):
                for name, client in (("aifactory", ours), ("trivial", trivial)):
                    result = analyse(client, resources, providers)
                    if name not in best or sum(result[:2]) < sum(best[name][:2]):
                        best[name] = result

    for name in ("aifactory", "trivial"):
        a, s, found = best[name]
        print(f"{name:>9}: {a + s:6.2f} s = Analyze x{len(resources):,} {a:6.2f} s + AnalyzeStack {s:5.2f} s  "
              f"-> {len(resources) / (a + s):8,.0f} resources/s  ({found} violations)")
    ours_total, trivial_total = sum(best["aifactory"][:2]), sum(best["trivial"][:2])
    print(f"ratio aifactory / trivial pack: {ours_total / trivial_total:.2f}x "
          f"(best of {ROUNDS} interleaved rounds each, same resources, same run)")


if __name__ == "__main__":
    main()
