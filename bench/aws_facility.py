"""Benchmark: register a 100,000-GPU AWS facility under the Pulumi SDK's mocks.

12,500 p5.48xlarge nodes (8 H100 each) in three fleets -- one of them above the 10,000-node group
cap, so it is split -- plus FSx for Lustre and a budget with the kill switch. Prints the resource
count and the wall time of the registration as a ratio to the SDK's bare mock registration of the
same number of plain `pulumi.CustomResource`s carrying the very same input dicts, measured in the
same process (runs interleaved, best of several each, after a warm-up), as wall time and as process
CPU time (all threads; less sensitive to other load on a shared machine). A second baseline registers
the same resources flat, without dependencies, each declaring its real pulumi_aws type's output
properties: the gap to it is what the components themselves cost, the rest is the typed classes.
Run: `uv run python bench/aws_facility.py`.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pulumi  # noqa: E402
from pulumi.runtime import rpc  # noqa: E402
from pulumi.runtime.mocks import MockMonitor, Mocks  # noqa: E402

import components  # noqa: E402
from aifactory.spec import load_facility  # noqa: E402

FACILITY = {
    "name": "frontier",
    "team": "research",
    "cloud": "aws",
    "region": "us-east-1",
    "zone": "us-east-1a",
    "tags": {"cost-center": "cc-0001"},
    "fleets": [
        {"name": "pretrain", "instance_type": "p5.48xlarge", "nodes": 11_000, "capacity": "on-demand"},
        {"name": "finetune", "instance_type": "p5.48xlarge", "nodes": 1_000, "capacity": "reservation",
         "reservation_id": "cr-0123456789abcdef0"},
        {"name": "eval", "instance_type": "p5.48xlarge", "nodes": 500, "capacity": "spot"},
    ],
    "network": {"cidr": "10.0.0.0/16"},
    "filesystems": [
        {"name": "scratch", "kind": "lustre", "capacity_tib": 480, "throughput_mbps_per_tib": 500,
         "data_repository": "s3://frontier-data/train"},
    ],
    "budget": {"monthly_usd": 600_000_000, "alert_emails": ["finops@example.com"],
               "thresholds_pct": [50, 80, 100], "enforce": "stop"},
}
RUNS = 9


class _Mocks(Mocks):
    def new_resource(self, args):
        return f"{args.name}_id", dict(args.inputs)

    def call(self, args):
        return {}, None


class _Monitor(MockMonitor):
    def __init__(self, mocks):
        super().__init__(mocks)
        self.registered: list[tuple[str, str, dict]] = []

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registered.append((request.type, request.name, rpc.deserialize_properties(request.object)))
        return response


class _Bare(pulumi.CustomResource):
    def __init__(self, name: str, props: dict, type_: str = "bench:index:Resource"):
        super().__init__(type_, name, props)


def _output_names(type_: str) -> list[str]:
    """Every property a pulumi_aws resource class declares (its outputs, camelCase), ~50 for a Group."""
    if not type_.startswith("aws:"):
        return []
    module, cls = type_.split(":")[1].split("/")[0], type_.split(":")[2]
    module = {"lambda": "lambda_"}.get(module, module)
    klass = getattr(importlib.import_module(f"pulumi_aws.{module}"), cls)
    names = [n for n, v in vars(klass).items() if isinstance(v, property)]
    return [head + "".join(part.title() for part in rest) for head, *rest in (n.split("_") for n in names)]


def _timed(program) -> tuple[float, _Monitor]:
    box: dict = {}

    def isolated() -> None:
        mocks = _Mocks()
        monitor = _Monitor(mocks)
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            pulumi.runtime.set_mocks(mocks, project="aifactory", stack="bench", preview=True, monitor=monitor)

            @pulumi.runtime.test
            def go():
                program()

            start, cpu = time.perf_counter(), time.process_time()
            go()
            box["seconds"] = time.perf_counter() - start
            box["cpu"] = time.process_time() - cpu
            box["monitor"] = monitor
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    contextvars.copy_context().run(isolated)
    _cpu_seconds.append(box["cpu"])
    return box["seconds"], box["monitor"]


_cpu_seconds: list[float] = []  # process CPU time of the latest runs (all threads), load-insensitive


def main() -> None:
    spec = load_facility(FACILITY)
    gpus, nodes = spec.gpus, sum(f.nodes for f in spec.fleets)

    _, monitor = _timed(lambda: components.build_facility(spec))  # warm-up: imports, templates, catalog
    registered = monitor.registered
    payload = [(f"r{i}", inputs) for i, (_, _, inputs) in enumerate(registered)]
    # A second, explanatory baseline: the same resources flat and dependency-free, each also
    # declaring its real type's output properties (what a pulumi_aws class adds per resource).
    typed_payload = [
        (f"t{i}", {**inputs, **{k: None for k in _output_names(type_) if k not in inputs}}, type_)
        for i, (type_, _, inputs) in enumerate(registered)
        if not type_.startswith("pulumi:providers:")
    ]

    def bare() -> None:
        for name, inputs in payload:
            _Bare(name, inputs)

    def typed() -> None:
        for name, inputs, type_ in typed_payload:
            _Bare(name, inputs, type_)

    _timed(bare)
    _timed(typed)
    # Interleaved, so load on a shared machine hits all three alike; the best run of each counts.
    facility_times, bare_times, typed_times = [], [], []
    facility_cpu, bare_cpu, typed_cpu = [], [], []
    for _ in range(RUNS):
        facility_times.append(_timed(lambda: components.build_facility(spec))[0])
        facility_cpu.append(_cpu_seconds[-1])
        bare_times.append(_timed(bare)[0])
        bare_cpu.append(_cpu_seconds[-1])
        typed_times.append(_timed(typed)[0])
        typed_cpu.append(_cpu_seconds[-1])

    groups = [r for r in registered if r[0] == "aws:autoscaling/group:Group"]
    fac, base, flat = min(facility_times), min(bare_times), min(typed_times)
    print(f"facility: {gpus:,} GPUs on {nodes:,} p5.48xlarge nodes in {len(spec.fleets)} fleets")
    print(f"auto scaling groups: {len(groups)} (sizes {[int(g[2]['desiredCapacity']) for g in groups]})")
    print(f"resources registered: {len(registered)} (custom + components + provider)")
    print(f"facility registration: {fac * 1000:.0f} ms (best of {RUNS})")
    print(f"bare CustomResource registration, same count and inputs: {base * 1000:.0f} ms (best of {RUNS})")
    print(f"ratio (facility / bare): {fac / base:.2f} wall time, "
          f"{min(facility_cpu) / min(bare_cpu):.2f} process CPU time")
    print(
        f"flat registration of the same {len(typed_payload)} resources with each type's declared outputs: "
        f"{flat * 1000:.0f} ms; ratio (facility / flat typed): {fac / flat:.2f} wall time, "
        f"{min(facility_cpu) / min(typed_cpu):.2f} process CPU time"
    )


if __name__ == "__main__":
    main()
    # The mock monitor leaves an event loop on each of the SDK's worker threads; finalizing them
    # at interpreter shutdown prints harmless "Invalid file descriptor" noise, so skip that.
    sys.stdout.flush()
    os._exit(0)
