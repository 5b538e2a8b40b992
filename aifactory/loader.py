"""The one way in for a facility config: its shape (`aifactory.spec`), then the catalog and
cloud rules (`aifactory.rules`), every problem by its config path in one `SpecError`.

`load_facility(data)` returns a `FacilitySpec` whose fleets have their instance type and zone
resolved, so a bad config is refused before anything is registered.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from aifactory import rules
from aifactory.problems import Problem, SpecError
from aifactory.spec import CONFIG_KEY, FacilitySpec, problems_from

LISTS = ("fleets", "filesystems")


def _without_invalid_entries(data: dict, error: ValidationError) -> tuple[dict, dict[str, list[int]]] | None:
    """The config minus the list entries and optional sections that failed validation.

    Returned with, per list, the original index of every kept entry, so that rule problems
    found on the rest still name the user's own paths. None when a required key itself failed.
    """
    bad_items: dict[str, set[int]] = {name: set() for name in LISTS}
    bad_sections: set[str] = set()
    for item in error.errors(include_url=False):
        loc = item["loc"]
        if not loc:
            return None
        head = loc[0]
        if head in LISTS and len(loc) > 1 and isinstance(loc[1], int):
            bad_items[head].add(loc[1])
        elif head in ("network", "budget", "tags", "aws", "azure", "gcp", "zone"):
            bad_sections.add(head)
        else:
            return None
    pruned = {key: value for key, value in data.items() if key not in bad_sections}
    kept: dict[str, list[int]] = {}
    for name in LISTS:
        items = data.get(name)
        if isinstance(items, list):
            kept[name] = [i for i in range(len(items)) if i not in bad_items[name]]
            pruned[name] = [items[i] for i in kept[name]]
    return pruned, kept


def _renumbered(problem: Problem, kept: dict[str, list[int]]) -> Problem:
    path = problem.path
    for name, indices in kept.items():
        prefix = f"{CONFIG_KEY}.{name}["
        if path.startswith(prefix):
            index, rest = path[len(prefix) :].split("]", 1)
            path = f"{prefix}{indices[int(index)]}]{rest}"
    return Problem(path, problem.message)


def load_facility(data: Any) -> FacilitySpec:
    """Validate a raw `aifactory:facility` value; return a resolved spec or raise SpecError.

    Shape problems and catalog/cloud rule problems are reported together: when some entries
    fail the shape check, the rules still run on the rest.
    """
    if not isinstance(data, dict):
        raise SpecError([Problem(CONFIG_KEY, "must be a mapping (see the README for its keys)")])
    try:
        spec = FacilitySpec.model_validate(data)
    except ValidationError as error:
        problems = problems_from(error)
        partial = _without_invalid_entries(data, error)
        if partial is not None:
            pruned, kept = partial
            try:
                rest = FacilitySpec.model_validate(pruned)
            except ValidationError:
                rest = None
            if rest is not None:
                problems += [_renumbered(p, kept) for p in rules.check(rest, partial=True)]
        raise SpecError(problems) from None

    problems = rules.check(spec)
    if problems:
        raise SpecError(problems)
    return rules.resolve(spec)
