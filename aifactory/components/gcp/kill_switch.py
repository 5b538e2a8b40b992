"""Budget kill switch, the Cloud Run function's code (Cloud Functions gen2, runtime python312).

Triggered by every message the budget publishes to its Pub/Sub topic (Cloud Billing publishes the
budget's status there several times a day). When the message's `costAmount` has reached its
`budgetAmount`, it resizes every managed instance group named in AIFACTORY_GROUPS (zone
AIFACTORY_ZONE, project AIFACTORY_PROJECT) to 0 instances, trying every group even when another
fails. Below the budget it does nothing. A failed resize is logged with the group and the error and
fails the invocation (an error in the function's logs and metrics); the next budget update tries
again. A message that is not a budget notification, or a missing variable, is one clear logged
error and no action, never an exception that a retry policy would replay.

Shipped as the function's `main.py` with `requirements.txt`; it imports nothing outside the
standard library at load time except, when present, `functions_framework`, so it is tested directly
with a fake instance-group client.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Mapping

try:  # the function's runtime installs it from requirements.txt
    import functions_framework
except ImportError:  # tests import this module without it
    functions_framework = None

VARIABLES = ("AIFACTORY_PROJECT", "AIFACTORY_ZONE", "AIFACTORY_GROUPS")
REQUIREMENTS = "functions-framework>=3.10,<4\ngoogle-cloud-compute>=1.56,<2\n"

log = logging.getLogger("aifactory.kill_switch")
log.setLevel(logging.INFO)


class KillSwitchError(RuntimeError):
    """The kill switch did not stop everything it was asked to stop."""


class NotABudgetNotification(ValueError):
    """The event does not carry a Cloud Billing budget notification."""


def settings(environ: Mapping[str, str]) -> tuple[str, str, list[str]]:
    """`(project, zone, groups)` from the function's environment; ValueError naming what is missing."""
    missing = [name for name in VARIABLES if not environ.get(name, "").strip()]
    groups = [g.strip() for g in environ.get("AIFACTORY_GROUPS", "").split(",") if g.strip()]
    if missing or not groups:
        raise ValueError(
            f"{', '.join(missing or ['AIFACTORY_GROUPS'])} missing or empty: this kill switch knows no group to "
            "stop; redeploy the budget guard so the function gets its settings"
        )
    return environ["AIFACTORY_PROJECT"].strip(), environ["AIFACTORY_ZONE"].strip(), groups


def budget_notification(data: Mapping) -> dict:
    """The budget notification a Pub/Sub CloudEvent carries (`data.message.data`, base64 JSON)."""
    try:
        payload = json.loads(base64.b64decode(data["message"]["data"], validate=True))
        cost, budget = float(payload["costAmount"]), float(payload["budgetAmount"])
    except (KeyError, TypeError, ValueError) as error:
        raise NotABudgetNotification(f"not a budget notification ({type(error).__name__}: {error})") from None
    if not isinstance(payload, dict) or budget <= 0 or cost != cost:
        raise NotABudgetNotification("not a budget notification (no positive budgetAmount)")
    return payload


def exhausted(notification: Mapping) -> bool:
    return float(notification["costAmount"]) >= float(notification["budgetAmount"])


def stop_groups(client, project: str, zone: str, groups: list[str]) -> tuple[list[str], dict[str, str]]:
    """Resize each managed instance group to 0; `(stopped, {group: error})`."""
    stopped: list[str] = []
    failed: dict[str, str] = {}
    for name in groups:
        try:
            client.resize(project=project, zone=zone, instance_group_manager=name, size=0)
        except Exception as error:  # noqa: BLE001 -- one group's failure must not spare the others
            failed[name] = f"{type(error).__name__}: {error}"
            log.error("aifactory kill switch: %s NOT resized to 0: %s", name, failed[name])
        else:
            stopped.append(name)
            log.info("aifactory kill switch: %s resized to 0", name)
    return stopped, failed


def handler(cloud_event, client=None) -> dict:
    try:
        project, zone, groups = settings(os.environ)
        notification = budget_notification(cloud_event.data)
    except ValueError as error:
        log.error("aifactory kill switch: %s", error)
        return {"stopped": [], "error": str(error)}
    if not exhausted(notification):
        log.info(
            "aifactory kill switch: %s of %s %s spent, below the budget; nothing to stop",
            notification["costAmount"], notification["budgetAmount"], notification.get("currencyCode", ""),
        )
        return {"stopped": []}
    if client is None:
        from google.cloud import compute_v1

        client = compute_v1.InstanceGroupManagersClient()
    stopped, failed = stop_groups(client, project, zone, groups)
    if failed:
        raise KillSwitchError(json.dumps({"stopped": stopped, "failed": failed}))
    return {"stopped": stopped}


if functions_framework is not None:
    handler = functions_framework.cloud_event(handler)
