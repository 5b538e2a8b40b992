"""Budget kill switch, the AWS Lambda function's code (runtime python3.12, which provides boto3).

Subscribed to the budget's kill topic, it sets every Auto Scaling group named in AIFACTORY_GROUPS
to min = max = desired = 0. Every group is tried even when another fails. Any failure -- a group
that could not be updated, or AIFACTORY_GROUPS missing or empty -- is logged with the group and
the error, and the invocation then fails: it counts in the function's CloudWatch `Errors` metric,
Lambda retries it (an SNS delivery is an asynchronous invocation, retried at most twice), and the
event with the error goes to the function's on-failure destination. Nothing fails at import, so a
broken configuration never becomes an init crash loop.

This module is shipped as the function's `index.py`; it imports nothing outside the standard
library at load time, so it is tested directly with a fake Auto Scaling client.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping

GROUPS_VARIABLE = "AIFACTORY_GROUPS"

log = logging.getLogger("aifactory.kill_switch")
log.setLevel(logging.INFO)


class KillSwitchError(RuntimeError):
    """The kill switch did not stop everything it was asked to stop."""


def groups_from(environ: Mapping[str, str]) -> list[str]:
    """The Auto Scaling group names in AIFACTORY_GROUPS (comma-separated)."""
    groups = [name.strip() for name in environ.get(GROUPS_VARIABLE, "").split(",") if name.strip()]
    if not groups:
        raise KillSwitchError(
            f"{GROUPS_VARIABLE} is missing or empty: this kill switch knows no Auto Scaling group to stop; "
            "redeploy the budget guard so the function gets its group names"
        )
    return groups


def stop_groups(client, groups: list[str]) -> tuple[list[str], dict[str, str]]:
    """Scale each group to zero; `(stopped, {group: error})`."""
    stopped: list[str] = []
    failed: dict[str, str] = {}
    for name in groups:
        try:
            client.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=0, MaxSize=0, DesiredCapacity=0)
        except Exception as error:  # noqa: BLE001 -- one group's failure must not spare the others
            failed[name] = f"{type(error).__name__}: {error}"
            log.error("aifactory kill switch: %s NOT scaled to zero: %s", name, failed[name])
        else:
            stopped.append(name)
            log.info("aifactory kill switch: %s scaled to zero", name)
    return stopped, failed


def handler(event, context, client=None) -> dict:
    try:
        groups = groups_from(os.environ)
    except KillSwitchError as error:
        log.error("aifactory kill switch: %s", error)
        raise
    if client is None:
        import boto3

        client = boto3.client("autoscaling")
    stopped, failed = stop_groups(client, groups)
    if failed:
        raise KillSwitchError(json.dumps({"stopped": stopped, "failed": failed}))
    return {"stopped": stopped}
