"""Components keep deployed stacks: every component registers an alias from its old type token
(`aifactory:<cloud>:<Kind>`), and with the engine's alias rules every resource of a stack deployed
under the old tokens is found again under the new ones, so `pulumi up` plans no replacement.

The old URNs are the new ones with each component token spelt the old way (names never changed).
The engine's matching is transcribed from pulumi/pulumi pkg/resource/deploy/step_generator.go
(`generateAliases`, `inheritedChildAlias`, `collapseAliasToUrn`): a resource's aliases are its own
alias specs resolved against its parent, plus every URN its parent's matched old URN implies.
"""

from __future__ import annotations

import re

import pytest

from aifactory import components, stackfile
from aifactory.recording import ROOT_STACK_TYPE, RecordedResource
from aifactory.loader import load_facility
from tests.harness import run

KINDS = ("Facility", "ClusterNetwork", "GpuFleet", "ParallelFilesystem", "BudgetGuard")
STACKS = {"aws": "vision-prod", "azure": "speech-prod", "gcp": "llm-prod"}
NEW_TOKEN = re.compile(r"aifactory-(aws|azure|gcp):index:(\w+)")


def old_urn(urn: str) -> str:
    return NEW_TOKEN.sub(lambda m: f"aifactory:{m.group(1)}:{m.group(2)}", urn)


def qualified_type(urn: str) -> str:
    return urn.split("::")[2]


def make_urn(stack: str, project: str, parent_type: str, type_: str, name: str) -> str:
    qualified = f"{parent_type}${type_}" if parent_type else type_
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def parent_type(parent: str | None) -> str:
    if not parent or qualified_type(parent) == ROOT_STACK_TYPE:
        return ""
    return qualified_type(parent)


def inherited(type_: str, name: str, parent_name: str, parent_alias: str, stack: str, project: str) -> str:
    alias_name = name
    if name.startswith(parent_name):
        alias_name = parent_alias.rsplit("::", 1)[-1] + name[len(parent_name):]
    return make_urn(stack, project, qualified_type(parent_alias), type_, alias_name)


def engine_aliases(r: RecordedResource, matched: dict[str, str], stack: str, project: str) -> list[str]:
    own = list(r.aliases)  # the recorder resolves alias specs to URNs as the engine does
    result = list(own)
    if r.parent and r.parent in matched:
        parent_name = r.parent.rsplit("::", 1)[-1]
        result.append(inherited(r.type, r.name, parent_name, matched[r.parent], stack, project))
        for urn in own:
            result.append(inherited(qualified_type(urn).rsplit("$", 1)[-1], urn.rsplit("::", 1)[-1],
                                    parent_name, matched[r.parent], stack, project))
    return result


@pytest.fixture(scope="module", params=sorted(STACKS))
def built(request):
    cloud = request.param
    spec = load_facility(stackfile.read(STACKS[cloud]).facility)
    return cloud, run(lambda: components.build_facility(spec))


def test_every_component_registers_an_alias_from_its_old_token(built):
    cloud, result = built
    found = {r.type for r in result.components()}
    assert found == {f"aifactory-{cloud}:index:{k}" for k in KINDS}
    for r in result.components():
        old_type = f"aifactory:{cloud}:{r.type.rsplit(':', 1)[-1]}"
        stack, project = result.program.stack, result.program.project
        assert r.aliases == [make_urn(stack, project, parent_type(r.parent), old_type, r.name)], r.type


def test_a_stack_deployed_under_the_old_tokens_is_matched_resource_for_resource(built):
    _, result = built
    stack, project = result.program.stack, result.program.project
    deployed = {old_urn(r.urn) for r in result.resources}
    assert all(urn not in deployed for urn in (r.urn for r in result.components()))  # the tokens did change
    matched: dict[str, str] = {}
    unmatched = []
    for r in result.resources:  # parents before children, as the engine sees them
        if r.urn in deployed:
            continue
        hit = next((a for a in engine_aliases(r, matched, stack, project) if a in deployed), None)
        if hit is None:
            unmatched.append(r.urn)
        else:
            matched[r.urn] = hit
    assert unmatched == []
    assert set(matched.values()) | ({r.urn for r in result.resources} & deployed) == deployed
