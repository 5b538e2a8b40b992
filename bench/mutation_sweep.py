"""Mutation sweep: thousands of mutants of every shipped stack and of preview documents.

Every mutant goes through `aifactory validate` (in-process, every format), the ones that validate
through the stack's program under the recorder (once per distinct facility), and mutated preview
pairs through `aifactory diff` (every format). Anything but a result or the project's own clean
refusal is a finding. Prints how many mutants ran, how each was answered, and every distinct
finding with the seed that reproduces it.

    uv run python bench/mutation_sweep.py [--stacks 10000] [--diffs 3000] [--seed 1]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import io
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import mutants  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", type=int, default=10_000, help="stack-file mutants")
    parser.add_argument("--diffs", type=int, default=3_000, help="preview-document pairs")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    findings: dict[str, list[str]] = collections.defaultdict(list)
    outcomes: collections.Counter = collections.Counter()
    programs_run = 0
    seen_specs: set[str] = set()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for i in range(args.stacks):
            if i and i % 500 == 0:
                print(f"... {i:,} stack mutants, {dict(outcomes)}, findings {sum(len(v) for v in findings.values())}, "
                      f"{time.perf_counter() - started:,.0f} s", flush=True)
            seed = args.seed * 1_000_003 + i
            rng = random.Random(seed)
            source = rng.choice(mutants.STACK_FILES)
            kind, content = mutants.stack_mutant(source, rng)
            path = Path(folder) / f"Pulumi.mutant-{i % 7}.yaml"
            path.write_bytes(content)
            failure, valid = mutants.judge_validate(path)
            if failure:
                findings[f"validate: {failure}"].append(f"stack seed {seed} ({source.name}, {kind})")
                outcomes[f"{kind}: finding"] += 1
                continue
            outcomes[f"{kind}: {'valid' if valid else 'refused (exit 2)'}"] += 1
            if valid:
                stack_file, spec = valid
                key = hashlib.sha256(json.dumps([spec.model_dump(mode="json"), stack_file.config], sort_keys=True,
                                                default=str).encode()).hexdigest()
                if key in seen_specs:
                    continue
                seen_specs.add(key)
                programs_run += 1
                failure = mutants.judge_program(stack_file, spec)
                if failure:
                    findings[f"program: {failure}"].append(f"stack seed {seed} ({source.name}, {kind})")
        stacks_seconds = time.perf_counter() - started

        diff_started = time.perf_counter()
        diff_outcomes: collections.Counter = collections.Counter()
        for i in range(args.diffs):
            seed = args.seed * 2_000_003 + i
            rng = random.Random(seed)
            base, head = mutants.preview_mutant(rng)
            with contextlib.redirect_stderr(io.StringIO()):  # the refusals' own messages
                failure = mutants.judge_diff(base, head, rng)
            if failure:
                findings[f"diff: {failure}"].append(f"diff seed {seed}")
                diff_outcomes["finding"] += 1
            else:
                diff_outcomes["clean"] += 1
        diff_seconds = time.perf_counter() - diff_started

    print(f"stack mutants: {args.stacks:,} from {len(mutants.STACK_FILES)} shipped stacks in {stacks_seconds:,.0f} s")
    for outcome, count in sorted(outcomes.items()):
        print(f"  {outcome}: {count:,}")
    print(f"  distinct valid facilities run as programs under the recorder: {programs_run:,}")
    print(f"diff mutant pairs: {args.diffs:,} in {diff_seconds:,.0f} s")
    for outcome, count in sorted(diff_outcomes.items()):
        print(f"  {outcome}: {count:,}")
    total = sum(len(v) for v in findings.values())
    print(f"exceptions other than the project's clean errors: {total} ({len(findings)} distinct)")
    for finding, where in sorted(findings.items(), key=lambda item: -len(item[1])):
        print(f"  {len(where):>5} x {finding}\n        first: {where[0]}")
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
