"""Benchmark: `aifactory preview` of a 100,000-GPU AWS facility against a bare mock run of it.

The facility is `bench/aws_facility.py`'s FACILITY (12,500 p5.48xlarge nodes in three fleets,
FSx for Lustre, a budget with the kill switch), written as `Pulumi.frontier.yaml` into a temp dir
and previewed with `aifactory.preview.preview(path)` -- the whole offline engine: the program run
under the recording monitor, the policy pack started as its own process and driven over gRPC
(`Analyze` per resource, `AnalyzeStack` once), inventory and estimate.

The baseline is the bare mock run of the same program: the same `__main__.py` with the same
config under plain `pulumi.runtime.set_mocks` with a trivial `Mocks` (ID `<name>_id`, inputs as
state), run with `pulumi.runtime.test` -- no recording, no policy pack, no estimate.

Two comparisons, each interleaved (preview, bare, preview, bare, ...), best of N each, wall time
and CPU time:

* warm, in this process (the headline): both after a warm-up of each (imports, templates,
  catalog). CPU time is this process's (all threads); the pack's own process is reported apart
  (children's rusage, counted once it has exited). The preview's phases are timed by wrapping, for
  the duration of a run, what it calls (`recording.run_program`, `PolicyPackClient.start`/
  `analyze`/`analyze_stack`/`close`, `inventory.from_resources` + `estimate.estimate`); the rest
  of `preview()` (stack file, spec, policy config) is "other". The pack starts on its own thread
  while the program runs, so "program" and "pack start" overlap; "other" counts the longer once.
* cold, one fresh process per run (`--cold-runs K`, default 3; 0 skips it): the CLI
  `python -m aifactory preview PATH --format json` against `python bench/preview_facility.py
  --bare PATH` -- what a user waits for, imports included; CPU time includes the pack process.

Run: `uv run --frozen python bench/preview_facility.py [--runs N] [--cold-runs K]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import os
import resource
import runpy
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import pulumi  # noqa: E402
from pulumi.runtime.mocks import Mocks  # noqa: E402

from aifactory import analyzer, estimate, inventory, preview, recording  # noqa: E402
from aws_facility import FACILITY  # noqa: E402

PROGRAM = ROOT / "__main__.py"
STACK = "frontier"
PHASES = ("program", "pack start", "Analyze", "AnalyzeStack", "pack stop", "estimate", "other")


class TrivialMocks(Mocks):
    def new_resource(self, args):
        return f"{args.name}_id", args.inputs

    def call(self, args):
        return {}, None


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def bare_run(config: dict[str, str]) -> tuple[float, float, int]:
    """The same program and config under plain set_mocks: (wall s, CPU s, resources registered)."""
    box: dict = {}
    count = [0]

    class Counting(TrivialMocks):
        def new_resource(self, args):
            count[0] += 1
            return super().new_resource(args)

    def isolated() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            start, cpu = time.perf_counter(), time.process_time()
            pulumi.runtime.set_mocks(Counting(), project="aifactory", stack=STACK, preview=True)
            pulumi.runtime.set_all_config(config)

            @pulumi.runtime.test
            def program():
                runpy.run_path(str(PROGRAM), run_name="__main__")

            program()
            box["wall"], box["cpu"] = time.perf_counter() - start, time.process_time() - cpu
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    # As run_program does: a fresh context, and the SDK's process-wide settings defaults put back
    # (else the first run's root stack resource would be every later run's).
    saved = recording._settings_defaults()
    try:
        contextvars.copy_context().run(isolated)
    finally:
        recording._restore_settings_defaults(saved)
    return box["wall"], box["cpu"], count[0]


class PhaseClock:
    """Wraps what preview() calls, adding each call's wall and CPU time to its phase."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self._saved: list[tuple[object, str, object]] = []

    def _wrap(self, owner, attr: str, phase: str) -> None:
        original = getattr(owner, attr)
        clock = self

        def timed(*args, **kwargs):
            start, cpu = time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                clock.wall[phase] += time.perf_counter() - start
                clock.cpu[phase] += time.process_time() - cpu

        self._saved.append((owner, attr, original))
        setattr(owner, attr, timed)

    def __enter__(self) -> "PhaseClock":
        self._wrap(recording, "run_program", "program")
        self._wrap(analyzer.PolicyPackClient, "start", "pack start")
        self._wrap(analyzer.PolicyPackClient, "analyze", "Analyze")
        self._wrap(analyzer.PolicyPackClient, "analyze_stack", "AnalyzeStack")
        self._wrap(analyzer.PolicyPackClient, "close", "pack stop")
        self._wrap(inventory, "from_resources", "estimate")
        self._wrap(estimate, "estimate", "estimate")
        return self

    def __exit__(self, *exc) -> None:
        for owner, attr, original in reversed(self._saved):
            setattr(owner, attr, original)


def preview_run(path: Path) -> dict:
    children = _children_cpu()
    with PhaseClock() as clock:
        start, cpu = time.perf_counter(), time.process_time()
        result = preview.preview(str(path))
        wall, own_cpu = time.perf_counter() - start, time.process_time() - cpu
    # The pack starts on a thread while the program runs: count the overlap once.
    overlapped = max(clock.wall["program"], clock.wall["pack start"])
    serial = sum(v for k, v in clock.wall.items() if k not in ("program", "pack start"))
    clock.wall["other"] = wall - overlapped - serial
    clock.cpu["other"] = own_cpu - sum(clock.cpu.values())
    return {
        "wall": wall,
        "cpu": own_cpu,
        "pack_cpu": _children_cpu() - children,
        "phases": dict(clock.wall),
        "phase_cpu": dict(clock.cpu),
        "resources": len(result.resources),
        "violations": len(result.violations),
        "gpus": result.estimate.gpus,
    }


def _command(argv: list[str]) -> tuple[float, float]:
    """(wall s, CPU s of the command and its children, e.g. the pack) of one fresh process."""
    children = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: a mandatory violation, a finding, not a failure
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr.decode()}")
    return wall, _children_cpu() - children


def bare_once(path: str) -> None:
    """`--bare PATH`: one bare run in this (fresh) process, for the cold comparison."""
    config = preview.program_config(preview.stackfile.read(path))
    _, _, count = bare_run(config)
    print(count)


def main(runs: int, cold_runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"Pulumi.{STACK}.yaml"
        path.write_text(yaml.safe_dump({"config": {"aifactory:facility": FACILITY}}, sort_keys=False))
        config = {"aifactory:facility": json.dumps(FACILITY)}
        # The very config the preview hands the program (preview.program_config).
        assert preview.program_config(preview.stackfile.read(str(path))) == config

        first = preview_run(path)  # warm-up of both: imports, templates, catalog, the pack's .pyc files
        _, _, bare_count = bare_run(config)
        previews, bares = [], []
        for _ in range(runs):
            previews.append(preview_run(path))
            bares.append(bare_run(config))

        cold_previews, cold_bares = [], []
        for _ in range(cold_runs):
            cold_previews.append(_command([sys.executable, "-m", "aifactory", "preview", str(path), "--format", "json"]))
            cold_bares.append(_command([sys.executable, str(Path(__file__).resolve()), "--bare", str(path)]))

    best = min(previews, key=lambda r: r["wall"])
    bare_wall, bare_cpu = min(b[0] for b in bares), min(b[1] for b in bares)
    best_cpu = min(r["cpu"] for r in previews)
    best_total_cpu = min(r["cpu"] + r["pack_cpu"] for r in previews)
    print(f"facility: {best['gpus']:,} GPUs; {best['resources']} resources recorded by the preview "
          f"({bare_count} registrations + the stack in the bare run), {best['violations']} violations")
    print(f"first preview in this process (cold imports): {first['wall'] * 1000:.0f} ms")
    print(f"warm, in this process, best of {runs}:")
    print(f"  preview: {best['wall'] * 1000:.0f} ms wall; {best['cpu'] * 1000:.0f} ms CPU here "
          f"+ {best['pack_cpu'] * 1000:.0f} ms CPU in the pack process")
    print("    phase            wall ms   CPU ms here (min over runs)")
    for phase in PHASES:
        print(f"    {phase:<14} {best['phases'].get(phase, 0) * 1000:9.0f} "
              f"{min(r['phase_cpu'].get(phase, 0) for r in previews) * 1000:8.0f}")
    print(f"  bare set_mocks run of the same program: {bare_wall * 1000:.0f} ms wall, {bare_cpu * 1000:.0f} ms CPU")
    print(f"  ratio (preview / bare): {best['wall'] / bare_wall:.2f} wall time; CPU time {best_cpu / bare_cpu:.2f} "
          f"this process only, {best_total_cpu / bare_cpu:.2f} with the pack process")
    print(f"  program run alone (recording monitor) / bare: "
          f"{min(r['phases']['program'] for r in previews) / bare_wall:.2f} wall time, "
          f"{min(r['phase_cpu']['program'] for r in previews) / bare_cpu:.2f} CPU time")
    if sys.flags.dont_write_bytecode and not sys.pycache_prefix:
        print("note: PYTHONDONTWRITEBYTECODE is set and there is no bytecode cache, so every fresh process (the pack "
              "each preview, each cold command) compiles its imports from source; for figures as an install with .pyc "
              "files has them: env -u PYTHONDONTWRITEBYTECODE PYTHONPYCACHEPREFIX=/tmp/pycache uv run --frozen python "
              "bench/preview_facility.py (run it twice: the first fills the cache)")
    if cold_runs:
        cw, cc = min(w for w, _ in cold_previews), min(c for _, c in cold_previews)
        bw, bc = min(w for w, _ in cold_bares), min(c for _, c in cold_bares)
        print(f"cold, one fresh process per run, best of {cold_runs}:")
        print(f"  `python -m aifactory preview PATH --format json`: {cw * 1000:.0f} ms wall, {cc * 1000:.0f} ms CPU "
              f"(the pack process included)")
        print(f"  bare run in a fresh process: {bw * 1000:.0f} ms wall, {bc * 1000:.0f} ms CPU")
        print(f"  ratio (preview command / bare command): {cw / bw:.2f} wall time, {cc / bc:.2f} CPU time")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--bare"]:
        bare_once(sys.argv[2])
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--runs", type=int, default=5, help="warm runs of each, interleaved (default 5)")
        parser.add_argument("--cold-runs", type=int, default=3, help="fresh-process runs of each (default 3; 0: skip)")
        options = parser.parse_args()
        main(options.runs, options.cold_runs)
    # The SDK leaves an event loop on each of its worker threads; finalizing them at interpreter
    # shutdown prints harmless "Invalid file descriptor" noise, so skip that.
    sys.stdout.flush()
    os._exit(0)
