"""The check core that the batch, an impact run, a county and the HTTP service share: the options of
`rulecheck check` as a value, a rule set loaded once per process, one submission checked into a record or its
diagnostics."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

# (rule paths, parameter paths) -> loaded RuleSet, per process: a worker checks many submissions with one pack
_RULESETS: dict[tuple, object] = {}


@dataclass(frozen=True)
class CheckOptions:
    """The options of `rulecheck check` that a batch, an impact run or a service request may set."""

    as_of: str | None = None
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fail_on: str = "error"
    lang: str = "zh"
    waivers: str | None = None
    with_layers: bool = False
    rules: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    limits: dict = field(default_factory=dict)
    stage: str | None = None  # joint_review or supply: overrides each submission's own stage


def ruleset_for(rules: tuple[str, ...] = (), params: tuple[str, ...] = ()):
    """The rule set of these packs and parameter files, loaded once per process."""
    from .dsl.packs import load_rules

    key = (tuple(rules), tuple(params))
    if key not in _RULESETS:
        _RULESETS[key] = load_rules(list(rules) or None, list(params) or None)
    return _RULESETS[key]


def _relative(text: str, base: str | None) -> str:
    """A path shown relative to `base` (a service's private folder must not appear in what a client reads)."""
    if not base or not text:
        return text
    prefix = base.rstrip(os.sep) + os.sep
    return text.replace(prefix, "").replace(base, ".")


def load_and_check(load, options: CheckOptions):
    """(submission, record): `load()` and the check with every option, under the options' limits. The one place
    the options become the engine's arguments (a county's units run through here as a batch's submissions do)."""
    from .engine import check
    from .limits import override

    with override(**options.limits):
        ruleset = ruleset_for(options.rules, options.params)
        submission = load()
        record = check(
            submission, ruleset, as_of=options.as_of, select=list(options.select) or None,
            ignore=list(options.ignore) or None, fail_on=options.fail_on, lang=options.lang,
            waivers=options.waivers, with_layers=options.with_layers, stage=options.stage)
    return submission, record


def diagnostic_records(error, base: str | None = None) -> list[dict]:
    """An InputError's diagnostics as a batch's summary and the service's problems list them (paths relative to
    `base`, when given)."""
    return [{"path": _relative(d.path, base), "line": d.line, "column": d.column, "field": d.field,
             "message": _relative(d.message, base), "hint": d.hint, "severity": d.severity} for d in error.diagnostics]


def check_one(manifest: str, options: CheckOptions, base: str | None = None) -> dict:
    """Check one submission: ``{"manifest", "record"}``, or ``{"manifest", "diagnostics"}`` when its input (or an
    option) cannot be used. Never raises for bad input: a batch goes on with the next submission.

    With `base` (the folder a bundle was unpacked into) the record's manifest and every diagnostic's path are
    shown relative to it."""
    from .diagnostics import InputError
    from .model.submission import load_submission

    try:
        # a service's bundle: its scheme must lie inside the bundle's folder, never above it
        _, record = load_and_check(
            lambda: load_submission(manifest, **({"scheme_root": base} if base is not None else {})), options)
    except InputError as error:
        return {"manifest": _relative(manifest, base), "diagnostics": diagnostic_records(error, base)}
    record["config"] = {"path": None, "applied": []}  # a batch reads no settings file; its reports say so, as check's do
    if base is not None:  # the manifest, a waiver file: wherever the record names a file of the bundle
        record = _without_base(record, base)
    return {"manifest": _relative(manifest, base), "record": record}


def _without_base(value, base: str):
    if isinstance(value, str):
        return _relative(value, base) if base in value else value
    if isinstance(value, dict):
        return {key: _without_base(item, base) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_base(item, base) for item in value]
    return value
