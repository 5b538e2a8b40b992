"""aifactory.analyzer: a real CrossGuard pack process driven over pulumirpc.Analyzer."""

from __future__ import annotations

import json
import os
import signal
import textwrap
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

from aifactory.analyzer import PolicyConfigError, PolicyPackClient, PolicyPackError, analyze_all
from aifactory.recording import UNKNOWN, RecordedResource, run_program

PACK_YAML = "runtime: python\nversion: 0.2.0\ndescription: A tiny pack for tests.\n"

PACK_MAIN = textwrap.dedent(
    '''
    from pulumi_policy import (EnforcementLevel, PolicyConfigSchema, PolicyPack,
                               ResourceValidationPolicy, StackValidationPolicy)

    INSTANCE = "aws:ec2/instance:Instance"

    def no_p5(args, report_violation):
        if args.resource_type == INSTANCE and args.props.get("instanceType") == "p5.48xlarge":
            report_violation("p5.48xlarge is reserved for training clusters")

    def provider_region(args, report_violation):
        if args.resource_type != INSTANCE:
            return
        if args.provider is None:
            report_violation("no explicit provider")
        elif args.provider.props.get("region") != "us-east-1":
            report_violation(f"region {args.provider.props.get('region')} via {args.provider.name} "
                             f"({args.provider.resource_type}, {args.provider.urn}) protect={args.opts.protect}")

    def max_count(args, report_violation):
        limit = args.get_config()["maxCount"]
        instances = [r for r in args.resources if r.resource_type == INSTANCE]
        if len(instances) > limit:
            report_violation(f"{len(instances)} instances exceed maxCount {limit:g}")
        for r in instances:
            if r.parent is None or r.parent.resource_type != "pulumi:pulumi:Stack":
                report_violation("instance without the stack as parent", r.urn)
            if "ami" in r.property_dependencies and not r.property_dependencies["ami"]:
                report_violation("empty property dependency list was sent", r.urn)

    PolicyPack(
        "test-pack",
        enforcement_level=EnforcementLevel.MANDATORY,
        policies=[
            ResourceValidationPolicy(name="p", description="No p5 instances.", validate=no_p5),
            ResourceValidationPolicy(name="provider-region", description="Instances run in us-east-1.",
                                     validate=provider_region, enforcement_level=EnforcementLevel.ADVISORY),
            StackValidationPolicy(
                name="s", description="Bounded instance count.", validate=max_count,
                config_schema=PolicyConfigSchema(
                    properties={"maxCount": {"type": "integer", "minimum": 0, "default": 2}},
                    required=["maxCount"],
                ),
            ),
        ],
    )
    '''
)

STACK_URN = "urn:pulumi:dev::aifactory::pulumi:pulumi:Stack::aifactory-dev"
PROVIDER_URN = "urn:pulumi:dev::aifactory::pulumi:providers:aws::east"


def write_pack(directory: Path, main: str = PACK_MAIN) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "PulumiPolicy.yaml").write_text(PACK_YAML)
    (directory / "__main__.py").write_text(main)
    return directory


def provider(region: str = "us-east-1", name: str = "east") -> RecordedResource:
    return RecordedResource(
        urn=f"urn:pulumi:dev::aifactory::pulumi:providers:aws::{name}", type="pulumi:providers:aws", name=name,
        parent=STACK_URN, provider=None, custom=True, protect=False, retain_on_delete=False,
        inputs={"region": region}, dependencies=[], property_dependencies={},
    )


def stack_resource() -> RecordedResource:
    return RecordedResource(
        urn=STACK_URN, type="pulumi:pulumi:Stack", name="aifactory-dev", parent=None, provider=None,
        custom=False, protect=False, retain_on_delete=False, inputs={}, dependencies=[], property_dependencies={},
    )


def instance(name: str, instance_type: str = "p5.48xlarge", *, prov: str | None = PROVIDER_URN,
             protect: bool = False) -> RecordedResource:
    return RecordedResource(
        urn=f"urn:pulumi:dev::aifactory::aws:ec2/instance:Instance::{name}", type="aws:ec2/instance:Instance",
        name=name, parent=STACK_URN, provider=prov, custom=True, protect=protect, retain_on_delete=False,
        inputs={"instanceType": instance_type, "ami": "ami-123"}, dependencies=[],
        property_dependencies={"instanceType": [], "ami": []},
    )


@pytest.fixture(scope="module")
def pack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pack(tmp_path_factory.mktemp("pack"))


@pytest.fixture(scope="module")
def shared_client(pack_dir: Path):
    with PolicyPackClient(pack_dir, project="aifactory", stack="dev", timeout=30) as client:
        yield client


@pytest.fixture
def client(shared_client: PolicyPackClient):
    shared_client.configure(None)  # back to the pack's defaults, as with no --policy-pack-config
    shared_client.analyze(provider())  # the engine sees the provider registration first
    yield shared_client


def test_info_lists_policies_with_schemas(client: PolicyPackClient) -> None:
    name, policies = client.info()
    assert name == "test-pack"
    assert client.version == "0.2.0"  # PulumiPolicy.yaml wins over the pack's 0.0.1
    assert client.plugin_version
    by = {p.name: p for p in policies}
    assert sorted(by) == ["p", "provider-region", "s"]
    assert by["p"].enforcement_level == "mandatory" and by["p"].config_schema is None
    assert by["p"].description == "No p5 instances." and by["p"].policy_type == "resource"
    assert by["provider-region"].enforcement_level == "advisory"
    assert by["s"].policy_type == "stack"
    assert by["s"].config_schema == {
        "properties": {"maxCount": {"type": "integer", "minimum": 0, "default": 2}},
        "required": ["maxCount"],
    }
    # The engine configures every policy with its schema defaults even without a config file.
    assert client.policy_config["s"] == ("mandatory", {"maxCount": 2})


def test_violating_resource_is_mandatory_with_its_urn(client: PolicyPackClient) -> None:
    bad = instance("trainer")
    violations = client.analyze(bad)
    assert [(v.policy, v.enforcement, v.urn) for v in violations] == [("p", "mandatory", bad.urn)]
    assert "p5.48xlarge is reserved for training clusters" in violations[0].message
    assert violations[0].description == "No p5 instances." and violations[0].policy_pack == "test-pack"
    assert client.analyze(instance("web", "m5.large")) == []


def test_configure_downgrades_enforcement(client: PolicyPackClient) -> None:
    bad = instance("trainer")
    client.configure({"p": {"enforcementLevel": "advisory"}})
    assert [(v.policy, v.enforcement) for v in client.analyze(bad)] == [("p", "advisory")]
    assert {p.name: p.enforcement_level for p in client.info()[1]}["p"] == "advisory"
    client.configure({"p": "disabled"})  # bare-string shorthand
    assert client.analyze(bad) == []
    client.configure({"all": "advisory"})
    assert [v.enforcement for v in client.analyze(bad)] == ["advisory"]
    assert [v.enforcement for v in client.analyze_stack([stack_resource(), *(instance(f"i{i}") for i in range(3))])] == ["advisory"]
    client.configure({"all": "disabled", "p": "mandatory"})  # "all" first, then per policy
    assert [(v.policy, v.enforcement) for v in client.analyze(bad)] == [("p", "mandatory")]


def test_config_file_path(client: PolicyPackClient, tmp_path: Path) -> None:
    path = tmp_path / "team.json"
    path.write_text(json.dumps({"p": {"enforcementLevel": "advisory"}, "s": {"maxCount": 7}}))
    client.configure(path)
    assert client.policy_config["p"] == ("advisory", None)
    assert client.policy_config["s"] == ("mandatory", {"maxCount": 7})


def test_stack_policy_honours_max_count(client: PolicyPackClient) -> None:
    three = [stack_resource(), provider(), *(instance(f"i{i}", "m5.large") for i in range(3))]
    violations = client.analyze_stack(three)
    assert [(v.policy, v.enforcement, v.urn) for v in violations] == [("s", "mandatory", None)]
    assert "3 instances exceed maxCount 2" in violations[0].message
    client.configure({"s": {"maxCount": 5}})
    assert client.analyze_stack(three) == []
    client.configure({"s": {"maxCount": 1}})
    assert "3 instances exceed maxCount 1" in client.analyze_stack(three)[0].message


def test_stack_resources_carry_parent_and_urn(client: PolicyPackClient) -> None:
    stack = stack_resource()
    orphan = instance("orphan", "m5.large")
    orphan.parent = None
    violations = client.analyze_stack([stack, provider(), instance("child", "m5.large"), orphan])
    # The parent is resolved to the stack resource inside the pack; a violation's URN comes back.
    assert [(v.policy, v.urn) for v in violations] == [("s", orphan.urn)]


def test_invalid_config_is_refused(client: PolicyPackClient) -> None:
    with pytest.raises(PolicyConfigError, match="maxCount: Must be greater than or equal to 0"):
        client.configure({"s": {"maxCount": -1}})
    with pytest.raises(PolicyConfigError, match="Invalid type"):
        client.configure({"s": {"maxCount": "many"}})
    with pytest.raises(PolicyConfigError, match="not a valid enforcement level"):
        client.configure({"p": "sometimes"})
    with pytest.raises(PolicyConfigError, match="must be a string or object"):
        client.configure({"p": 3})
    with pytest.raises(PolicyConfigError, match='"typo"'):
        client.configure({"typo": {"maxCount": 1}})  # no level, no such policy: the engine refuses it
    assert client.policy_config["s"] == ("mandatory", {"maxCount": 2})  # nothing was sent


def test_unknown_values_reach_the_pack_as_unknown(client: PolicyPackClient) -> None:
    res = instance("later", UNKNOWN)
    violations = client.analyze(res)
    assert [(v.policy, v.enforcement, v.urn) for v in violations] == [("p", "advisory", res.urn)]
    assert "can't be known during preview" in violations[0].message


def test_provider_and_options_reach_the_pack(client: PolicyPackClient) -> None:
    west = provider("eu-west-1", "west")
    res = instance("eu", "m5.large", prov=west.urn, protect=True)
    violations = client.analyze(res, providers={west.urn: west})
    assert [(v.policy, v.enforcement) for v in violations] == [("provider-region", "advisory")]
    assert f"region eu-west-1 via west (pulumi:providers:aws, {west.urn}) protect=True" in violations[0].message
    assert [v.policy for v in client.analyze(instance("nop", "m5.large", prov=None))] == ["provider-region"]
    assert client.analyze(instance("east", "m5.large")) == []  # provider remembered from the fixture


def test_pack_process_is_gone_after_the_context(pack_dir: Path) -> None:
    with PolicyPackClient(pack_dir) as c:
        pid = c.pid
        assert c.returncode is None
        os.kill(pid, 0)
    assert c.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_pack_stops_cleanly_on_sigint_or_at_once_when_asked(pack_dir: Path) -> None:
    with PolicyPackClient(pack_dir) as graceful:
        pass
    assert graceful.returncode == 0  # pulumi_policy's serve loop exits cleanly on SIGINT
    with PolicyPackClient(pack_dir, stop_grace=0) as quick:
        pid = quick.pid
    assert quick.returncode == -signal.SIGKILL
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_broken_pack_fails_with_its_error(tmp_path: Path) -> None:
    broken = write_pack(tmp_path / "broken", "raise RuntimeError('pack import exploded')\n")
    with pytest.raises(PolicyPackError, match="pack import exploded"):
        PolicyPackClient(broken, timeout=30).start()


def test_analyze_all_on_a_recorded_program(pack_dir: Path) -> None:
    def program() -> None:
        east = aws.Provider("east", region="us-east-1")
        for i in range(3):
            aws.ec2.Instance(f"gpu-{i}", instance_type="p5.48xlarge", ami="ami-123",
                             opts=pulumi.ResourceOptions(provider=east))

    run = run_program(program, project="aifactory", stack="dev", config={})
    policies, violations = analyze_all(pack_dir, run.resources, {"s": {"maxCount": 2}}, project="aifactory",
                                       stack="dev")
    assert sorted(p.name for p in policies) == ["p", "provider-region", "s"]
    per_resource = sorted(v.urn for v in violations if v.policy == "p")
    assert per_resource == sorted(r.urn for r in run.resources if r.type == "aws:ec2/instance:Instance")
    assert all(v.enforcement == "mandatory" for v in violations)
    assert [v.policy for v in violations if v.urn is None] == ["s"]
    assert len(violations) == 4
