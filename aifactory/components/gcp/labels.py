"""Google Cloud label rules, shared by the GCP components.

Labels are lower-case letters, digits, '_' and '-', keys start with a letter, both at most
63 characters (cloud.google.com/compute/docs/labeling-resources). A facility spec is checked
against that rule before anything is built (`aifactory.rules.tags_allowed`); components used
alone from another program get the same guarantee here, by rewriting what does not fit.
"""

from __future__ import annotations

import re

_BAD = re.compile(r"[^a-z0-9_-]")


def label_safe(tags: dict[str, str] | None) -> dict[str, str]:
    """`tags` as valid Google Cloud labels (lower-cased, other characters turned into '_')."""
    labels: dict[str, str] = {}
    for key, value in (tags or {}).items():
        k = _BAD.sub("_", str(key).lower())[:63]
        if not k or not k[0].isalpha():
            k = ("l" + k)[:63]
        labels[k] = _BAD.sub("_", str(value).lower())[:63]
    return labels


def region_of(zone: str) -> str:
    """The region of a Google Cloud zone: `us-central1-a` -> `us-central1`."""
    region, _, suffix = zone.rpartition("-")
    if not region or not suffix:
        raise ValueError(f"'{zone}' is not a Google Cloud zone (for example us-central1-a)")
    return region
