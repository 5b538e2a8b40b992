"""Reading a stack file: whatever the file holds, the answer is a list of problems and exit 2."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from aifactory import stackfile, stackyaml
from aifactory.problems import SpecError
from tests.test_cli import run

ROOT = Path(__file__).resolve().parent.parent
VISION = (ROOT / "stacks/Pulumi.vision-prod.yaml").read_text()


def write(tmp_path: Path, text: str | bytes, name: str = "Pulumi.bad-dev.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path | str) -> str:
    """Run `aifactory validate` on a path; assert a clean refusal and return its stderr."""
    result = run("validate", str(path))
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stderr


def problems_of(path: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        stackfile.read(str(path))
    return [str(p) for p in caught.value.problems]


def test_a_path_with_markup_is_printed_as_written(tmp_path):
    folder = tmp_path / "team[red]x[/]"
    folder.mkdir(parents=True)
    bad = write(folder, VISION.replace("nodes: 2\n", "nodes: 0\n"))
    stderr = refused(bad)
    assert f"invalid stack config {bad}" in stderr.replace("\n", "")
    good = write(folder, VISION, "Pulumi.good.yaml")
    result = run("validate", str(good))
    assert result.returncode == 0 and str(good) in result.stdout.replace("\n", "")


def test_a_path_with_a_closing_tag_is_not_a_crash(tmp_path):
    folder = tmp_path / "[/]"
    folder.mkdir(parents=True)
    assert "[/]" in refused(write(folder, VISION.replace("nodes: 2\n", "nodes: 0\n")))


def test_utf16_and_stray_bytes_are_refused(tmp_path):
    assert "is not UTF-8 text" in refused(write(tmp_path, VISION.encode("utf-16")))
    assert "byte 0xff" in problems_of(write(tmp_path, VISION.encode() + b"# \xff\n"))[0]


def test_a_utf8_byte_order_mark_is_fine(tmp_path):
    assert stackfile.read(str(write(tmp_path, "\ufeff" + VISION))).facility["name"] == "vision-prod"


def test_a_directory_or_an_unreadable_file_is_refused(tmp_path):
    folder = tmp_path / "Pulumi.dir.yaml"
    folder.mkdir(parents=True)
    assert "is a directory" in problems_of(folder)[0]
    if os.geteuid() == 0:  # root reads any file; the kernel refuses reading this one to anybody
        assert "cannot be read" in problems_of(Path("/proc/self/mem"))[0]
    else:
        path = write(tmp_path, VISION)
        path.chmod(0)
        assert "cannot be read" in problems_of(path)[0]


@pytest.mark.parametrize("edit", [("name: vision-prod", "name: !!float"), ("team: vision", "team: !!int vision"),
                                  ("team: vision", "team: !!binary '%%%'"), ("team: vision", "team: !!timestamp x"),
                                  ("team: vision", "team: !!python/name:os.system")])
def test_tags_that_do_not_fit_their_value_are_refused(tmp_path, edit):
    found = problems_of(write(tmp_path, VISION.replace(*edit)))
    assert "valid YAML" in found[0] or "binary data; quote it" in found[0]


def test_a_repeated_key_is_refused_not_last_wins(tmp_path):
    text = VISION.replace("        nodes: 2\n", "        nodes: 2\n        nodes: 2000\n")
    found = problems_of(write(tmp_path, text))
    assert len(found) == 1 and "key 'nodes' appears twice" in found[0] and "line 20" in found[0]


def test_values_json_cannot_hold_are_refused_by_path(tmp_path):
    found = problems_of(write(tmp_path, VISION.replace("cost-center: cc-4711", "cost-center: 2024-01-01")))
    assert found[0].endswith("config.aifactory:facility.tags.cost-center: is a date; quote it to make it a string")
    found = problems_of(write(tmp_path, VISION.replace("monthly_usd: 1000000", "monthly_usd: .inf")))
    assert "budget.monthly_usd: inf is not a finite number" in found[0]
    found = problems_of(write(tmp_path, VISION + "  on: true\n"))
    assert "keys are strings" in found[0]


def test_a_secret_inside_the_facility_is_refused(tmp_path):
    text = VISION.replace("cost-center: cc-4711", "cost-center:\n        secure: v1:AAAABBBB")
    found = problems_of(write(tmp_path, text))
    assert found == [f"aifactory:facility.tags.cost-center: {found[0].split(': ', 1)[1]}"]
    assert "secrets do not belong in aifactory:facility" in found[0]
    # A secret elsewhere in the stack config is the engine's business, not ours.
    assert stackfile.read(str(write(tmp_path, VISION + "  aws:secretKey:\n    secure: v1:AAAA\n"))).facility


def alias_bomb(levels: int = 9) -> str:
    lines = ['  lol:a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"  lol:a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return VISION + "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_quickly(tmp_path):
    path = write(tmp_path, alias_bomb())
    started = time.perf_counter()
    found = problems_of(path)
    elapsed = time.perf_counter() - started
    assert "values once its aliases are expanded" in found[0]
    assert elapsed < 2, elapsed  # a generous bound: the refusal is milliseconds, the bomb minutes


def test_a_self_referring_alias_is_refused(tmp_path):
    found = problems_of(write(tmp_path, VISION + "  lol:x: &loop [*loop]\n"))
    assert "refers to the value that contains it" in found[0]


def test_aliases_a_real_file_uses_still_work(tmp_path):
    text = VISION.replace("alert_emails: [ml-infra@example.com]", "alert_emails: &who [ml-infra@example.com]")
    assert stackfile.read(str(write(tmp_path, text + "  other:who: *who\n"))).config["other:who"] == ["ml-infra@example.com"]


def test_nesting_too_deep_is_a_problem_not_a_crash():
    with pytest.raises(stackyaml.YamlProblem):
        stackyaml.load("a: " + "[" * 2000 + "]" * 2000)
