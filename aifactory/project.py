"""Where things are: the Pulumi project a command runs, and the policy pack the offline engine starts.

A project is found as the Pulumi CLI finds it: the nearest folder, from the given one (default the
working directory) upwards, holding `Pulumi.yaml`. The pack is `policies/` of a source checkout, or
the copy an installed wheel carries inside the package (`aifactory/pack/`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from aifactory.problems import Problem, SpecError

PACKAGE_DIR = Path(__file__).resolve().parent
SOURCE_ROOT = PACKAGE_DIR.parent
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml")


def policy_pack_dir() -> Path:
    installed = PACKAGE_DIR / "pack"
    if (installed / "PulumiPolicy.yaml").is_file():
        return installed
    return SOURCE_ROOT / "policies"


@dataclass(frozen=True)
class Project:
    root: Path
    name: str
    program: Path
    stacks: Path


def find(start: Path | None = None) -> Project:
    """The Pulumi project at `start` (default: the working directory) or its nearest parent; refuses
    (SpecError, exit 2) where there is none or it is not a Python program."""
    origin = (start or Path.cwd()).resolve()
    if start is not None and not origin.is_dir():
        raise SpecError([Problem(str(start), "no such directory")])
    for folder in (origin, *origin.parents):
        for name in PROJECT_FILES:
            if (folder / name).is_file():
                return _read(folder / name)
    raise SpecError([Problem(str(origin), "no Pulumi project here: no Pulumi.yaml in this directory or any parent; "
                                          "run in a project directory or pass --project DIR")])


def _read(path: Path) -> Project:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise SpecError([Problem(str(path), f"is not valid YAML: {error}")]) from None
    if not isinstance(data, dict):
        raise SpecError([Problem(str(path), "must be a mapping (name, runtime, ...)")])
    runtime = data.get("runtime")
    runtime = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime != "python":
        raise SpecError([Problem(f"{path}: runtime", f"is {runtime!r}; the offline preview runs Python programs only")])
    root = path.parent
    main = root / str(data.get("main") or ".")
    program = main / "__main__.py" if main.is_dir() else main
    if not program.is_file():
        raise SpecError([Problem(str(path), f"its program {program} does not exist")])
    stacks = root / str(data.get("stackConfigDir") or ".")
    return Project(root=root, name=str(data.get("name") or root.name), program=program, stacks=stacks)
