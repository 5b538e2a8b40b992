"""A budget guard on Google Cloud: a Cloud Billing budget on the facility's project and labels.

The budget (`billing.Budget`) counts the project's spend on resources labelled with the
facility (`budget_filter.labels = {"facility": <name>}`, the label every aifactory resource
carries), alerts by email through Cloud Monitoring notification channels at each threshold of
current spend and once more on forecasted spend reaching 100 %, and publishes every update to a
Pub/Sub topic.

With `enforce="stop"` the topic triggers a kill switch: a Cloud Run function (Cloud Functions gen2,
python312, code in `kill_switch.py`, uploaded as an object of a private source bucket) that resizes
every managed instance group in `stop_group_names` (zone `zone`) to 0 once a budget notification's
`costAmount` reaches its `budgetAmount`. It runs as a dedicated service account whose only grant is a
project custom role holding `compute.instanceGroupManagers.update` (what `instanceGroupManagers.resize`
requires); the same account may invoke the function's Cloud Run service for the Pub/Sub trigger.
Failed resizes fail the invocation; the next budget update (Cloud Billing publishes several a day)
tries again, so the trigger does not retry.
"""

import re
from pathlib import Path
from typing import NotRequired, Optional, TypedDict

import pulumi
import pulumi_gcp as gcp

from aifactory.components.args import legacy_alias, read_args
from aifactory.components.gcp import kill_switch
from aifactory.components.gcp.labels import label_safe, region_of

TYPE = "aifactory-gcp:index:BudgetGuard"
LEGACY_TYPE = "aifactory:gcp:BudgetGuard"

# Cloud Billing allows at most 5 monitoring notification channels per budget.
MAX_CHANNELS = 5
# The function's code, shipped as its main.py (aifactory/components/gcp/kill_switch.py).
KILL_SWITCH_CODE = (Path(__file__).parent / "kill_switch.py").read_text()
KILL_SWITCH_PERMISSIONS = ["compute.instanceGroupManagers.update"]


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
    """none (default) | stop: the kill switch resizes `stop_group_names` to 0 at 100 %."""
    stop_group_names: NotRequired[list[str]]
    """Zonal managed instance groups in `zone` that `enforce: stop` resizes to 0."""
    zone: NotRequired[Optional[str]]
    project_number: NotRequired[Optional[str]]
    # The Budget API stores the filter's project as "projects/<number>" (the provider documents
    # that form); with a project ID, creation works but the stored number then differs from the
    # input (terraform-google-modules/terraform-google-project-factory#544) and updates have
    # failed with HTTP 400 (pulumi/pulumi-gcp#514). Give the number when you know it; without it
    # the filter is the literal "projects/<project ID>" the policy pack can match.


DEFAULTS = {"thresholds_pct": [50, 80, 100], "tags": {}, "enforce": "none", "stop_group_names": []}


class BudgetGuard(pulumi.ComponentResource):
    """A monthly budget with email alerts and a Pub/Sub topic receiving every budget update."""

    budget_name: str
    topic_id: pulumi.Output[str]
    """The Pub/Sub topic every budget update is published to."""

    def __init__(self, name: str, args: BudgetGuardArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = read_args(BudgetGuardArgs, args, DEFAULTS)
        args.require()
        if args.monthly_usd <= 0:
            raise ValueError("monthly_usd must be positive")
        if args.enforce not in ("none", "stop"):
            raise ValueError(f"enforce must be 'none' or 'stop', not {args.enforce!r}")
        if args.enforce == "stop" and not (args.stop_group_names and args.zone):
            raise ValueError("enforce='stop' needs stop_group_names and their zone")
        super().__init__(TYPE, name, None, legacy_alias(opts, LEGACY_TYPE))
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
        self.kill_switch = None
        if args.enforce == "stop":
            self.kill_switch = self._kill_switch(name, args, labels)
        self.register_outputs({"budget_name": self.budget_name, "topic": self.topic.id})

    def _kill_switch(self, name: str, args, labels: dict) -> gcp.cloudfunctionsv2.Function:
        child = pulumi.ResourceOptions(parent=self)
        region = region_of(args.zone)
        account = gcp.serviceaccount.Account(
            f"{name}-kill",
            account_id=_account_id(f"{name}-kill"),
            project=args.project,
            display_name=f"{name} kill switch: resizes the facility's instance groups to 0",
            opts=child,
        )
        member = account.email.apply(lambda email: f"serviceAccount:{email}")
        role = gcp.projects.IAMCustomRole(
            f"{name}-kill",
            project=args.project,
            role_id=re.sub(r"[^A-Za-z0-9_]", "_", f"{name}_kill_switch")[:64],
            title=f"{name} kill switch",
            description="Resize managed instance groups (the budget kill switch)",
            permissions=KILL_SWITCH_PERMISSIONS,
            opts=child,
        )
        gcp.projects.IAMMember(f"{name}-kill", project=args.project, role=role.name, member=member, opts=child)
        bucket = gcp.storage.Bucket(
            f"{name}-kill-source",
            project=args.project,
            location=region.upper(),
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            force_destroy=True,
            labels=labels,
            opts=child,
        )
        source = gcp.storage.BucketObject(
            f"{name}-kill-source",
            bucket=bucket.name,
            name="kill-switch.zip",
            source=pulumi.AssetArchive(
                {
                    "main.py": pulumi.StringAsset(KILL_SWITCH_CODE),
                    "requirements.txt": pulumi.StringAsset(kill_switch.REQUIREMENTS),
                }
            ),
            opts=child,
        )
        function = gcp.cloudfunctionsv2.Function(
            f"{name}-kill",
            name=f"{name}-kill",
            project=args.project,
            location=region,
            description="aifactory budget kill switch",
            labels=labels,
            build_config={
                "runtime": "python312",
                "entry_point": "handler",
                "source": {"storage_source": {"bucket": bucket.name, "object": source.name}},
            },
            service_config={
                "service_account_email": account.email,
                "environment_variables": {
                    "AIFACTORY_PROJECT": args.project,
                    "AIFACTORY_ZONE": args.zone,
                    "AIFACTORY_GROUPS": ",".join(args.stop_group_names),
                },
                "max_instance_count": 1,
                "available_memory": "256M",
                "timeout_seconds": 300,
                "ingress_settings": "ALLOW_INTERNAL_ONLY",
            },
            event_trigger={
                "trigger_region": region,
                "event_type": "google.cloud.pubsub.topic.v1.messagePublished",
                "pubsub_topic": self.topic.id,
                "retry_policy": "RETRY_POLICY_DO_NOT_RETRY",
                "service_account_email": account.email,
            },
            opts=child,
        )
        gcp.cloudrunv2.ServiceIamMember(
            f"{name}-kill-invoker",
            project=args.project,
            location=region,
            name=function.name,
            role="roles/run.invoker",
            member=member,
            opts=child,
        )
        return function


def _account_id(name: str) -> str:
    """A service account ID (6-30 characters: a letter, then letters, digits or hyphens) from a name."""
    text = re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-")
    text = text if text[:1].isalpha() else f"k-{text}"
    return text[:30].rstrip("-").ljust(6, "0")


def _money(usd: float) -> tuple[str, int]:
    """A USD amount as the Money message's literal `units` string and `nanos`."""
    cents = round(usd * 100)
    return str(cents // 100), (cents % 100) * 10_000_000
