"""Refusing a YAML alias bomb costs about what reading a real stack costs; expanding it cost seconds.

Measured in CPU time of this process (the machine may be shared), against the baseline of the
strict reader on the shipped vision-prod stack in the same run; the bomb is 8 levels of 9 aliases
(43 million values from under 1 KB) added to that stack. "Before" is what a preview did with such a
file before the reader refused it: PyYAML's safe_load, then JSON text of the config for the program.

    uv run python bench/alias_bomb.py
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aifactory import stackyaml  # noqa: E402


def bomb(text: str, levels: int = 8) -> str:
    lines = ['  lol:a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"  lol:a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return text + "\n".join(lines) + "\n"


def cpu_seconds(work, repeat: int) -> float:
    started = time.process_time()
    for _ in range(repeat):
        work()
    return (time.process_time() - started) / repeat


def refuse(text: str) -> None:
    try:
        stackyaml.load(text)
    except stackyaml.YamlProblem:
        return
    raise SystemExit("the bomb was not refused")


def main() -> None:
    plain = (ROOT / "stacks/Pulumi.vision-prod.yaml").read_text()
    bad = bomb(plain)
    baseline = cpu_seconds(lambda: stackyaml.load(plain), 50)
    refusal = cpu_seconds(lambda: refuse(bad), 50)
    print(f"file: {len(bad.encode())} bytes")
    print(f"baseline, strict read of vision-prod: {baseline * 1e3:.2f} ms CPU")
    print(f"refusing the alias bomb:              {refusal * 1e3:.2f} ms CPU  ({refusal / baseline:.2f}x baseline)")
    before = cpu_seconds(lambda: json.dumps(yaml.safe_load(bad)), 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"before, safe_load + JSON of the config:  {before:.2f} s CPU  ({before / baseline:,.0f}x baseline), "
          f"peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
