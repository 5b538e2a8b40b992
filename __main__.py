"""The Pulumi program: read `aifactory:facility`, refuse a bad config, build the facility."""

import pulumi

from aifactory.loader import load_facility
from aifactory.problems import SpecError
from aifactory.components import build_facility

try:
    spec = load_facility(pulumi.Config("aifactory").get_object("facility"))
except SpecError as error:
    # RunError prints the message without a Python traceback, before anything is registered.
    raise pulumi.RunError(f"invalid aifactory:facility ({len(error.problems)} problems):\n{error}") from None

facility = build_facility(spec)
for name, value in facility.exports().items():
    pulumi.export(name, value)
