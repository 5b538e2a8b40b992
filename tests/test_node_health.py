"""Failing nodes leave the fleet: what the components register for node health on each cloud, the
bootstrap that installs and schedules the checker within each cloud's user-data limit, and the
`node-health-required` rule judging a plain program without the wiring over the pack's gRPC interface."""

from __future__ import annotations

import ast
import base64
import gzip
import json
import re
import subprocess

import pytest

from aifactory import components, stackfile
from aifactory.components import nodehealth
from aifactory.loader import load_facility
from tests.test_aws_components import run_aws
from tests.test_azure_components import run_azure
from tests.test_gcp_components import run_gcp

AWS_LIMIT, AZURE_LIMIT, GCP_LIMIT = 16 * 1024, 65535, 256 * 1024


def facility(stack: str, runner):
    spec = load_facility(stackfile.read(stack).facility)
    return runner(lambda: components.build_facility(spec))


@pytest.fixture(scope="module")
def aws_run():
    return facility("vision-prod", run_aws)


@pytest.fixture(scope="module")
def azure_run():
    return facility("speech-prod", run_azure)


@pytest.fixture(scope="module")
def gcp_run():
    return facility("llm-prod", run_gcp)


def aws_script(template) -> tuple[bytes, str]:
    raw = base64.b64decode(template.inputs["userData"])
    return raw, (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode()


# ------------------------------------------------------------------------------------------ AWS


def test_aws_groups_hold_new_nodes_until_they_prove_themselves(aws_run):
    for asg in aws_run.of("aws:autoscaling/group:Group"):
        [hook] = asg.inputs["initialLifecycleHooks"]
        assert hook == {"name": "aifactory-nodecheck", "lifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
                        "defaultResult": "ABANDON", "heartbeatTimeout": 1800.0}


def test_aws_instance_profile_may_mark_only_its_own_groups_unhealthy(aws_run):
    for template in aws_run.of("aws:ec2/launchTemplate:LaunchTemplate"):
        fleet = template.name.removesuffix("-template")
        grant = aws_run.one("aws:iam/rolePolicy:RolePolicy", f"{fleet}-node-health")
        policy = json.loads(grant.inputs["policy"])
        own, find = policy["Statement"]
        asgs = [a for a in aws_run.of("aws:autoscaling/group:Group") if a.inputs["name"].startswith(fleet)]
        assert sorted(own["Action"]) == ["autoscaling:CompleteLifecycleAction", "autoscaling:SetInstanceHealth"]
        assert own["Resource"] == [f"arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/{a.inputs['name']}"
                                   for a in asgs]
        assert own["Condition"] == {"StringEquals": {"autoscaling:ResourceTag/aifactory:fleet": fleet}}
        assert find["Action"] == "autoscaling:DescribeAutoScalingInstances"
        assert all({"key": "aifactory:fleet", "value": fleet, "propagateAtLaunch": True} in a.inputs["tags"] for a in asgs)
        # The facility's one node role carries each fleet's grant; its profile is on every launch template.
        assert grant.inputs["role"] == "vision-prod-node"
        assert template.inputs["iamInstanceProfile"] == {"arn": "arn:aws:mock:::vision-prod-node"}


def test_aws_bootstrap_installs_runs_and_schedules_the_checker_within_16_kb(aws_run):
    for template in aws_run.of("aws:ec2/launchTemplate:LaunchTemplate"):
        raw, script = aws_script(template)
        assert len(raw) <= AWS_LIMIT and raw[:2] == b"\x1f\x8b"  # gzip: cloud-init unpacks it
        expectation = json.loads(script.split("<<'AIFACTORY_NODECHECK_EXPECT'\n", 1)[1].split("\n", 1)[0])
        assert expectation["instance_type"] == "p5.48xlarge" and expectation["fabric_interfaces"] == 32
        assert "/usr/local/sbin/aifactory-nodecheck --boot" in script
        assert "OnUnitActiveSec=10min" in script and "systemctl enable --now aifactory-nodecheck.timer" in script
        assert "--lifecycle-action-result \"${result}\"" in script and "--health-status Unhealthy" in script
        assert script.index("aifactory-nodecheck --boot ||") < script.index("aifactory bootstrap done")
        written = dict(re.findall(r"cat > /opt/aifactory/nodecheck/(\S+) <<'AIFACTORY_NODECHECK_PY'\n(.*?)"
                                  r"AIFACTORY_NODECHECK_PY\n", script, re.S))
        assert written == dict(nodehealth.checker_files())  # the heredocs write the checker byte for byte


# ---------------------------------------------------------------------------------------- Azure


def test_azure_sets_probe_the_node_endpoint_and_repair_unhealthy_nodes(azure_run):
    for vmss in azure_run.of("azure-native:compute:VirtualMachineScaleSet"):
        [ext] = vmss.inputs["virtualMachineProfile"]["extensionProfile"]["extensions"]
        assert (ext["publisher"], ext["type"], ext["typeHandlerVersion"]) == (
            "Microsoft.ManagedServices", "ApplicationHealthLinux", "2.0")
        assert ext["settings"]["port"] == nodehealth.HEALTH_PORT and ext["settings"]["requestPath"] == "/healthz"
        assert vmss.inputs["automaticRepairsPolicy"] == {"enabled": True, "gracePeriod": "PT30M", "repairAction": "Replace"}
        script = base64.b64decode(vmss.inputs["virtualMachineProfile"]["osProfile"]["customData"])
        assert len(script) <= AZURE_LIMIT
        text = script.decode()
        assert "aifactory-node-health.service" in text and "serve --port %d" % nodehealth.HEALTH_PORT in text


# --------------------------------------------------------------------------------- Google Cloud


def test_gcp_groups_autoheal_on_the_node_endpoint_and_probes_may_reach_it(gcp_run):
    migs = gcp_run.of("gcp:compute/instanceGroupManager:InstanceGroupManager")
    assert migs
    for mig in migs:
        policy = mig.inputs["autoHealingPolicies"]
        assert policy["initialDelaySec"] == 1800.0 and policy["healthCheck"]
    for check in gcp_run.of("gcp:compute/healthCheck:HealthCheck"):
        assert check.inputs["httpHealthCheck"] == {"port": float(nodehealth.HEALTH_PORT), "requestPath": "/healthz"}
    for rule in gcp_run.of("gcp:compute/firewall:Firewall"):
        if rule.name.endswith("-health-probes"):
            assert rule.inputs["sourceRanges"] == ["35.191.0.0/16", "130.211.0.0/22"]
            assert rule.inputs["allows"] == [{"protocol": "tcp", "ports": [str(nodehealth.HEALTH_PORT)]}]
            template = gcp_run.of("gcp:compute/regionInstanceTemplate:RegionInstanceTemplate")[0]
            assert rule.inputs["targetTags"][0] in template.inputs["tags"]
    for template in gcp_run.of("gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"):
        script = template.inputs["metadata"]["startup-script"]
        assert len(script.encode()) <= GCP_LIMIT and "aifactory-nodecheck --boot" in script


# ------------------------------------------------------------------------------ the shipped checker


def test_the_shipped_checker_runs_from_its_rendered_files(tmp_path):
    """Write the files the bootstrap writes and run the checker from them with the fleet's expectation:
    on this machine (no GPU) it must exit 1 with a report naming the missing driver, not crash."""
    for path, source in nodehealth.checker_files():
        ast.parse(source, feature_version=(3, 8))  # stock images may run Python 3.8
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)
    expect = nodehealth.expectation_json("aws", "p5.48xlarge")
    done = subprocess.run(["python3", "-m", "aifactory.nodecheck", "--expect", expect, "--report", "-"],
                          cwd=tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)
    report = json.loads(done.stdout)
    assert done.returncode == 1 and "gpu.driver" in report["failed"], done.stderr


# --------------------------------------------------------------------- the pack, over gRPC


@pytest.fixture(scope="module")
def pack():
    from pathlib import Path

    from aifactory.analyzer import PolicyPackClient

    with PolicyPackClient(Path(__file__).resolve().parent.parent / "policies", timeout=120) as client:
        yield client


def plain_program():
    """GPU groups on three clouds written with the providers alone: no checker, no wiring."""
    import pulumi_aws as aws
    import pulumi_azure_native as azure_native
    import pulumi_gcp as gcp

    lt = aws.ec2.LaunchTemplate("plain-lt", instance_type="p5.48xlarge", image_id="ami-0123")
    aws.autoscaling.Group("plain-asg", min_size=2, max_size=2, desired_capacity=2, availability_zones=["us-east-1a"],
                          launch_template={"id": lt.id, "version": "$Latest"})
    azure_native.compute.VirtualMachineScaleSet(
        "plain-vmss", resource_group_name="rg", location="eastus",
        sku={"name": "Standard_ND96isr_H100_v5", "tier": "Standard", "capacity": 2})
    tpl = gcp.compute.RegionInstanceTemplate("plain-tpl", region="us-central1", machine_type="a3-megagpu-8g",
                                             disks=[{"boot": True, "source_image": "img"}],
                                             network_interfaces=[{"network": "default"}])
    gcp.compute.InstanceGroupManager("plain-mig", zone="us-central1-a", base_instance_name="plain", target_size=2,
                                     versions=[{"instance_template": tpl.self_link}])
    # A CPU-only group that says so stays out of the rule.
    aws.autoscaling.Group("plain-cpu", min_size=1, max_size=1, availability_zones=["us-east-1a"],
                          mixed_instances_policy={"launch_template": {
                              "launch_template_specification": {"launch_template_id": lt.id},
                              "overrides": [{"instance_type": "m7i.large"}]}})


def analyze(pack, resources) -> list:
    providers = {r.urn: r for r in resources if r.is_provider}
    return [v for r in resources for v in pack.analyze(r, providers) if v.policy == "node-health-required"]


def test_node_health_required_blocks_a_plain_program_without_the_wiring(pack):
    from tests.harness import FakeCloud, run

    pack.configure(None)
    plain = run(plain_program, mocks=FakeCloud())
    violations = analyze(pack, plain.resources)
    assert sorted(v.urn.rsplit("::", 1)[1] for v in violations) == ["plain-asg", "plain-mig", "plain-vmss"]
    assert {v.enforcement for v in violations} == {"mandatory"}
    messages = {v.urn.rsplit("::", 1)[1]: v.message for v in violations}
    assert "autoscaling:EC2_INSTANCE_LAUNCHING" in messages["plain-asg"] and "ABANDON" in messages["plain-asg"]
    assert "ApplicationHealthLinux" in messages["plain-vmss"] and "automaticRepairsPolicy" in messages["plain-vmss"]
    assert "35.191.0.0/16" in messages["plain-mig"]


def test_node_health_required_passes_the_facilities_and_honours_exemptions(pack, aws_run, azure_run, gcp_run):
    pack.configure(None)
    for built in (aws_run, azure_run, gcp_run):
        assert analyze(pack, built.resources) == []
    pack.configure({"node-health-required": {"enforcementLevel": "mandatory", "exemptGroups": ["plain-mig"]}})
    try:
        from tests.harness import FakeCloud, run

        left = analyze(pack, run(plain_program, mocks=FakeCloud()).resources)
        assert "plain-mig" not in {v.urn.rsplit("::", 1)[1] for v in left} and len(left) == 2
    finally:
        pack.configure(None)
