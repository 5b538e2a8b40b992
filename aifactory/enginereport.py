"""Judge and estimate what the real Pulumi CLI wrote: the `aifactory report` pipeline.

The resources of a `pulumi preview --json`, `pulumi stack export`, checkpoint or aifactory preview
document (`aifactory.engine_json`) go through what `aifactory preview` does after running the
program: the policy pack over its real gRPC interface, then the inventory and the estimate. The
result is a preview JSON document (DESIGN.md) with `source` saying what was read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aifactory import engine_json, stdinput
from aifactory.problems import Problem, SpecError
from aifactory.spec import CONFIG_KEY

STDIN = stdinput.STDIN


def read_document(arg: str) -> Any:
    where = "standard input" if arg == STDIN else arg
    try:
        text = stdinput.read(arg)
    except FileNotFoundError:
        raise SpecError([Problem(where, "no such file")]) from None
    except IsADirectoryError:
        raise SpecError([Problem(where, "is a directory, not a JSON file")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError([Problem(where, f"cannot be read: {error}")]) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise SpecError([Problem(where, f"is not JSON ({error.msg} at line {error.lineno} column {error.colno})")]) from None


def load(arg: str) -> engine_json.EngineDocument:
    """A document from a path (or `-`), read into resources; SpecError (exit 2) if it is none we know."""
    where = "standard input" if arg == STDIN else arg
    try:
        return engine_json.read(read_document(arg))
    except engine_json.EngineJsonError as error:
        raise SpecError([Problem(where, problem) for problem in error.problems]) from None


def facility_config(document: engine_json.EngineDocument) -> dict:
    """The `aifactory:facility` stack config the document carries (the engine keeps it as JSON text);
    empty when it carries none or none that parses."""
    facility = document.config.get(CONFIG_KEY)
    if isinstance(facility, str):
        try:
            facility = json.loads(facility)
        except json.JSONDecodeError:
            return {}
    return facility if isinstance(facility, dict) else {}


def team_of(document: engine_json.EngineDocument) -> str | None:
    """The team named by the stack config the document carries (`aifactory:facility.team`)."""
    team = facility_config(document).get("team")
    return team if isinstance(team, str) and team else None


def policy_config_for(document: engine_json.EngineDocument, given: Path | None) -> Path | None:
    from aifactory.preview import POLICY_CONFIG_DIR, default_policy_config

    if given is not None:
        return given
    team = team_of(document)
    if team:
        return default_policy_config(team)
    default = POLICY_CONFIG_DIR / "default.json"
    return default if default.is_file() else None


def load_factor_of(document: engine_json.EngineDocument) -> float | None:
    value = facility_config(document).get("load_factor")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def report(arg: str, policy_config: Path | None = None, progress=None, pricing=None) -> dict:
    """The preview JSON document of what `arg` holds, judged by the pack and estimated.
    `pricing`: the org pricing (default: the file bundled with the pack, as `preview` uses)."""
    from aifactory import estimate as estimating
    from aifactory import inventory as inventories
    from aifactory import policyconfig, pricingfile
    from aifactory.analyzer import PolicyPackClient, analyze_with
    from aifactory.preview import POLICY_PACK, violation_json, with_pricing

    document = load(arg)
    config_path = policy_config_for(document, policy_config)
    config = policyconfig.load(config_path) if config_path else {}
    org_pricing = pricing if pricing is not None else pricingfile.load()
    config = with_pricing(config, org_pricing)
    note = progress or (lambda message: None)
    note("starting the policy pack")
    with PolicyPackClient(POLICY_PACK, project=document.project or "project", stack=document.stack or "stack",
                          stop_grace=0) as client:
        note(f"judging {len(document.resources)} resources")
        infos, violations = analyze_with(client, document.resources, config)
    inventory = inventories.from_resources(document.resources)
    return {
        "project": document.project,
        "stack": document.stack,
        "stack_config": "standard input" if arg == STDIN else str(arg),
        "source": {"format": document.format, "file": "-" if arg == STDIN else str(arg)},
        "facility": document.facility,
        "resources": [r.to_json() for r in document.resources],
        "outputs": document.outputs,
        "policies": {
            "pack": "aifactory",
            "config": str(config_path) if config_path else None,
            "policies": [
                {"name": p.name, "description": p.description, "policy_type": p.policy_type,
                 "enforcement_level": p.enforcement_level, "config_schema": p.config_schema}
                for p in infos
            ],
            "violations": [violation_json(v) for v in violations],
        },
        "estimate": estimating.estimate(inventory, org_pricing, load_factor_of(document)).to_json(),
        "unknowns": [str(u) for u in getattr(inventory, "unknowns", [])],
    }


def as_preview_document(arg: str) -> dict | None:
    """For `aifactory diff`: a document in any format as a preview JSON document; None if it
    already is one (the diff reads those itself, without starting the pack)."""
    try:
        kind = engine_json.detect(read_document(arg))
    except (SpecError, engine_json.EngineJsonError):
        return None  # the diff's own reader says what is wrong with it
    if kind == "aifactory-preview":
        return None
    return report(arg)
