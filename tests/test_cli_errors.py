"""Bad options and files for the CLI: exit 2 with every problem by its place; a bug exits 3."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aifactory import policyconfig
from tests.test_cli import ROOT, run

DEFAULT = json.loads((ROOT / "policies/config/default.json").read_text())


def config_problems(tmp_path: Path, content: str | bytes) -> list[str]:
    path = tmp_path / "policy.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(policyconfig.PolicyConfigProblems) as caught:
        policyconfig.load(path)
    return [str(p).removeprefix(f"{path}: ") for p in caught.value.problems]


@pytest.mark.parametrize("config, expected", [
    ({"power-cap": {"maxFacilityKw": "lots"}}, "power-cap.maxFacilityKw: Invalid type. Expected: number, given: string"),
    ({"power-cap": {"maxFacilityKw": -5}}, "power-cap.maxFacilityKw: Must be greater than or equal to 0"),
    ({"power-cap": {"maxFacilityKw": True}}, "power-cap.maxFacilityKw: Invalid type. Expected: number, given: boolean"),
    ({"placement": {"minNodes": 2.5}}, "placement.minNodes: Invalid type. Expected: integer, given: number"),
    ({"power-cap": {"enforcementLevel": "blocking"}}, "power-cap.enforcementLevel: 'blocking' is not an enforcement level"),
    ({"power-cap": "Mandatory"}, "power-cap: 'Mandatory' is not an enforcement level"),
    ({"all": "strict"}, "all: 'strict' is not an enforcement level"),
    ({"power-cap": 5}, "power-cap: must be an enforcement level or an object of settings"),
    ({"power-cap": {"maxFacilityKW": 10}}, "power-cap.maxFacilityKW: is not a setting of power-cap; did you mean 'maxFacilityKw'?"),
    ({"region-allowlist": {"allowedRegions": ["us-east-1", 7]}}, "region-allowlist.allowedRegions.1: Invalid type. Expected: string"),
])
def test_bad_policy_config_values_are_named(tmp_path, config, expected):
    found = config_problems(tmp_path, json.dumps(config))
    assert any(p.startswith(expected) for p in found), found


@pytest.mark.parametrize("config", [{"powr-cap": {"enforcementLevel": "advisory", "maxFacilityKw": 1}},
                                    {"powr-cap": {"maxFacilityKw": 1}}, {"powr-cap": "disabled"}])
def test_a_misspelt_policy_is_refused_naming_the_pack_policies(tmp_path, config):
    [found] = config_problems(tmp_path, json.dumps(config))
    assert found.startswith("powr-cap: is not a policy of the pack; did you mean 'power-cap'?")
    assert "region-allowlist" in found and "storage-protected" in found


@pytest.mark.parametrize("content, expected", [
    (b"\x9b\x00\xffbinary", "is not UTF-8 JSON text"), ("{", "is not valid JSON"), ("[1]", "must be a JSON object"),
    ('{"power-cap": {"maxFacilityKw": NaN}}', "NaN is not a JSON number"),
    ('{"power-cap": {"maxFacilityKw": 1}, "power-cap": {"maxFacilityKw": 9000}}', "appears twice"),
])
def test_unreadable_policy_config_files(tmp_path, content, expected):
    assert expected in config_problems(tmp_path, content)[0]


def test_the_shipped_policy_configs_pass():
    for path in sorted((ROOT / "policies/config").glob("*.json")):
        assert policyconfig.load(path) == json.loads(path.read_text())


def test_preview_refuses_a_bad_policy_config_before_running_exit_2(tmp_path):
    directory = run("preview", "vision-prod", "--policy-config", str(tmp_path))
    assert directory.returncode == 2 and "is a directory" in directory.stderr
    bad = tmp_path / "typo.json"
    bad.write_text(json.dumps({**DEFAULT, "powr-cap": {"enforcementLevel": "mandatory", "maxFacilityKw": 1}}))
    result = run("preview", "vision-prod", "--policy-config", str(bad))
    assert result.returncode == 2, result.stderr
    assert f"invalid policy config {bad}" in result.stderr and "powr-cap: is not a policy of the pack" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_preview_refuses_an_output_it_cannot_write_exit_2(tmp_path):
    result = run("preview", "vision-prod", "--format", "json", "--output", str(tmp_path / "missing" / "p.json"))
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr
    result = run("preview", "vision-prod", "--format", "json", "--output", str(tmp_path))
    assert result.returncode == 2 and "is a directory" in result.stderr


CRASHING_COMMAND = """
import sys
from aifactory import cli

@cli.app.command("explode")
def explode() -> None:
    raise RuntimeError("an internal mistake\\nsecond line")

sys.argv = ["aifactory", "explode"]
cli.main()
"""


def test_an_internal_error_exits_3_with_one_line_and_the_trace_in_a_file():
    result = subprocess.run([sys.executable, "-c", CRASHING_COMMAND], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    [line] = result.stderr.splitlines()
    assert line.startswith("aifactory: internal error (RuntimeError: an internal mistake); full trace in ")
    trace = Path(line.split("full trace in ", 1)[1].split(". Please", 1)[0])
    text = trace.read_text()
    trace.unlink()
    assert "Traceback" in text and "an internal mistake" in text and "in explode" in text


def test_usage_errors_stay_exit_2():
    result = run("quote", "--gpu", "H100", "--gpus", "many")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_ctrl_c_exits_130_with_one_line_not_1():
    # Exit 1 means a mandatory policy violation: an interrupted preview must not look like one.
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "aifactory", "preview", "vision-prod", "--format", "json"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.0)  # inside the command by then (imports, or the program and pack running)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "aifactory: interrupted" and "Traceback" not in err and out == ""
