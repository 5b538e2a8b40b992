"""Which org pricing file a command uses: `--pricing FILE`, else the one bundled with the policy
pack (`policies/config/pricing.yaml`); a bad file is refused as a SpecError listing every
problem by its path."""

from __future__ import annotations

from pathlib import Path

from aifactory.catalog import pricing
from aifactory.problems import Problem, SpecError
from aifactory.project import policy_pack_dir

BUNDLED = policy_pack_dir() / "config" / "pricing.yaml"  # the repository's policies/, or the installed copy


def load(path: Path | None = None) -> pricing.OrgPricing:
    chosen = path if path is not None else BUNDLED
    if path is None and not chosen.is_file():
        return pricing.NO_PRICING
    try:
        return pricing.load(chosen)
    except pricing.PricingError as error:
        raise SpecError([Problem(p, m) for p, m in error.problems]) from None
