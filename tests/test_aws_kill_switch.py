"""The AWS budget kill switch: the Lambda code the guard registers, run against a fake Auto Scaling
client, and the resources that make its failures seen (retries, on-failure destination) and its
topics publishable by this account's budgets only."""

from __future__ import annotations

import json
import logging
import types

import pytest

from aifactory.components.aws import BudgetGuard, BudgetGuardArgs
from aifactory.components.aws import kill_switch
from tests.harness import FakeCloud, run

ACCOUNT = "123456789012"
GROUPS = ["lab-a", "lab-b", "lab-c"]


class FakeAutoScaling:
    """Records every update; raises for the groups it is told to fail."""

    def __init__(self, failing=()):
        self.failing = set(failing)
        self.calls = []

    def update_auto_scaling_group(self, **kwargs):
        self.calls.append(kwargs)
        if kwargs["AutoScalingGroupName"] in self.failing:
            raise RuntimeError(f"ValidationError: group {kwargs['AutoScalingGroupName']} is being deleted")


def arns(type_: str, name: str, state: dict) -> dict:
    service = type_.split(":")[1].split("/")[0]
    return {"arn": f"arn:aws:{service}:us-east-1:{ACCOUNT}:{name}", "name": state.get("name", name)}


@pytest.fixture(scope="module")
def guard():
    def program():
        BudgetGuard("lab-budget", BudgetGuardArgs(monthly_usd=1000, alert_emails=["ops@example.com"], facility="lab",
                                                  enforce="stop", stop_group_names=GROUPS))

    return run(program, mocks=FakeCloud(arns))


def shipped_handler(guard):
    """The function's index.py as registered, loaded as Lambda loads it."""
    source = guard.one("aws:lambda/function:Function").inputs["code"]["assets"]["index.py"]["text"]
    module = types.ModuleType("index")
    exec(compile(source, "index.py", "exec"), module.__dict__)
    return module


def test_the_registered_code_is_the_tested_module(guard):
    source = guard.one("aws:lambda/function:Function").inputs["code"]["assets"]["index.py"]["text"]
    assert source == open(kill_switch.__file__).read()


def test_every_group_is_scaled_to_zero(guard, monkeypatch):
    index = shipped_handler(guard)
    monkeypatch.setenv("AIFACTORY_GROUPS", ",".join(GROUPS))
    client = FakeAutoScaling()
    assert index.handler({"Records": []}, None, client=client) == {"stopped": GROUPS}
    assert client.calls == [
        {"AutoScalingGroupName": g, "MinSize": 0, "MaxSize": 0, "DesiredCapacity": 0} for g in GROUPS
    ]


def test_a_failing_group_spares_no_other_and_fails_the_invocation(guard, monkeypatch, caplog):
    index = shipped_handler(guard)
    monkeypatch.setenv("AIFACTORY_GROUPS", ",".join(GROUPS))
    client = FakeAutoScaling(failing={"lab-a"})
    with caplog.at_level(logging.INFO), pytest.raises(index.KillSwitchError) as raised:
        index.handler({}, None, client=client)
    assert [c["AutoScalingGroupName"] for c in client.calls] == GROUPS
    report = json.loads(str(raised.value))
    assert report["stopped"] == ["lab-b", "lab-c"] and list(report["failed"]) == ["lab-a"]
    assert "being deleted" in report["failed"]["lab-a"]
    assert any("lab-a NOT scaled to zero" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)


@pytest.mark.parametrize("value", [None, "", " , "])
def test_a_missing_group_list_is_a_clear_error_not_a_crash(guard, monkeypatch, caplog, value):
    index = shipped_handler(guard)
    if value is None:
        monkeypatch.delenv("AIFACTORY_GROUPS", raising=False)
    else:
        monkeypatch.setenv("AIFACTORY_GROUPS", value)
    client = FakeAutoScaling()
    with caplog.at_level(logging.INFO), pytest.raises(index.KillSwitchError, match="AIFACTORY_GROUPS is missing or empty"):
        index.handler({}, None, client=client)
    assert client.calls == []
    assert any("redeploy the budget guard" in r.getMessage() for r in caplog.records)


def test_the_function_gets_its_groups(guard):
    function = guard.one("aws:lambda/function:Function").inputs
    assert function["environment"]["variables"]["AIFACTORY_GROUPS"] == ",".join(GROUPS)
    assert function["handler"] == "index.handler" and function["runtime"] == "python3.12"


def test_a_failed_invocation_is_retried_then_sent_to_the_alert_topic(guard):
    config = guard.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig").inputs
    alerts = f"arn:aws:sns:us-east-1:{ACCOUNT}:lab-budget-alerts"
    assert config["maximumRetryAttempts"] == 2
    assert config["destinationConfig"] == {"onFailure": {"destination": alerts}}
    policy = json.loads(guard.one("aws:iam/rolePolicy:RolePolicy", "lab-budget-kill").inputs["policy"])
    assert {"Effect": "Allow", "Action": "sns:Publish", "Resource": alerts} in policy["Statement"]
    (scaling,) = [s for s in policy["Statement"] if s["Action"] == "autoscaling:UpdateAutoScalingGroup"]
    assert [r.rsplit("/", 1)[1] for r in scaling["Resource"]] == GROUPS


@pytest.mark.parametrize("topic", ["lab-budget-alerts", "lab-budget-kill"])
def test_only_this_accounts_budgets_may_publish(guard, topic):
    (statement,) = json.loads(guard.one("aws:sns/topicPolicy:TopicPolicy", topic).inputs["policy"])["Statement"]
    assert statement["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert statement["Resource"] == f"arn:aws:sns:us-east-1:{ACCOUNT}:{topic}"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:budgets::{ACCOUNT}:*"},
    }


def test_the_cost_tag_is_activated_only_when_asked(guard):
    assert guard.of("aws:costexplorer/costAllocationTag:CostAllocationTag") == []

    def program():
        BudgetGuard("lab-budget", BudgetGuardArgs(monthly_usd=1000, alert_emails=["ops@example.com"], facility="lab",
                                                  activate_cost_tag=True))

    (tag,) = run(program, mocks=FakeCloud(arns)).of("aws:costexplorer/costAllocationTag:CostAllocationTag")
    assert (tag.inputs["tagKey"], tag.inputs["status"]) == ("facility", "Active")
