#!/usr/bin/env python3
"""Which stacks a change touches, for the preview and deploy workflows (standard library only).

    changed_stacks.py [--base REV] [--head REV] [--all]

Compares two git revisions of the repository in the working directory (default: HEAD^1, the
pull request's base, and HEAD, the merge commit `actions/checkout` makes for a pull request).
A stack is selected when its file `stacks/Pulumi.<stack>.yaml` changed on either side, and every
stack is selected when something that changes every preview changed (the policy pack and its
config, the program, the components, the aifactory package, the dependencies).
`--all` selects every stack (a first push, a manual run).

Writes `stacks` (a JSON list for a job matrix: stack, file, team, cloud, in_base, in_head,
policy_config), `deploy` (the same without stacks the head deletes), `any` and `any_deploy`
(true/false) to $GITHUB_OUTPUT when it is set, and the JSON to standard output either way.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys

STACK_FILE = re.compile(r"^stacks/Pulumi\.([A-Za-z0-9][A-Za-z0-9_.-]*)\.yaml$")
EVERY_STACK_PREFIXES = ("policies/", "aifactory/")
EVERY_STACK_FILES = ("__main__.py", "Pulumi.yaml", "pyproject.toml", "uv.lock")
NULL_SHA = re.compile(r"^0+$")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def files_at(rev: str) -> set[str]:
    if not rev:
        return set()
    return set(git("ls-tree", "-r", "--name-only", rev).splitlines())


def show(rev: str, path: str) -> str:
    try:
        return git("show", f"{rev}:{path}")
    except subprocess.CalledProcessError:
        return ""


def changed_paths(base: str, head: str) -> set[str]:
    out = git("diff", "--name-status", "--no-renames", base, head)
    paths = set()
    for line in out.splitlines():
        parts = line.split("\t")
        paths.update(parts[1:])
    return paths


def facility_value(text: str, key: str) -> str | None:
    """`team:` / `cloud:` of the `aifactory:facility` block (plain YAML scalars; no YAML parser
    needed on a bare runner)."""
    match = re.search(rf"^\s+{key}\s*:\s*['\"]?([A-Za-z0-9_-]+)['\"]?\s*(?:#.*)?$", text, re.MULTILINE)
    return match.group(1) if match else None


def select(base: str, head: str, every: bool) -> list[dict]:
    base_files, head_files = files_at(base), files_at(head)
    stacks_base = {m.group(1) for f in base_files if (m := STACK_FILE.match(f))}
    stacks_head = {m.group(1) for f in head_files if (m := STACK_FILE.match(f))}
    if every or not base:
        chosen = stacks_base | stacks_head
    else:
        paths = changed_paths(base, head)
        chosen = {m.group(1) for path in paths if (m := STACK_FILE.match(path))}
        if any(path.startswith(EVERY_STACK_PREFIXES) or path in EVERY_STACK_FILES for path in paths):
            chosen = stacks_base | stacks_head
    out = []
    for stack in sorted(chosen):
        path = f"stacks/Pulumi.{stack}.yaml"
        in_head = stack in stacks_head
        text = show(head if in_head else base, path)
        team = facility_value(text, "team") or stack.split("-", 1)[0]
        cloud = facility_value(text, "cloud") or ""
        config = ""
        for candidate in (f"policies/config/{team}.json", "policies/config/default.json"):
            if candidate in (head_files if in_head else base_files):
                config = candidate
                break
        out.append({"stack": stack, "file": path, "team": team, "cloud": cloud,
                    "in_base": stack in stacks_base, "in_head": in_head, "policy_config": config})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD^1", help="base revision (empty or all zeros: none, every stack)")
    parser.add_argument("--head", default="HEAD", help="head revision")
    parser.add_argument("--all", action="store_true", help="select every stack")
    args = parser.parse_args(argv)
    base = "" if NULL_SHA.match(args.base or "0") else args.base
    if base:
        try:
            git("rev-parse", "--verify", "--quiet", base + "^{commit}")
        except subprocess.CalledProcessError:
            print(f"base revision {base!r} is not in this clone; selecting every stack", file=sys.stderr)
            base = ""
    stacks = select(base, args.head, args.all)
    deploy = [s for s in stacks if s["in_head"]]
    outputs = {
        "stacks": json.dumps(stacks, separators=(",", ":")),
        "deploy": json.dumps(deploy, separators=(",", ":")),
        "any": "true" if stacks else "false",
        "any_deploy": "true" if deploy else "false",
    }
    if os.environ.get("GITHUB_OUTPUT"):
        with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as fh:
            for key, value in outputs.items():
                fh.write(f"{key}={value}\n")
    json.dump({"stacks": stacks, "deploy": deploy}, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
