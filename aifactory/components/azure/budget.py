"""BudgetGuard on Azure: a Cost Management budget on the facility's resource group, with alerts.

`consumption.Budget` scoped to the resource group (`scope` is the group's ID; the amount stays a
literal), `category: Cost`, `timeGrain: Monthly`, starting on the first day of the current month.
Each threshold gets an Actual and a Forecasted notification, sent to the alert emails and to an
action group (email receivers) referenced by ID. A budget holds at most five notifications
(azure-native `consumption.Budget.notifications`: "Budget can have up to five notifications"), so
when thresholds x 2 exceed five the notifications are spread over several budgets of the same
amount: `<name>` (Actual) and `<name>-forecast` (Forecasted), each chunked by five.
"""

import datetime as dt
from typing import NotRequired, Optional, TypedDict

import pulumi
import pulumi_azure_native as azure_native

from aifactory.components.args import legacy_alias, read_args

TYPE = "aifactory-azure:index:BudgetGuard"
LEGACY_TYPE = "aifactory:azure:BudgetGuard"

MAX_NOTIFICATIONS = 5
ACTION_GROUP_LOCATION = "global"  # action groups are global resources
SHORT_NAME_MAX = 12  # groupShortName limit


class BudgetGuardArgs(TypedDict):
    monthly_usd: float
    alert_emails: list[str]
    scope: pulumi.Input[str]
    """The resource group ID the budget watches."""
    resource_group_name: pulumi.Input[str]
    """Where the action group lives."""
    thresholds_pct: NotRequired[list[int]]
    """Default [50, 80, 100]."""
    tags: NotRequired[dict[str, str]]
    start_date: NotRequired[Optional[str]]
    """YYYY-MM-01T00:00:00Z; else the first day of the current month (UTC)."""


DEFAULTS = {"thresholds_pct": [50, 80, 100], "tags": {}}


class BudgetGuard(pulumi.ComponentResource):
    """A monthly cost budget with actual and forecasted alerts to email and an action group."""

    budget_name: str
    budget_names: list[str]

    def __init__(self, name: str, args: BudgetGuardArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = read_args(BudgetGuardArgs, args, DEFAULTS)
        if args.monthly_usd <= 0:
            raise ValueError("monthly_usd must be positive")
        if not args.alert_emails:
            raise ValueError("at least one alert email")
        args.require()
        super().__init__(TYPE, name, None, legacy_alias(opts, LEGACY_TYPE))
        start = args.start_date or first_of_month()
        emails = list(args.alert_emails)

        self.action_group = azure_native.monitor.ActionGroup(
            f"{name}-alerts",
            action_group_name=f"{name}-alerts",
            resource_group_name=args.resource_group_name,
            location=ACTION_GROUP_LOCATION,
            group_short_name=_short_name(name),
            enabled=True,
            email_receivers=[
                {"name": f"email-{i}", "email_address": email, "use_common_alert_schema": True}
                for i, email in enumerate(emails)
            ],
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )

        notifications = {
            f"{kind}_GreaterThanOrEqualTo_{pct}_Percent": {
                "enabled": True,
                "operator": "GreaterThanOrEqualTo",
                "threshold": pct,
                "threshold_type": kind,
                "contact_emails": emails,
                "contact_groups": [self.action_group.id],
            }
            for kind in ("Actual", "Forecasted")
            for pct in args.thresholds_pct
        }
        self.budgets: list[azure_native.consumption.Budget] = []
        self.budget_names = []
        for budget_name, chunk in _spread(name, notifications):
            self.budget_names.append(budget_name)
            self.budgets.append(
                azure_native.consumption.Budget(
                    budget_name,
                    budget_name=budget_name,
                    scope=args.scope,
                    amount=args.monthly_usd,
                    category="Cost",
                    time_grain="Monthly",
                    time_period={"start_date": start},
                    notifications=chunk,
                    # The start date is set once; a later month's run must not move it.
                    opts=pulumi.ResourceOptions(parent=self, ignore_changes=["time_period"]),
                )
            )
        self.budget_name = self.budget_names[0]
        self.register_outputs(
            {"budget_name": self.budget_name, "budget_names": self.budget_names, "action_group_id": self.action_group.id}
        )


def first_of_month(today: Optional[dt.date] = None) -> str:
    today = today or dt.datetime.now(dt.timezone.utc).date()
    return f"{today.year:04d}-{today.month:02d}-01T00:00:00Z"


def _short_name(name: str) -> str:
    return name.replace("-", "")[:SHORT_NAME_MAX] or "aifactory"


def _spread(name: str, notifications: dict[str, dict]) -> list[tuple[str, dict[str, dict]]]:
    """One budget if the notifications fit in five; else one series per threshold type, five a budget."""
    if len(notifications) <= MAX_NOTIFICATIONS:
        return [(name, notifications)]
    out = []
    for kind, suffix in (("Actual", ""), ("Forecasted", "-forecast")):
        items = [(k, v) for k, v in notifications.items() if v["threshold_type"] == kind]
        for i in range(0, len(items), MAX_NOTIFICATIONS):
            part = i // MAX_NOTIFICATIONS
            budget_name = f"{name}{suffix}" + (f"-{part + 1}" if part else "")
            out.append((budget_name, dict(items[i : i + MAX_NOTIFICATIONS])))
    return out
