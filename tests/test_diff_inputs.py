"""`aifactory diff` on documents it did not write: every shape problem by path, exit 2; the verdict
never depends on how a level is spelt or on a side that has nothing to compare."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from aifactory import diff as d
from tests.test_diff import ROOT, run

FIXTURES = ROOT / "tests/fixtures/previews"  # DESIGN.md's preview JSON, written by hand

BASE = json.loads((FIXTURES / "vision-prod.base.json").read_text())
HEAD = json.loads((FIXTURES / "vision-prod.add-fleet.json").read_text())


def write(tmp_path: Path, doc: object, name: str = "doc.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def load_problem(tmp_path: Path, doc: object) -> str:
    with pytest.raises(d.PreviewError) as caught:
        d.load(str(write(tmp_path, doc)))
    return str(caught.value)


def mutated(change) -> dict:
    doc = copy.deepcopy(BASE)
    change(doc)
    return doc


def set_in(path: tuple, value):
    def change(doc):
        node = doc
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    return change


@pytest.mark.parametrize("change, expected", [
    (set_in(("resources", 0, "custom"), "yes"), "resources[0].custom: must be true or false"),
    (set_in(("resources", 1, "inputs"), [1]), "resources[1].inputs: must be an object"),
    (set_in(("resources", 0, "dependencies"), "urn"), "resources[0].dependencies: must be a list"),
    (set_in(("estimate", "lines", 0, "monthly_usd"), "459374.4"), "estimate.lines[0].monthly_usd: must be a number"),
    (set_in(("estimate", "lines", 0, "monthly_usd"), 1e300), "estimate.lines[0].monthly_usd:"),
    (set_in(("estimate", "lines", 0, "nodes"), -3), "estimate.lines[0].nodes:"),
    (set_in(("estimate", "lines", 0, "notes"), "none"), "estimate.lines[0].notes: must be a list"),
    (set_in(("estimate", "gpus"), 1.5), "estimate.gpus: must be a whole number"),
    (set_in(("policies", "violations"), [{"policy": "power-cap", "enforcement": "blocking"}]),
     "policies.violations[0].enforcement: 'blocking' is not an enforcement level"),
    (set_in(("policies", "violations"), [{"enforcement": "mandatory"}]), "policies.violations[0].policy: is required"),
    (set_in(("facility", "fleets"), {"trainers": 1}), "facility.fleets: must be a list"),
    (set_in(("facility", "budget"), {"monthly_usd": "lots"}), "facility.budget.monthly_usd"),
    (set_in(("facility", "network"), []), "facility.network: must be an object"),
    (set_in(("stack",), ""), "stack:"),
    (lambda doc: doc["resources"].append(copy.deepcopy(doc["resources"][0])), "appears twice"),
])
def test_a_document_of_the_wrong_shape_is_refused_by_path(tmp_path, change, expected):
    message = load_problem(tmp_path, mutated(change))
    assert "not an aifactory preview document" in message and expected in message, message


def test_numbers_json_does_not_have_and_deep_nesting_are_refused(tmp_path):
    text = json.dumps(BASE).replace('"monthly_usd": 459374.4', '"monthly_usd": Infinity', 1)
    assert "Infinity is not a JSON number" in load_problem(tmp_path, text)
    deep = mutated(set_in(("resources", 0, "inputs"), {"a": json.loads("[" * 100 + "]" * 100)}))
    assert "resources[0].inputs: nests deeper than 64 levels" in load_problem(tmp_path, deep)
    assert "nested too deeply" in load_problem(tmp_path, '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert "not JSON" in load_problem(tmp_path, '{"stack": ' + "9" * 5000 + "}")


def test_the_shipped_fixtures_are_preview_documents():
    for path in sorted(FIXTURES.glob("*.json")):
        assert d.check(json.loads(path.read_text())) == [], path


def test_two_different_stacks_are_refused_unless_allowed(tmp_path):
    other = write(tmp_path, mutated(set_in(("stack",), "speech-prod")), "other.json")
    refused = run("diff", str(FIXTURES / "vision-prod.base.json"), str(other))
    assert refused.returncode == 2 and "different stacks" in refused.stderr and "--allow-different-stacks" in refused.stderr
    allowed = run("diff", str(FIXTURES / "vision-prod.base.json"), str(other), "--allow-different-stacks", "--format", "json")
    assert allowed.returncode == 0, allowed.stderr
    assert "the stacks differ" in json.loads(allowed.stdout)["notes"][0]


@pytest.mark.parametrize("level", ["MANDATORY", "Mandatory", None, "absent"])
def test_a_new_violation_blocks_whatever_the_case_and_when_its_level_is_missing(level):
    item = {"policy": "power-cap", "message": "over", "urn": None}
    if level != "absent":
        item["enforcement"] = level
    head = copy.deepcopy(BASE)
    head["policies"]["violations"] = [item]
    assert d.check(head) == []
    result = d.diff(BASE, head)
    assert result["new_mandatory"] == 1 and result["exit_code"] == 1
    assert result["totals"]["mandatory_violations"]["head"] == 1


def test_an_advisory_violation_in_capitals_does_not_block():
    head = copy.deepcopy(BASE)
    head["policies"]["violations"] = [{"policy": "placement", "enforcement": "ADVISORY", "message": "m", "urn": None}]
    result = d.diff(BASE, head)
    assert result["exit_code"] == 0 and result["totals"]["advisory_violations"]["head"] == 1


def test_a_limit_fails_when_a_side_has_no_estimate_lines():
    empty = copy.deepcopy(BASE)
    empty["estimate"]["lines"] = []  # the totals say nothing changed; no line backs them
    result = d.diff(BASE, empty, max_increase_usd=1_000_000)
    assert result["exit_code"] == 1
    assert "the head preview has no estimate lines" in result["limits"]["unverified"][0]["message"]
    assert d.diff(BASE, empty)["exit_code"] == 0  # no limit asked: nothing to prove
    new_stack = d.diff(None, BASE, max_increase_usd=10**9)  # the base is absent, not empty
    assert not any("no estimate lines" in reason for reason in new_stack["reasons"])


def test_the_command_refuses_an_output_in_a_missing_directory(tmp_path):
    result = run("diff", str(FIXTURES / "vision-prod.base.json"), str(FIXTURES / "vision-prod.add-fleet.json"),
                 "--output", str(tmp_path / "missing" / "diff.md"))
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr
