"""Benchmark: the aifactory policy pack analysing 10,000 resources over its real gRPC interface.

The resources are AWS facilities (provider with default tags, launch template with 32 EFA
interfaces, cluster placement group, Auto Scaling group, FSx for Lustre, cost budget) repeated
as distinct facilities up to 10,000 resources (tests/policy_fixtures.scaled_stack). Each pack
runs as its own process started by `aifactory.analyzer.PolicyPackClient`, and is driven as the
engine drives it during a preview: `Analyze` once per resource, then `AnalyzeStack` once with
all of them. The baseline is a pack with one trivial resource policy (it returns at once), over
the same resources, in the same run; rounds interleave the two packs and the best round of each
counts. Prints resources/second for each and the ratio of the times.

`--noop` adds a third pack: the aifactory pack's policies (same names, kinds and levels) with
validations that do nothing. pulumi_policy deserializes a request's properties again for every
policy it runs (and, for AnalyzeStack, rebuilds every resource per stack policy), so this pack is
the floor any rule code of ours sits on; aifactory minus no-op is what the rules themselves cost.
`--profile FILE` runs the aifactory pack under cProfile (stats written to FILE when the pack
stops, the 30 costliest functions printed).
Start-up is what a user's machine sees: the packs run with bytecode cached (PYTHONDONTWRITEBYTECODE
unset, a PYTHONPYCACHEPREFIX kept under the temp dir), warmed by one start each; then each pack is
started STARTS times, interleaved, and the best start counts.
Run: `uv run python bench/policy_pack.py [resources] [--noop] [--profile FILE]`.
"""

from __future__ import annotations

import argparse
import os
import pstats
import stat
import sys
import tempfile
import textwrap
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aifactory.analyzer import PolicyPackClient  # noqa: E402
from aifactory.recording import RecordedResource  # noqa: E402
from tests.policy_fixtures import scaled_stack  # noqa: E402

ROUNDS = 3
STARTS = 3
TRIVIAL_MAIN = textwrap.dedent(
    """
    from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

    def nothing(args, report_violation):
        return None

    PolicyPack("trivial", [ResourceValidationPolicy("nothing", "Does nothing.", validate=nothing)],
               enforcement_level=EnforcementLevel.ADVISORY)
    """
)


NOOP_MAIN = textwrap.dedent(
    """
    from pulumi_policy import EnforcementLevel, PolicyPack, StackValidationPolicy, ResourceValidationPolicy

    from aifactory.policies import all_policies

    def nothing(args, report_violation):
        return None

    PolicyPack(
        "aifactory-noop",
        [(StackValidationPolicy if isinstance(p, StackValidationPolicy) else ResourceValidationPolicy)(
            p.name, p.description, validate=nothing, enforcement_level=p.enforcement_level)
         for p in all_policies()],
        enforcement_level=EnforcementLevel.MANDATORY,
    )
    """
)


def _pack_dir(root: Path, name: str, main: str) -> Path:
    path = root / name
    path.mkdir()
    (path / "PulumiPolicy.yaml").write_text(f"runtime: python\ndescription: {name}\n")
    (path / "__main__.py").write_text(main)
    return path


PROFILED_PACK = textwrap.dedent(
    """
    # Runs `-m pulumi.policy ENGINE PROGRAM` with the servicer's Analyze/AnalyzeStack under one
    # cProfile profiler (they run on gRPC worker threads, which a plain `-m cProfile` does not see).
    import atexit, cProfile, runpy, sys, threading

    from pulumi_policy import policy

    profiler, lock = cProfile.Profile(), threading.Lock()

    def profiled(method):
        def call(self, request, context):
            with lock:  # one call at a time: a profiler follows one thread
                profiler.enable()
                try:
                    return method(self, request, context)
                finally:
                    profiler.disable()
        return call

    servicer = policy._PolicyAnalyzerServicer
    servicer.Analyze = profiled(servicer.Analyze)
    servicer.AnalyzeStack = profiled(servicer.AnalyzeStack)
    atexit.register(profiler.dump_stats, sys.argv.pop(1))
    assert sys.argv[1:3] == ["-m", "pulumi.policy"], sys.argv
    del sys.argv[1:3]
    runpy.run_module("pulumi.policy", run_name="__main__", alter_sys=True)
    """
)


def _profiling_python(root: Path, out: Path) -> str:
    """An interpreter wrapper that runs the pack (`-u -m pulumi.policy ...`) with its request
    handlers under cProfile; the stats are written when the pack stops (the client stops it with
    SIGINT, a clean exit)."""
    boot = root / "profiled_pack.py"
    boot.write_text(PROFILED_PACK)
    wrapper = root / "python-cprofile"
    wrapper.write_text(f'#!/bin/sh\nshift\nexec "{sys.executable}" -u "{boot}" "{out}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper)


def _best_startups(clients: dict[str, PolicyPackClient], pythons: dict[str, str | None]) -> dict[str, float]:
    """Each pack's best start-up of STARTS, interleaved, after one warm-up start each (which writes
    the bytecode)."""
    best = {name: float("inf") for name in clients}
    for attempt in range(STARTS + 1):
        for name, client in clients.items():
            with PolicyPackClient(client.pack_dir, python=pythons[name], timeout=600) as probe:
                if attempt:
                    best[name] = min(best[name], probe.startup_seconds)
    return best


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
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("resources", nargs="?", type=int, default=10_000)
    parser.add_argument("--noop", action="store_true", help="also run the aifactory policies as no-ops")
    parser.add_argument("--profile", metavar="FILE", type=Path, help="run the aifactory pack under cProfile")
    opts = parser.parse_args()
    # What an installed environment has: bytecode written once and reused by every later process.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "aifactory-bench-pycache"))
    total = opts.resources
    resources = [RecordedResource.from_json(r) for r in scaled_stack(total)]
    providers = {r.urn: r for r in resources if r.is_provider}
    kinds = len({r.type for r in resources})
    print(f"{len(resources):,} resources ({kinds} types, {len(providers):,} providers)")

    names = ["aifactory", "trivial"] + (["no-op"] if opts.noop else [])
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        root = Path(tmp)
        python = _profiling_python(root, opts.profile.resolve()) if opts.profile else None
        clients = {
            "aifactory": PolicyPackClient(ROOT / "policies", python=python, timeout=600),
            "trivial": PolicyPackClient(_pack_dir(root, "trivial", TRIVIAL_MAIN), python=sys.executable, timeout=600),
        }
        if opts.noop:
            clients["no-op"] = PolicyPackClient(_pack_dir(root, "noop", NOOP_MAIN), python=sys.executable, timeout=600)
        startup = _best_startups(clients, {n: python if n == "aifactory" else sys.executable for n in names})
        for client in clients.values():
            stack.enter_context(client)
        print(f"pack start-up (bytecode cached, best of {STARTS}): "
              + ", ".join(f"{n} {startup[n]:.2f} s" for n in names)
              + f"; aifactory {startup['aifactory'] - startup['trivial']:+.2f} s over trivial")
        best: dict[str, tuple[float, float, int]] = {}
        for _ in range(ROUNDS):
            for name in names:
                result = analyse(clients[name], resources, providers)
                if name not in best or sum(result[:2]) < sum(best[name][:2]):
                    best[name] = result

    for name in names:
        a, s, found = best[name]
        print(f"{name:>9}: {a + s:6.2f} s = Analyze x{len(resources):,} {a:6.2f} s + AnalyzeStack {s:5.2f} s  "
              f"-> {len(resources) / (a + s):8,.0f} resources/s  ({found} violations)")
    ours_total, trivial_total = sum(best["aifactory"][:2]), sum(best["trivial"][:2])
    print(f"ratio aifactory / trivial pack: {ours_total / trivial_total:.2f}x "
          f"(best of {ROUNDS} interleaved rounds each, same resources, same run)")
    if opts.noop:
        a, s, _ = best["aifactory"]
        na, ns, _ = best["no-op"]
        print(f"ratio aifactory / no-op pack: {ours_total / (na + ns):.2f}x; the rules' own share: "
              f"Analyze {a - na:+.2f} s, AnalyzeStack {s - ns:+.2f} s (the rest is pulumi_policy's per-policy "
              "conversion and gRPC)")
    if opts.profile:
        if opts.profile.exists():
            pstats.Stats(str(opts.profile)).sort_stats("cumulative").print_stats(30)
        else:
            print(f"no profile written to {opts.profile}")


if __name__ == "__main__":
    main()
