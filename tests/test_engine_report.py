"""`aifactory report` on what the real Pulumi CLI writes: a preview digest, a stack export or a
checkpoint of a shipped stack gives what `aifactory preview` of that stack gives; the engine's
deletes, replacements, unknowns and secrets count as the engine means them; real checkpoints
written by a real engine run clean."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from aifactory import pricingfile
from aifactory.enginereport import report
from aifactory.preview import preview
from tests import engine_documents as engine

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
REAL_CHECKPOINTS = sorted(Path("/work/shared/fixtures/pulumi-json").glob("*.json"))
ASG = "aws:autoscaling/group:Group"


@cache
def previewed(stack: str) -> dict:
    return preview(stack, pricing=pricingfile.load()).to_json()  # the pricing the CLI's preview uses


def figures(doc: dict) -> dict:
    estimate = doc["estimate"]
    return {
        "gpus": estimate["gpus"], "nodes": estimate["nodes"], "monthly_usd": estimate["monthly_usd"],
        "facility_power_kw": estimate["facility_power_kw"],
        "violations": sorted((v["policy"], v["enforcement"], v["message"], v["urn"] or "")
                             for v in doc["policies"]["violations"]),
    }


def write(tmp_path: Path, name: str, doc: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.mark.parametrize("stack", SHIPPED)
def test_preview_digest_reports_what_preview_does(tmp_path, stack):
    expected = previewed(stack)
    assert expected["estimate"]["gpus"] > 0
    doc = report(write(tmp_path, "preview.json", engine.preview_digest(expected, secret_tags=True)))
    assert doc["source"]["format"] == "preview-digest"
    assert doc["policies"]["config"] == expected["policies"]["config"]  # the team's, from the digest's config
    assert figures(doc) == figures(expected)
    assert len(doc["resources"]) == len(expected["resources"])


@pytest.mark.parametrize("stack", SHIPPED)
@pytest.mark.parametrize("shape", ["stack_export", "checkpoint"])
def test_state_documents_report_what_preview_does(tmp_path, stack, shape):
    expected = previewed(stack)
    doc = report(write(tmp_path, f"{shape}.json", getattr(engine, shape)(expected)),
                 Path(expected["policies"]["config"]))
    assert doc["source"]["format"] == shape.replace("_", "-")
    assert doc["stack"] == stack and doc["project"] == "aifactory"
    assert figures(doc) == figures(expected)


def test_deleted_resources_do_not_count_and_replaced_ones_count_once(tmp_path):
    expected = previewed("vision-prod")
    digest = engine.preview_digest(expected)
    groups = [s for s in digest["steps"] if s["newState"]["type"] == ASG]
    assert len(groups) >= 2
    gone, replaced = groups[0], groups[1]
    gone_state = gone.pop("newState")
    gone.update(op="delete", oldState=gone_state)
    new = replaced["newState"]
    replaced["op"] = "create-replacement"
    digest["steps"] += [
        {"op": "replace", "urn": new["urn"], "oldState": new, "newState": new},
        {"op": "delete-replaced", "urn": new["urn"], "oldState": new},
    ]
    doc = report(write(tmp_path, "preview.json", digest))
    assert doc["estimate"]["gpus"] < expected["estimate"]["gpus"]
    assert gone_state["urn"] not in {r["urn"] for r in doc["resources"]}
    assert [r["urn"] for r in doc["resources"]].count(new["urn"]) == 1
    without_gone = copy.deepcopy(expected)
    without_gone["resources"] = [r for r in expected["resources"] if r["urn"] != gone_state["urn"]]
    alone = report(write(tmp_path, "without.json", engine.preview_digest(without_gone)))
    assert figures(doc) == figures(alone)


def test_state_resources_pending_deletion_do_not_count(tmp_path):
    expected = previewed("vision-prod")
    export = engine.stack_export(expected)
    resources = export["deployment"]["resources"]
    group = next(r for r in resources if r["type"] == ASG)
    resources.append({**group, "delete": True})  # the old half of a replacement, awaiting deletion
    doc = report(write(tmp_path, "export.json", export), Path(expected["policies"]["config"]))
    assert figures(doc) == figures(expected)


@pytest.mark.parametrize("blinded", ["[secret]", {engine.SIG: engine.SECRET, "ciphertext": "v1:abc"}])
def test_unreadable_secret_fails_closed(tmp_path, blinded):
    expected = previewed("vision-prod")
    digest = engine.preview_digest(expected)
    for step in digest["steps"]:
        if step["newState"]["type"] == ASG:
            step["newState"]["inputs"]["desiredCapacity"] = blinded
            step["newState"]["inputs"]["maxSize"] = blinded
    doc = report(write(tmp_path, "preview.json", digest))
    assert doc["unknowns"] or any("unknown" in v["message"] for v in doc["policies"]["violations"])
    assert any(v["enforcement"] == "mandatory" for v in doc["policies"]["violations"])


def run_cli(*args: str, cwd: Path = ROOT, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aifactory", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, input=stdin)


@pytest.mark.parametrize("checkpoint", REAL_CHECKPOINTS, ids=lambda p: p.name)
def test_real_checkpoints_run_clean(checkpoint, tmp_path):
    result = run_cli("report", str(checkpoint), "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    doc = json.loads(result.stdout)
    assert doc["estimate"]["gpus"] == 0 and doc["source"]["format"] == "checkpoint"
    assert len(doc["resources"]) == 30


def test_report_formats_and_exit_codes(tmp_path):
    expected = previewed("vision-prod")
    over = copy.deepcopy(expected)
    for r in over["resources"]:
        if r["type"] == ASG:
            for key in ("desiredCapacity", "maxSize", "minSize"):
                if key in r["inputs"]:
                    r["inputs"][key] = r["inputs"][key] * 20
    path = write(tmp_path, "preview.json", engine.preview_digest(over))
    sarif = run_cli("report", path, "--format", "sarif", "--output", str(tmp_path / "out.sarif"))
    assert sarif.returncode == 1, sarif.stderr
    results = json.loads((tmp_path / "out.sarif").read_text())["runs"][0]["results"]
    assert any(r["ruleId"] == "power-cap" for r in results)
    junit = run_cli("report", path, "--format", "junit")
    assert junit.returncode == 1 and "<testsuite" in junit.stdout and "power-cap" in junit.stdout


@pytest.mark.parametrize("content,words", [
    ("{not json", "is not JSON"),
    ('{"hello": 1}', "not a document aifactory reads"),
    ('{"version": 2, "deployment": {}}', "version 3"),
    ('{"steps": [{"urn": "x"}]}', "string `op`"),
])
def test_unreadable_documents_exit_2(tmp_path, content, words):
    path = tmp_path / "doc.json"
    path.write_text(content)
    result = run_cli("report", str(path))
    assert result.returncode == 2
    assert words in result.stderr and "Traceback" not in result.stderr


def test_diff_takes_engine_documents_on_either_side_from_files_or_standard_input(tmp_path):
    # A state export on one side, a real preview on the other -- from a file, or piped:
    # `pulumi preview --json | aifactory diff state.json -` in a pull request.
    expected = previewed("vision-prod")
    base = write(tmp_path, "base.json", engine.checkpoint(expected))
    grown = copy.deepcopy(expected)
    for r in grown["resources"]:
        if r["type"] == ASG:
            r["inputs"]["desiredCapacity"] = r["inputs"]["desiredCapacity"] + 2
            r["inputs"]["maxSize"] = r["inputs"]["maxSize"] + 2
    digest = engine.preview_digest(grown)
    from_file = run_cli("diff", base, write(tmp_path, "head.json", digest), "--format", "json")
    assert from_file.returncode in (0, 1), from_file.stderr
    assert json.loads(from_file.stdout)["totals"]["gpus"]["delta"] > 0
    piped = run_cli("diff", base, "-", "--format", "json", stdin=json.dumps(digest))
    assert piped.returncode == from_file.returncode, piped.stderr
    assert json.loads(piped.stdout)["totals"] == json.loads(from_file.stdout)["totals"]
    reversed_sides = run_cli("diff", "-", base, "--format", "json", stdin=json.dumps(digest))
    assert json.loads(reversed_sides.stdout)["totals"]["gpus"]["delta"] < 0


def test_progress_on_a_terminal_only(tmp_path):
    import os
    import pty

    checkpoint = REAL_CHECKPOINTS[0]
    controller, terminal = pty.openpty()
    result = subprocess.run([sys.executable, "-m", "aifactory", "report", str(checkpoint), "--format", "json"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=terminal, timeout=300)
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    assert result.returncode == 0
    assert b"starting the policy pack" in seen and b"judging 30 resources" in seen
    piped = run_cli("report", str(checkpoint), "--format", "json", cwd=tmp_path)
    assert piped.returncode == 0 and piped.stderr == ""


@pytest.mark.parametrize("facility, team, factor", [
    ('{"team": "vision", "load_factor": 0.6}', "vision", 0.6),  # the engine keeps structured config as JSON text
    ({"team": "llm", "load_factor": 1}, "llm", 1.0),
    ({"team": "", "load_factor": True}, None, None),  # an empty team and a boolean are no values
    ("{not json", None, None),
])
def test_the_documents_facility_config_gives_team_and_load_factor(facility, team, factor):
    from aifactory.engine_json import EngineDocument
    from aifactory.enginereport import load_factor_of, team_of

    document = EngineDocument("preview-digest", "aifactory", "s", [], config={"aifactory:facility": facility})
    assert team_of(document) == team
    assert load_factor_of(document) == factor
