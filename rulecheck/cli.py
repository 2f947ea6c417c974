"""The command line: arguments -> engine -> report emitters, and the exit status a workflow gates on."""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path

import click

from . import __version__
from .diagnostics import Diagnostic, InputError

FAIL_ON = ("error", "warning", "info", "indeterminate", "never")
LANGS = ("zh", "en")

# exit statuses (bundle-format.md): 0 passed, 1 conflicts at or above --fail-on or nothing decided, 2 unreadable input
# or an unknown rule in --select/--ignore/a waiver, 3 a bug
EXIT_PASSED, EXIT_CONFLICTS, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


class RulecheckGroup(click.Group):
    """Turns InputError into diagnostics on stderr and exit 2, and any other exception into one line and exit 3."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except InputError as error:
            for diagnostic in error.diagnostics:
                click.echo(diagnostic.render(), err=True)
            ctx.exit(EXIT_INPUT)
        except Exception as error:  # noqa: BLE001 - the top level: a bug must not print a traceback at a reviewer
            if os.environ.get("RULECHECK_DEBUG"):
                raise
            click.echo(f"rulecheck: internal error: {type(error).__name__}: {error}", err=True)
            click.echo("rulecheck: rerun with RULECHECK_DEBUG=1 to see the traceback, and please report it", err=True)
            ctx.exit(EXIT_INTERNAL)


@click.group(cls=RulecheckGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rulecheck")
def cli() -> None:
    """Check an allocation unit plan against the detailed plan and the supply contracts.

    检查自然资源资产配置单元规划与详细规划、供应合同是否一致。
    """


def main(argv: list[str] | None = None) -> None:
    """Console entry point (``rulecheck``)."""
    cli.main(args=argv, prog_name="rulecheck")


def _split(values: tuple[str, ...]) -> list[str]:
    """``--select IND --select LAY-004,SUP`` -> ``["IND", "LAY-004", "SUP"]``."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _destinations(formats: tuple[str, ...], outputs: tuple[str, ...], output_dir: str | None) -> list[tuple[str, str]]:
    """Pair each format with where it goes ("-" is stdout); a usage error (exit 2) when they do not pair."""
    from .report import EXTENSIONS

    formats = formats or ("text",)
    if len(set(formats)) != len(formats):
        raise click.UsageError("each --format may be given once")
    if outputs and output_dir:
        raise click.UsageError("give either --output (one per --format) or --output-dir, not both")
    if output_dir:
        return [(fmt, str(Path(output_dir) / f"report.{EXTENSIONS[fmt]}")) for fmt in formats]
    if outputs:
        if len(outputs) != len(formats):
            raise click.UsageError(
                f"{len(formats)} --format but {len(outputs)} --output: the nth --output receives the nth --format")
        pairs = list(zip(formats, outputs))
    elif len(formats) > 1:
        raise click.UsageError("several --format need an --output each (in the same order) or --output-dir")
    else:
        pairs = [(formats[0], "-")]
    if sum(1 for _, dest in pairs if dest == "-") > 1:
        raise click.UsageError("only one format can go to standard output ('-')")
    return pairs


def _write(dest: str, text: str) -> None:
    try:
        path = Path(dest)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
    except OSError as error:
        raise InputError([Diagnostic(dest, f"cannot write the report: {error.strerror or error}")]) from None


@cli.command()
@click.argument("submission", metavar="SUBMISSION")
@click.option("--rules", "rule_paths", multiple=True, metavar="PATH",
              help="Rule pack file or folder (repeatable; default: the packs shipped with rulecheck).")
@click.option("--params", "param_paths", multiple=True, metavar="FILE",
              help="Parameter file overriding the shipped parameters (repeatable), e.g. a province's.")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, metavar="DATE",
              help="The date whose law applies (default: the submission's as_of, else today).")
@click.option("--select", multiple=True, metavar="ID|PREFIX", help="Run only these rules or families (repeatable).")
@click.option("--ignore", multiple=True, metavar="ID|PREFIX", help="Skip these rules or families (repeatable).")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="error", show_default=True,
              help="Lowest severity that makes the exit status 1; indeterminate: also any result that could "
                   "not be decided; never: exit 0 whatever is found.")
@click.option("--format", "formats", multiple=True, type=click.Choice(sorted(("text", "json", "sarif", "junit",
              "geojson", "markdown", "html"))), help="Report format (repeatable; default text).")
@click.option("--output", "outputs", multiple=True, metavar="FILE",
              help="Where the nth --format goes ('-' for standard output).")
@click.option("--output-dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Write report.<ext> for every --format into DIR.")
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True, help="Report language.")
@click.option("--explain", is_flag=True, help="Show the values each failing condition was computed from.")
@click.option("--waivers", "waiver_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="YAML file of approved waivers.")
@click.option("--baseline", "baseline_path", type=click.Path(dir_okay=False), default=None, metavar="REPORT.json",
              help="The JSON report of an earlier round: mark each conflict new or persisting, list the resolved.")
@click.option("--fail-on-new", is_flag=True, help="With --baseline: only new conflicts fail the gate.")
@click.option("--color/--no-color", default=None, help="Colour the text report (default: when stdout is a terminal).")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing to standard output; only the exit status and files.")
@click.option("--timings", is_flag=True,
              help="Print each rule's time and the records it visited to standard error (and put them in the JSON report).")
def check(submission, rule_paths, param_paths, as_of, select, ignore, fail_on, formats, outputs, output_dir,
          lang, explain, waiver_path, baseline_path, fail_on_new, color, quiet, timings):
    """Check SUBMISSION (a manifest YAML) and report every conflict.

    Exit status: 0 passed (no conflict at or above --fail-on, and some rule
    decided something), 1 failed (a conflict at or above --fail-on) or
    undecided (every rule not applicable or indeterminate); with --baseline
    and --fail-on-new, only new conflicts count. 2 the command
    line, submission, rules, parameters or waivers could not be used.
    """
    from . import report

    destinations = _destinations(formats, outputs, output_dir)
    if fail_on_new and not baseline_path:
        raise click.UsageError("--fail-on-new needs --baseline REPORT.json (new since which report?)")
    import rulecheck

    ruleset = rulecheck.load_rules(list(rule_paths) or None, list(param_paths) or None)
    # a typo in --select/--ignore must not check fewer rules (or none) and pass: exit 2 with a suggestion,
    # before the submission is read
    ruleset.select(_split(select) or None, _split(ignore) or None, origin="<command line>",
                   labels=("--select", "--ignore"))
    loaded = rulecheck.load_submission(submission)
    record = rulecheck.check(
        loaded, ruleset,
        as_of=as_of.date() if as_of else None,
        select=_split(select) or None,
        ignore=_split(ignore) or None,
        fail_on=fail_on,
        lang=lang,
        explain=explain,
        waivers=waiver_path,
        with_layers=any(fmt == "html" for fmt, _ in destinations),
        baseline=baseline_path,
        fail_on_new=fail_on_new,
        timings=timings,
        progress=_Progress() if sys.stderr.isatty() else None,
    )
    if timings:
        _print_timings(record["timings"])

    _emit(record, destinations, lang, color, quiet, fail_on)


def _emit(record: dict, destinations: list[tuple[str, str]], lang: str, color, quiet: bool, fail_on: str) -> None:
    """Write every report, print the verdict line when none went to standard output, and exit with the status."""
    from . import report

    if color is None:
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    to_stdout = False
    for fmt, dest in destinations:
        if dest == "-":
            to_stdout = True
            if not quiet:
                click.echo(report.render(record, fmt, lang=lang, color=bool(color) and fmt == "text"), nl=False)
        else:
            _write(dest, report.render(record, fmt, lang=lang))
    if not to_stdout and not quiet:
        click.echo(report.render_summary_line(record, lang=lang))

    from .waivers import gate_fails

    summary = record.get("summary") or {}
    failed = (not summary["passed"]) if "passed" in summary else gate_fails(record.get("conflicts") or [], fail_on)
    # `passed` is false for an undecided run too; --fail-on never asks for a report, not a gate
    sys.exit(EXIT_CONFLICTS if failed and fail_on != "never" else EXIT_PASSED)


@cli.command()
@click.argument("old", metavar="OLD.json")
@click.argument("new", metavar="NEW.json")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="error", show_default=True,
              help="Lowest severity that makes the exit status 1.")
@click.option("--fail-on-new", is_flag=True, help="Only new conflicts fail the gate.")
@click.option("--format", "formats", multiple=True, type=click.Choice(sorted(("text", "json", "sarif", "junit",
              "geojson", "markdown", "html"))), help="Report format (repeatable; default text).")
@click.option("--output", "outputs", multiple=True, metavar="FILE",
              help="Where the nth --format goes ('-' for standard output).")
@click.option("--output-dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Write report.<ext> for every --format into DIR.")
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True, help="Report language.")
@click.option("--color/--no-color", default=None, help="Colour the text report (default: when stdout is a terminal).")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing to standard output; only the exit status and files.")
def diff(old, new, fail_on, fail_on_new, formats, outputs, output_dir, lang, color, quiet):
    """Compare two JSON reports of the same submission (an earlier round OLD and a later one NEW).

    NEW is reported with each conflict marked new or persisting and the
    conflicts of OLD that are gone listed as resolved, matched by rule and
    subjects (not by message or line). Exit status as for `check`, on NEW
    (with --fail-on-new, on its new conflicts only); 2 a report could not be read.
    """
    from .baseline import compare, load_report
    from .waivers import recount

    destinations = _destinations(formats, outputs, output_dir)
    earlier, later = load_report(old, "old"), load_report(new, "new")
    record = compare(earlier, later, old)
    record["summary"]["fail_on_new"] = fail_on_new
    record = recount(record, fail_on)
    _emit(record, destinations, lang, color, quiet, fail_on)


class _Progress:
    """One line on standard error, rewritten in place, once a run has taken more than a second (terminals only)."""

    def __init__(self, after: float = 1.0):
        import time

        self.clock = time.monotonic
        self.start = self.clock() + after
        self.shown = False

    def __call__(self, done: int, total: int, rule_id: str | None) -> None:
        if rule_id is None:
            if self.shown:
                self._write("\r\033[K")
            return
        if self.clock() >= self.start:
            self.shown = True
            self._write(f"\r\033[K[{done + 1}/{total}] {rule_id}")

    @staticmethod
    def _write(text: str) -> None:  # a cursor control, not a colour: written as it is (click would strip it)
        sys.stderr.write(text)
        sys.stderr.flush()


def _print_timings(timings: dict) -> None:
    click.echo(f"{'rule':<10} {'seconds':>9} {'visited':>10} {'checked':>9}", err=True)
    for row in timings["rules"]:
        click.echo(f"{row['rule']:<10} {row['seconds']:>9.3f} {row['visited']:>10} {row['checked']:>9}", err=True)
    click.echo(f"{'total':<10} {timings['seconds']:>9.3f} {timings['visited']:>10}", err=True)


# ---- rules ----------------------------------------------------------------------------------------


@cli.group()
def rules() -> None:
    """List, show, validate and test rule packs."""


@rules.command("list")
@click.option("--rules", "rule_paths", multiple=True, metavar="PATH", help="Rule packs (default: the shipped ones).")
@click.option("--params", "param_paths", multiple=True, metavar="FILE", help="Parameter files.")
@click.option("--format", "fmt", type=click.Choice(("text", "markdown", "json")), default="text", show_default=True)
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True)
def rules_list(rule_paths, param_paths, fmt, lang):
    """List every rule: id, severity, title (and basis in markdown/json)."""
    import rulecheck

    from .report.catalog import render_catalog

    ruleset = rulecheck.load_rules(list(rule_paths) or None, list(param_paths) or None)
    params = ruleset.param_catalog() if fmt != "text" and hasattr(ruleset, "param_catalog") else None
    click.echo(render_catalog(ruleset.catalog(), fmt, lang=lang, params=params), nl=False)


@rules.command("show")
@click.argument("rule_id", metavar="ID")
@click.option("--rules", "rule_paths", multiple=True, metavar="PATH", help="Rule packs (default: the shipped ones).")
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True)
def rules_show(rule_id, rule_paths, lang):
    """Show one rule: titles, severity, legal basis, tags, where it is written."""
    import rulecheck

    from .report.catalog import render_rule

    catalog = {entry["id"]: entry for entry in rulecheck.load_rules(list(rule_paths) or None).catalog()}
    entry = catalog.get(rule_id) or catalog.get(rule_id.upper())
    if entry is None:
        close = difflib.get_close_matches(rule_id.upper(), list(catalog), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "see `rulecheck rules list`"
        raise InputError([Diagnostic("<command line>", f"no rule {rule_id!r}", field="ID", hint=hint)])
    click.echo(render_rule(entry, lang=lang), nl=False)


@rules.command("validate")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--params", "param_paths", multiple=True, metavar="FILE",
              help="Parameter override files to check against the packs (a province's figures).")
@click.option("--plan", "show_plan", is_flag=True,
              help="Also print, per rule, which join conditions an index answers and which run per pair.")
def rules_validate(paths, param_paths, show_plan):
    """Parse and check rule packs; print every problem found. Exit 2 when there is an error."""
    from .dsl import validate
    from .dsl.rules import validated

    if show_plan:
        rule_set, diagnostics = validated(list(paths), list(param_paths) or None)
    else:
        diagnostics = validate(list(paths), list(param_paths) or None)
    for diagnostic in diagnostics:
        click.echo(diagnostic.render(), err=True)
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        sys.exit(EXIT_INPUT)
    if show_plan:
        from .dsl.planner import plan_lines

        for rule in rule_set.rules:
            if rule.path.endswith(".rule") and rule.plans is not None:
                click.echo(f"{rule.id}  {rule.path}:{rule.rule.span.line}")
                for line in plan_lines(rule.plans) or ["  (no loop over a collection)"]:
                    click.echo(line)
    click.echo(f"{len(paths)} rule pack(s) OK" + (f", {len(diagnostics)} warning(s)" if diagnostics else ""))


@rules.command("test")
@click.argument("paths", nargs=-1, metavar="[PATH...]")
def rules_test(paths):
    """Run the tests written beside the rules (default: the shipped packs). Exit 1 when one fails."""
    from .dsl import run_rule_tests

    results = run_rule_tests(list(paths) or None)
    failed = 0
    for result in results:
        ok = bool(getattr(result, "passed", getattr(result, "ok", False)))
        failed += not ok
        text = result.render() if hasattr(result, "render") else str(result)
        click.echo(text, err=not ok)
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(EXIT_CONFLICTS if failed else EXIT_PASSED)


# ---- init -----------------------------------------------------------------------------------------


@cli.command()
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False))
def init(directory):
    """Write a skeleton submission into DIR (a manifest and tiny layers) that loads cleanly. Never overwrites."""
    from .skeleton import skeleton_files

    files = skeleton_files()
    root = Path(directory)
    existing = [name for name in files if (root / name).exists()]
    if existing:
        raise InputError([Diagnostic(str(root / name), "already exists; rulecheck init never overwrites a file",
                                     hint="choose an empty or new folder") for name in existing])
    for name, text in files.items():
        _write(str(root / name), text)
    click.echo(f"wrote {', '.join(str(root / name) for name in files)}")
    click.echo(f"next: rulecheck check {root / 'submission.yaml'}")
