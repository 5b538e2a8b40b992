"""The `aifactory` command through its real process: exit codes, JSON shapes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aifactory", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_validate_example_stack_by_name():
    result = run("validate", "vision-prod")
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout and "vision-prod" in result.stdout


def test_validate_json_shape():
    result = run("validate", "vision-prod", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["valid"] is True
    assert data["estimate"]["gpus"] == 144
    assert {"gpus", "nodes", "monthly_usd", "it_power_kw", "facility_power_kw", "pue", "lines"} <= set(data["estimate"])


def write_stack(tmp_path: Path, facility: object) -> Path:
    path = tmp_path / "Pulumi.broken-dev.yaml"
    path.write_text(yaml.safe_dump({"config": {"aifactory:facility": facility}}))
    return path


def test_validate_says_what_an_aws_budget_needs_and_what_capacity_blocks_cost():
    data = json.loads(run("validate", "vision-prod", "--format", "json").stdout)
    (tag, blocks) = data["notes"]
    assert "activate the tag key 'facility'" in tag and "reads $0" in tag
    assert "paid in full when purchased (fleet trainers)" in blocks and "saves nothing" in blocks
    text = run("validate", "vision-prod").stdout
    assert "note: AWS Budgets counts only activated cost-allocation tags" in " ".join(text.split())
    assert json.loads(run("validate", "speech-prod", "--format", "json").stdout)["notes"] == []


def test_validate_bad_config_lists_every_problem_exit_2(tmp_path):
    stack = yaml.safe_load((ROOT / "stacks/Pulumi.vision-prod.yaml").read_text())["config"]["aifactory:facility"]
    stack["fleets"][0]["nodes"] = 0
    stack["filesystems"][0]["capacity_tib"] = 3.6
    result = run("validate", str(write_stack(tmp_path, stack)))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "aifactory:facility.fleets[0].nodes: must be at least 1" in result.stderr
    assert "aifactory:facility.filesystems[0].capacity_tib:" in result.stderr


def test_validate_unknown_stack_exit_2():
    result = run("validate", "no-such-team")
    assert result.returncode == 2
    assert "no stack of that name" in result.stderr and "Traceback" not in result.stderr


def test_validate_yaml_without_facility_key(tmp_path):
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text("config:\n  aws:region: us-east-1\n")
    result = run("validate", str(path))
    assert result.returncode == 2
    assert "aifactory:facility: is required" in result.stderr


def test_quote_json_keys_and_order():
    result = run("quote", "--gpu", "H100", "--gpus", "1024", "--format", "json")
    assert result.returncode == 0, result.stderr
    quotes = json.loads(result.stdout)
    assert quotes, "the catalog has H100 types"
    keys = {"cloud", "region", "instance_type", "nodes", "gpus", "monthly_usd", "it_power_kw",
            "facility_power_kw", "fabric_gbps_per_gpu"}
    assert all(keys <= set(q) for q in quotes)
    priced = [q["monthly_usd"] for q in quotes if q["monthly_usd"] is not None]
    assert priced == sorted(priced)
    p5 = next(q for q in quotes if q["instance_type"] == "p5.48xlarge" and q["region"] == "us-east-1")
    assert p5["nodes"] == 128 and p5["gpus"] == 1024
    assert p5["monthly_usd"] == pytest.approx(128 * 55.04 * 730)


def test_quote_filters_by_cloud_and_region():
    result = run("quote", "--gpu", "h100", "--gpus", "8", "--cloud", "gcp", "--region", "us-east4", "--format", "json")
    quotes = json.loads(result.stdout)
    assert quotes and {(q["cloud"], q["region"]) for q in quotes} == {("gcp", "us-east4")}


def test_quote_unknown_gpu_exit_2():
    result = run("quote", "--gpu", "Z900", "--gpus", "8")
    assert result.returncode == 2 and "unknown GPU model" in result.stderr


def test_usage_error_exit_2():
    assert run("quote", "--gpus", "8").returncode == 2
    assert run("frobnicate").returncode == 2


def test_catalog_list_and_show():
    listed = json.loads(run("catalog", "list", "--cloud", "aws", "--format", "json").stdout)
    assert "p5.48xlarge" in {t["name"] for t in listed}
    shown = run("catalog", "show", "p5.48xlarge", "--format", "json")
    assert shown.returncode == 0
    data = json.loads(shown.stdout)
    assert data["instance"]["fabric_interfaces"] == 32
    assert all(p["source"] for p in data["prices"])
    assert run("catalog", "show", "nope").returncode == 2


def test_commands_without_a_program_do_not_import_pulumi():
    code = (
        "import sys\n"
        "from aifactory.cli import app\n"
        "sys.argv = ['aifactory', 'validate', 'vision-prod', '--format', 'json']\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_aws', 'pulumi_gcp', 'pulumi_azure_native', 'pulumi_policy', 'grpc'))\n"
        "sys.stderr.write(repr(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stderr.strip().endswith("[]"), result.stderr
