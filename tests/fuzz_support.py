"""Shared settings and the property of every fuzz suite: an input is read, or refused with a located
InputError; never another exception (issue 14)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from rulecheck.diagnostics import InputError

# a fixed budget: derandomized (the same examples every run, so CI is reproducible), about a minute in all
# suites together; RULECHECK_FUZZ_SCALE=10 multiplies it for a longer hunt on a developer's machine
SCALE = float(os.environ.get("RULECHECK_FUZZ_SCALE", "1"))
# RULECHECK_FUZZ_RANDOM=1: fresh random examples each run (a hunt), not the fixed CI sequence
RANDOM = os.environ.get("RULECHECK_FUZZ_RANDOM") == "1"


def budget(examples: int):
    return settings(max_examples=max(1, int(examples * SCALE)), derandomize=not RANDOM, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


def assert_located(error: InputError) -> None:
    """Every diagnostic names a file, says what is wrong, and renders without an exception."""
    assert error.diagnostics, "an InputError without diagnostics"
    for diagnostic in error.diagnostics:
        assert diagnostic.path and diagnostic.message
        diagnostic.render()
