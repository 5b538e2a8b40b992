"""The component providers, driven over their real gRPC interface as the Pulumi engine drives them.

One provider process per cloud for the whole module (`providers/aifactory-<cloud>`, started as the
Python language host starts a plugin), and one engine-side server: the offline engine's recording
monitor served as a gRPC ResourceMonitor. `GetSchema` must describe every component with typed
inputs (required ones marked) and outputs; `Construct` must register exactly the resources (types,
names, parents, inputs, dependencies, aliases) the same component registers in-process.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import grpc
import pytest
import yaml

from pulumi.provider.experimental.util import camel_case

from aifactory import stackfile
from aifactory.components import aws, azure, gcp
from tests.harness import FakeCloud, run
from tests.provider_host import ROOT, EngineServer, ProviderProcess, comparable, construct
from tests.test_aws_components import aws_outputs
from tests.test_azure_components import azure_cloud
from tests.test_gcp_components import gcp_outputs

CLOUDS = ("aws", "azure", "gcp")
KINDS = ("Facility", "ClusterNetwork", "GpuFleet", "ParallelFilesystem", "BudgetGuard")
MODULES = {"aws": aws, "azure": azure, "gcp": gcp}
MOCKS: dict[str, Callable[[], Any]] = {
    "aws": lambda: FakeCloud(aws_outputs),
    "azure": lambda: azure_cloud(preview=False),
    "gcp": lambda: FakeCloud(gcp_outputs),
}
STACKS = {"aws": "vision-prod", "azure": "speech-prod", "gcp": "llm-prod"}
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBh6Y0bJ1mTRXzmxW0ySjX0Jq8I0LHo0k8z9pI5j8Qwe lab@example.com"
GCP_NET = "projects/ml-research-prod/global/networks/lab-net-0"
GCP_SUB = "projects/ml-research-prod/regions/us-central1/subnetworks/lab-sub-{}"

# Every component alone, linked to the others by plain IDs, as a program in another language uses it.
CASES: dict[str, dict[str, dict]] = {
    "aws": {
        "ClusterNetwork": {"region": "us-west-2", "cidr": "10.50.0.0/16", "zone": "usw2-az2", "nat": True,
                           "tags": {"team": "lab"}},
        "GpuFleet": {"instance_type": "p5.48xlarge", "nodes": 2, "zone": "us-west-2b", "capacity": "capacity-block",
                     "reservation_id": "cr-0bbbbbbbbbbbbbbbb", "subnet_id": "subnet-0abc", "security_group_id": "sg-0abc",
                     "filesystems": [{"dns_name": "fs-1.fsx.us-west-2.amazonaws.com", "mount_name": "abcdefgh"}],
                     "max_nodes_per_group": 1, "tags": {"team": "lab"}},
        "ParallelFilesystem": {"capacity_gib": 2400, "throughput_mbps_per_tib": 125, "zone": "us-west-2b",
                               "vpc_id": "vpc-0abc", "cluster_security_group_id": "sg-0abc",
                               "subnet_id": "subnet-0def", "data_repository": "s3://lab-data/train"},
        "BudgetGuard": {"monthly_usd": 25000.5, "alert_emails": ["ml@example.com"], "thresholds_pct": [50, 90],
                        "facility": "lab", "enforce": "stop", "stop_group_names": ["lab-trainers"]},
    },
    "azure": {
        "ClusterNetwork": {"region": "westeurope", "cidr": "10.9.0.0/20", "resource_group_name": "lab-rg",
                           "zone": "1", "nat": True},
        "GpuFleet": {"instance_type": "Standard_ND96isr_H100_v5", "nodes": 120, "resource_group_name": "lab-rg",
                     "region": "westeurope", "subnet_id": "/subscriptions/s/resourceGroups/lab-rg/providers/"
                     "Microsoft.Network/virtualNetworks/lab-vnet/subnets/compute", "admin_username": "lab",
                     "ssh_public_keys": [SSH_KEY], "capacity": "spot", "zone": "1",
                     "filesystems": [{"name": "scratch", "mount_path": "/mnt/scratch", "mgs_address": "10.9.8.4"}]},
        "ParallelFilesystem": {"kind": "lustre", "capacity_gib": 16 * 1024, "throughput_mbps_per_tib": 125,
                               "resource_group_name": "lab-rg", "region": "westeurope", "subnet_id": "subnet-id",
                               "zone": "1", "data_repository": "https://labdata.blob.core.windows.net/train/v1"},
        "BudgetGuard": {"monthly_usd": 90000, "alert_emails": ["ml@example.com"], "thresholds_pct": [50, 80, 100],
                        "scope": "/subscriptions/s/resourceGroups/lab-rg", "resource_group_name": "lab-rg",
                        "start_date": "2026-12-01T00:00:00Z"},
    },
    "gcp": {
        "ClusterNetwork": {"region": "us-central1", "zone": "us-central1-a", "cidr": "10.60.0.0/16",
                           "instance_type": "a3-megagpu-8g", "project": "ml-research-prod",
                           "private_service_access": True, "nat": True},
        "GpuFleet": {"instance_type": "a3-highgpu-8g", "nodes": 3, "zone": "us-central1-a",
                     "network_fabric": "gpudirect-tcpx", "host_subnetworks": [GCP_SUB.format(0)], "host_network": GCP_NET,
                     "gpu_subnetworks": [GCP_SUB.format(i) for i in range(1, 5)],
                     "filesystems": [{"kind": "lustre", "mount_path": "/mnt/scratch",
                                      "mount_source": "10.0.0.2@tcp:/scratch"}]},
        "ParallelFilesystem": {"kind": "filestore", "capacity_gib": 2560, "zone": "us-central1-a",
                               "network_id": GCP_NET, "network_name": "lab-net-0", "psa_connection_id": "psa-1",
                               "reserved_ip_range": "lab-psa-range", "client_cidr": "10.60.0.0/20"},
        "BudgetGuard": {"monthly_usd": 1234.5, "alert_emails": ["ml@example.com"], "billing_account":
                        "012345-6789AB-CDEF01", "project": "ml-research-prod", "facility": "lab"},
    },
}


@pytest.fixture(scope="module")
def engine():
    server = EngineServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def providers(engine):
    """All three providers, started together so their start-up overlaps."""
    started: dict[str, ProviderProcess] = {}
    try:
        for cloud in CLOUDS:
            started[cloud] = ProviderProcess(cloud, engine.address)
        yield started
    finally:
        for process in started.values():
            process.stop()


@pytest.fixture(scope="module")
def schemas(providers):
    return {cloud: providers[cloud].schema() for cloud in CLOUDS}


def wire(value: Any, spec: dict, schema: dict) -> Any:
    """A Python value as a program in another language sends it: property names as the schema
    spells them (camelCase), map keys untouched."""
    ref = spec.get("$ref", "")
    if ref.startswith("#/types/"):
        return wire_object(value, schema["types"][ref.removeprefix("#/types/")]["properties"], schema)
    if spec.get("type") == "array":
        return [wire(v, spec["items"], schema) for v in value]
    if spec.get("type") == "object" and "additionalProperties" in spec:
        return {k: wire(v, spec["additionalProperties"], schema) for k, v in value.items()}
    return value


def wire_object(value: dict, properties: dict, schema: dict) -> dict:
    out = {}
    for key, item in value.items():
        name = camel_case(key)
        assert name in properties, f"{key} is not in the schema"
        out[name] = wire(item, properties[name], schema)
    return out


def facility_fields(cloud: str) -> dict:
    return copy.deepcopy(stackfile.read(STACKS[cloud]).facility)


# ------------------------------------------------------------------------------------- schema


@pytest.mark.parametrize("cloud", CLOUDS)
def test_schema_names_every_component_in_module_index(schemas, cloud):
    schema = schemas[cloud]
    assert schema["name"] == f"aifactory-{cloud}"
    assert set(schema["resources"]) == {f"aifactory-{cloud}:index:{k}" for k in KINDS}
    assert all(r["isComponent"] for r in schema["resources"].values())


@pytest.mark.parametrize("cloud", CLOUDS)
def test_schema_types_every_input_and_output(schemas, cloud):
    schema = schemas[cloud]

    def typed(spec: dict) -> bool:
        if "$ref" in spec:
            ref = spec["$ref"]
            return ref == "pulumi.json#/Any" or ref.removeprefix("#/types/") in schema["types"]
        kind = spec.get("type")
        if kind == "array":
            return typed(spec["items"])
        if kind == "object":
            return typed(spec["additionalProperties"])
        return kind in ("string", "integer", "number", "boolean")

    for token, resource in schema["resources"].items():
        inputs, outputs = resource["inputProperties"], resource["properties"]
        assert inputs and outputs, token
        assert set(resource["requiredInputs"]) <= set(inputs), token
        assert all(typed(p) for p in inputs.values()), token
        assert all(typed(p) for p in outputs.values()), token
    for token, type_ in schema["types"].items():
        assert all(typed(p) for p in type_["properties"].values()), token


@pytest.mark.parametrize(
    "cloud, kind, required, types",
    [
        ("aws", "GpuFleet", {"instanceType", "nodes", "zone", "subnetId", "securityGroupId"},
         {"nodes": "integer", "instanceType": "string", "capacity": "string"}),
        ("aws", "ParallelFilesystem", {"capacityGib", "throughputMbpsPerTib", "zone", "vpcId",
                                       "clusterSecurityGroupId", "subnetId"}, {"capacityGib": "integer"}),
        ("azure", "GpuFleet", {"instanceType", "nodes", "resourceGroupName", "region", "subnetId", "adminUsername",
                               "sshPublicKeys"}, {"nodes": "integer", "sshPublicKeys": "array"}),
        ("gcp", "GpuFleet", {"instanceType", "nodes", "zone", "networkFabric", "hostSubnetworks"},
         {"nodes": "integer", "hostSubnetworks": "array"}),
        ("gcp", "ParallelFilesystem", {"kind", "capacityGib", "zone", "networkId", "psaConnectionId"},
         {"capacityGib": "integer"}),
        ("aws", "BudgetGuard", {"monthlyUsd", "alertEmails"}, {"monthlyUsd": "number", "thresholdsPct": "array"}),
    ],
)
def test_schema_marks_required_inputs_and_their_types(schemas, cloud, kind, required, types):
    resource = schemas[cloud]["resources"][f"aifactory-{cloud}:index:{kind}"]
    assert set(resource["requiredInputs"]) == required
    assert {name: resource["inputProperties"][name]["type"] for name in types} == types


@pytest.mark.parametrize("cloud", CLOUDS)
def test_facility_takes_the_stack_config_fields(schemas, cloud):
    schema = schemas[cloud]
    facility = schema["resources"][f"aifactory-{cloud}:index:Facility"]
    own = {"aws": "aws", "azure": "azure", "gcp": "gcp"}[cloud]
    assert set(facility["inputProperties"]) == {
        "name", "team", "cloud", "region", "zone", "tags", "fleets", "network", "filesystems", "budget", own,
    }
    assert set(facility["requiredInputs"]) == {"name", "team", "region"}
    fleet = schema["types"][f"aifactory-{cloud}:index:FacilityFleet"]
    assert set(fleet["required"]) == {"name", "nodes"}
    assert fleet["properties"]["nodes"]["type"] == "integer"
    assert facility["inputProperties"]["fleets"]["items"]["$ref"] == f"#/types/aifactory-{cloud}:index:FacilityFleet"
    assert set(facility["properties"]) == {"region", "zone", "networkId", "fleetGroups", "filesystemMountCommands",
                                           "budgetName"}
    assert set(facility["required"]) == {"region", "networkId", "fleetGroups", "filesystemMountCommands"}


# ------------------------------------------------------------------------------------- construct


def in_process(cloud: str, kind: str, name: str, args: dict):
    component = getattr(MODULES[cloud], kind)
    return run(lambda: component(name, copy.deepcopy(args)), mocks=MOCKS[cloud]())


def construct_through(providers, engine, schemas, cloud: str, kind: str, name: str, args: dict):
    token = f"aifactory-{cloud}:index:{kind}"
    inputs = wire_object(args, schemas[cloud]["resources"][token]["inputProperties"], schemas[cloud])
    return construct(providers[cloud], engine, token, name, inputs, MOCKS[cloud]())


@pytest.mark.parametrize("cloud, kind", [(c, k) for c in CLOUDS for k in CASES[c]])
def test_construct_registers_what_the_component_registers_in_process(providers, engine, schemas, cloud, kind):
    args = CASES[cloud][kind]
    name = f"lab-{kind.lower()}"
    remote = construct_through(providers, engine, schemas, cloud, kind, name, args)
    local = in_process(cloud, kind, name, args)
    expected = comparable(local.resources)
    assert len(expected) > 1
    assert comparable(remote.resources) == expected
    component = next(r for r in local.resources if r.type == f"aifactory-{cloud}:index:{kind}")
    assert remote.urn == component.urn
    required = schemas[cloud]["resources"][f"aifactory-{cloud}:index:{kind}"]["required"]
    assert set(required) <= set(remote.state)


def test_construct_keeps_the_dependency_an_id_came_with(providers, engine, schemas):
    """An ID a program passes from another resource's output reaches the children as a dependency
    on that resource, so the engine orders them after it."""
    subnet = "urn:pulumi:test::aifactory::aws:ec2/subnet:Subnet::lab-compute"
    token = "aifactory-aws:index:GpuFleet"
    args = {**CASES["aws"]["GpuFleet"], "max_nodes_per_group": 10}
    inputs = wire_object(args, schemas["aws"]["resources"][token]["inputProperties"], schemas["aws"])
    remote = construct(providers["aws"], engine, token, "lab-deps", inputs, MOCKS["aws"](),
                       input_dependencies={"subnetId": [subnet]})
    (group,) = [r for r in remote.resources if r.type == "aws:autoscaling/group:Group"]
    (template,) = [r for r in remote.resources if r.type == "aws:ec2/launchTemplate:LaunchTemplate"]
    assert group.inputs["vpcZoneIdentifiers"] == ["subnet-0abc"]
    assert group.property_dependencies["vpcZoneIdentifiers"] == [subnet]
    assert subnet in template.property_dependencies["networkInterfaces"]
    assert subnet in group.dependencies


def test_construct_refuses_an_output_where_policies_read_a_literal(providers, engine, schemas):
    token = "aifactory-aws:index:GpuFleet"
    inputs = wire_object(CASES["aws"]["GpuFleet"], schemas["aws"]["resources"][token]["inputProperties"], schemas["aws"])
    with pytest.raises(grpc.RpcError) as refused:
        construct(providers["aws"], engine, token, "lab-unknown", inputs, MOCKS["aws"](),
                  input_dependencies={"instanceType": ["urn:pulumi:test::aifactory::random:index/randomShuffle:RandomShuffle::t"]})
    assert "GpuFleetArgs.instance_type must be a plain value, not an output" in refused.value.details()
    assert engine.recorder.records == []


@pytest.mark.parametrize("cloud", CLOUDS)
def test_construct_builds_a_whole_facility_from_the_stack_config_fields(providers, engine, schemas, cloud):
    fields = facility_fields(cloud)
    remote = construct_through(providers, engine, schemas, cloud, "Facility", fields["name"], fields)
    local = run(lambda: MODULES[cloud].Facility(fields["name"], copy.deepcopy(fields)), mocks=MOCKS[cloud]())
    assert comparable(remote.resources) == comparable(local.resources)
    assert remote.state["fleetGroups"] == {f["name"]: [f"{fields['name']}-{f['name']}"] for f in fields["fleets"]}
    assert remote.state["region"] == fields["region"]


@pytest.mark.parametrize("cloud", CLOUDS)
def test_construct_refuses_a_bad_facility_by_config_path_before_registering(providers, engine, schemas, cloud):
    fields = facility_fields(cloud)
    fields["fleets"][0]["nodes"] = 0
    fields["region"] = "mars-1"
    with pytest.raises(grpc.RpcError) as refused:
        construct_through(providers, engine, schemas, cloud, "Facility", fields["name"], fields)
    message = refused.value.details()
    assert "aifactory:facility.fleets[0].nodes: must be at least 1" in message
    assert engine.recorder.records == []


# ------------------------------------------------------------------------------------- examples


def test_yaml_example_uses_only_properties_the_schema_has(schemas):
    program = yaml.safe_load((ROOT / "examples" / "yaml" / "Pulumi.yaml").read_text())
    schema = schemas["aws"]
    used = [r for r in program["resources"].values() if r["type"].startswith("aifactory-aws:")]
    assert used
    for resource in used:
        token = resource["type"]
        assert token in schema["resources"], token
        check_properties(resource.get("properties", {}), schema["resources"][token]["inputProperties"], schema, token)


def check_properties(values: dict, properties: dict, schema: dict, where: str) -> None:
    for name, value in values.items():
        assert name in properties, f"{where}.{name} is not in the schema"
        spec = properties[name]
        ref = spec.get("$ref", "").removeprefix("#/types/")
        if ref in schema["types"] and isinstance(value, dict):
            check_properties(value, schema["types"][ref]["properties"], schema, f"{where}.{name}")
        elif spec.get("type") == "array" and isinstance(value, list):
            item_ref = spec["items"].get("$ref", "").removeprefix("#/types/")
            for i, item in enumerate(value):
                if item_ref in schema["types"] and isinstance(item, dict):
                    check_properties(item, schema["types"][item_ref]["properties"], schema, f"{where}.{name}[{i}]")
