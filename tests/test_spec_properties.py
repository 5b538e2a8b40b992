"""Arbitrary mutations of a valid config give a valid spec or a SpecError, never another exception."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aifactory.loader import load_facility
from aifactory.spec import FacilitySpec, SpecError
from tests.test_spec import aws_facility, azure_facility, gcp_facility

BASES = [aws_facility(), azure_facility(), gcp_facility()]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**9), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.sampled_from(["aws", "azure", "gcp", "us-east-1", "p5.48xlarge", "H100", "lustre",
                                           "capacity-block", "10.0.0.0/8", "1.2.3.4/40", "", "0"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


def paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from paths(value, prefix + (i,))


@st.composite
def mutated(draw):
    data = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 4))):
        every = [p for p in paths(data) if p]
        if not every:
            break
        path = draw(st.sampled_from(every))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(values)
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_configs_give_a_spec_or_a_spec_error(data):
    try:
        spec = load_facility(data)
    except SpecError as error:
        assert error.problems and all(p.path.startswith("aifactory:facility") for p in error.problems)
    else:
        assert isinstance(spec, FacilitySpec)
        assert all(f.instance_type for f in spec.fleets)
