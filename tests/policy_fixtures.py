"""Hand-built resources as the engine sends them, and CrossGuard args built the way the SDK builds them.

Resources are dicts in the preview JSON shape (`urn, type, name, inputs, parent, provider,
dependencies, propertyDependencies, protect`), with camelCase inputs, numbers as floats and
unknowns as the recorder's ``"<unknown>"`` -- the shapes `aifactory.recording` records from the
real provider SDKs (checked against a recorded run in tests/test_inventory.py).

`stack_args` / `resource_args` build `pulumi_policy.StackValidationArgs` /
`ResourceValidationArgs` from them exactly as the SDK's analyzer servicer does: properties go
through protobuf Struct -> `json_format.MessageToDict` -> `deserialize_properties` ->
`unknown_checking_proxy`, unknowns travel as the engine's wire sentinel, providers become
`PolicyProviderResource`s, dependencies become `PolicyResource` objects.
"""

from __future__ import annotations

import copy
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import unknown_checking_proxy

STACK = "prod"
PROJECT = "aifactory"
U = "<unknown>"  # aifactory.recording.UNKNOWN
WIRE_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def urn(type_: str, name: str, parent_type: str | None = None) -> str:
    qualified = f"{parent_type}${type_}" if parent_type else type_
    return f"urn:pulumi:{STACK}::{PROJECT}::{qualified}::{name}"


def res(type_: str, name: str, inputs: dict | None = None, *, provider: dict | None = None,
        deps: dict[str, list[dict]] | None = None, protect: bool = False, retain: bool = False) -> dict:
    """One resource; `deps` maps an input key to the resources its value came from."""
    deps = deps or {}
    inputs = dict(inputs or {})
    pdeps = {k: [] for k in inputs}
    for key, sources in deps.items():
        pdeps[key] = [s["urn"] for s in sources]
    flat = []
    for sources in pdeps.values():
        flat += [u for u in sources if u not in flat]
    return {
        "urn": urn(type_, name),
        "type": type_,
        "name": name,
        "parent": None,
        "provider": provider["urn"] if provider else None,
        "custom": True,
        "protect": protect,
        "retainOnDelete": retain,
        "inputs": inputs,
        "dependencies": flat,
        "propertyDependencies": pdeps,
    }


def provider(pkg: str, name: str, **inputs: Any) -> dict:
    return res(f"pulumi:providers:{pkg}", name, inputs)


# --------------------------------------------------------------------------- facilities

TAGS = {"team": "vision", "facility": "vision-prod", "cost-center": "cc-4711", "managed-by": "aifactory"}


def aws_facility(*, nodes: float = 16.0, region: str = "us-east-1", itype: str = "p5.48xlarge",
                 efa: int = 32, capacity: str = "on-demand", budget_usd: str | None = "1000000",
                 lustre_gib: float = 48000.0, placement: bool = True, node_health: bool = True) -> list[dict]:
    """An AWS facility as components/aws registers it: provider with defaultTags, launch template,
    cluster placement group, Auto Scaling group, FSx for Lustre, a cost budget on the facility tag."""
    import json

    prov = provider("aws", "vision-prod", region=region, defaultTags=json.dumps({"tags": TAGS}))
    nics = [{"networkCardIndex": 0.0, "deviceIndex": 0.0, "interfaceType": "efa", "associatePublicIpAddress": "false",
             "subnetId": U, "securityGroups": [U], "deleteOnTermination": "true"}]
    nics += [{"networkCardIndex": float(c), "deviceIndex": 1.0, "interfaceType": "efa-only",
              "associatePublicIpAddress": "false", "subnetId": U, "securityGroups": [U],
              "deleteOnTermination": "true"} for c in range(1, efa)]
    market = {"capacity-block": {"marketType": "capacity-block"},
              "spot": {"marketType": "spot", "spotOptions": {"instanceInterruptionBehavior": "terminate"}}}.get(capacity)
    lt_inputs = {
        "instanceType": itype, "imageId": "resolve:ssm:/aws/service/deeplearning/ami", "networkInterfaces": nics,
        "metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 2.0},
        "blockDeviceMappings": [{"deviceName": "/dev/sda1", "ebs": {"volumeSize": 200.0, "volumeType": "gp3",
                                                                    "encrypted": "true", "deleteOnTermination": "true"}}],
        "tags": {**TAGS, "Name": "vision-prod-trainers-template"},
    }
    if market:
        lt_inputs["instanceMarketOptions"] = market
    if capacity in ("capacity-block", "reservation"):
        lt_inputs["capacityReservationSpecification"] = {"capacityReservationTarget": {"capacityReservationId": "cr-1"}}
    lt = res("aws:ec2/launchTemplate:LaunchTemplate", "vision-prod-trainers-template", lt_inputs, provider=prov)
    out = [prov, lt]
    asg_inputs = {
        "name": "vision-prod-trainers", "minSize": nodes, "maxSize": nodes, "desiredCapacity": nodes,
        "vpcZoneIdentifiers": [U], "launchTemplate": {"id": U, "version": "$Latest"},
        **({"initialLifecycleHooks": [{"name": "aifactory-nodecheck", "defaultResult": "ABANDON",
                                       "lifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
                                       "heartbeatTimeout": 1800.0}]} if node_health else {}),
        "tags": [{"key": k, "value": v, "propagateAtLaunch": True} for k, v in {
            **TAGS, "aifactory:instance-type": itype, "aifactory:capacity": capacity,
            "aifactory:zone": f"{region}a"}.items()],
    }
    deps = {"launchTemplate": [lt]}
    if placement:
        pg = res("aws:ec2/placementGroup:PlacementGroup", "vision-prod-trainers-pg", {"strategy": "cluster"},
                 provider=prov)
        out.append(pg)
        asg_inputs["placementGroup"] = U
        deps["placementGroup"] = [pg]
    out.append(res("aws:autoscaling/group:Group", "vision-prod-trainers", asg_inputs, provider=prov, deps=deps))
    out.append(res("aws:fsx/lustreFileSystem:LustreFileSystem", "vision-prod-scratch",
                   {"storageCapacity": lustre_gib, "perUnitStorageThroughput": 125.0, "deploymentType": "PERSISTENT_2",
                    "subnetIds": U, "tags": {"Name": "scratch"}},
                   provider=prov, protect=True, retain=True))
    if budget_usd is not None:
        out.append(res("aws:budgets/budget:Budget", "vision-prod-budget",
                       {"name": "vision-prod", "budgetType": "COST", "timeUnit": "MONTHLY", "limitAmount": budget_usd,
                        "limitUnit": "USD",
                        "costFilters": [{"name": "TagKeyValue", "values": ["user:facility$vision-prod"]}]},
                       provider=prov))
    return out


def azure_facility(*, nodes: float = 4.0, location: str = "eastus", itype: str = "Standard_ND96isr_H100_v5",
                   single_placement_group: bool = True, ppg: bool = True, budget: float | None = 300000.0,
                   node_health: bool = True) -> list[dict]:
    prov = provider("azure-native", "speech-prod", location=location, subscriptionId="0000-sub")
    tags = {"team": "speech", "facility": "speech-prod", "cost-center": "cc-5120"}
    rg = res("azure-native:resources:ResourceGroup", "speech-prod-rg",
             {"resourceGroupName": "speech-prod", "location": location, "tags": tags}, provider=prov)
    out = [prov, rg]
    vmss_inputs = {
        "vmScaleSetName": "speech-prod-trainers", "resourceGroupName": U, "location": location,
        "sku": {"name": itype, "tier": "Standard", "capacity": nodes}, "orchestrationMode": "Uniform",
        "singlePlacementGroup": single_placement_group, "overprovision": False, "tags": tags,
        "virtualMachineProfile": {
            "priority": "Regular",
            "networkProfile": {"networkInterfaceConfigurations": [{
                "name": "primary", "primary": True, "enableAcceleratedNetworking": True,
                "ipConfigurations": [{"name": "primary", "primary": True, "subnet": {"id": U}}]}]},
            "storageProfile": {"osDisk": {"createOption": "FromImage", "managedDisk": {"storageAccountType": "Premium_LRS"}}},
        },
    }
    if node_health:
        vmss_inputs["automaticRepairsPolicy"] = {"enabled": True, "gracePeriod": "PT30M", "repairAction": "Replace"}
        vmss_inputs["virtualMachineProfile"]["extensionProfile"] = {"extensions": [{
            "name": "ApplicationHealth", "publisher": "Microsoft.ManagedServices", "type": "ApplicationHealthLinux",
            "typeHandlerVersion": "2.0", "settings": {"protocol": "http", "port": 8686.0, "requestPath": "/healthz"}}]}
    deps: dict[str, list[dict]] = {"resourceGroupName": [rg]}
    if ppg:
        group = res("azure-native:compute:ProximityPlacementGroup", "speech-prod-trainers-ppg",
                    {"resourceGroupName": U, "location": location, "tags": tags}, provider=prov,
                    deps={"resourceGroupName": [rg]})
        out.append(group)
        vmss_inputs["proximityPlacementGroup"] = {"id": U}
        deps["proximityPlacementGroup"] = [group]
    out.append(res("azure-native:compute:VirtualMachineScaleSet", "speech-prod-trainers", vmss_inputs,
                   provider=prov, deps=deps))
    out.append(res("azure-native:storagecache:AmlFilesystem", "speech-prod-scratch",
                   {"resourceGroupName": U, "location": location, "sku": {"name": "AMLFS-Durable-Premium-125"},
                    "storageCapacityTiB": 16.0, "filesystemSubnet": U, "tags": tags},
                   provider=prov, deps={"resourceGroupName": [rg]}, protect=True, retain=True))
    if budget is not None:
        out.append(res("azure-native:consumption:Budget", "speech-prod-budget",
                       {"budgetName": "speech-prod", "scope": "/subscriptions/0000-sub/resourceGroups/speech-prod",
                        "amount": budget, "category": "Cost", "timeGrain": "Monthly",
                        "timePeriod": {"startDate": "2026-01-01T00:00:00Z"}}, provider=prov))
    return out


def gcp_facility(*, nodes: float = 8.0, zone: str = "us-central1-a", itype: str = "a3-megagpu-8g",
                 gpu_nics: int = 8, compact: bool = True, budget_units: str | None = "600000",
                 project: str = "llm-prod-training", node_health: bool = True) -> list[dict]:
    import json

    region = zone.rsplit("-", 1)[0]
    labels = {"team": "llm", "facility": "llm-prod", "cost-center": "cc-5120"}
    prov = provider("gcp", "llm-prod", project=project, region=region, zone=zone, defaultLabels=json.dumps(labels))
    out = [prov]
    nets = [res("gcp:compute/network:Network", f"llm-prod-gpunet-{i}", {"mtu": 8244.0, "autoCreateSubnetworks": False},
                provider=prov) for i in range(gpu_nics)]
    out += nets
    tpl_inputs = {
        "region": region, "machineType": itype,
        "networkInterfaces": [{"subnetwork": U, "nicType": "GVNIC", "stackType": "IPV4_ONLY"}
                              for _ in range(1 + gpu_nics)],
        "disks": [{"boot": True, "autoDelete": True, "sourceImage": "ubuntu-accelerator", "diskSizeGb": 200.0}],
        "scheduling": {"provisioningModel": "STANDARD", "automaticRestart": True, "onHostMaintenance": "TERMINATE"},
        "labels": {**labels, "fleet": "llm-prod-trainers"},
    }
    deps: dict[str, list[dict]] = {"networkInterfaces": nets}
    if compact:
        policy = res("gcp:compute/resourcePolicy:ResourcePolicy", "llm-prod-trainers-placement",
                     {"region": region, "groupPlacementPolicy": {"collocation": "COLLOCATED"}}, provider=prov)
        out.append(policy)
        tpl_inputs["resourcePolicies"] = U
        deps["resourcePolicies"] = [policy]
    tpl = res("gcp:compute/regionInstanceTemplate:RegionInstanceTemplate", "llm-prod-trainers-template", tpl_inputs,
              provider=prov, deps=deps)
    out.append(tpl)
    out.append(res("gcp:compute/instanceGroupManager:InstanceGroupManager", "llm-prod-trainers-mig",
                   {"baseInstanceName": "llm-prod-trainers", "zone": zone, "targetSize": nodes,
                    "versions": [{"name": "primary", "instanceTemplate": U}],
                    **({"autoHealingPolicies": {"healthCheck": U, "initialDelaySec": 1800.0}} if node_health else {})},
                   provider=prov, deps={"versions": [tpl]}))
    out.append(res("gcp:lustre/instance:Instance", "llm-prod-scratch-lustre",
                   {"instanceId": "llm-prod-scratch", "location": zone, "filesystem": "scratch",
                    "capacityGib": "36000", "perUnitStorageThroughput": "1000", "network": U,
                    "deletionPolicy": "PREVENT", "labels": labels},
                   provider=prov, protect=True))
    if budget_units is not None:
        out.append(res("gcp:billing/budget:Budget", "llm-prod-budget",
                       {"billingAccount": "012345-6789AB-CDEF01", "displayName": "llm-prod",
                        "amount": {"specifiedAmount": {"currencyCode": "USD", "units": budget_units}},
                        "budgetFilter": {"projects": [f"projects/{project}"], "calendarPeriod": "MONTH"}},
                       provider=prov))
    return out


def find(resources: list[dict], type_: str) -> dict:
    return next(r for r in resources if r["type"] == type_)


def replace(resources: list[dict], type_: str, **inputs: Any) -> list[dict]:
    """A copy with the inputs of the first resource of `type_` updated (None removes a key)."""
    out = copy.deepcopy(resources)
    target = find(out, type_)
    for key, value in inputs.items():
        if value is None:
            target["inputs"].pop(key, None)
        else:
            target["inputs"][key] = value
    return out


# --------------------------------------------------------------------------- CrossGuard args


def _wire(value: Any) -> Any:
    if value == U:
        return WIRE_UNKNOWN
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return value


def _props(inputs: dict) -> Any:
    """Inputs as the SDK hands them to a rule: Struct -> dict -> deserialize -> unknown-checking proxy."""
    struct = struct_pb2.Struct()
    struct.update(_wire(inputs))
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def _opts(resource: dict) -> PolicyResourceOptions:
    return PolicyResourceOptions(bool(resource.get("protect")), [], None, [], PolicyCustomTimeouts(0, 0, 0), [],
                                 resource.get("parent"))


def _provider(resource: dict, by_urn: dict[str, dict]) -> PolicyProviderResource | None:
    prov = by_urn.get(resource.get("provider") or "")
    if prov is None:
        return None
    return PolicyProviderResource(prov["type"], _props(prov["inputs"]), prov["urn"], prov["name"])


def stack_args(resources: list[dict], config: dict | None = None) -> StackValidationArgs:
    by_urn = {r["urn"]: r for r in resources}
    built = {r["urn"]: PolicyResource(r["type"], _props(r["inputs"]), r["urn"], r["name"], _opts(r),
                                      _provider(r, by_urn), None, [], {}) for r in resources}
    for r in resources:
        target = built[r["urn"]]
        target.parent = built.get(r.get("parent") or "")
        target.dependencies = [built[u] for u in r.get("dependencies", []) if u in built]
        target.property_dependencies = {k: [built[u] for u in v if u in built]
                                        for k, v in r.get("propertyDependencies", {}).items()}
    return StackValidationArgs(list(built.values()), config)


def resource_args(resource: dict, resources: list[dict] | None = None, config: dict | None = None) -> ResourceValidationArgs:
    by_urn = {r["urn"]: r for r in resources or [resource]}
    return ResourceValidationArgs(resource["type"], _props(resource["inputs"]), resource["urn"], resource["name"],
                                  _opts(resource), _provider(resource, by_urn), config)


def run_stack(policy, resources: list[dict], config: dict | None = None) -> list[tuple[str, str | None]]:
    """(message, urn) of each violation a stack policy reports."""
    found: list[tuple[str, str | None]] = []
    policy.validate(stack_args(resources, config), lambda message, urn=None: found.append((message, urn)))
    return found


def run_resource(policy, resource: dict, resources: list[dict] | None = None, config: dict | None = None) -> list[str]:
    found: list[str] = []
    policy.validate(resource_args(resource, resources, config), lambda message, urn=None: found.append(message))
    return found


def run_resources(policy, resources: list[dict], config: dict | None = None) -> dict[str, list[str]]:
    """Every resource through a resource policy: name -> messages (only names with violations)."""
    out: dict[str, list[str]] = {}
    for r in resources:
        found = run_resource(policy, r, resources, config)
        if found:
            out[r["name"]] = found
    return out


def scaled_stack(total: int) -> list[dict]:
    """About `total` resources: AWS facilities (provider, template, placement group, group,
    Lustre, budget) repeated as distinct facilities, for scale tests and the benchmark."""
    import json

    block = json.dumps(aws_facility(nodes=2.0))
    out: list[dict] = []
    i = 0
    while len(out) < total:
        out += json.loads(block.replace("vision-prod", f"vision-prod-{i}"))
        i += 1
    return out[:total]
