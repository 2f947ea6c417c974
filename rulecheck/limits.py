"""Limits on what one run reads and computes, with defaults that serve a county's submissions.

Every limit can be raised (or lowered) three ways, the first found winning:
``rulecheck check --limit NAME=VALUE`` (repeatable), the environment variable ``RULECHECK_LIMIT_NAME``
(upper case), or the API (``with limits.override(NAME=VALUE): ...``). A refusal names the limit and says
how to raise it (docs/security.md lists them all). 0 means no limit.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from dataclasses import dataclass, fields, replace
from typing import Iterator


@dataclass(frozen=True)
class Limits:
    # size of one input file (a manifest, a layer, a rule pack, a parameter or waiver file), in MiB
    max_file_mb: float = 512
    # size of one rule pack, parameter or waiver file, in MiB (the shipped packs are ~30 KiB each)
    max_rule_file_mb: float = 4
    # records of one feature source (a county's parcels number in the tens of thousands)
    max_records: int = 2_000_000
    # vertices of one geometry (a county boundary traced at 1 m has ~200,000)
    max_vertices: int = 2_000_000
    # vertices of the whole submission
    max_total_vertices: int = 50_000_000
    # values a YAML document may expand to (anchors and aliases counted each time they are used)
    max_yaml_nodes: int = 5_000_000
    # nesting depth of YAML and JSON containers
    max_depth: int = 64
    # nesting depth of one rule expression (the shipped rules need under 20)
    max_expr_depth: int = 100
    # seconds one rule may evaluate, and the whole check may take (0: no limit)
    rule_seconds: float = 300
    run_seconds: float = 1800
    # seconds, and MiB of memory, one GDAL layer read (GeoPackage, Shapefile, FileGDB) may take: the read runs in
    # a child process that is stopped there (a GeoPackage view can be endless)
    layer_seconds: float = 600
    layer_memory_mb: float = 8192
    # threads for bulk geometry work (GEOS releases the GIL; 0: one per core this process may use)
    threads: int = 0

    def describe(self, name: str) -> str:
        """``limit max_records=2000000; raise it with --limit max_records=N or RULECHECK_LIMIT_MAX_RECORDS=N``."""
        value = getattr(self, name)
        shown = int(value) if float(value).is_integer() else value
        return (f"limit {name}={shown}; raise it with --limit {name}=N "
                f"or the environment variable RULECHECK_LIMIT_{name.upper()}=N")


NAMES = tuple(f.name for f in fields(Limits))
_TYPES = {f.name: (int if f.type in (int, "int") else float) for f in fields(Limits)}
_current: contextvars.ContextVar[Limits | None] = contextvars.ContextVar("rulecheck_limits", default=None)


def parse_value(name: str, text: str) -> int | float:
    """A limit's value from text; ValueError names what is wrong."""
    if name not in NAMES:
        raise ValueError(f"unknown limit {name!r}; known limits: {', '.join(NAMES)}")
    try:
        value = _TYPES[name](float(text)) if _TYPES[name] is int else float(text)
    except (ValueError, OverflowError):
        raise ValueError(f"limit {name} must be a number, got {text!r}") from None
    if not value == value or value < 0 or value == float("inf"):
        raise ValueError(f"limit {name} must be a finite number >= 0, got {text!r}")
    return value


def _from_env() -> Limits:
    changes = {}
    for name in NAMES:
        text = os.environ.get(f"RULECHECK_LIMIT_{name.upper()}")
        if text:
            try:
                changes[name] = parse_value(name, text)
            except ValueError:
                continue  # a malformed variable is ignored: the default stays in force
    return replace(Limits(), **changes)


def current() -> Limits:
    """The limits in force: an override (CLI or API) over the environment over the defaults."""
    return _current.get() or _from_env()


@contextlib.contextmanager
def override(**values: int | float) -> Iterator[Limits]:
    """Run a block with some limits changed (the others as the environment or defaults say)."""
    for name in values:
        if name not in NAMES:
            raise ValueError(f"unknown limit {name!r}; known limits: {', '.join(NAMES)}")
    limits = replace(current(), **values)
    token = _current.set(limits)
    try:
        yield limits
    finally:
        _current.reset(token)


class BudgetExceeded(Exception):
    """Raised inside a computation that ran past its time budget (see `time_budget`)."""


@contextlib.contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Interrupt the block with BudgetExceeded after `seconds` (0 or less: no limit).

    Uses a real-time interval timer, so it works only in the main thread of a Unix process; elsewhere the
    block runs unbounded and the caller's checks between steps are the only limit.
    """
    import signal
    import threading

    if seconds <= 0 or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):  # noqa: ARG001 - the signal handler's signature
        raise BudgetExceeded()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
