"""Mutants of every shipped stack and of preview documents get a result or a clean refusal.

A few hundred examples here (`make test` stays fast); `bench/mutation_sweep.py` runs tens of
thousands with the same mutators and judges and prints what it found.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import mutants

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@settings(max_examples=150, **SETTINGS)
@given(source=st.sampled_from(mutants.STACK_FILES), rng=st.randoms(use_true_random=False))
def test_stack_mutants_validate_or_are_refused(tmp_path_factory, source, rng):
    path = tmp_path_factory.mktemp("mutant") / "Pulumi.mutant.yaml"
    kind, content = mutants.stack_mutant(source, rng)
    path.write_bytes(content)
    failure, _ = mutants.judge_validate(path)
    assert failure is None, (kind, failure)


@settings(max_examples=8, **SETTINGS)
@given(source=st.sampled_from(mutants.STACK_FILES), seed=st.integers(0, 10**6))
def test_valid_stack_mutants_run_as_programs(tmp_path_factory, source, seed):
    rng = random.Random(seed)
    for _ in range(40):  # the first mutant that validates
        path = tmp_path_factory.mktemp("mutant") / "Pulumi.mutant.yaml"
        path.write_bytes(mutants.stack_mutant(source, rng)[1])
        failure, valid = mutants.judge_validate(path)
        assert failure is None, failure
        if valid:
            assert mutants.judge_program(*valid) is None
            return


@settings(max_examples=150, **SETTINGS)
@given(rng=st.randoms(use_true_random=False))
def test_preview_mutants_diff_or_are_refused(rng, capsys):
    base, head = mutants.preview_mutant(rng)
    assert mutants.judge_diff(base, head, rng) is None


@pytest.mark.parametrize("source", mutants.STACK_FILES, ids=lambda p: p.name)
def test_every_shipped_stack_validates_and_its_preview_document_reads_back(source):
    failure, valid = mutants.judge_validate(source)
    assert failure is None and valid is not None
    assert mutants.judge_program(*valid) is None
