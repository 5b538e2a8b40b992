"""A budget guard on Google Cloud: a Cloud Billing budget on the facility's project and labels.

The budget (`billing.Budget`) counts the project's spend on resources labelled with the
facility (`budget_filter.labels = {"facility": <name>}`, the label every aifactory resource
carries), alerts by email through Cloud Monitoring notification channels at each threshold of
current spend and once more on forecasted spend reaching 100 %, and publishes every update to a
Pub/Sub topic: the hook a programmatic kill switch (for `enforce: stop`) subscribes to.
"""

from typing import NotRequired, Optional, TypedDict

import pulumi
import pulumi_gcp as gcp

from aifactory.components.args import legacy_alias, read_args
from aifactory.components.gcp.labels import label_safe

TYPE = "aifactory-gcp:index:BudgetGuard"
LEGACY_TYPE = "aifactory:gcp:BudgetGuard"

# Cloud Billing allows at most 5 monitoring notification channels per budget.
MAX_CHANNELS = 5


class BudgetGuardArgs(TypedDict):
    monthly_usd: float
    alert_emails: list[str]
    billing_account: str
    """012345-6789AB-CDEF01"""
    project: str
    """The project ID the facility is built in."""
    thresholds_pct: NotRequired[list[int]]
    """Default [50, 80, 100]."""
    facility: NotRequired[Optional[str]]
    """Facility label value to filter on (default: the component name)."""
    tags: NotRequired[dict[str, str]]
    enforce: NotRequired[str]
    """none (default) | stop (a subscriber of the budget's topic stops the fleets)."""
    project_number: NotRequired[Optional[str]]
    # The Budget API stores the filter's project as "projects/<number>" (the provider documents
    # that form); with a project ID, creation works but the stored number then differs from the
    # input (terraform-google-modules/terraform-google-project-factory#544) and updates have
    # failed with HTTP 400 (pulumi/pulumi-gcp#514). Give the number when you know it; without it
    # the filter is the literal "projects/<project ID>" the policy pack can match.


DEFAULTS = {"thresholds_pct": [50, 80, 100], "tags": {}, "enforce": "none"}


class BudgetGuard(pulumi.ComponentResource):
    """A monthly budget with email alerts and a Pub/Sub topic receiving every budget update."""

    budget_name: str
    topic_id: pulumi.Output[str]
    """The Pub/Sub topic every budget update is published to."""

    def __init__(self, name: str, args: BudgetGuardArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = read_args(BudgetGuardArgs, args, DEFAULTS)
        args.require()
        super().__init__(TYPE, name, None, legacy_alias(opts, LEGACY_TYPE))
        if args.monthly_usd <= 0:
            raise ValueError("monthly_usd must be positive")
        self.budget_name = name
        self.monthly_usd = args.monthly_usd
        facility = args.facility or name
        labels = {**label_safe(args.tags), "enforce": args.enforce}
        child = pulumi.ResourceOptions(parent=self)

        self.topic = gcp.pubsub.Topic(f"{name}-updates", project=args.project, labels=labels, opts=child)

        if len(args.alert_emails) > MAX_CHANNELS:
            pulumi.log.warn(
                f"{name}: a Cloud Billing budget takes at most {MAX_CHANNELS} notification channels; "
                f"alerting the first {MAX_CHANNELS} of {len(args.alert_emails)} addresses",
                resource=self,
            )
        self.channels = [
            gcp.monitoring.NotificationChannel(
                f"{name}-email-{i}",
                project=args.project,
                type="email",
                display_name=f"{name} budget alerts to {email}",
                labels={"email_address": email},
                user_labels=label_safe(args.tags),
                opts=child,
            )
            for i, email in enumerate(args.alert_emails[:MAX_CHANNELS])
        ]

        project_filter = f"projects/{args.project_number or args.project}"

        units, nanos = _money(args.monthly_usd)
        amount: dict = {"currency_code": "USD", "units": units}
        if nanos:
            amount["nanos"] = nanos
        rules = [{"threshold_percent": pct / 100, "spend_basis": "CURRENT_SPEND"} for pct in args.thresholds_pct]
        rules.append({"threshold_percent": 1.0, "spend_basis": "FORECASTED_SPEND"})

        self.budget = gcp.billing.Budget(
            name,
            billing_account=args.billing_account,
            display_name=name,
            amount={"specified_amount": amount},
            budget_filter={
                "projects": [project_filter],
                "labels": {"facility": label_safe({"f": facility})["f"]},
                "calendar_period": "MONTH",
                "credit_types_treatment": "INCLUDE_ALL_CREDITS",
            },
            threshold_rules=rules,
            all_updates_rule={
                "pubsub_topic": self.topic.id,
                "schema_version": "1.0",
                "monitoring_notification_channels": [c.id for c in self.channels],
            },
            opts=child,
        )
        self.topic_id = self.topic.id
        self.register_outputs({"budget_name": self.budget_name, "topic": self.topic.id})


def _money(usd: float) -> tuple[str, int]:
    """A USD amount as the Money message's literal `units` string and `nanos`."""
    cents = round(usd * 100)
    return str(cents // 100), (cents % 100) * 10_000_000
