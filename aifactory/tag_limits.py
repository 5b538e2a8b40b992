"""What each cloud accepts as resource tags (labels on Google Cloud), checked before deploy.

Every resource of a facility carries the same merged tags (`FacilitySpec.merged_tags`), so the
whole set must fit the cloud's per-resource limits, read 2026-12-02 from:
- AWS: "Tag restrictions" (docs.aws.amazon.com/batch/latest/userguide/tag-restrictions.html, the
  text EC2 and the AWS SDK Tag types repeat): 50 tags a resource, keys up to 128 and values up to
  256 Unicode characters, no `aws:` prefix in any case on keys or values.
- Azure: "Tag resources, resource groups, and subscriptions", limitations
  (learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations): 50 tag
  name-value pairs a resource, names up to 512 and values up to 256 characters, names without
  `<`, `>`, `%`, `&`, `\\`, `?`, `/`; names beginning `microsoft`, `azure` or `windows` are Azure's;
  names are case-insensitive.
- Google Cloud: "Requirements for labels" (cloud.google.com/compute/docs/labeling-resources): 64
  labels a resource, keys 1-63 and values 0-63 characters of lower-case letters, digits, `_`
  and `-`, keys starting with a letter.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from aifactory.problems import Problem


@dataclass(frozen=True)
class TagRules:
    noun: str  # what the cloud calls them
    most: int
    key_length: int
    value_length: int
    key_pattern: re.Pattern | None = None
    value_pattern: re.Pattern | None = None
    pattern_words: str = ""
    forbidden_key_chars: str = ""
    reserved_key_prefixes: tuple[str, ...] = ()
    reserved_value_prefixes: tuple[str, ...] = ()
    case_insensitive_keys: bool = False


RULES = {
    "aws": TagRules("tags", 50, 128, 256, reserved_key_prefixes=("aws:",), reserved_value_prefixes=("aws:",)),
    "azure": TagRules("tags", 50, 512, 256, forbidden_key_chars="<>%&\\?/",
                      reserved_key_prefixes=("microsoft", "azure", "windows"), case_insensitive_keys=True),
    "gcp": TagRules("labels", 64, 63, 63, key_pattern=re.compile(r"^[a-z][a-z0-9_-]*$"),
                    value_pattern=re.compile(r"^[a-z0-9_-]*$"),
                    pattern_words="lower-case letters, digits, '_' and '-' (keys start with a letter)"),
}


def problems(cloud: str, tags: dict[str, str], reserved: tuple[str, ...] = ()) -> Iterator[Problem]:
    """Problems with the tags every resource will carry, by `aifactory:facility.tags.<key>`."""
    rules = RULES.get(cloud)
    if rules is None:
        return
    if len(tags) > rules.most:
        own = f" ({len(reserved)} of them set by aifactory)" if reserved else ""
        yield Problem("aifactory:facility.tags", f"{len(tags)} {rules.noun} in all{own}; {cloud} allows "
                                                 f"at most {rules.most} on a resource")
    if rules.case_insensitive_keys:
        first: dict[str, str] = {}
        for key in tags:
            if key.lower() in first and key not in reserved:
                yield Problem(f"aifactory:facility.tags.{key}", f"{cloud} tag names ignore case, so it is the same "
                                                               f"tag as '{first[key.lower()]}'")
            first.setdefault(key.lower(), key)
    for key, value in tags.items():
        if key in reserved:
            continue
        path = f"aifactory:facility.tags.{key}"
        if not key:
            yield Problem(path, "a tag key must not be empty")
            continue
        if len(key) > rules.key_length:
            yield Problem(path, f"the key is {len(key)} characters; {cloud} allows at most {rules.key_length}")
        if len(value) > rules.value_length:
            yield Problem(path, f"the value is {len(value)} characters; {cloud} allows at most {rules.value_length}")
        if rules.key_pattern and not rules.key_pattern.match(key) or rules.value_pattern and not rules.value_pattern.match(value):
            yield Problem(path, f"Google Cloud {rules.noun} are {rules.pattern_words}, at most {rules.key_length} characters")
        bad = sorted(set(key) & set(rules.forbidden_key_chars))
        if bad:
            yield Problem(path, f"{cloud} tag names cannot contain {' '.join(bad)}")
        if rules.reserved_key_prefixes and key.lower().startswith(rules.reserved_key_prefixes):
            yield Problem(path, f"keys beginning {' / '.join(rules.reserved_key_prefixes)} are reserved by {cloud}")
        if rules.reserved_value_prefixes and value.lower().startswith(rules.reserved_value_prefixes):
            yield Problem(path, f"values beginning {' / '.join(rules.reserved_value_prefixes)} are reserved by {cloud}")
