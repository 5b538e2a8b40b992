"""A policy-pack config file (`--policy-config`), read and checked against the pack's own policies.

The engine ignores config for a policy the pack does not have when it carries an enforcement
level, so a misspelt name silently leaves the real policy at its default; a limit of the wrong
type or sign is refused only after the program ran. Here every such file is refused before
anything runs, each problem named by its place in the file: unknown policy names (with the
pack's names), unknown settings (with the policy's settings), enforcement levels, and every
value against the config schema the pack's policy declares.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from aifactory.problems import Problem, SpecError

ALL = "all"  # the engine's key for "every policy of the pack"
LEVEL_KEY = "enforcementLevel"


class PolicyConfigProblems(SpecError):
    """A policy config file that cannot be used; `problems` names each place in the file."""


def read(path: Path) -> dict:
    """The file's JSON object (an empty file is no config, as for the engine)."""
    where = str(path)
    if path.is_dir():
        raise PolicyConfigProblems([Problem(where, "is a directory, not a policy config file")])
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PolicyConfigProblems([Problem(where, "no such policy config file")]) from None
    except OSError as error:
        raise PolicyConfigProblems([Problem(where, f"cannot be read: {error.strerror or error}")]) from None
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise PolicyConfigProblems([Problem(where, f"is not UTF-8 JSON text (byte {raw[error.start]:#04x} at "
                                                   f"offset {error.start})")]) from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text, object_pairs_hook=_no_repeats, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise PolicyConfigProblems([Problem(where, f"is not valid JSON: {error.msg} at line {error.lineno} "
                                                   f"column {error.colno}")]) from None
    except ValueError as error:
        raise PolicyConfigProblems([Problem(where, str(error))]) from None
    if not isinstance(data, dict):
        raise PolicyConfigProblems([Problem(where, "must be a JSON object of policy name → settings")])
    return data


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"the key {key!r} appears twice in one object; give it once")
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; give a finite number")


def pack_policies() -> dict[str, dict]:
    """Every policy of the aifactory pack by name: its config schema's properties."""
    from aifactory.policies import all_policies

    out: dict[str, dict] = {}
    for policy in all_policies():
        schema = getattr(policy, "config_schema", None)
        out[policy.name] = {
            "properties": dict(getattr(schema, "properties", None) or {}),
            "required": list(getattr(schema, "required", None) or []),
        }
    return out


def check(config: dict, path: Path, policies: dict[str, dict] | None = None) -> list[Problem]:
    """Problems with a policy config for the pack whose policies (name → schema) are given."""
    from aifactory.analyzer import ENFORCEMENT_LEVELS
    from aifactory.analyzer import _validate as validate_schema

    policies = pack_policies() if policies is None else policies
    problems: list[Problem] = []

    def problem(where: str, message: str) -> None:
        problems.append(Problem(f"{path}: {where}", message))

    def check_level(where: str, level: Any) -> None:
        if level not in ENFORCEMENT_LEVELS:
            shown = json.dumps(level) if not isinstance(level, str) else f"'{level}'"
            problem(where, f"{shown} is not an enforcement level; use one of {', '.join(ENFORCEMENT_LEVELS)}")

    for name, value in config.items():
        if name != ALL and name not in policies:
            near = difflib.get_close_matches(name, list(policies), n=1)
            hint = f"did you mean '{near[0]}'? " if near else ""
            problem(name, f"is not a policy of the pack; {hint}its policies: {', '.join(sorted(policies))}")
            continue
        if isinstance(value, str) or name == ALL:
            check_level(name, value)
            continue
        if not isinstance(value, dict):
            problem(name, "must be an enforcement level or an object of settings")
            continue
        schema = policies[name]
        for key, setting in value.items():
            where = f"{name}.{key}"
            if key == LEVEL_KEY:
                check_level(where, setting)
            elif key not in schema["properties"]:
                known = ", ".join([LEVEL_KEY, *schema["properties"]])
                near = difflib.get_close_matches(key, [LEVEL_KEY, *schema["properties"]], n=1)
                hint = f"did you mean '{near[0]}'? " if near else ""
                problem(where, f"is not a setting of {name}; {hint}its settings: {known}")
            else:
                errors: list[str] = []
                validate_schema(schema["properties"][key], setting, where, errors)
                for error in errors:
                    at, _, message = error.partition(": ")
                    problem(at, message)
        for key in schema["required"]:
            if key not in value:
                problem(f"{name}.{key}", "is required")
    return problems


def load(path: Path) -> dict:
    """Read a policy config file and refuse it unless every entry fits the pack."""
    config = read(path)
    problems = check(config, path)
    if problems:
        raise PolicyConfigProblems(problems)
    return config
