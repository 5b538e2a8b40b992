"""Benchmark: a facility built through the AWS component provider against the same facility in-process.

Starts `providers/aifactory-aws` as Pulumi's Python language host starts a plugin and prints how long
it takes to print its port (interpreter start, imports, schema inference). Then builds the
`vision-prod` facility (the shipped example stack's fields) RUNS times each way, interleaved, after
a warm-up: through the provider's gRPC `Construct` against the recording monitor served over gRPC
(as the engine serves its ResourceMonitor), and in-process under the same recording monitor. Prints
the best wall times and their ratio (provider / in-process): what a program in another language pays
for the provider hop, measured in the same run. GetSchema's time is printed too.
Run: `uv run --frozen python bench/provider_construct.py`.
"""

import copy
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aifactory import stackfile  # noqa: E402
from aifactory.components.aws import Facility  # noqa: E402
from tests.harness import FakeCloud, run  # noqa: E402
from tests.provider_host import EngineServer, ProviderProcess, construct  # noqa: E402

RUNS = 5


def main() -> None:
    fields = copy.deepcopy(stackfile.read("vision-prod").facility)
    engine = EngineServer()
    started = time.perf_counter()
    provider = ProviderProcess("aws", engine.address)
    startup = time.perf_counter() - started
    try:
        started = time.perf_counter()
        schema = provider.schema()
        get_schema = time.perf_counter() - started
        token = "aifactory-aws:index:Facility"
        inputs = wire(fields, schema["resources"][token]["inputProperties"], schema)

        def remote() -> int:
            return len(construct(provider, engine, token, fields["name"], inputs, FakeCloud()).resources)

        def local() -> int:
            return len(run(lambda: Facility(fields["name"], copy.deepcopy(fields)), mocks=FakeCloud()).resources)

        counts = (remote(), local())  # warm-up
        times: dict[str, list[float]] = {"provider": [], "in-process": []}
        for _ in range(RUNS):
            for label, build in (("provider", remote), ("in-process", local)):
                started = time.perf_counter()
                build()
                times[label].append(time.perf_counter() - started)
    finally:
        provider.stop()
        engine.stop()
    best = {label: min(values) for label, values in times.items()}
    print(f"provider start-up (port printed): {startup:.2f} s; GetSchema: {get_schema * 1000:.0f} ms")
    print(f"vision-prod facility, {counts[0]} registrations through Construct, {counts[1]} in-process (the stack left out)")
    print(f"best of {RUNS}: provider {best['provider']:.3f} s, in-process {best['in-process']:.3f} s, "
          f"ratio {best['provider'] / best['in-process']:.2f}")


def wire(value, properties, schema):
    from tests.test_providers import wire_object

    return wire_object(value, properties, schema)


if __name__ == "__main__":
    main()
