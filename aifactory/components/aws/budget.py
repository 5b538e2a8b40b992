"""BudgetGuard: a monthly AWS cost budget on the facility tag, alerts, and an optional kill switch.

The budget (COST, MONTHLY, `limit_amount` a literal string) is filtered to the facility's cost
allocation tag (`cost_filters=[{"name": "TagKeyValue", "values": ["user:facility$<name>"]}]`, the
shape the provider documents). AWS Budgets only sees a user-defined tag once it is activated as a
cost-allocation tag (Billing console, management or standalone account; the key appears up to 24
hours after the first tagged resource, activation takes up to 24 hours more): until then the
budget reads $0 and neither alerts nor the kill switch fire. No budget filter selects a facility's
spend without an activated tag, so `activate_cost_tag=True` activates it from the stack (where the
account may), and `aifactory validate` says so for every AWS budget. Every threshold gets an ACTUAL
and a FORECASTED notification to the alert emails and an SNS topic that budgets.amazonaws.com may
publish to for this account's budgets only (`aws:SourceAccount`, `aws:SourceArn`). AWS allows at most ten
notifications per budget and ten email subscribers per notification (AWS SDK `Notification` and
`NotificationWithSubscribers` docs), so five thresholds is the most a guard takes.

The kill switch (`enforce="stop"`) comes in two forms, because AWS Budgets actions can only stop
instances named by ID -- `SsmActionDefinition.InstanceIds` takes 1 to 100 fixed IDs
(docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_SsmActionDefinition.html)
-- and an Auto Scaling group would replace a stopped instance anyway:

* `stop_group_names` (what a Facility uses): the ACTUAL notification at `stop_at_pct` goes to a
  kill topic whose Lambda (`kill_switch.py`) sets each named Auto Scaling group to
  min = max = desired = 0, trying every group even when one fails; a failure fails the invocation
  (CloudWatch `Errors`), which Lambda retries twice and then sends to the alert topic (on-failure
  destination). A later `pulumi up` restores the fleet on purpose. Capacity Blocks are paid in
  full when purchased: stopping their instances saves nothing.
* `stop_instance_ids` (fixed instances, 1-100): an `aws.budgets.BudgetAction` of type
  RUN_SSM_DOCUMENTS / STOP_EC2_INSTANCES, approval AUTOMATIC, run by a role budgets.amazonaws.com
  assumes with the AWS managed policy AWSBudgetsActions_RolePolicyForResourceAdministrationWithSSM.
"""

import json
from pathlib import Path
from typing import NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from aifactory.components.args import legacy_alias, read_args

TYPE = "aifactory-aws:index:BudgetGuard"
LEGACY_TYPE = "aifactory:aws:BudgetGuard"
MAX_NOTIFICATIONS = 10
MAX_EMAILS = 10
MAX_ACTION_INSTANCES = 100
SSM_ACTION_POLICY = "arn:aws:iam::aws:policy/AWSBudgetsActions_RolePolicyForResourceAdministrationWithSSM"

# The Lambda function's code, shipped as its index.py (aifactory/components/aws/kill_switch.py).
KILL_SWITCH_CODE = (Path(__file__).parent / "kill_switch.py").read_text()
# Asynchronous invocations (SNS) that fail are retried this often, then sent to the alert topic.
KILL_SWITCH_RETRIES = 2
KILL_SWITCH_EVENT_AGE_S = 6 * 3600


class BudgetGuardArgs(TypedDict):
    monthly_usd: float
    alert_emails: list[str]
    thresholds_pct: NotRequired[list[int]]
    """Default [50, 80, 100]."""
    facility: NotRequired[Optional[str]]
    """Cost filter on the cost-allocation tag `<cost_tag_key>=<facility>`."""
    cost_tag_key: NotRequired[str]
    enforce: NotRequired[str]
    """none (default) | stop"""
    stop_at_pct: NotRequired[float]
    stop_group_names: NotRequired[list[str]]
    stop_instance_ids: NotRequired[list[pulumi.Input[str]]]
    region: NotRequired[Optional[str]]
    """Where the SSM stop action runs (stop_instance_ids)."""
    tags: NotRequired[dict[str, str]]
    activate_cost_tag: NotRequired[bool]
    """Activate the cost-allocation tag from this stack (aws.costexplorer.CostAllocationTag). Only the
    management (payer) account or a standalone account may, and only once the key has appeared in
    billing data (up to 24 hours after the first tagged resource), so it is off by default."""


DEFAULTS = {
    "thresholds_pct": [50, 80, 100],
    "cost_tag_key": "facility",
    "enforce": "none",
    "stop_at_pct": 100,
    "stop_group_names": (),
    "stop_instance_ids": (),
    "tags": {},
    "activate_cost_tag": False,
}


def limit_amount(usd: float) -> str:
    """The budget amount as the literal string the provider takes: 1000000.0 -> '1000000'."""
    text = f"{usd:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def _topic_policy(topic_arn: str, statement_id: str) -> str:
    """budgets.amazonaws.com may publish, for budgets of this account only: the policy the AWS Cost
    Management guide gives (budgets-sns-policy.html; cross-service-confused-deputy-prevention.html),
    account and partition read from the topic's own ARN."""
    partition, account = _arn_part(topic_arn, 1), _arn_part(topic_arn, 4)
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": statement_id,
                    "Effect": "Allow",
                    "Principal": {"Service": "budgets.amazonaws.com"},
                    "Action": "SNS:Publish",
                    "Resource": topic_arn,
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": f"arn:{partition}:budgets::{account}:*"},
                    },
                }
            ],
        }
    )


def _arn_part(arn: str, index: int) -> str:
    parts = arn.split(":")
    return parts[index] if len(parts) > 5 else ""


def _assume(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


class BudgetGuard(pulumi.ComponentResource):
    budget_name: str
    budget_id: pulumi.Output[str]
    alert_topic_arn: pulumi.Output[str]

    def __init__(self, name: str, args: BudgetGuardArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = read_args(BudgetGuardArgs, args, DEFAULTS)
        if isinstance(args.monthly_usd, bool) or not isinstance(args.monthly_usd, (int, float)):
            raise TypeError("monthly_usd must be a plain number (policies read it)")
        if args.enforce not in ("none", "stop"):
            raise ValueError(f"enforce must be 'none' or 'stop', not '{args.enforce}'")
        if not args.alert_emails or len(args.alert_emails) > MAX_EMAILS:
            raise ValueError(f"give 1 to {MAX_EMAILS} alert emails (AWS budget notification limit)")
        kill = args.enforce == "stop" and bool(args.stop_group_names)
        notifications = 2 * len(args.thresholds_pct) + (1 if kill and args.stop_at_pct not in args.thresholds_pct else 0)
        if notifications > MAX_NOTIFICATIONS:
            raise ValueError(
                f"{notifications} budget notifications asked (ACTUAL and FORECASTED per threshold); "
                f"AWS allows {MAX_NOTIFICATIONS} per budget: use at most 5 thresholds"
            )
        if args.enforce == "stop" and not (args.stop_group_names or args.stop_instance_ids):
            raise ValueError("enforce='stop' needs stop_group_names or stop_instance_ids")
        if len(args.stop_instance_ids) > MAX_ACTION_INSTANCES:
            raise ValueError(f"a budget action stops at most {MAX_ACTION_INSTANCES} instance IDs")
        if args.stop_instance_ids and not args.region:
            raise ValueError("stop_instance_ids needs region (where the SSM stop document runs)")
        args.require()
        super().__init__(TYPE, name, None, legacy_alias(opts, LEGACY_TYPE))

        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags, "Name": name}
        emails = list(args.alert_emails)

        alerts = aws.sns.Topic(f"{name}-alerts", tags=tags, opts=child)
        aws.sns.TopicPolicy(
            f"{name}-alerts",
            arn=alerts.arn,
            policy=alerts.arn.apply(lambda arn: _topic_policy(arn, "BudgetsPublish")),
            opts=child,
        )
        for i, email in enumerate(emails):
            aws.sns.TopicSubscription(
                f"{name}-alert-{i}", topic=alerts.arn, protocol="email", endpoint=email, opts=child
            )

        kill_topic = None
        if kill:
            kill_topic = self._kill_switch(name, list(args.stop_group_names), alerts, tags)

        def notification(kind: str, pct: float, topic: aws.sns.Topic) -> dict:
            return {
                "comparison_operator": "GREATER_THAN",
                "notification_type": kind,
                "threshold": pct,
                "threshold_type": "PERCENTAGE",
                "subscriber_email_addresses": emails,
                "subscriber_sns_topic_arns": [topic.arn],
            }

        notes = []
        for pct in args.thresholds_pct:
            notes.append(notification("FORECASTED", pct, alerts))
            stop_here = kill_topic is not None and pct == args.stop_at_pct
            notes.append(notification("ACTUAL", pct, kill_topic if stop_here else alerts))
        if kill_topic is not None and args.stop_at_pct not in args.thresholds_pct:
            notes.append(notification("ACTUAL", args.stop_at_pct, kill_topic))

        cost_filters = None
        if args.facility:
            cost_filters = [{"name": "TagKeyValue", "values": [f"user:{args.cost_tag_key}${args.facility}"]}]
            if args.activate_cost_tag:
                aws.costexplorer.CostAllocationTag(
                    f"{name}-cost-tag", tag_key=args.cost_tag_key, status="Active", opts=child
                )
        budget = aws.budgets.Budget(
            name,  # logical name = budget name, as aifactory.inventory.from_spec names it
            name=name,
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=limit_amount(args.monthly_usd),
            limit_unit="USD",
            cost_filters=cost_filters,
            notifications=notes,
            tags=tags,
            opts=child,
        )

        if args.enforce == "stop" and args.stop_instance_ids:
            role = aws.iam.Role(
                f"{name}-action", assume_role_policy=_assume("budgets.amazonaws.com"), tags=tags, opts=child
            )
            attachment = aws.iam.RolePolicyAttachment(
                f"{name}-action", role=role.name, policy_arn=SSM_ACTION_POLICY, opts=child
            )
            aws.budgets.BudgetAction(
                f"{name}-stop",
                budget_name=name,
                action_type="RUN_SSM_DOCUMENTS",
                approval_model="AUTOMATIC",
                notification_type="ACTUAL",
                action_threshold={"action_threshold_type": "PERCENTAGE", "action_threshold_value": args.stop_at_pct},
                definition={
                    "ssm_action_definition": {
                        "action_sub_type": "STOP_EC2_INSTANCES",
                        "instance_ids": list(args.stop_instance_ids),
                        "region": args.region,
                    }
                },
                execution_role_arn=role.arn,
                subscribers=[{"address": e, "subscription_type": "EMAIL"} for e in emails]
                + [{"address": alerts.arn, "subscription_type": "SNS"}],
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[budget, attachment]),
            )

        self.budget_name = name
        self.budget_id = budget.id
        self.alert_topic_arn = alerts.arn
        self.register_outputs({"budget_name": name, "budget_id": budget.id, "alert_topic_arn": alerts.arn})

    def _kill_switch(self, name: str, groups: list[str], alerts: aws.sns.Topic, tags: dict[str, str]) -> aws.sns.Topic:
        child = pulumi.ResourceOptions(parent=self)
        topic = aws.sns.Topic(f"{name}-kill", tags=tags, opts=child)
        aws.sns.TopicPolicy(
            f"{name}-kill",
            arn=topic.arn,
            policy=topic.arn.apply(lambda arn: _topic_policy(arn, "BudgetsPublishKill")),
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-kill", assume_role_policy=_assume("lambda.amazonaws.com"), tags=tags, opts=child
        )
        aws.iam.RolePolicy(
            f"{name}-kill",
            role=role.id,
            policy=alerts.arn.apply(
                lambda alerts_arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "autoscaling:UpdateAutoScalingGroup",
                                "Resource": [
                                    f"arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/{g}"
                                    for g in groups
                                ],
                            },
                            {
                                "Effect": "Allow",
                                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                                "Resource": "*",
                            },
                            # the on-failure destination: a failed stop reaches the alert emails
                            {"Effect": "Allow", "Action": "sns:Publish", "Resource": alerts_arn},
                        ],
                    }
                )
            ),
            opts=child,
        )
        function = aws.lambda_.Function(
            f"{name}-kill",
            runtime="python3.12",
            handler="index.handler",
            role=role.arn,
            timeout=60,
            code=pulumi.AssetArchive({"index.py": pulumi.StringAsset(KILL_SWITCH_CODE)}),
            environment={"variables": {"AIFACTORY_GROUPS": ",".join(groups)}},
            tags=tags,
            opts=child,
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-kill",
            function_name=function.name,
            maximum_retry_attempts=KILL_SWITCH_RETRIES,
            maximum_event_age_in_seconds=KILL_SWITCH_EVENT_AGE_S,
            destination_config={"on_failure": {"destination": alerts.arn}},
            opts=child,
        )
        aws.lambda_.Permission(
            f"{name}-kill",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="sns.amazonaws.com",
            source_arn=topic.arn,
            opts=child,
        )
        aws.sns.TopicSubscription(
            f"{name}-kill", topic=topic.arn, protocol="lambda", endpoint=function.arn, opts=child
        )
        return topic
