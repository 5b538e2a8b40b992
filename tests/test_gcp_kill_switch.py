"""The Google Cloud budget kill switch: the function code the guard uploads, run on budget
notifications shaped as Cloud Billing publishes them against a fake instance-group client, and the
resources that deploy it (source object, dedicated service account, its one permission, trigger)."""

from __future__ import annotations

import base64
import json
import logging
import types
from dataclasses import dataclass

import pytest

from aifactory.components.gcp import BudgetGuard, BudgetGuardArgs
from aifactory.components.gcp import kill_switch
from tests.harness import FakeCloud, run

PROJECT, ZONE, GROUPS = "lab-project", "us-central1-a", ["lab-a", "lab-b", "lab-c"]
ENV = {"AIFACTORY_PROJECT": PROJECT, "AIFACTORY_ZONE": ZONE, "AIFACTORY_GROUPS": ",".join(GROUPS)}


@dataclass
class CloudEvent:
    data: dict


def budget_event(cost: float, budget: float = 1000.0, **extra) -> CloudEvent:
    """A Pub/Sub CloudEvent carrying a budget notification (schema 1.0 fields)."""
    notification = {"budgetDisplayName": "lab-budget", "alertThresholdExceeded": 1.0, "costAmount": cost,
                    "costIntervalStart": "2026-12-01T08:00:00Z", "budgetAmount": budget,
                    "budgetAmountType": "SPECIFIED_AMOUNT", "currencyCode": "USD", **extra}
    data = base64.b64encode(json.dumps(notification).encode()).decode()
    return CloudEvent({"message": {"data": data, "attributes": {"schemaVersion": "1.0"}}})


class FakeInstanceGroups:
    def __init__(self, failing=()):
        self.failing = set(failing)
        self.calls = []

    def resize(self, **kwargs):
        self.calls.append(kwargs)
        if kwargs["instance_group_manager"] in self.failing:
            raise RuntimeError(f"404 The resource '{kwargs['instance_group_manager']}' was not found")


def outputs(type_: str, name: str, state: dict) -> dict:
    if type_ == "gcp:serviceaccount/account:Account":
        return {"email": f"{state['accountId']}@{PROJECT}.iam.gserviceaccount.com"}
    if type_ == "gcp:pubsub/topic:Topic":
        return {"id": f"projects/{PROJECT}/topics/{name}"}
    if type_ == "gcp:projects/iAMCustomRole:IAMCustomRole":
        return {"name": f"projects/{PROJECT}/roles/{state['roleId']}"}
    return {}


@pytest.fixture(scope="module")
def guard():
    def program():
        BudgetGuard("lab-budget", BudgetGuardArgs(monthly_usd=1000, alert_emails=["ops@example.com"],
                                                  billing_account="012345-6789AB-CDEF01", project=PROJECT,
                                                  enforce="stop", stop_group_names=GROUPS, zone=ZONE))

    return run(program, mocks=FakeCloud(outputs))


def shipped(guard):
    """The function's main.py as uploaded, loaded as a module."""
    archive = guard.one("gcp:storage/bucketObject:BucketObject").inputs["source"]
    module = types.ModuleType("main")
    exec(compile(archive["assets"]["main.py"]["text"], "main.py", "exec"), module.__dict__)
    return module, archive["assets"]["requirements.txt"]["text"]


# ------------------------------------------------------------------ the code


def test_the_uploaded_code_is_the_tested_module(guard):
    module, requirements = shipped(guard)
    assert module.__doc__ == kill_switch.__doc__
    assert "functions-framework" in requirements and "google-cloud-compute" in requirements


@pytest.mark.parametrize("cost", [1000.0, 1000.01, 5000.0])
def test_a_spent_budget_resizes_every_group_to_zero(guard, monkeypatch, cost):
    main, _ = shipped(guard)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    client = FakeInstanceGroups()
    assert main.handler(budget_event(cost), client=client) == {"stopped": GROUPS}
    assert client.calls == [{"project": PROJECT, "zone": ZONE, "instance_group_manager": g, "size": 0} for g in GROUPS]


@pytest.mark.parametrize("cost", [0.0, 500.0, 999.99])
def test_below_the_budget_nothing_is_touched(guard, monkeypatch, cost):
    main, _ = shipped(guard)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    client = FakeInstanceGroups()
    assert main.handler(budget_event(cost), client=client) == {"stopped": []}
    assert client.calls == []


def test_a_failing_group_spares_no_other_and_fails_the_invocation(guard, monkeypatch, caplog):
    main, _ = shipped(guard)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    client = FakeInstanceGroups(failing={"lab-b"})
    with caplog.at_level(logging.INFO), pytest.raises(main.KillSwitchError) as raised:
        main.handler(budget_event(1200.0), client=client)
    assert [c["instance_group_manager"] for c in client.calls] == GROUPS
    report = json.loads(str(raised.value))
    assert report["stopped"] == ["lab-a", "lab-c"] and "not found" in report["failed"]["lab-b"]
    assert any("lab-b NOT resized to 0" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"message": {}},
        {"message": {"data": "not base64!"}},
        {"message": {"data": base64.b64encode(b"[1, 2]").decode()}},
        {"message": {"data": base64.b64encode(b'{"costAmount": 5}').decode()}},
        {"message": {"data": base64.b64encode(b'{"costAmount": "x", "budgetAmount": 5}').decode()}},
        {"message": {"data": base64.b64encode(b'{"costAmount": 5, "budgetAmount": 0}').decode()}},
    ],
)
def test_anything_but_a_budget_notification_is_logged_and_left_alone(guard, monkeypatch, caplog, data):
    main, _ = shipped(guard)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    client = FakeInstanceGroups()
    with caplog.at_level(logging.INFO):
        result = main.handler(CloudEvent(data), client=client)
    assert result["stopped"] == [] and "not a budget notification" in result["error"]
    assert client.calls == [] and any(r.levelno == logging.ERROR for r in caplog.records)


@pytest.mark.parametrize("missing", ["AIFACTORY_PROJECT", "AIFACTORY_ZONE", "AIFACTORY_GROUPS"])
def test_a_missing_setting_is_a_clear_error_not_a_crash(guard, monkeypatch, missing):
    main, _ = shipped(guard)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv(missing)
    client = FakeInstanceGroups()
    result = main.handler(budget_event(5000.0), client=client)
    assert client.calls == [] and result["error"].startswith(f"{missing} missing or empty")


# ------------------------------------------------------------------ the resources


def test_the_topic_triggers_the_function_which_gets_its_groups(guard):
    function = guard.one("gcp:cloudfunctionsv2/function:Function").inputs
    trigger = function["eventTrigger"]
    assert trigger["pubsubTopic"] == f"projects/{PROJECT}/topics/lab-budget-updates"
    assert trigger["eventType"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert trigger["retryPolicy"] == "RETRY_POLICY_DO_NOT_RETRY"
    assert function["serviceConfig"]["environmentVariables"] == ENV
    assert (function["buildConfig"]["runtime"], function["buildConfig"]["entryPoint"]) == ("python312", "handler")
    source = function["buildConfig"]["source"]["storageSource"]
    obj = guard.one("gcp:storage/bucketObject:BucketObject").inputs
    assert (source["object"], obj["name"]) == ("kill-switch.zip", "kill-switch.zip")
    bucket = guard.one("gcp:storage/bucket:Bucket").inputs
    assert bucket["publicAccessPrevention"] == "enforced" and bucket["uniformBucketLevelAccess"] is True


def test_a_dedicated_account_may_resize_instance_groups_and_nothing_else(guard):
    email = f"lab-budget-kill@{PROJECT}.iam.gserviceaccount.com"
    function = guard.one("gcp:cloudfunctionsv2/function:Function").inputs
    assert function["serviceConfig"]["serviceAccountEmail"] == email
    assert function["eventTrigger"]["serviceAccountEmail"] == email
    role = guard.one("gcp:projects/iAMCustomRole:IAMCustomRole").inputs
    assert role["permissions"] == ["compute.instanceGroupManagers.update"]
    (grant,) = guard.of("gcp:projects/iAMMember:IAMMember")
    assert grant.inputs["role"] == f"projects/{PROJECT}/roles/{role['roleId']}"
    assert grant.inputs["member"] == f"serviceAccount:{email}"
    invoker = guard.one("gcp:cloudrunv2/serviceIamMember:ServiceIamMember").inputs
    assert (invoker["role"], invoker["member"], invoker["name"]) == ("roles/run.invoker", f"serviceAccount:{email}",
                                                                    "lab-budget-kill")


def test_stop_without_groups_is_refused_before_registering():
    with pytest.raises(ValueError, match="needs stop_group_names and their zone"):
        BudgetGuard("b", BudgetGuardArgs(monthly_usd=10, alert_emails=["a@example.com"], billing_account="x",
                                         project=PROJECT, enforce="stop"))


def test_no_kill_switch_without_stop(guard):
    def program():
        BudgetGuard("lab-budget", BudgetGuardArgs(monthly_usd=1000, alert_emails=["ops@example.com"],
                                                  billing_account="012345-6789AB-CDEF01", project=PROJECT))

    assert run(program, mocks=FakeCloud(outputs)).of("gcp:cloudfunctionsv2/function:Function") == []
