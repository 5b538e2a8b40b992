"""Find and read a stack config: a stack name under `stacks/` or a path to any Pulumi.<stack>.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from aifactory import stackyaml
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
            try:
                data = yaml.safe_load(project.read_text(encoding="utf-8")) or {}
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
                raise SpecError([Problem(str(project), f"cannot be read as a Pulumi project file: {error}")]) from None
            folder = data.get("stackConfigDir", ".") if isinstance(data, dict) else "."
            return base / (folder if isinstance(folder, str) else ".")
    return PROJECT_ROOT / "stacks"


def stack_names(root: Path | None = None) -> list[str]:
    folder = stacks_dir(root)
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in folder.glob("Pulumi.*.yaml"))


def locate(stack: str, root: Path | None = None) -> Path:
    candidate = Path(stack)
    if candidate.suffix in (".yaml", ".yml") or "/" in stack:
        if candidate.is_dir():
            raise SpecError([Problem(stack, "is a directory, not a stack config file")])
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
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise SpecError([Problem(str(path), f"is not UTF-8 text (byte {error.object[error.start]:#04x} "
                                            f"at offset {error.start}); save it as UTF-8")]) from None
    except OSError as error:
        raise SpecError([Problem(str(path), f"cannot be read: {error.strerror or error}")]) from None
    try:
        data = stackyaml.load(text.removeprefix("\ufeff")) or {}
    except stackyaml.YamlProblem as error:
        where = f"{path}: {error.where}" if error.where else str(path)
        raise SpecError([Problem(where, error.message)]) from None
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict):
        raise SpecError([Problem(f"{path}: config", "is required (a mapping holding aifactory:facility)")])
    if CONFIG_KEY not in config:
        raise SpecError([Problem(CONFIG_KEY, f"is required in {path}")])
    secrets = list(_secure_values(config[CONFIG_KEY], CONFIG_KEY))
    if secrets:
        raise SpecError([
            Problem(where, "is a secret (secure:), and secrets do not belong in aifactory:facility: it holds "
                           "no credentials; set them as their own config keys or in the environment")
            for where in secrets
        ])
    return StackFile(name=name, path=path, config=config)


def _secure_values(value: Any, path: str):
    """Config paths of Pulumi secrets (`{secure: ...}`) inside a value."""
    if isinstance(value, dict):
        if "secure" in value and len(value) == 1:
            yield path
            return
        for key, item in value.items():
            yield from _secure_values(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _secure_values(item, f"{path}[{i}]")
