"""The published pack stands alone: `tools/build_policy_pack.py` writes the folder `pulumi policy
publish` uploads; copied to an empty directory with a virtualenv built from its requirements.txt
alone, it starts as the CLI starts it and judges every shipped and example stack as policies/ does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from aifactory import stackfile
from aifactory.analyzer import PolicyPackClient, analyze_with
from aifactory import policyconfig
from aifactory.preview import PROGRAM, default_policy_config, program_config
from aifactory.recording import run_program
from aifactory.loader import load_facility

ROOT = Path(__file__).resolve().parent.parent
STACK_FILES = sorted((ROOT / "stacks").glob("Pulumi.*.yaml")) + sorted((ROOT / "examples").glob("Pulumi.*.yaml"))


def uv() -> list[str]:
    for candidate in (os.environ.get("UV"), shutil.which("uv"), str(Path.home() / ".local/bin/uv")):
        if candidate and Path(candidate).is_file():
            return [candidate]
    return [sys.executable, "-m", "uv"]


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    built = tmp_path_factory.mktemp("build") / "policy-pack"
    subprocess.run([sys.executable, str(ROOT / "tools/build_policy_pack.py"), str(built)], check=True, cwd=ROOT)
    pack = tmp_path_factory.mktemp("empty") / "pack"
    shutil.copytree(built, pack)
    started = time.perf_counter()
    subprocess.run([*uv(), "venv", "-q", "--python", sys.executable, str(pack / "venv")], check=True)
    install = [*uv(), "pip", "install", "-q", "--python", str(pack / "venv/bin/python"), "-r", str(pack / "requirements.txt")]
    if subprocess.run([*install, "--offline"], capture_output=True).returncode != 0:
        subprocess.run(install, check=True)  # not all in the uv cache yet: from the registry
    print(f"\nstandalone pack virtualenv built in {time.perf_counter() - started:.2f}s", file=sys.stderr)
    return pack


@pytest.fixture(scope="module")
def packs(standalone):
    # No PYTHONPATH: the pack finds its code in its own folder, and its libraries in its venv only.
    with PolicyPackClient(ROOT / "policies", timeout=120) as repo, \
            PolicyPackClient(standalone, timeout=120, env={"PYTHONPATH": ""}) as alone:
        yield repo, alone


def test_folder_is_what_publish_uploads(standalone):
    manifest = yaml.safe_load((standalone / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}
    assert manifest["version"] == yaml.safe_load((ROOT / "policies/PulumiPolicy.yaml").read_text())["version"]
    requirements = [line for line in (standalone / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    assert all("==" in line for line in requirements)
    names = {line.split("==")[0] for line in requirements}
    assert {"pulumi", "pulumi-policy", "grpcio", "protobuf"} <= names
    assert not names & {"pulumi-aws", "pulumi-azure-native", "pulumi-gcp", "aifactory"}
    vendored = {p.relative_to(standalone).as_posix() for p in (standalone / "aifactory").rglob("*") if p.is_file()}
    assert "aifactory/policies/power.py" in vendored and "aifactory/catalog/data/instances.csv" in vendored
    assert not any(p.startswith(("aifactory/components/", "aifactory/report/")) or p == "aifactory/cli.py" for p in vendored)


def test_pack_venv_has_only_the_requirements(standalone):
    python = str(standalone / "venv/bin/python")
    outside = subprocess.run([python, "-c", "import aifactory"], cwd="/", capture_output=True, text=True,
                             env={"PATH": os.environ["PATH"]})
    assert "No module named 'aifactory'" in outside.stderr
    assert subprocess.run([python, "-c", "import pulumi_policy, pulumi.policy"], cwd="/").returncode == 0


def test_standalone_pack_started_from_its_venv(packs, standalone):
    _, alone = packs
    assert alone.python == os.path.normpath(standalone / "venv/bin/python")
    repo_policies = {p.name: p for p in packs[0].info()[1]}
    for policy in alone.info()[1]:
        mine = repo_policies[policy.name]
        assert (policy.description, policy.severity, policy.remediation_steps, policy.url, policy.config_schema) == (
            mine.description, mine.severity, mine.remediation_steps, mine.url, mine.config_schema)
        assert policy.severity and policy.remediation_steps and policy.url.startswith("https://")


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda p: p.name)
def test_same_verdicts_as_policies_folder(packs, stack_file):
    repo, alone = packs
    stack = stackfile.read(str(stack_file))
    config_path = default_policy_config(load_facility(stack.facility).team)
    config = policyconfig.load(config_path) if config_path else {}
    run = run_program(PROGRAM, project="aifactory", stack=stack.name, config=program_config(stack), known_ids=False)

    def verdicts(client):
        _, violations = analyze_with(client, run.resources, config)
        return sorted((v.policy, v.enforcement, v.message, v.urn or "", v.severity) for v in violations)

    expected = verdicts(repo)
    assert verdicts(alone) == expected
    if stack_file.parent.name == "examples":
        assert any(level == "mandatory" for _, level, *_ in expected)
