"""`aifactory diff` through its real process: deltas, exit codes, JSON keys, unreadable input.

The previews compared are built from the real example stack (`stacks/Pulumi.vision-prod.yaml`)
and modified copies of it (a fleet added, the filesystem grown, the region moved) by the real
`aifactory preview STACK --format json`. A preview that breaks fails every test that needs it:
there is no stand-in document to fall back on.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aifactory import diff as d

ROOT = Path(__file__).resolve().parent.parent
STACK_FILE = ROOT / "stacks/Pulumi.vision-prod.yaml"
HOURS = 730
P5_ON_DEMAND_US_EAST_1 = 55.04  # USD per node-hour, aifactory/catalog/data/prices.csv
P5_NODE_KW = 10.2  # catalog node power (DGX H100 analog)
AWS_PUE = 1.15


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aifactory", *args], cwd=ROOT, capture_output=True, text=True,
                          input=stdin, timeout=600)


def diff_json(base: Path | str, head: Path | str, *extra: str) -> tuple[int, dict]:
    result = run("diff", str(base), str(head), "--format", "json", *extra)
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    return result.returncode, json.loads(result.stdout)


# --------------------------------------------------------------------------- the previews


def add_fleet(facility: dict) -> None:
    facility["fleets"].append({"name": "trainers2", "instance_type": "p5.48xlarge", "nodes": 32, "capacity": "on-demand"})


def grow_filesystem(facility: dict) -> None:
    facility["filesystems"][0]["capacity_tib"] = 96


def move_region(facility: dict) -> None:
    facility["region"] = "us-west-2"
    facility.pop("zone", None)


VARIANTS = {"base": None, "add-fleet": add_fleet, "grow-fs": grow_filesystem, "move-region": move_region}


@pytest.fixture(scope="session")
def previews(tmp_path_factory) -> dict[str, Path]:
    """name → preview JSON file, for the base stack and each variant."""
    out = tmp_path_factory.mktemp("previews")
    original = yaml.safe_load(STACK_FILE.read_text())
    paths = {}
    for name, change in VARIANTS.items():
        config = copy.deepcopy(original)
        if change:
            change(config["config"]["aifactory:facility"])
        folder = out / name
        folder.mkdir()
        stack = folder / "Pulumi.vision-prod.yaml"  # same stack name: the URNs line up
        stack.write_text(yaml.safe_dump(config, sort_keys=False))
        result = run("preview", str(stack), "--format", "json")
        assert result.returncode in (0, 1), result.stderr
        assert isinstance(json.loads(result.stdout)["resources"], list)
        paths[name] = out / f"{name}.json"
        paths[name].write_text(result.stdout)
    return paths


def edited(path: Path, tmp_path: Path, name: str, change) -> Path:
    doc = json.loads(path.read_text())
    change(doc)
    target = tmp_path / name
    target.write_text(json.dumps(doc))
    return target


def violation(policy: str, enforcement: str = "mandatory", urn: str | None = None, message: str = "test") -> dict:
    return {"policy": policy, "enforcement": enforcement, "message": message, "urn": urn}


# --------------------------------------------------------------------------- the three changes


def test_adding_a_fleet(previews):
    code, result = diff_json(previews["base"], previews["add-fleet"])
    assert {"schema", "stack", "base", "head", "totals", "gpu_models", "lines", "resources", "violations",
            "new_mandatory", "limits", "exact", "notes", "facility", "verdict", "reasons", "exit_code"} <= set(result)
    assert result["schema"] == "aifactory.diff/1" and result["stack"] == "vision-prod"
    totals = result["totals"]
    assert totals["gpus"] == {"base": 144, "head": 400, "delta": 256}
    assert totals["nodes"]["delta"] == 32
    assert totals["monthly_usd"]["delta"] == pytest.approx(32 * P5_ON_DEMAND_US_EAST_1 * HOURS, abs=1)
    assert totals["it_power_kw"]["delta"] == pytest.approx(32 * P5_NODE_KW, abs=0.01)
    assert totals["facility_power_kw"]["delta"] == pytest.approx(32 * P5_NODE_KW * AWS_PUE, abs=0.05)
    assert result["gpu_models"] == [{"model": "H100", "base": 144, "head": 400, "delta": 256}]

    lines = {(line["kind"], line["name"]): line for line in result["lines"]}
    new = lines[("fleet", "trainers2")]
    assert new["status"] == "added" and new["base"] is None
    assert new["head"]["nodes"] == 32 and new["head"]["gpus"] == 256 and new["head"]["item"] == "p5.48xlarge"
    assert new["delta"]["gpus"] == 256
    assert lines[("fleet", "trainers")]["status"] == "unchanged"
    assert lines[("filesystem", "scratch")]["status"] == "unchanged"

    added = result["resources"]["added"]
    assert added and all("trainers2" in r["name"] for r in added)
    assert any(r["custom"] for r in added)
    assert not result["resources"]["removed"]
    # the exit status is the verdict: 1 exactly when the change adds a mandatory violation
    assert code == result["exit_code"] == (1 if result["new_mandatory"] else 0)


def test_growing_a_filesystem(previews):
    code, result = diff_json(previews["base"], previews["grow-fs"])
    scratch = next(line for line in result["lines"] if line["kind"] == "filesystem")
    assert scratch["status"] == "changed" and "capacity_gib" in scratch["changed"]
    assert scratch["head"]["capacity_gib"] == 2 * scratch["base"]["capacity_gib"]
    assert scratch["delta"]["capacity_gib"] == scratch["base"]["capacity_gib"]
    assert all(line["status"] == "unchanged" for line in result["lines"] if line["kind"] == "fleet")
    assert result["totals"]["gpus"]["delta"] == 0 and result["totals"]["facility_power_kw"]["delta"] == 0
    assert result["gpu_models"][0]["delta"] == 0

    # the filesystem resource changed in place, its size input doubled (a path-level change)
    changed = result["resources"]["changed"]
    assert changed and not result["resources"]["added"] and not result["resources"]["removed"]
    sizes = [c for r in changed for c in r["changes"]
             if isinstance(c["base"], int | float) and isinstance(c["head"], int | float) and c["head"] == 2 * c["base"]]
    assert sizes, changed
    assert not any(r["replace"] for r in changed)
    assert code == result["exit_code"] == (1 if result["new_mandatory"] else 0)


def test_moving_the_region(previews):
    code, result = diff_json(previews["base"], previews["move-region"])
    for line in result["lines"]:
        assert line["status"] == "changed" and "region" in line["changed"], line
        assert (line["base"]["region"], line["head"]["region"]) == ("us-east-1", "us-west-2")
    assert result["totals"]["gpus"]["delta"] == 0 and result["totals"]["nodes"]["delta"] == 0
    assert result["facility"]["head"]["region"] == "us-west-2"
    resources = result["resources"]
    assert resources["changed"] or (resources["added"] and resources["removed"])
    # a resource that moves to another region's provider is replaced, not updated
    assert any(r.get("replace") for r in resources["changed"]) or resources["removed"]
    assert code == result["exit_code"]


# --------------------------------------------------------------------------- exit codes and limits


def test_cost_limit_crossed_exits_1(previews):
    code, result = diff_json(previews["base"], previews["add-fleet"], "--max-increase-usd", "1000000")
    assert code == 1 and result["verdict"] == "fail"
    crossed = result["limits"]["crossed"]
    assert [c["limit"] for c in crossed] == ["max-increase-usd"]
    assert crossed[0]["increase"] == pytest.approx(32 * P5_ON_DEMAND_US_EAST_1 * HOURS, abs=1)
    assert any("max-increase-usd" in reason for reason in result["reasons"])


def test_power_limit_crossed_exits_1(previews):
    code, result = diff_json(previews["base"], previews["add-fleet"], "--max-increase-kw", "300")
    assert code == 1
    assert [c["limit"] for c in result["limits"]["crossed"]] == ["max-increase-kw"]


def test_limits_not_crossed(previews, tmp_path):
    quiet = edited(previews["add-fleet"], tmp_path, "head.json", lambda doc: doc["policies"].update(violations=[]))
    base = edited(previews["base"], tmp_path, "base.json", lambda doc: doc["policies"].update(violations=[]))
    code, result = diff_json(base, quiet, "--max-increase-usd", "2000000", "--max-increase-kw", "400")
    assert code == 0 and result["verdict"] == "pass" and result["limits"]["crossed"] == []
    assert result["limits"]["max_increase_usd"] == 2000000 and result["limits"]["max_increase_kw"] == 400


def test_limit_fails_closed_when_a_changed_line_has_no_price(previews, tmp_path):
    def unpriced(doc):
        doc["policies"]["violations"] = []
        for line in doc["estimate"]["lines"]:
            if line["kind"] == "filesystem":
                line["monthly_usd"] = None

    base = edited(previews["base"], tmp_path, "base.json", unpriced)
    head = edited(previews["grow-fs"], tmp_path, "head.json", unpriced)
    code, result = diff_json(base, head, "--max-increase-usd", "1000000")
    assert code == 1
    assert result["limits"]["crossed"] == [] and len(result["limits"]["unverified"]) == 1
    assert "filesystem scratch" in result["limits"]["unverified"][0]["message"]
    assert result["exact"]["monthly_usd"] is False
    # without a limit the same change passes
    code, result = diff_json(base, head)
    assert code == 0


def test_new_mandatory_violation_exits_1(previews, tmp_path):
    base = edited(previews["base"], tmp_path, "base.json", lambda doc: doc["policies"].update(violations=[]))
    head = edited(previews["base"], tmp_path, "head.json",
                  lambda doc: doc["policies"].update(violations=[violation("power-cap", message="over the cap")]))
    code, result = diff_json(base, head)
    assert code == 1 and result["new_mandatory"] == 1
    assert result["violations"]["new"][0]["policy"] == "power-cap"
    assert result["totals"]["mandatory_violations"] == {"base": 0, "head": 1, "delta": 1}
    # an advisory one does not block
    head = edited(previews["base"], tmp_path, "head2.json",
                  lambda doc: doc["policies"].update(violations=[violation("required-tags", "advisory")]))
    code, result = diff_json(base, head)
    assert code == 0 and result["new_mandatory"] == 0 and len(result["violations"]["new"]) == 1


def test_violation_resolved_and_escalated(previews, tmp_path):
    urn = "urn:pulumi:vision-prod::aifactory::aws:ec2/vpc:Vpc::vision-prod-vpc"
    base = edited(previews["base"], tmp_path, "base.json", lambda doc: doc["policies"].update(violations=[
        violation("power-cap", message="511 kW over 500 kW"), violation("required-tags", "advisory", urn)]))
    head = edited(previews["base"], tmp_path, "head.json", lambda doc: doc["policies"].update(violations=[
        violation("required-tags", "mandatory", urn)]))
    code, result = diff_json(base, head)
    v = result["violations"]
    assert [x["policy"] for x in v["resolved"]] == ["power-cap"]
    assert [x["policy"] for x in v["escalated"]] == ["required-tags"] and v["escalated"][0]["base_enforcement"] == "advisory"
    assert result["new_mandatory"] == 1 and code == 1
    # the same mandatory violation on both sides, with a new figure in its message, is not new
    base = edited(previews["base"], tmp_path, "b2.json", lambda doc: doc["policies"].update(violations=[violation("power-cap", message="510 kW")]))
    head = edited(previews["base"], tmp_path, "h2.json", lambda doc: doc["policies"].update(violations=[violation("power-cap", message="520 kW")]))
    code, result = diff_json(base, head)
    assert code == 0 and result["new_mandatory"] == 0 and len(result["violations"]["unchanged"]) == 1


# --------------------------------------------------------------------------- absent sides, stdin


def test_new_stack_has_base_none(previews):
    code, result = diff_json("none", previews["base"])
    assert result["base"] is None and result["head"]["gpus"] == 144
    assert result["totals"]["gpus"] == {"base": None, "head": 144, "delta": 144}
    assert all(line["status"] == "added" for line in result["lines"])
    assert len(result["resources"]["added"]) == len(json.loads(previews["base"].read_text())["resources"])
    assert any("new stack" in note for note in result["notes"])


def test_deleted_stack_has_head_none(previews):
    code, result = diff_json(previews["base"], "none")
    assert result["head"] is None and result["totals"]["gpus"]["delta"] == -144
    assert all(line["status"] == "removed" for line in result["lines"])
    assert result["resources"]["added"] == [] and result["resources"]["changed"] == []
    assert code == 0


def test_head_from_standard_input(previews):
    result = run("diff", str(previews["base"]), "-", "--format", "json", stdin=previews["add-fleet"].read_text())
    assert result.returncode in (0, 1), result.stderr
    assert json.loads(result.stdout)["totals"]["gpus"]["delta"] == 256


def test_text_and_markdown_formats(previews, tmp_path):
    text = run("diff", str(previews["base"]), str(previews["add-fleet"]))
    assert text.returncode in (0, 1) and "Traceback" not in text.stderr
    assert text.stdout.startswith("vision-prod: +256 H100 GPUs · +$1.29M/month · +375 kW · ")
    assert "fleet trainers2" in text.stdout
    out = tmp_path / "comment.md"
    md = run("diff", str(previews["base"]), str(previews["add-fleet"]), "--format", "markdown", "--output", str(out))
    assert md.returncode == text.returncode and md.stdout == ""
    assert out.read_text().splitlines()[0].startswith("+256 H100 GPUs · +$1.29M/month · +375 kW · ")


# --------------------------------------------------------------------------- unreadable input: exit 2


@pytest.mark.parametrize("content, expected", [
    (None, "no such file"),
    ("{not json", "not JSON"),
    ("[1, 2]", "not an aifactory preview"),
    ('{"stack": "x"}', "resources: is required"),
    ('{"stack": "x", "resources": {}}', "resources: must be a list"),
    ('{"stack": "x", "resources": [], "policies": {"violations": []}, "estimate": {"lines": [{"kind": "rack"}]}}', "estimate.lines[0]"),
])
def test_unreadable_input_exits_2(previews, tmp_path, content, expected):
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    for args in ((str(bad), str(previews["base"])), (str(previews["base"]), str(bad))):
        result = run("diff", *args)
        assert result.returncode == 2, result
        assert "Traceback" not in result.stderr and result.stdout == ""
        assert expected in result.stderr and "bad.json" in result.stderr


def test_usage_errors_exit_2(previews, tmp_path):
    for args in (("none", "none"), ("-", "-"), (str(tmp_path), str(previews["base"])),
                 (str(previews["base"]), str(previews["base"]), "--format", "html"),
                 (str(previews["base"]), str(previews["base"]), "--max-increase-usd", "-5"),
                 (str(previews["base"]),)):
        result = run("diff", *args, stdin="")
        assert result.returncode == 2, (args, result)
        assert "Traceback" not in result.stderr


def test_identical_previews_pass(previews):
    code, result = diff_json(previews["base"], previews["base"], "--max-increase-usd", "0", "--max-increase-kw", "0")
    assert code == 0
    assert result["resources"]["added"] == result["resources"]["removed"] == result["resources"]["changed"] == []
    assert all(line["status"] == "unchanged" for line in result["lines"])
    assert d.summary_line(result) == "±0 GPUs · ±$0/month · ±0 kW · ±0 tCO2e/month · 0 new mandatory violations"


# --------------------------------------------------------------------------- the path-level diff


def test_diff_values_paths():
    base = {"instanceType": "p5.48xlarge", "tags": {"team": "vision", "old": "x"},
            "networkInterfaces": [{"deviceIndex": 0, "interfaceType": "efa"}, {"deviceIndex": 1}],
            "securityGroups": ["sg-1", "sg-2"], "masterPassword": "hunter2", "my-key": 1}
    head = {"instanceType": "p5e.48xlarge", "tags": {"team": "vision", "new": "y"},
            "networkInterfaces": [{"deviceIndex": 0, "interfaceType": "interface"}],
            "securityGroups": ["sg-2", "sg-1"], "masterPassword": "correct horse", "my-key": 2}
    changes = {c["path"]: c for c in d.diff_values(base, head)}
    assert changes["instanceType"] == {"path": "instanceType", "op": "changed", "base": "p5.48xlarge", "head": "p5e.48xlarge"}
    assert changes["tags.old"]["op"] == "removed" and changes["tags.new"]["op"] == "added"
    assert "tags.team" not in changes
    assert changes["networkInterfaces[0].interfaceType"]["head"] == "interface"
    assert changes["networkInterfaces[1]"]["op"] == "removed"
    assert changes["securityGroups"]["op"] == "changed"  # a scalar list is one change, not one per position
    assert changes["masterPassword"]["base"] == changes["masterPassword"]["head"] == "<redacted>"
    assert "my-key" in changes
    assert d.diff_values({"a": [1, {"b": 2}]}, {"a": [1, {"b": 2}]}) == []


def test_number_words():
    assert d.fmt_usd(1_030_000, signed=True) == "+$1.03M"
    assert d.fmt_usd(-540_000, signed=True) == "-$540k"
    assert d.fmt_usd(0, signed=True) == "±$0"
    assert d.fmt_kw(210.4, signed=True) == "+210 kW"
    assert d.fmt_kw(1250, signed=True) == "+1.25 MW"
    assert d.fmt_int(-16, signed=True) == "-16"


def test_a_provider_moving_region_replaces_its_resources():
    provider = "urn:pulumi:s::aifactory::pulumi:providers:aws::vision"

    def doc(region: str) -> dict:
        return {"stack": "s", "policies": {"violations": []}, "estimate": {"lines": []}, "resources": [
            {"urn": provider, "type": "pulumi:providers:aws", "name": "vision", "custom": True, "inputs": {"region": region}},
            {"urn": "urn:pulumi:s::aifactory::aws:ec2/vpc:Vpc::vpc", "type": "aws:ec2/vpc:Vpc", "name": "vpc",
             "custom": True, "provider": provider, "inputs": {"cidrBlock": "10.0.0.0/16"}},
            {"urn": "urn:pulumi:s::aifactory::aws:fsx/lustreFileSystem:LustreFileSystem::fs", "name": "fs",
             "type": "aws:fsx/lustreFileSystem:LustreFileSystem", "custom": True, "protect": True, "provider": provider,
             "inputs": {"storageCapacity": 1200}},
        ]}

    changed = {r["name"]: r for r in d.diff(doc("us-east-1"), doc("us-west-2"))["resources"]["changed"]}
    assert changed["vision"]["replace"] is False  # the provider itself is updated
    assert changed["vpc"]["replace"] is True and changed["fs"]["replace"] is True and changed["fs"]["protect"] is True
    assert changed["fs"]["changes"] == [{"path": "(provider placement)", "op": "changed",
                                         "base": {"region": "us-east-1"}, "head": {"region": "us-west-2"}}]


def test_diff_modules_import_no_pulumi_or_cloud_sdk():
    code = ("import sys; import aifactory.diff, aifactory.diffcmd, aifactory.report.markdown, aifactory.report.sarif, "
            "aifactory.report.junit, aifactory.report.mermaid; "
            "print([m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_aws', 'pulumi_azure_native', "
            "'pulumi_gcp', 'pulumi_policy', 'grpc', 'boto3')])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_register_adds_the_diff_command(previews):
    import typer
    from typer.testing import CliRunner

    from aifactory.diffcmd import register

    app = typer.Typer()

    @app.command()
    def other() -> None:  # a second command, so `diff` is a subcommand as in the real app
        pass

    register(app)
    result = CliRunner().invoke(app, ["diff", str(previews["base"]), str(previews["grow-fs"]), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    assert json.loads(result.output)["totals"]["gpus"]["delta"] == 0
    assert CliRunner().invoke(app, ["diff", "none", "none"]).exit_code == 2
