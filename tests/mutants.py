"""Mutants of the shipped stacks and of preview documents, and the three judges they go through.

Shared by the property tests (a few hundred mutants in `make test`) and `bench/mutation_sweep.py`
(tens of thousands). A mutant is made from a `random.Random`, so a failure is reproduced by its
seed. Each judge returns None when the project answered cleanly (a result, or its own refusal:
exit 2 with problems, a `PreviewError`) and a short description of anything else.
"""

from __future__ import annotations

import copy
import json
import math
import random
import tempfile
import traceback
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
STACK_FILES = sorted((ROOT / "stacks").glob("Pulumi.*.yaml")) + sorted((ROOT / "examples").glob("Pulumi.*.yaml"))
PREVIEW_FIXTURES = sorted((ROOT / "tests/fixtures/previews").glob("*.json"))

TOKENS = [
    "[", "]", "{", "}", ":", ": ", "&a ", "*a", "!!int ", "!!float ", "!!binary ", "!!timestamp ", "!!str ", "!!set ",
    "!!python/name:os.system ", "- ", "\n", "\t", "  ", "#", "'", '"', "|", ">", "%", "@", "`", ",", "? ", "\\",
    "\u202e", "\x00", "1e400", ".inf", "-.inf", ".nan", "0x1F", "0o17", "1_0", "~", "null", "yes", "no", "on", "off",
    "<<: *a\n", "2024-01-01", "[/]", "[red]", "$(id)", ";", "secure: v1:x", "999999999999999999999999",
]
EXTREMES = [
    0, -1, 1, 2, True, False, None, 2**63, 10**30, -(10**30), 1e308, -1e308, math.inf, -math.inf, math.nan, 0.5, 1e-300,
    "", " ", "x" * 300, "ü", "[red]x[/]", "$(id)", "a;b", "line\nbreak", "1_0", "off", "10.0.0.0/8", "127.0.0.0/8",
    "0.0.0.0/0", "us-east-1zzz", "use1-az4", "1", "us-central1-a", "p5.48xlarge", "H100", "lustre", "capacity-block",
    "root", "aws:x", [], {}, [1, 2], {"secure": "v1:abc"}, {"a": {"b": {"c": []}}}, list(range(200)),
]


# --------------------------------------------------------------------------- stack files


def text_mutant(text: str, rng: random.Random) -> bytes:
    """Character- and line-level edits, sometimes re-encoded: what a typo or a bad editor does."""
    for _ in range(rng.randint(1, 3)):
        lines = text.split("\n")
        edit = rng.randrange(9)
        at = rng.randrange(len(text) + 1)
        line = rng.randrange(len(lines))
        if edit == 0:
            text = text[:at] + text[at + rng.randint(1, 5):]
        elif edit in (1, 2):
            text = text[:at] + rng.choice(TOKENS) + text[at:]
        elif edit == 3:
            text = text[:at] + chr(rng.randrange(32, 0x2FF)) + text[at + 1:]
        elif edit == 4:
            lines.insert(line, lines[line])
            text = "\n".join(lines)
        elif edit == 5:
            del lines[line]
            text = "\n".join(lines)
        elif edit == 6:
            other = rng.randrange(len(lines))
            lines[line], lines[other] = lines[other], lines[line]
            text = "\n".join(lines)
        elif edit == 7:
            lines[line] = (" " * rng.choice((1, 2, 4)) + lines[line]) if rng.random() < 0.5 else lines[line].lstrip(" ")
            text = "\n".join(lines)
        else:
            head, sep, _ = lines[line].partition(": ")
            value = rng.choice(EXTREMES)
            lines[line] = head + (sep or ": ") + (json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else rng.choice([".inf", ".nan"]))
            text = "\n".join(lines)
    roll = rng.random()
    if roll < 0.03:
        return text.encode("utf-16")
    if roll < 0.06:
        data = bytearray(text.encode("utf-8", "surrogatepass"))
        data.insert(rng.randrange(len(data) + 1), rng.randrange(0x80, 0x100))
        return bytes(data)
    return text.encode("utf-8", "surrogatepass")


def _paths(node: Any, prefix: tuple = ()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


def swapped(value: Any, rng: random.Random) -> Any:
    """The same value in another type: what `nodes: "16"` or `nat: "off"` is to a parser."""
    options = [str(value), [value], {"value": value}, None]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        options += [bool(value), float(value) + 0.5, -value, value * 10**6]
    if isinstance(value, str):
        options += [len(value), value.upper(), value * 20, value + " ", "", True]
    if isinstance(value, bool):
        options += [int(value), "yes" if value else "no"]
    if isinstance(value, list):
        options += [value * 30, value[:0], {str(i): v for i, v in enumerate(value)}]
    if isinstance(value, dict):
        options += [list(value.values()), list(value), {**value, **{k + "x": v for k, v in value.items()}}]
    return rng.choice(options)


def structure_mutant(data: Any, rng: random.Random) -> Any:
    """Deleted keys, swapped types, extreme values, unknown keys, repeated entries."""
    data = copy.deepcopy(data)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = rng.choice(paths)
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        action = rng.randrange(6)
        if action == 0:
            del parent[key]
        elif action == 1:
            parent[key] = swapped(parent[key], rng)
        elif action == 2:
            parent[key] = copy.deepcopy(rng.choice(EXTREMES))
        elif action == 3 and isinstance(parent, dict):
            parent[rng.choice(["nodes", "zone", "extra", "Name", "capacity_gib", "enforce", "secure"])] = copy.deepcopy(rng.choice(EXTREMES))
        elif action == 4 and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        else:
            parent[key] = swapped(parent[key], rng)
    return data


def stack_mutant(source: Path, rng: random.Random) -> tuple[str, bytes]:
    """(kind, bytes of a stack file) made from a shipped stack."""
    text = source.read_text()
    if rng.random() < 0.5:
        return "text", text_mutant(text, rng)
    data = yaml.safe_load(text)
    target = data["config"] if rng.random() < 0.2 else data["config"]["aifactory:facility"]
    mutated = structure_mutant(target, rng)
    if target is data["config"]:
        data["config"] = mutated
    else:
        data["config"]["aifactory:facility"] = mutated
    return "structure", yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()


# --------------------------------------------------------------------------- the judges


def _where(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    frame = next((f for f in reversed(frames) if "/aifactory/" in f.filename), frames[-1] if frames else None)
    place = f"{Path(frame.filename).name}:{frame.lineno}" if frame else "?"
    return f"{type(error).__name__} at {place}: {str(error)[:160]}"


def judge_validate(path: Path) -> tuple[str | None, Any]:
    """`aifactory validate PATH --format json` in-process: (failure or None, the spec if valid)."""
    from typer.testing import CliRunner

    from aifactory import cli, stackfile
    from aifactory.loader import load_facility
    from aifactory.problems import SpecError

    result = CliRunner().invoke(cli.app, ["validate", str(path), "--format", "json"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return _where(result.exception), None
    if result.exit_code not in (0, 2):
        return f"exit {result.exit_code}: {result.output[-200:]}", None
    if result.exit_code == 2:
        return None, None
    try:
        json.loads(result.stdout, parse_constant=_refuse_constant)
        text = CliRunner().invoke(cli.app, ["validate", str(path)])
        if text.exception is not None and not isinstance(text.exception, SystemExit):
            return _where(text.exception), None
        return None, (stackfile.read(str(path)), load_facility(stackfile.read(str(path)).facility))
    except SpecError:
        return "validate said valid, reading again refused it", None
    except Exception as error:  # noqa: BLE001 - anything here is a finding
        return _where(error), None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} in JSON output")


def judge_program(stack_file, spec) -> str | None:
    """The stack's program under the recorder, then the inventory, estimate and preview JSON."""
    from aifactory import estimate as estimating
    from aifactory import inventory as inventories
    from aifactory import preview_schema
    from aifactory.preview import PROGRAM, program_config
    from aifactory.recording import run_program

    try:
        run = run_program(PROGRAM, project="aifactory", stack=stack_file.name, config=program_config(stack_file),
                          known_ids=False)
        inventory = inventories.from_resources(run.resources)
        doc = {
            "project": run.project, "stack": stack_file.name, "stack_config": str(stack_file.path),
            "facility": spec.model_dump(mode="json"), "resources": [r.to_json() for r in run.resources],
            "outputs": run.outputs, "policies": {"pack": "aifactory", "config": None, "policies": [], "violations": []},
            "estimate": estimating.estimate(inventory).to_json(), "unknowns": [],
        }
        text = json.dumps(doc, allow_nan=False)
        problems = preview_schema.problems(json.loads(text))
        if problems:
            return f"the program's own preview JSON is refused by diff: {problems[:3]}"
    except Exception as error:  # noqa: BLE001 - anything here is a finding
        return _where(error)
    return None


def preview_mutant(rng: random.Random) -> tuple[dict | str, dict | str]:
    """(base, head): one side a fixture, the other a mutated fixture (JSON value or text)."""
    base = json.loads(rng.choice(PREVIEW_FIXTURES).read_text())
    head = json.loads(rng.choice(PREVIEW_FIXTURES).read_text())
    roll = rng.random()
    if roll < 0.15:
        text = json.dumps(head)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(text) + 1)
            text = text[:at] + rng.choice(['"', "{", "}", "[", "]", ",", ":", "null", "NaN", "Infinity", "-1", "1e999",
                                            '"x"', "true"]) + text[at + rng.randint(0, 3):]
        head = text
    elif roll < 0.6:
        head = structure_mutant(head, rng)
    else:
        head = _mutate_where_it_matters(head, rng)
    return (head, base) if rng.random() < 0.5 else (base, head)


def _mutate_where_it_matters(doc: dict, rng: random.Random) -> dict:
    """A mutation inside the parts the diff computes with: lines, violations, facility, resources."""
    doc = copy.deepcopy(doc)
    part = rng.choice([("estimate", "lines"), ("policies", "violations"), ("facility",), ("resources",), ("estimate",)])
    node = doc
    for key in part[:-1]:
        node = node[key]
    node[part[-1]] = structure_mutant(node[part[-1]], rng)
    if part == ("policies", "violations") and rng.random() < 0.5:
        node["violations"].append({"policy": "power-cap", "enforcement": rng.choice(["MANDATORY", "Advisory", None]),
                                   "message": "m", "urn": None})
    return doc


def judge_diff(base: dict | str, head: dict | str, rng: random.Random) -> str | None:
    """`aifactory diff BASE HEAD` through the command's own code, every format, a random limit."""
    import typer

    from aifactory import diffcmd

    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for name, doc in (("base.json", base), ("head.json", head)):
            path = Path(folder) / name
            path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
            paths.append(str(path))
        out = Path(folder) / "out"
        for format in diffcmd.DiffFormat:
            try:
                diffcmd.run(paths[0], paths[1], format, rng.choice([None, 0.0, 1e6]), rng.choice([None, 10.0]), out,
                            allow_different_stacks=rng.random() < 0.5)
            except typer.Exit as done:
                if done.exit_code not in (0, 1, 2):
                    return f"exit {done.exit_code}"
                if done.exit_code == 2:
                    return None
            except Exception as error:  # noqa: BLE001 - anything here is a finding
                return _where(error)
            if format is diffcmd.DiffFormat.json:
                try:
                    json.loads(out.read_text(), parse_constant=_refuse_constant)
                except ValueError as error:
                    return f"diff JSON output is not JSON: {error}"
    return None
