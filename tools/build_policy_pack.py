"""Write the publishable policy pack: the folder `pulumi policy publish` uploads, standing alone.

    python tools/build_policy_pack.py [OUT]        (default dist/policy-pack; `make policy-pack`)

OUT holds `PulumiPolicy.yaml` (runtime python, pip into `venv`, as Pulumi installs a published
pack), `__main__.py`, `requirements.txt` and a vendored copy of every module of this project the
pack imports, with the data files of the packages it uses. Nothing is listed by hand:

- the project modules are the import closure of `policies/__main__.py`, found by running it in a
  fresh interpreter (with `PolicyPack` stubbed, so no server starts) and by following every import
  statement of the vendored files, to a fixed point; a sub-package of `aifactory` is vendored whole
  (its modules and data folders), since a package may load its modules by name;
- the requirements are the distributions those files import, and everything they depend on, at the
  versions `uv.lock` pins.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCE_PACK = ROOT / "policies"
PACKAGE = "aifactory"
# The CLI starts a Python pack as `python -m pulumi.policy`, which lives in the `pulumi` distribution.
RUNNER_DISTRIBUTIONS = ("pulumi",)

_IMPORTED_MODULES = r"""
import json, runpy, sys
import pulumi_policy
pulumi_policy.PolicyPack = lambda *args, **kwargs: None
sys.path.insert(0, sys.argv[2])
runpy.run_path(sys.argv[1], run_name="__main__")
print(json.dumps(sorted(name for name in sys.modules if name == "aifactory" or name.startswith("aifactory."))))
"""


def imported_at_start(pack: Path) -> set[str]:
    """Project modules the pack's `__main__.py` has loaded once it has built its PolicyPack."""
    out = subprocess.run(
        [sys.executable, "-c", _IMPORTED_MODULES, str(pack / "__main__.py"), str(ROOT)],
        cwd=pack, check=True, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def imports_of(path: Path, module: str) -> set[str]:
    """Every module an import statement in the file names (anywhere in it, functions included)."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return names


def whole_package(name: str) -> set[str]:
    folder = ROOT.joinpath(*name.split("."))
    return {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in folder.rglob("*.py")
        if "__pycache__" not in path.parts
    }


def closure(start: set[str], entry: Path) -> tuple[set[str], set[str]]:
    """(project modules, top-level names of everything else imported) from the entry file on."""
    modules: set[str] = set()
    external: set[str] = set()
    pending = set(start) | {PACKAGE}
    for name in imports_of(entry, "__main__"):
        (pending if name.split(".")[0] == PACKAGE else external).add(name.split(".")[0] if name.split(".")[0] != PACKAGE else name)
    while pending:
        name = pending.pop()
        path = module_file(name)
        if path is None or name in modules:
            continue
        modules.add(name)
        parts = name.split(".")
        for depth in range(1, len(parts)):  # importing a.b.c runs a/__init__ and a/b/__init__
            pending.add(".".join(parts[:depth]))
        if path.name == "__init__.py" and name != PACKAGE:
            pending |= whole_package(name) - modules
        for imported in imports_of(path, name):
            top = imported.split(".")[0]
            if top == PACKAGE:
                pending.add(imported)
            elif imported:
                external.add(top)
    return modules, external - set(sys.stdlib_module_names) - {"__future__"}


def data_folders(modules: set[str]) -> list[Path]:
    """Folders without Python in the vendored sub-packages (catalog data, templates)."""
    out = []
    for name in modules:
        path = module_file(name)
        if path is None or path.name != "__init__.py" or name == PACKAGE:
            continue
        for child in sorted(path.parent.iterdir()):
            if child.is_dir() and child.name != "__pycache__" and not (child / "__init__.py").exists():
                out.append(child)
    return out


def distributions(top_level: set[str]) -> set[str]:
    by_module = metadata.packages_distributions()
    missing = sorted(name for name in top_level if name not in by_module)
    if missing:
        raise SystemExit(f"the pack imports {', '.join(missing)}, which no installed distribution provides")
    return {canonical(dist) for name in top_level for dist in by_module[name]}


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def pinned(roots: set[str], lock_file: Path) -> list[str]:
    """`name==version` for the roots and everything they need, as uv.lock resolved it."""
    lock = tomllib.loads(lock_file.read_text())
    packages: dict[str, list[dict]] = {}
    for package in lock["package"]:
        packages.setdefault(canonical(package["name"]), []).append(package)
    chosen: dict[str, dict] = {}
    markers: dict[str, set[str | None]] = {}
    pending: list[tuple[str, str | None, str | None, tuple[str, ...]]] = [(r, None, None, ()) for r in sorted(roots)]
    while pending:
        name, version, marker, extras = pending.pop()
        candidates = packages.get(name)
        if not candidates:
            raise SystemExit(f"{name} is not in {lock_file}")
        package = next((p for p in candidates if version is None or p["version"] == version), candidates[0])
        markers.setdefault(name, set()).add(marker)
        edges = list(package.get("dependencies", []))
        for extra in extras:
            edges += package.get("optional-dependencies", {}).get(extra, [])
        seen = name in chosen
        chosen[name] = package
        if seen and not extras:
            continue
        for edge in edges:
            pending.append((canonical(edge["name"]), edge.get("version"), edge.get("marker"), tuple(edge.get("extra", ()))))
    lines = []
    for name in sorted(chosen):
        line = f"{name}=={chosen[name]['version']}"
        conditions = markers[name]
        if None not in conditions:
            line += " ; " + " or ".join(f"({m})" for m in sorted(conditions))
        lines.append(line)
    return lines


def manifest(source: Path) -> str:
    data = yaml.safe_load(source.read_text())
    data["runtime"] = {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}
    header = (
        "# The aifactory policy pack as published (`pulumi policy publish`): written by `make policy-pack`\n"
        "# from policies/. Pulumi installs requirements.txt into ./venv; the pack's code is in this folder.\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False)


def build(out: Path, source: Path = SOURCE_PACK) -> dict:
    entry = source / "__main__.py"
    modules, external = closure(imported_at_start(source), entry)
    requirements = pinned(distributions(external) | set(RUNNER_DISTRIBUTIONS), ROOT / "uv.lock")

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / "PulumiPolicy.yaml").write_text(manifest(source / "PulumiPolicy.yaml"))
    shutil.copy2(entry, out / "__main__.py")
    for name in sorted(modules):
        path = module_file(name)
        target = out / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    folders = data_folders(modules)
    for folder in folders:
        shutil.copytree(folder, out / folder.relative_to(ROOT), ignore=shutil.ignore_patterns("__pycache__"))
    # The org's prices travel with the pack (its cost gates read them beside __main__.py); the limits
    # per team do not: Pulumi Cloud holds those as each policy group's config.
    pricing = source / "config" / "pricing.yaml"
    if pricing.is_file():
        (out / "config").mkdir()
        shutil.copy2(pricing, out / "config" / "pricing.yaml")
    (out / "requirements.txt").write_text(
        "# What the aifactory policy pack imports, with everything it needs, pinned as uv.lock resolves it.\n"
        + "\n".join(requirements) + "\n"
    )
    return {"modules": sorted(modules), "data": [str(f.relative_to(ROOT)) for f in folders], "requirements": requirements}


def main(argv: list[str]) -> None:
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "dist" / "policy-pack"
    summary = build(out.resolve())
    print(f"wrote {out}: {len(summary['modules'])} modules, data {', '.join(summary['data']) or 'none'}, "
          f"{len(summary['requirements'])} pinned requirements")


if __name__ == "__main__":
    main(sys.argv)
