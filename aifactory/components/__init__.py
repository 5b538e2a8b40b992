"""Pulumi components per cloud, and `build_facility` choosing the cloud from the spec."""

from __future__ import annotations

import importlib

from aifactory.spec import FacilitySpec


def build_facility(spec: FacilitySpec, opts=None):
    """Build the spec's facility with the components of its cloud (`components.<cloud>.Facility`)."""
    module = importlib.import_module(f"aifactory.components.{spec.cloud}")
    return module.Facility.from_spec(spec, opts=opts)
