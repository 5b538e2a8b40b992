"""The pack's request-time shortcuts change no verdict.

The shipped pack (`policies/`) converts a request's properties field by field when a policy reads
them and builds a stack request's resources once for all stack policies
(`aifactory.policies.conversion`, `aifactory.policies.stack_once`). A second pack with the same
policies and prices runs on the SDK exactly as installed. Both are driven over gRPC with the same
requests -- the shipped and example stacks, hand-built facilities of every cloud with unknown
values, secrets and broken values -- and must answer the same violations, messages, URNs and levels.
"""

from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from google.protobuf import json_format, struct_pb2
from pulumi_policy import deserialize, proxy
from pulumi_policy.proxy import UnknownValueError

from aifactory import stackfile
from aifactory.analyzer import PolicyPackClient
from aifactory.inventory import plain
from aifactory.policies import conversion
from aifactory.policies.stack_once import sdk_method_matches
from aifactory.preview import PROGRAM, program_config
from aifactory.recording import RecordedResource, run_program
from tests.policy_fixtures import U, aws_facility, azure_facility, find, gcp_facility, replace, scaled_stack

ROOT = Path(__file__).resolve().parent.parent
PACK = ROOT / "policies"
SECRET = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}

PLAIN_SDK_MAIN = textwrap.dedent(
    """
    from pathlib import Path

    from pulumi_policy import EnforcementLevel, PolicyPack

    from aifactory.policies import all_policies
    from aifactory.policies.cost import use_bundled_pricing

    use_bundled_pricing(Path({pricing!r}))
    PolicyPack("aifactory", policies=all_policies(), enforcement_level=EnforcementLevel.MANDATORY)
    """
)


@pytest.fixture(scope="module")
def packs(tmp_path_factory):
    plain_pack = tmp_path_factory.mktemp("plain-sdk-pack")
    (plain_pack / "PulumiPolicy.yaml").write_text("runtime: python\ndescription: the pack on the SDK as installed\n")
    (plain_pack / "__main__.py").write_text(PLAIN_SDK_MAIN.format(pricing=str(PACK / "config" / "pricing.yaml")))
    with PolicyPackClient(PACK, timeout=120) as ours, PolicyPackClient(plain_pack, timeout=120) as reference:
        yield ours, reference


def verdicts(client: PolicyPackClient, records: list[RecordedResource]) -> list[tuple]:
    providers = {r.urn: r for r in records if r.is_provider}
    found = [v for r in records for v in client.analyze(r, providers)]
    found += client.analyze_stack(records, providers)
    return [(v.policy, v.enforcement, v.urn, v.message, v.severity) for v in found]


def shipped_stacks() -> list[str]:
    names = [p.name[len("Pulumi."):-len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml")]
    names += [str(p) for p in sorted((ROOT / "examples").glob("Pulumi.*.yaml"))]
    return sorted(names)


@pytest.mark.parametrize("stack", shipped_stacks())
def test_shipped_and_example_stacks_get_the_same_verdicts(packs, stack):
    stack_file = stackfile.read(stack)
    records = run_program(PROGRAM, project="aifactory", stack=stack_file.name, config=program_config(stack_file),
                          known_ids=False).resources
    ours, reference = packs
    assert verdicts(ours, records) == verdicts(reference, records)


def _secret(value):
    return {**SECRET, "value": value}


def variants() -> dict[str, list[dict]]:
    aws, azure, gcp = aws_facility(), azure_facility(), gcp_facility()
    out = {"aws": aws, "azure": azure, "gcp": gcp, "scaled": scaled_stack(120),
           "aws over the cap": aws_facility(nodes=5000.0), "gcp over the cap": gcp_facility(nodes=4000.0)}
    out["aws unknown type"] = replace(aws, "aws:ec2/launchTemplate:LaunchTemplate", instanceType=U)
    out["aws unknown size"] = replace(aws, "aws:autoscaling/group:Group", desiredCapacity=U, maxSize=U)
    out["azure unknown sku"] = replace(azure, "azure-native:compute:VirtualMachineScaleSet", sku=U)
    out["gcp unknown machine"] = replace(gcp, "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate", machineType=U)
    out["aws broken size"] = replace(aws, "aws:autoscaling/group:Group", maxSize="many")
    secret = copy.deepcopy(aws)
    lt = find(secret, "aws:ec2/launchTemplate:LaunchTemplate")
    lt["inputs"]["instanceType"] = _secret(lt["inputs"]["instanceType"])
    lt["inputs"]["userData"] = _secret("IyEvYmluL2Jhc2g=")
    out["aws secrets"] = secret
    return out


@pytest.mark.parametrize("name", list(variants()))
def test_hand_built_programs_get_the_same_verdicts(packs, name):
    records = [RecordedResource.from_json(r) for r in variants()[name]]
    ours, reference = packs
    found = verdicts(ours, records)
    assert found == verdicts(reference, records)
    if "unknown" in name or "broken" in name or "over the cap" in name:
        assert any(level == "mandatory" for _, level, *_ in found)  # the variant really is judged


def test_team_config_gives_the_same_verdicts(packs):
    records = [RecordedResource.from_json(r) for r in aws_facility(nodes=900.0)]
    ours, reference = packs
    config = json.loads((PACK / "config" / "llm.json").read_text())
    for client in packs:
        client.configure(config)
    try:
        assert verdicts(ours, records) == verdicts(reference, records)
    finally:
        for client in packs:
            client.configure(None)


def test_analyze_stack_is_replaced_only_over_the_sdk_method_it_was_written_from():
    # A pulumi-policy upgrade that changes AnalyzeStack fails here: read the new method, carry its
    # changes into aifactory.policies.stack_once and record its digest there.
    assert sdk_method_matches()


# ---------------------------------------------------------------- the lazy mapping itself

VALUES = {
    "name": "gpu",
    "count": 8.0,
    "ratio": 0.5,
    "on": True,
    "nothing": None,
    "unknown": "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
    "nested": {"list": [1.0, {"deep": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}, [True]], "empty": {}},
    "secret": _secret({"inner": ["a", "b"]}),
    "tags": [{"key": "team", "value": "llm"}],
}


def _sdk_props(struct):
    return proxy.unknown_checking_proxy(deserialize.deserialize_properties(json_format.MessageToDict(struct)))


def _lazy_props(struct):
    sdk = conversion._Sdk(json_format.MessageToDict, deserialize._deserialize_property, proxy._proxy_helper,
                          proxy._raise_if_unknown)
    return conversion.LazyProperties(struct, sdk)


def _read(props, key):
    try:
        return ("value", plain(props[key]))
    except UnknownValueError as e:
        return ("unknown", e.message)


def test_lazy_properties_read_as_the_sdk_proxy_does():
    struct = struct_pb2.Struct()
    struct.update(VALUES)
    sdk, lazy = _sdk_props(struct), _lazy_props(struct)
    assert sorted(lazy) == sorted(sdk) and len(lazy) == len(sdk)
    for key in VALUES:
        assert _read(lazy, key) == _read(sdk, key), key
    assert _read(lazy, "nested")[0] == "value"
    with pytest.raises(UnknownValueError):
        lazy["nested"]["list"][1]["deep"]
    assert {k: plain(v) for k, v in lazy["__target"].items()} == {k: plain(v) for k, v in sdk["__target"].items()}
    assert dict(plain(lazy)) == plain(sdk)  # the plain view: every field, unknowns as sentinels
    with pytest.raises(KeyError):
        lazy["absent"]
    assert "absent" not in lazy and "name" in lazy


def test_lazy_properties_convert_only_the_fields_read():
    struct = struct_pb2.Struct()
    struct.update(VALUES)
    converted = []

    def counting(message):
        converted.append(message)
        return json_format.MessageToDict(message)

    sdk = conversion._Sdk(counting, deserialize._deserialize_property, proxy._proxy_helper, proxy._raise_if_unknown)
    view = plain(conversion.LazyProperties(struct, sdk))
    assert view.get("count") == 8 and view.get("absent") is None and view.get("count") == 8
    assert "name" in view and "absent" not in view
    assert len(converted) == 1  # one field read (twice), one converted; presence and absence convert nothing
    assert "absent" not in struct.fields


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.integers(-2**53, 2**53)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_a_field_converts_as_json_format_converts_it(value):
    message = struct_pb2.Value()
    json_format.ParseDict(value, message)
    assert conversion.value_to_python(message) == json_format.MessageToDict(message)
    assert repr(conversion.value_to_python(message)) == repr(json_format.MessageToDict(message))  # types and order


@pytest.mark.parametrize("number", [float("inf"), float("-inf"), float("nan")])
def test_a_field_json_format_refuses_is_refused(number):
    message = struct_pb2.Value(number_value=number)
    with pytest.raises(ValueError):
        json_format.MessageToDict(message)
    with pytest.raises(ValueError):
        conversion.value_to_python(message)


@pytest.mark.parametrize("size", ["many", True, {"n": 1}, "nan"])
def test_a_node_count_the_pack_cannot_read_fails_closed(packs, size):
    records = [RecordedResource.from_json(r) for r in replace(aws_facility(), "aws:autoscaling/group:Group", maxSize=size)]
    ours, _ = packs
    found = verdicts(ours, records)
    power = [message for policy, level, _, message, _ in found if policy == "power-cap" and level == "mandatory"]
    assert power and "node count of" in power[0] and "(maxSize)" in power[0] and "not a value the gate can read" in power[0]
