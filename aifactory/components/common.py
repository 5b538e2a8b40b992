"""What every cloud's components share: resource naming, group splitting, node bootstrap templates,
and the budget's alert inputs from a spec (a Facility's args and outputs: `facility_interface`)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

if TYPE_CHECKING:
    from aifactory.spec import BudgetSpec

TEMPLATES = Path(__file__).parent / "templates"


def split_nodes(nodes: int, max_per_group: int) -> list[int]:
    """Split a fleet into as few groups as the cloud allows, sizes differing by at most one."""
    if nodes < 1 or max_per_group < 1:
        raise ValueError("nodes and max_per_group must be positive")
    groups = -(-nodes // max_per_group)
    base, extra = divmod(nodes, groups)
    return [base + 1 if i < extra else base for i in range(groups)]


def group_name(facility: str, fleet: str, index: int, groups: int) -> str:
    """`<facility>-<fleet>` for a single group, `<facility>-<fleet>-<NNN>` when the fleet is split."""
    base = f"{facility}-{fleet}"
    return base if groups == 1 else f"{base}-{index:03d}"


# An absolute path whose parts are letters, digits and ._@+- : safe as a word in a shell script and as
# a field of /etc/fstab (which splits on whitespace).
_MOUNT_PATH = re.compile(r"(/[A-Za-z0-9_.@+-]+)+")


def mount_path(path: object) -> str:
    """`path` if it can be a mount point on a node; ValueError otherwise."""
    if not isinstance(path, str) or not _MOUNT_PATH.fullmatch(path) or {".", ".."} & set(path.split("/")):
        raise ValueError(
            f"mount point must be an absolute path of letters, digits and ._@+- (no spaces, quotes, "
            f"'.' or '..' parts), not {path!r}"
        )
    return path


class ShellWord(str):
    """A value already quoted as one shell word."""


def shquote(value: object) -> ShellWord:
    """Jinja filter: `value` as one shell word (shlex.quote of its text), whatever characters it holds."""
    if isinstance(value, ShellWord):
        return value
    return ShellWord(shlex.quote(str(value)))


def heredoc(value: object, terminator: str) -> ShellWord:
    """Jinja filter: `value` as the literal body of a quoted here-document ending at `terminator`
    (refused if a line of it would end the document early)."""
    text = str(value)
    if terminator in text.splitlines():
        raise jinja2.TemplateError(f"here-document body holds its own terminator line {terminator!r}")
    return ShellWord(text)


def _quoted_only(value: object) -> object:
    # Every `{{ ... }}` of a bootstrap template goes through `| shquote`: a value that reaches a root
    # script unquoted is a template bug, refused at render time rather than shipped.
    if not isinstance(value, ShellWord):
        raise jinja2.TemplateError(f"bootstrap template interpolates {value!r} without `| shquote`")
    return value


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_quoted_only,
    )
    environment.filters["shquote"] = shquote
    environment.filters["heredoc"] = heredoc
    return environment


def render(template: str, **context) -> str:
    """Render a node bootstrap template from components/templates/ (unknown variables are errors; every
    interpolated value is shell-quoted, so names, paths and addresses stay data whatever they hold)."""
    return _environment().get_template(template).render(**context)


def budget_alerts(budget: BudgetSpec) -> dict[str, Any]:
    """The `BudgetGuardArgs` every cloud takes from a spec's budget as they are: the monthly amount,
    who is told, and at which percentages."""
    return {
        "monthly_usd": budget.monthly_usd,
        "alert_emails": [str(e) for e in budget.alert_emails],
        "thresholds_pct": list(budget.thresholds_pct),
    }
