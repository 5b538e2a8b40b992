"""The CLI installs like a tool: the wheel holds the `aifactory` package alone (the pack inside it),
and installed into a fresh virtualenv it works from any directory, finding its pack in the package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.test_policy_pack_standalone import uv

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([*uv(), "build", "--wheel", "-q", "-o", str(out), str(ROOT)], check=True, cwd=ROOT)
    return next(out.glob("aifactory-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("tool") / "venv"
    requirements = venv.parent / "requirements.txt"
    subprocess.run([*uv(), "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "-q", "-o", str(requirements)],
                   check=True, cwd=ROOT)
    started = time.perf_counter()
    subprocess.run([*uv(), "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    install = [*uv(), "pip", "install", "-q", "--python", str(venv / "bin/python"), "-r", str(requirements), str(wheel)]
    if subprocess.run([*install, "--offline"], capture_output=True).returncode != 0:
        subprocess.run(install, check=True)
    print(f"\nwheel installed into a fresh virtualenv in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return venv


def aifactory(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as an installed tool runs: bytecode cached after the first run
    return subprocess.run([str(venv / "bin/aifactory"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_wheel_installs_only_the_aifactory_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"aifactory"}
    assert "aifactory/pack/PulumiPolicy.yaml" in names and "aifactory/pack/config/default.json" in names
    assert "aifactory/catalog/data/instances.csv" in names


def test_commands_work_from_any_directory(installed, tmp_path):
    version = aifactory(installed, "--version", cwd=tmp_path)
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert version.returncode == 0 and version.stdout.strip() == f"aifactory {expected}"
    stack = ROOT / "stacks/Pulumi.vision-prod.yaml"
    valid = aifactory(installed, "validate", str(stack), "--format", "json", cwd=tmp_path)
    assert valid.returncode == 0, valid.stderr
    assert json.loads(valid.stdout)["estimate"]["gpus"] > 0
    quote = aifactory(installed, "quote", "--gpu", "H100", "--gpus", "64", "--limit", "1", "--format", "json", cwd=tmp_path)
    assert quote.returncode == 0 and json.loads(quote.stdout)[0]["gpus"] >= 64
    listed = aifactory(installed, "catalog", "list", "--format", "json", cwd=tmp_path)
    assert listed.returncode == 0 and any(t["name"] == "p5.48xlarge" for t in json.loads(listed.stdout))
    base = ROOT / "tests/fixtures/previews/vision-prod.base.json"
    diffed = aifactory(installed, "diff", str(base), str(ROOT / "tests/fixtures/previews/vision-prod.add-fleet.json"),
                       "--format", "json", cwd=tmp_path)
    assert diffed.returncode in (0, 1), diffed.stderr
    assert json.loads(diffed.stdout)["totals"]["gpus"]["delta"] > 0
    checkpoint = Path("/work/shared/fixtures/pulumi-json/pulumi-testdata-checkpoint-v3.json")
    if checkpoint.is_file():
        reported = aifactory(installed, "report", str(checkpoint), "--format", "json", cwd=tmp_path)
        assert reported.returncode == 0, reported.stderr
        assert json.loads(reported.stdout)["policies"]["config"].endswith("aifactory/pack/config/default.json")


def test_preview_needs_a_project(installed, tmp_path):
    result = aifactory(installed, "preview", "vision-prod", cwd=tmp_path)
    assert result.returncode == 2
    assert "no Pulumi project here" in result.stderr and "--project" in result.stderr and "Traceback" not in result.stderr


def test_installed_preview_runs_the_project_with_the_packaged_pack(installed, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy2(ROOT / name, project / name)
    shutil.copytree(ROOT / "stacks", project / "stacks")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = aifactory(installed, "preview", "vision-prod", "--project", str(project), "--format", "json", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["estimate"]["gpus"] > 0 and doc["stack"] == "vision-prod"
    assert doc["policies"]["config"].endswith("aifactory/pack/config/vision.json")
    assert "…" not in result.stderr  # progress only on a terminal


def test_project_declares_its_config():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    declared = project["config"]["aifactory:facility"]
    assert declared["type"] == "object" and "default" not in declared and declared["description"]
    for stack in sorted((ROOT / "stacks").glob("Pulumi.*.yaml")):
        assert isinstance(yaml.safe_load(stack.read_text())["config"]["aifactory:facility"], dict)
