"""aifactory.recording: a Pulumi program run in-process under the SDK's mock monitor."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

from aifactory.recording import UNKNOWN, ProgramRun, RecordedResource, is_unknown, run_program

PROJECT, STACK = "aifactory", "dev"
P = f"urn:pulumi:{STACK}::{PROJECT}::"
STACK_URN = P + "pulumi:pulumi:Stack::aifactory-dev"


def facility_config(name: str = "vision", region: str = "us-east-1") -> dict[str, str]:
    return {"aifactory:facility": json.dumps({"name": name, "region": region})}


class Fleet(pulumi.ComponentResource):
    def __init__(self, name: str, vpc: aws.ec2.Vpc, opts: pulumi.ResourceOptions) -> None:
        super().__init__("aifactory:test:Fleet", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            instance_type="p5.48xlarge",
            description=vpc.arn,  # output-only: unknown during a preview
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(http_tokens="required"),
            opts=child,
        )
        self.register_outputs({})


class Cluster(pulumi.ComponentResource):
    def __init__(self, name: str, region: str) -> None:
        super().__init__("aifactory:test:Cluster", name, None, None)
        self.provider = aws.Provider(
            f"{name}-aws",
            region=region,
            default_tags=aws.ProviderDefaultTagsArgs(tags={"team": name}),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block="10.40.0.0/16",
            enable_dns_support=True,
            tags={"owner": pulumi.Output.secret("alice")},
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, protect=True),
        )
        self.subnet = aws.ec2.Subnet(
            f"{name}-subnet",
            vpc_id=self.vpc.id,
            cidr_block="10.40.0.0/20",
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[self.vpc]),
        )
        # The provider is inherited from the parent chain (explicit provider on a component ancestor).
        self.fleet = Fleet(f"{name}-trainers", self.vpc, pulumi.ResourceOptions(parent=self, providers=[self.provider]))
        self.register_outputs({"vpcId": self.vpc.id})


def program() -> None:
    facility = pulumi.Config("aifactory").require_object("facility")
    cluster = Cluster(facility["name"], facility["region"])
    pulumi.export("vpcId", cluster.vpc.id)
    pulumi.export("facility", facility["name"])


@pytest.fixture(scope="module")
def run() -> ProgramRun:
    return run_program(program, project=PROJECT, stack=STACK, config=facility_config())


def test_urns_parents_and_types(run: ProgramRun) -> None:
    by = run.by_urn()
    cluster = P + "aifactory:test:Cluster::vision"
    fleet = P + "aifactory:test:Cluster$aifactory:test:Fleet::vision-trainers"
    expected = {
        STACK_URN: None,
        cluster: STACK_URN,
        P + "aifactory:test:Cluster$pulumi:providers:aws::vision-aws": cluster,
        P + "aifactory:test:Cluster$aws:ec2/vpc:Vpc::vision-vpc": cluster,
        P + "aifactory:test:Cluster$aws:ec2/subnet:Subnet::vision-subnet": cluster,
        fleet: cluster,
        # The engine's rule: the parent's *full* qualified type (MockMonitor.make_urn keeps only the last).
        P + "aifactory:test:Cluster$aifactory:test:Fleet$aws:ec2/launchTemplate:LaunchTemplate::vision-trainers-lt": fleet,
    }
    assert set(by) == set(expected)
    assert len(run.resources) == len(expected)
    for urn, parent in expected.items():
        assert by[urn].parent == parent, urn
    assert by[cluster].custom is False and by[cluster].type == "aifactory:test:Cluster"
    assert by[STACK_URN].type == "pulumi:pulumi:Stack" and by[STACK_URN].custom is False
    # Deterministic tree order: the stack first, every parent before its children.
    assert run.resources[0].urn == STACK_URN
    seen: set[str] = set()
    for r in run.resources:
        assert r.parent is None or r.parent in seen
        seen.add(r.urn)


def test_provider_reference_and_provider_inputs(run: ProgramRun) -> None:
    by = run.by_urn()
    prov_urn = P + "aifactory:test:Cluster$pulumi:providers:aws::vision-aws"
    vpc = by[P + "aifactory:test:Cluster$aws:ec2/vpc:Vpc::vision-vpc"]
    lt = by[P + "aifactory:test:Cluster$aifactory:test:Fleet$aws:ec2/launchTemplate:LaunchTemplate::vision-trainers-lt"]
    assert vpc.provider == prov_urn  # the "::<id>" suffix is stripped
    assert lt.provider == prov_urn  # inherited through the component's providers
    prov = by[prov_urn]
    assert prov.type == "pulumi:providers:aws" and prov.custom and prov.provider is None
    assert prov.inputs["region"] == "us-east-1"
    # Provider config travels JSON-encoded, exactly as the engine receives it.
    assert json.loads(prov.inputs["defaultTags"]) == {"tags": {"team": "vision"}}
    assert run.providers() == [prov]


def test_inputs_are_camel_case_wire_values(run: ProgramRun) -> None:
    by = run.by_urn()
    vpc = by[P + "aifactory:test:Cluster$aws:ec2/vpc:Vpc::vision-vpc"]
    assert vpc.inputs["cidrBlock"] == "10.40.0.0/16"
    assert vpc.inputs["enableDnsSupport"] is True
    assert "cidr_block" not in vpc.inputs
    assert vpc.inputs["tags"] == {"owner": "alice"}  # secret unwrapped
    lt = by[P + "aifactory:test:Cluster$aifactory:test:Fleet$aws:ec2/launchTemplate:LaunchTemplate::vision-trainers-lt"]
    assert lt.inputs["instanceType"] == "p5.48xlarge"
    assert lt.inputs["metadataOptions"] == {"httpTokens": "required"}
    assert lt.inputs["description"] == UNKNOWN and is_unknown(lt.inputs["description"])
    subnet = by[P + "aifactory:test:Cluster$aws:ec2/subnet:Subnet::vision-subnet"]
    assert subnet.inputs["vpcId"] == "vision-vpc_id"  # mocks answer ID <name>_id


def test_protect_and_dependencies(run: ProgramRun) -> None:
    by = run.by_urn()
    vpc_urn = P + "aifactory:test:Cluster$aws:ec2/vpc:Vpc::vision-vpc"
    vpc, subnet = by[vpc_urn], by[P + "aifactory:test:Cluster$aws:ec2/subnet:Subnet::vision-subnet"]
    assert vpc.protect is True and subnet.protect is False
    assert vpc.retain_on_delete is False
    assert vpc_urn in subnet.dependencies
    assert subnet.property_dependencies["vpcId"] == [vpc_urn]
    assert subnet.property_dependencies["cidrBlock"] == []
    lt = by[P + "aifactory:test:Cluster$aifactory:test:Fleet$aws:ec2/launchTemplate:LaunchTemplate::vision-trainers-lt"]
    assert lt.property_dependencies["description"] == [vpc_urn]


def test_stack_outputs_and_json(run: ProgramRun) -> None:
    assert run.outputs == {"vpcId": "vision-vpc_id", "facility": "vision"}
    doc = run.to_json()
    json.dumps(doc)  # plain JSON all the way down
    assert set(doc["resources"][1]) == {
        "urn", "type", "name", "parent", "provider", "custom", "protect", "inputs", "dependencies",
        "propertyDependencies",
    }
    again = [RecordedResource.from_json(r).to_json() for r in doc["resources"]]
    assert again == doc["resources"]


def test_state_is_reset_between_runs(run: ProgramRun) -> None:
    second = run_program(program, project=PROJECT, stack=STACK, config=facility_config())
    assert second.to_json() == run.to_json()
    other = run_program(program, project="other", stack="prod", config=facility_config("audio", "us-west-2"))
    urns = [r.urn for r in other.resources]
    assert all(u.startswith("urn:pulumi:prod::other::") for u in urns)
    assert not any("vision" in u for u in urns)
    assert "urn:pulumi:prod::other::aifactory:test:Cluster::audio" in urns
    prov = other.by_urn()["urn:pulumi:prod::other::aifactory:test:Cluster$pulumi:providers:aws::audio-aws"]
    assert prov.inputs["region"] == "us-west-2"
    assert other.outputs["facility"] == "audio"


def test_unknown_ids_like_a_fresh_stack_preview() -> None:
    fresh = run_program(program, project=PROJECT, stack=STACK, config=facility_config(), known_ids=False)
    subnet = fresh.by_urn()[P + "aifactory:test:Cluster$aws:ec2/subnet:Subnet::vision-subnet"]
    assert subnet.inputs["vpcId"] == UNKNOWN
    assert fresh.outputs["vpcId"] == UNKNOWN


class Boom(Exception):
    pass


def test_program_errors_propagate_and_do_not_poison_the_next_run() -> None:
    def failing() -> None:
        aws.ec2.Vpc("before-the-error", cidr_block="10.0.0.0/16")
        raise Boom("the program failed")

    with pytest.raises(Boom, match="the program failed"):
        run_program(failing, project=PROJECT, stack=STACK, config={})

    def failing_in_apply() -> None:
        vpc = aws.ec2.Vpc("v", cidr_block="10.0.0.0/16")
        vpc.id.apply(lambda _: (_ for _ in ()).throw(Boom("inside an apply")))

    with pytest.raises(Boom, match="inside an apply"):
        run_program(failing_in_apply, project=PROJECT, stack=STACK, config={})

    ok = run_program(program, project=PROJECT, stack=STACK, config=facility_config())
    assert len(ok.resources) == 7


def test_missing_config_is_the_sdk_error() -> None:
    with pytest.raises(pulumi.ConfigMissingError):
        run_program(program, project=PROJECT, stack=STACK, config={})


def test_duplicate_urn_is_refused_like_the_engine() -> None:
    def twice() -> None:
        aws.ec2.Vpc("same", cidr_block="10.0.0.0/16")
        aws.ec2.Vpc("same", cidr_block="10.1.0.0/16")

    with pytest.raises(Exception, match="Duplicate resource URN"):
        run_program(twice, project=PROJECT, stack=STACK, config={})


def test_invokes_are_answered_empty_and_recorded() -> None:
    seen = {}

    def with_invoke() -> None:
        zones = aws.get_availability_zones(state="available")
        seen["names"] = zones.names

    r = run_program(with_invoke, project=PROJECT, stack=STACK, config={})
    assert r.invokes == ["aws:index/getAvailabilityZones:getAvailabilityZones"]
    assert seen["names"] is None


def test_program_from_a_path(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text("CIDR = '10.9.0.0/16'\n")
    (tmp_path / "__main__.py").write_text(
        "import pulumi, pulumi_aws as aws\n"
        "import helper\n"
        "cfg = pulumi.Config('aifactory').require_object('facility')\n"
        "aws.ec2.Vpc(cfg['name'] + '-vpc', cidr_block=helper.CIDR)\n"
        "pulumi.export('cwd', __import__('os').getcwd())\n"
    )
    before_path, before_cwd = list(sys.path), os.getcwd()
    r = run_program(tmp_path / "__main__.py", project=PROJECT, stack=STACK, config=facility_config("path"))
    assert sys.path == before_path and os.getcwd() == before_cwd
    vpc = r.by_urn()[P + "aws:ec2/vpc:Vpc::path-vpc"]
    assert vpc.parent == STACK_URN and vpc.provider is None
    assert vpc.inputs == {"cidrBlock": "10.9.0.0/16"}
    assert r.outputs["cwd"] == str(tmp_path.resolve())
    sys.modules.pop("helper", None)


def test_nothing_leaks_into_the_caller() -> None:
    from pulumi.runtime import settings

    def in_fresh_thread(fn):
        out: list = []
        t = threading.Thread(target=lambda: out.append(fn()))
        t.start()
        t.join()
        return out[0]

    import asyncio

    before = (in_fresh_thread(settings.get_monitor), settings.get_monitor(), settings.get_root_resource())
    run_program(program, project=PROJECT, stack=STACK, config=facility_config())
    after = (in_fresh_thread(settings.get_monitor), settings.get_monitor(), settings.get_root_resource())
    assert after == before

    def caller_keeps_its_event_loop() -> bool:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            run_program(program, project=PROJECT, stack=STACK, config=facility_config())
            return asyncio.get_event_loop() is loop
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    assert in_fresh_thread(caller_keeps_its_event_loop)
    assert pulumi.runtime.get_config("aifactory:facility") is None


def test_async_programs_and_callers_inside_an_event_loop() -> None:
    import asyncio

    async def async_program() -> None:
        await asyncio.sleep(0)
        aws.ec2.Vpc("async-vpc", cidr_block="10.0.0.0/16")

    async def caller() -> ProgramRun:
        return run_program(async_program, project=PROJECT, stack=STACK, config={})

    # asyncio.run leaves its thread with no current event loop; keep that off the main thread.
    out: list[ProgramRun] = []
    t = threading.Thread(target=lambda: out.append(asyncio.run(caller())))
    t.start()
    t.join()
    r = out[0]
    assert [x.urn for x in r.custom_resources()] == [P + "aws:ec2/vpc:Vpc::async-vpc"]


def test_custom_mocks_answer_registrations() -> None:
    from pulumi.runtime import Mocks

    class WithArn(Mocks):
        def new_resource(self, args):
            return f"{args.name}-physical", {**args.inputs, "arn": f"arn:aws:ec2:::{args.name}"}

        def call(self, args):
            return {}

    r = run_program(program, project=PROJECT, stack=STACK, config={"aifactory:facility": {"name": "m", "region": "us-east-1"}}, mocks=WithArn())
    lt = next(x for x in r.resources if x.type == "aws:ec2/launchTemplate:LaunchTemplate")
    assert lt.inputs["description"] == "arn:aws:ec2:::m-vpc"
    assert r.outputs["vpcId"] == "m-vpc-physical"
