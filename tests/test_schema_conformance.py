"""Every resource every shipped and example stack registers conforms to its provider's schema as the
installed SDKs declare it (property names at every depth, required inputs, enum members, value
types), so a misspelt nested input fails here instead of at `pulumi up`; and the check can fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from aifactory import stackfile
from aifactory.preview import PROGRAM, program_config
from aifactory.recording import run_program
from tests.provider_schema import problems

ROOT = Path(__file__).resolve().parent.parent
STACKS = sorted([*ROOT.glob("stacks/Pulumi.*.yaml"), *ROOT.glob("examples/Pulumi.*.yaml")])


def registered(path: Path):
    stack_file = stackfile.read(str(path))
    run = run_program(PROGRAM, project="aifactory", stack=stack_file.name, config=program_config(stack_file),
                      known_ids=False)
    return [r for r in run.resources if r.custom]


@pytest.fixture(scope="module")
def vision_prod():
    return registered(ROOT / "stacks/Pulumi.vision-prod.yaml")


@pytest.mark.parametrize("path", STACKS, ids=[p.stem.removeprefix("Pulumi.") for p in STACKS])
def test_every_registered_resource_conforms_to_its_provider_schema(path):
    resources = registered(path)
    assert len(resources) > 10
    found = [f"{r.type} {r.name}: {p}" for r in resources for p in problems(r.type, r.inputs)]
    assert found == []


def test_a_misspelt_nested_input_is_reported(vision_prod):
    template = next(r for r in vision_prod if r.type == "aws:ec2/launchTemplate:LaunchTemplate")
    inputs = dict(template.inputs)
    options = dict(inputs["metadataOptions"])
    options["httpToken"] = options.pop("httpTokens")
    inputs["metadataOptions"] = options
    assert problems(template.type, template.inputs) == []
    assert problems(template.type, inputs) == [
        "metadataOptions.httpToken: not a property of LaunchTemplateMetadataOptionsArgs"]
    inputs = dict(template.inputs)
    interfaces = [dict(i) for i in inputs["networkInterfaces"]]
    interfaces[3]["interfacetype"] = interfaces[3].pop("interfaceType")
    inputs["networkInterfaces"] = interfaces
    assert problems(template.type, inputs) == [
        "networkInterfaces[3].interfacetype: not a property of LaunchTemplateNetworkInterfaceArgs "
        "(did you mean interfaceType?)"]


def test_a_wrong_type_and_a_missing_required_input_are_reported(vision_prod):
    group = next(r for r in vision_prod if r.type == "aws:autoscaling/group:Group")
    inputs = {k: v for k, v in group.inputs.items() if k != "maxSize"}
    inputs["desiredCapacity"] = "sixteen"
    assert problems(group.type, inputs) == [
        "desiredCapacity: the string 'sixteen' where the schema takes int",
        "maxSize: required by GroupArgs but absent",
    ]


def test_a_value_outside_a_closed_enum_is_reported():
    inputs = {"resourceGroupName": "rg", "sku": {"name": "Standard_ND96isr_H100_v5"},
              "upgradePolicy": {"mode": "Automatc"}, "orchestrationMode": "Uniform"}
    assert problems("azure-native:compute:VirtualMachineScaleSet", inputs) == [
        "upgradePolicy.mode: 'Automatc' is not one of UpgradeMode (Automatic, Manual, Rolling)"]
    inputs["upgradePolicy"] = {"mode": "Automatic"}
    assert problems("azure-native:compute:VirtualMachineScaleSet", inputs) == []


def test_a_type_no_sdk_declares_is_reported():
    assert problems("aws:ec2/launchTemplates:LaunchTemplate", {}) == [
        "aws:ec2/launchTemplates:LaunchTemplate: no installed provider SDK declares this resource type"]
