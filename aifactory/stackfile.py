"""Find and read a stack config: a stack name under `stacks/` or a path to any Pulumi.<stack>.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from aifactory.spec import CONFIG_KEY, Problem, SpecError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class StackFile:
    name: str
    path: Path
    config: dict[str, Any]  # the whole `config:` mapping

    @property
    def facility(self) -> Any:
        return self.config.get(CONFIG_KEY)


def stacks_dir(root: Path | None = None) -> Path:
    """The project's stackConfigDir: read from Pulumi.yaml in the working directory, else the package's."""
    for base in ([root] if root else []) + [Path.cwd(), PROJECT_ROOT]:
        project = base / "Pulumi.yaml"
        if project.is_file():
            data = yaml.safe_load(project.read_text()) or {}
            return base / data.get("stackConfigDir", ".")
    return PROJECT_ROOT / "stacks"


def stack_names(root: Path | None = None) -> list[str]:
    folder = stacks_dir(root)
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in folder.glob("Pulumi.*.yaml"))


def locate(stack: str, root: Path | None = None) -> Path:
    candidate = Path(stack)
    if candidate.suffix in (".yaml", ".yml") or "/" in stack:
        if candidate.is_file():
            return candidate
        raise SpecError([Problem(stack, "no such stack config file")])
    path = stacks_dir(root) / f"Pulumi.{stack}.yaml"
    if path.is_file():
        return path
    known = ", ".join(stack_names(root)) or "none"
    raise SpecError([Problem(stack, f"no stack of that name in {stacks_dir(root)} (stacks: {known})")])


def read(stack: str, root: Path | None = None) -> StackFile:
    """`root`: the Pulumi project whose stackConfigDir holds the stack (default: the working directory's)."""
    path = locate(stack, root)
    name = path.name
    name = name[len("Pulumi.") :] if name.startswith("Pulumi.") else name
    name = name.rsplit(".", 1)[0]
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise SpecError([Problem(str(path), f"is not valid YAML: {error}")]) from None
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict):
        raise SpecError([Problem(f"{path}: config", "is required (a mapping holding aifactory:facility)")])
    if CONFIG_KEY not in config:
        raise SpecError([Problem(CONFIG_KEY, f"is required in {path}")])
    return StackFile(name=name, path=path, config=config)
