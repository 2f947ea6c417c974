"""rulecheck: check an asset allocation unit plan against the detailed plan and the supply contracts.

The public facade::

    import rulecheck
    submission = rulecheck.load_submission("fixtures/eco-recreation/submission.yaml")
    rules = rulecheck.load_rules()            # the built-in packs under rules/
    report = rulecheck.check(submission, rules, as_of="2026-03-01")
    report["summary"]                          # {"error": 0, ..., "passed": True}
"""

from rulecheck.version import __version__


def load_submission(path, **kwargs):
    """Load a submission bundle (manifest YAML and the files it names); raises InputError."""
    from rulecheck.model.submission import load_submission as _load

    return _load(path, **kwargs)


def load_rules(paths=None, params=None, **kwargs):
    """Parse, check and compile rule packs (default: the built-in ones); raises InputError."""
    from rulecheck.dsl.packs import load_rules as _load

    return _load(paths, params, **kwargs)


def check(submission, rules=None, **kwargs):
    """Run the rules over a loaded submission; returns the report record (a JSON-able dict)."""
    from rulecheck.engine import check as _check

    return _check(submission, rules, **kwargs)


__all__ = ["__version__", "check", "load_rules", "load_submission"]
