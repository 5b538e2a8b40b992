"""`aifactory preview` end to end: the real program under mocks, the real pack over gRPC, the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aifactory", "preview", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@cache
def preview_json(stack: str) -> tuple[int, dict]:
    result = run(stack, "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def mandatory(doc: dict) -> set[str]:
    return {v["policy"] for v in doc["policies"]["violations"] if v["enforcement"] == "mandatory"}


@pytest.mark.parametrize("stack", SHIPPED)
def test_every_shipped_stack_previews_clean(stack):
    code, doc = preview_json(stack)
    assert mandatory(doc) == set(), doc["policies"]["violations"]
    assert code == 0


@pytest.mark.parametrize("stack", SHIPPED)
def test_preview_json_follows_the_contract(stack):
    _, doc = preview_json(stack)
    assert doc["project"] == "aifactory" and doc["stack"] == stack
    resource = doc["resources"][0]
    assert set(resource) >= {"urn", "type", "name", "parent", "provider", "custom", "protect", "inputs", "dependencies"}
    assert doc["policies"]["pack"] == "aifactory"
    names = {p["name"] for p in doc["policies"]["policies"]}
    assert {"power-cap", "cost-cap", "region-allowlist", "fabric-complete", "storage-protected"} <= names
    estimate = doc["estimate"]
    assert {"gpus", "nodes", "monthly_usd", "it_power_kw", "facility_power_kw", "pue", "lines"} <= set(estimate)
    facility = yaml.safe_load((ROOT / f"stacks/Pulumi.{stack}.yaml").read_text())["config"]["aifactory:facility"]
    assert estimate["nodes"] == sum(f["nodes"] for f in facility["fleets"])


def test_policies_see_the_clouds_regions_and_gpus():
    seen = {}
    for stack in SHIPPED:
        _, doc = preview_json(stack)
        facility = doc["facility"]
        providers = [r for r in doc["resources"] if r["type"].startswith("pulumi:providers:")]
        seen[facility["cloud"]] = (len(providers), doc["estimate"]["gpus"])
        fleets = [line for line in doc["estimate"]["lines"] if line["kind"] == "fleet"]
        assert {line["region"] for line in doc["estimate"]["lines"]} == {facility["region"]}
        assert {line["item"] for line in fleets} == {f["instance_type"] for f in facility["fleets"]}
        assert doc["estimate"]["gpus"] == sum(line["gpus"] for line in fleets) > 0
        assert doc["unknowns"] == [], doc["unknowns"]
    assert set(seen) == {"aws", "azure", "gcp"}
    assert all(count == 1 for count, _ in seen.values())


def test_region_outside_the_team_allowlist_fails():
    code, doc = preview_json(str(ROOT / "examples/Pulumi.vision-frankfurt.yaml"))
    assert code == 1
    assert mandatory(doc) == {"region-allowlist"}
    assert doc["policies"]["config"].endswith("policies/config/vision.json")


def test_power_over_the_org_cap_fails():
    code, doc = preview_json(str(ROOT / "examples/Pulumi.research-bigrun.yaml"))
    assert code == 1
    assert "power-cap" in mandatory(doc)
    power = next(v for v in doc["policies"]["violations"] if v["policy"] == "power-cap")
    assert "trainers (256 x p5.48xlarge)" in power["message"]  # names the biggest contributor
    assert doc["estimate"]["facility_power_kw"] == pytest.approx(256 * 10.2 * 1.15)


def test_policy_config_option_raises_the_limits(tmp_path):
    config = tmp_path / "limits.json"
    config.write_text(json.dumps({
        "power-cap": {"maxFacilityKw": 10000},
        "cost-cap": {"maxMonthlyUsd": 10_000_000},
    }))
    result = run(str(ROOT / "examples/Pulumi.research-bigrun.yaml"), "--policy-config", str(config), "--format", "json")
    assert result.returncode == 0, result.stdout[-2000:]
    assert mandatory(json.loads(result.stdout)) == set()


def test_text_output_has_tree_violations_and_estimate():
    result = run(str(ROOT / "examples/Pulumi.research-bigrun.yaml"))
    assert result.returncode == 1
    assert "aws:autoscaling/group:Group" in result.stdout
    assert "[mandatory] power-cap" in result.stdout
    assert "facility kW" in result.stdout


def test_bad_config_refused_before_anything_runs(tmp_path):
    path = tmp_path / "Pulumi.bad.yaml"
    facility = yaml.safe_load((ROOT / "stacks/Pulumi.vision-prod.yaml").read_text())["config"]["aifactory:facility"]
    facility["fleets"][0]["nodes"] = 0
    path.write_text(yaml.safe_dump({"config": {"aifactory:facility": facility}}))
    result = run(str(path))
    assert result.returncode == 2
    assert "aifactory:facility.fleets[0].nodes: must be at least 1" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_missing_policy_config_is_usage_error(tmp_path):
    result = run("vision-prod", "--policy-config", str(tmp_path / "nope.json"))
    assert result.returncode == 2 and "no such policy config file" in result.stderr
