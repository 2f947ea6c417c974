"""The command line: arguments -> engine -> report emitters, and the exit status a workflow gates on."""

from __future__ import annotations

import contextlib
import difflib
import gc
import os
import sys
import tempfile
from pathlib import Path

import click

from .version import __version__
from .diagnostics import Diagnostic, InputError, printable

from .vocabulary import FAIL_ON, FORMAT_NAMES, LANGS, STAGES

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
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Check an allocation unit plan against the detailed plan and the supply contracts.

    检查自然资源资产配置单元规划与详细规划、供应合同是否一致。
    """
    if ctx.invoked_subcommand != "check":  # `check` resumes it once its rules are loaded
        _started()


def main(argv: list[str] | None = None) -> None:
    """Console entry point (``rulecheck``)."""
    # Starting up (importing the model, the compiler and the report, loading the rule packs) builds tens of
    # thousands of long-lived objects and little garbage, and the cyclic collector's full passes over them
    # cost a lint about 0.1 s of CPU. It is paused until the start-up is done (_started), then those objects
    # are frozen out of its later passes (the ~1.4 MB of them that are garbage stay until the command ends).
    # Only the console command does this, not the API nor click's test runner.
    global _gc_paused
    if gc.isenabled():
        gc.disable()
        _gc_paused = True
    try:
        cli.main(args=argv, prog_name="rulecheck")
    finally:  # a caller that catches the SystemExit gets the collector back
        _started(freeze=False)


_gc_paused = False


def _started(freeze: bool = True) -> None:
    """The start-up is done: the collector runs again, over what is built from here on (see main)."""
    global _gc_paused
    if _gc_paused:
        _gc_paused = False
        if freeze:
            gc.freeze()
        gc.enable()


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


def _same_file(path: Path, others: list[Path]) -> Path | None:
    """The input among `others` that `path` names (through any symlink), or None."""
    try:
        target = path.resolve()
    except (OSError, RuntimeError):
        return None
    for other in others:
        try:
            if target == other.resolve() or (path.exists() and other.exists() and os.path.samefile(path, other)):
                return other
        except (OSError, RuntimeError):
            continue
    return None


def _is_stream(path: Path) -> bool:
    """A device, pipe or socket (directly or through symlinks): something to write to, not a file to replace."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _write(dest: str, text, inputs: list[Path] | None = None) -> None:
    """Write a report (a text, or its pieces in order) atomically: a temporary file in the same folder, then
    renamed over `dest`. Pieces are written as they come, so a county's report is never whole in memory.

    Never overwrites an input (the manifest, a layer, a rule, parameter or waiver file); a symlink at `dest` is
    replaced, never written through; an error leaves no half-written file. A device or a pipe (/dev/null,
    /dev/stdout) is written to as a stream: it is never replaced.
    """
    path = Path(dest)
    clash = _same_file(path, inputs or [])
    if clash is not None:
        raise InputError([Diagnostic(dest, f"refusing to write the report over an input file ({clash})",
                                     hint="choose another --output path or --output-dir")])
    if _is_stream(path):  # /dev/null, /dev/stdout, a pipe: written as a stream, never replaced by a file
        try:
            with open(path, "wb") as stream:
                stream.writelines(_encoded(text))
        except OSError as error:
            raise InputError([Diagnostic(dest, f"cannot write the report: {error.strerror or error}")]) from None
        return
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(21, "is a folder")
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:100]}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as stream:
            stream.writelines(_encoded(text))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
        temporary = None
    except OSError as error:
        raise InputError([Diagnostic(dest, f"cannot write the report: {error.strerror or error}")]) from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _encoded(text):
    """A report's bytes: UTF-8, a lone surrogate (from a malformed input) written as a backslash escape."""
    for piece in [text] if isinstance(text, (str, bytes)) else text:
        yield piece if isinstance(piece, bytes) else piece.encode("utf-8", "backslashreplace")


def _input_paths(record: dict, submission: str, *others: str | None) -> list[Path]:
    """Every file the check read: the manifest, its layers (with sidecars), rule, parameter and waiver files."""
    manifest = Path(submission)
    paths = [manifest]
    for item in (record.get("submission") or {}).get("inputs") or []:
        name = str(item.get("path", "")).split("#", 1)[0]
        if name:
            paths.append(Path(name) if Path(name).is_absolute() else manifest.parent / name)
    for other in others:
        if other:
            paths.append(Path(other))
    return paths


def _limits(values: tuple[str, ...]) -> dict[str, float]:
    """``--limit max_records=5000000`` -> ``{"max_records": 5000000}``; a usage error (exit 2) when malformed."""
    from .limits import parse_value

    chosen: dict[str, float] = {}
    for value in values:
        name, sep, number = value.partition("=")
        if not sep:
            raise click.UsageError(f"--limit takes NAME=VALUE, got {value!r}")
        try:
            chosen[name.strip()] = parse_value(name.strip(), number.strip())
        except ValueError as error:
            raise click.UsageError(str(error)) from None
    return chosen


def _limit_option(function):
    from .limits import NAMES

    return click.option("--limit", "limit_values", multiple=True, metavar="NAME=VALUE",
                        help="Raise (or lower) a limit for this run, e.g. --limit max_records=5000000 "
                             f"(repeatable; names: {', '.join(NAMES)}; see docs/security.md).")(function)


# the report formats, offered in alphabetical order (from the vocabulary, so that parsing the command line imports
# no emitter)
REPORT_FORMATS = tuple(sorted(FORMAT_NAMES))


def _report_options(command):
    """--format, --output, --output-dir and --lang, for every command that writes a report."""
    for option in reversed((
        click.option("--format", "formats", multiple=True, type=click.Choice(REPORT_FORMATS),
                     help="Report format (repeatable; default text)."),
        click.option("--output", "outputs", multiple=True, metavar="FILE",
                     help="Where the nth --format goes ('-' for standard output)."),
        click.option("--output-dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
                     help="Write report.<ext> for every --format into DIR."),
        click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True, help="Report language."),
    )):
        command = option(command)
    return command


COLOR_CHOICES = ("always", "never", "auto")


class _ColorCommand(click.Command):
    """A command with `--color [always|never|auto]`: the word after `--color` is its value only when it is one
    of these; otherwise `--color` alone means always and the word stays an argument (`--color sub.yaml`)."""

    def parse_args(self, ctx, args):
        args = list(args)
        for i, arg in enumerate(args):
            if arg == "--":
                break
            if arg == "--color" and (i + 1 == len(args) or args[i + 1] not in COLOR_CHOICES):
                args[i] = "--color=always"
        return super().parse_args(ctx, args)


def _color_options(command):
    """--color always|never|auto (alone: always) and --no-color, for every command that prints a text report."""
    command = click.option("--no-color", "no_color", is_flag=True, help="Same as --color never.")(command)
    return click.option("--color", "color", type=click.Choice(COLOR_CHOICES), is_flag=False,
                        flag_value="always", default="auto", show_default=True,
                        help="Colour the text report: auto = when standard output is a terminal, unless NO_COLOR is "
                             "set (FORCE_COLOR forces it); --color alone = always.")(command)


@cli.command(cls=_ColorCommand)
@click.argument("submission", metavar="SUBMISSION")
@click.option("--rules", "rule_paths", multiple=True, metavar="PATH",
              help="Rule pack file or folder replacing the shipped rules (repeatable; the whole rule set: a parameter it declares replaces the shipped one, the others stay).")
@click.option("--add-rules", "add_paths", multiple=True, metavar="PATH",
              help="One's own rule pack added to the shipped rules (repeatable); replacing a shipped rule or "
                   "parameter is written `override` in the pack.")
@click.option("--params", "param_paths", multiple=True, metavar="FILE",
              help="Parameter file overriding the shipped parameters (repeatable), e.g. a province's.")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, metavar="DATE",
              help="The date whose law applies (default: the submission's as_of, else today).")
@click.option("--stage", type=click.Choice(STAGES), default=None,
              help="The moment of the gate: before the joint approval (同编同审) or before supply "
                   "(default: the submission's stage, else joint_review).")
@click.option("--select", multiple=True, metavar="ID|PREFIX",
              help="Run only these rules or families (repeatable, any letter case); one naming no rule: exit 2.")
@click.option("--ignore", multiple=True, metavar="ID|PREFIX",
              help="Skip these rules or families (repeatable, any letter case); one naming no rule: exit 2.")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="error", show_default=True,
              help="Lowest severity that makes the exit status 1; indeterminate: also any result that could "
                   "not be decided; never: exit 0 whatever is found.")
@_report_options
@click.option("--explain", is_flag=True, help="Show the values each failing condition was computed from.")
@click.option("--waivers", "waiver_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="YAML file of approved waivers.")
@click.option("--baseline", "baseline_path", type=click.Path(dir_okay=False), default=None, metavar="REPORT.json",
              help="The JSON report of an earlier round: mark each conflict new or persisting, list the resolved.")
@click.option("--fail-on-new", is_flag=True, help="With --baseline: only new conflicts fail the gate.")
@_color_options
@click.option("--quiet", "-q", is_flag=True, help="Print nothing to standard output; only the exit status and files.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Settings file (rulecheck.toml or a pyproject.toml with [tool.rulecheck]); default: the one in "
                   "the working folder (never one in the submission's folder or above it). The command line wins.")
@click.option("--no-config", is_flag=True, help="Use no settings file.")
@click.option("--allow-outside", is_flag=True,
              help="Let the manifest name layers outside its own folder (absolute paths, '..', symlinks out).")
@click.option("--timings", is_flag=True,
              help="Print each rule's time and the records it visited to standard error (and put them in the JSON report).")
@_limit_option
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="A county submission: processes checking its units (default: every core).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:8786|local",
              help="A county submission: check its units on Dask distributed, as `batch` does.")
@click.pass_context
def check(ctx, submission, rule_paths, add_paths, param_paths, as_of, stage, select, ignore, fail_on, formats, outputs, output_dir,
          lang, explain, waiver_path, baseline_path, fail_on_new, color, no_color, quiet, config_path, no_config,
          allow_outside, timings, limit_values, jobs, scheduler):
    """Check SUBMISSION (a manifest YAML) and report every conflict.

    Exit status: 0 passed (no conflict at or above --fail-on, and some rule
    decided something), 1 failed (a conflict at or above --fail-on) or
    undecided (every rule not applicable or indeterminate); with --baseline
    and --fail-on-new, only new conflicts count. 2 the command
    line, submission, rules, parameters or waivers could not be used.
    """
    from .limits import override

    config = None if no_config else _config(submission, config_path)
    given = _from_config(ctx, config.values if config else {})
    from .county import is_county_manifest

    if is_county_manifest(submission):  # county.yaml: the scheme, every unit against it, the units against each other
        unsupported = [name for name, value in (("--baseline", baseline_path), ("--explain", explain), ("--timings", timings),
                                                ("--add", add_paths)) if value]
        if unsupported:  # never dropped silently
            raise click.UsageError(f"{', '.join(unsupported)}: not available for a county submission yet; check a unit alone")
        with override(**_limits(limit_values)):
            _check_county(submission, given("rule_paths", "rules"), given("param_paths", "params"), as_of,
                          given("select", "select"), given("ignore", "ignore"), given("fail_on", "fail-on"),
                          given("formats", "format"), outputs, given("output_dir", "output-dir"), given("lang", "lang"),
                          given("waiver_path", "waivers"), color, no_color, quiet, allow_outside, jobs, scheduler,
                          _limits(limit_values), stage)
        return
    with override(**_limits(limit_values)):
        _check(submission, given("rule_paths", "rules"), given("param_paths", "params"), as_of, given("select", "select"),
               given("ignore", "ignore"), given("fail_on", "fail-on"), given("formats", "format"), outputs,
               given("output_dir", "output-dir"), given("lang", "lang"), explain, given("waiver_path", "waivers"),
               baseline_path, fail_on_new, color, no_color, quiet, allow_outside, timings, config, given, add_paths,
               stage)


def _check(submission, rule_paths, param_paths, as_of, select, ignore, fail_on, formats, outputs, output_dir,
           lang, explain, waiver_path, baseline_path, fail_on_new, color, no_color, quiet, allow_outside, timings,
           config, given, add_paths=(), stage=None):
    destinations = _destinations(formats, outputs, output_dir)
    if fail_on_new and not baseline_path:
        raise click.UsageError("--fail-on-new needs --baseline REPORT.json (new since which report?)")
    import rulecheck

    ruleset = rulecheck.load_rules(list(rule_paths) or None, list(param_paths) or None,
                                   **({"add": list(add_paths)} if add_paths else {}))
    _started()
    from .model.sources import no_gc

    # from here a run makes millions of small objects and no garbage cycles worth a collection, which would walk
    # every object made so far (a county's parcels, then its conflicts): seconds at county scale
    with no_gc():
        # a typo in --select/--ignore must not check fewer rules (or none) and pass: exit 2 with a suggestion,
        # before the submission is read
        from_file = {key for key in ("select", "ignore") if key in given.applied}
        ruleset.select(_split(select) or None, _split(ignore) or None,
                       origin=_shown_config(config) if from_file else "<command line>",
                       labels=tuple(key if key in from_file else f"--{key}" for key in ("select", "ignore")))
        loaded = _load_from_working_folder(rulecheck, submission, allow_outside)
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
            stage=stage,
        )
        if timings:
            _print_timings(record["timings"])
        _echo_load_warnings(record)  # what the load found wrong but not fatal: said on every run

        # an auditor sees which settings file shaped the gate, or that none did
        record["config"] = ({"path": _shown_config(config), "applied": sorted(given.applied)} if config and config.path
                            else {"path": None, "applied": []})
        _emit(record, destinations, lang, _use_color("never" if no_color else color), quiet, fail_on,
              _input_paths(record, submission, waiver_path, baseline_path, *rule_paths, *param_paths,
                           str(config.path) if config and config.path else None))


def _echo_load_warnings(record: dict) -> None:
    """The load's warnings (the report's `diagnostics`) on standard error, as the loader's errors are printed."""
    for warning in record.get("diagnostics") or []:
        click.echo(Diagnostic(str(warning.get("path") or ""), str(warning.get("message") or ""), line=warning.get("line"),
                              column=warning.get("column"), field=warning.get("field"),
                              severity=warning.get("severity") or "warning", hint=warning.get("hint")).render(), err=True)


def _check_county(submission, rule_paths, param_paths, as_of, select, ignore, fail_on, formats, outputs, output_dir, lang,
                  waiver_path, color, no_color, quiet, allow_outside, jobs, scheduler, limits, stage=None):
    """`check county.yaml`: every unit checked as `batch` checks it, then the units against each other; one report."""
    import dataclasses

    import rulecheck

    from .county import check_county

    destinations = _destinations(formats, outputs, output_dir)
    options = dataclasses.replace(_batch_options(as_of, select, ignore, fail_on, lang, rule_paths, param_paths, waiver_path,
                                                 stage=stage),
                                  with_layers=any(fmt == "html" for fmt, _ in destinations), limits=limits)
    rulecheck.load_rules(list(rule_paths) or None, list(param_paths) or None).select(
        list(options.select) or None, list(options.ignore) or None)
    record = check_county(submission, options, jobs=jobs or os.cpu_count() or 1, scheduler=scheduler,
                          allow_outside=allow_outside)
    _echo_load_warnings(record)  # each unit's load warnings, as a unit's check says them
    _emit(record, destinations, lang, _use_color("never" if no_color else color), quiet, fail_on,
          _input_paths(record, submission, waiver_path, *rule_paths, *param_paths))


def _emit(record: dict, destinations: list[tuple[str, str]], lang: str, coloured: bool, quiet: bool, fail_on: str,
          inputs: list[Path] | None = None) -> None:
    """Write every report, print the verdict line when none went to standard output, and exit with the status."""
    from . import report

    to_stdout = False
    for fmt, dest in destinations:
        if dest == "-":
            to_stdout = True
            if not quiet:
                text = report.render(record, fmt, lang=lang, color=coloured and fmt == "text")
                click.echo(text, nl=False, color=coloured or None)  # click strips colour off a pipe unless told
        else:
            _write(dest, report.encoded_pieces(record, fmt, lang=lang), inputs)
    if not to_stdout and not quiet:
        from .report.common import settings_line
        from .report.escape import for_terminal

        settings = settings_line(for_terminal({"config": record.get("config")}), lang)
        if settings:
            click.echo(settings)
        from .report.common import reprojection_line

        moved = reprojection_line(record, lang)  # the reports said it; so does the terminal
        if moved:
            click.echo(moved)
        click.echo(report.render_summary_line(record, lang=lang))

    from .gate import gate_fails

    summary = record.get("summary") or {}
    failed = (not summary["passed"]) if "passed" in summary else gate_fails(record.get("conflicts") or [], fail_on)
    # `passed` is false for an undecided run too; --fail-on never asks for a report, not a gate
    sys.exit(EXIT_CONFLICTS if failed and fail_on != "never" else EXIT_PASSED)


@cli.command(cls=_ColorCommand)
@click.argument("old", metavar="OLD.json")
@click.argument("new", metavar="NEW.json")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="error", show_default=True,
              help="Lowest severity that makes the exit status 1.")
@click.option("--fail-on-new", is_flag=True, help="Only new conflicts fail the gate.")
@_report_options
@_color_options
@click.option("--quiet", "-q", is_flag=True, help="Print nothing to standard output; only the exit status and files.")
def diff(old, new, fail_on, fail_on_new, formats, outputs, output_dir, lang, color, no_color, quiet):
    """Compare two JSON reports of the same submission (an earlier round OLD and a later one NEW).

    NEW is reported with each conflict marked new or persisting and the
    conflicts of OLD that are gone listed as resolved, matched by rule and
    subjects (not by message or line). Exit status as for `check`, on NEW
    (with --fail-on-new, on its new conflicts only); 2 a report could not be read.
    """
    from .baseline import compare, load_report
    from .gate import recount

    destinations = _destinations(formats, outputs, output_dir)
    earlier, later = load_report(old, "old"), load_report(new, "new")
    record = compare(earlier, later, old)
    record["summary"]["fail_on_new"] = fail_on_new
    record = recount(record, fail_on)
    _emit(record, destinations, lang, _use_color("never" if no_color else color), quiet, fail_on, [Path(old), Path(new)])


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


def _shown_config(config) -> str:
    from .config import shown

    return shown(config.path)


def _use_color(choice: str) -> bool:
    """--color always|never win; auto: never with NO_COLOR, always with FORCE_COLOR, else when stdout is a terminal."""
    if choice in ("always", "never"):
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR", "") not in ("", "0", "false"):
        return True
    return sys.stdout.isatty()


def _config(submission: str, explicit: str | None):
    from .config import load_config

    folder = Path(submission).parent
    config = load_config(Path.cwd(), explicit, fail_on=FAIL_ON, langs=LANGS, formats=FORMAT_NAMES,
                         submission_folder=folder)
    if explicit is None and config.path is None:
        from .config import FILE_NAMES, ignored_inside, shown

        for name in FILE_NAMES:  # say why a settings file beside the manifest made no difference
            candidate = Path.cwd() / name
            if not candidate.is_file() or not ignored_inside(candidate, folder):
                continue
            with open(candidate, "rb") as stream:
                head = stream.read(1 << 20)
            if name == "rulecheck.toml" or b"tool.rulecheck" in head:
                click.echo(f"{shown(Path.cwd() / name)}: note: a settings file inside the submission's folder is not "
                           "read (the submitter's, not the gate's); name it with --config to use it", err=True)
                break
    return config


def _from_config(ctx: click.Context, settings: dict):
    """name -> the command line's value when it was given there, else the config's, else the default."""
    from click.core import ParameterSource

    def given(name: str, key: str):
        value = ctx.params[name]
        if key in settings and ctx.get_parameter_source(name) in (ParameterSource.DEFAULT, None):
            given.applied.add(key)
            setting = settings[key]
            return tuple(setting) if isinstance(value, tuple) else setting
        return value

    given.applied = set()
    return given


def _load_from_working_folder(rulecheck, submission: str, allow_outside: bool):
    """Load the submission; a file named in a diagnostic is shown from the working folder, where the command ran
    (the loader names them from the manifest's folder), so that an editor or a terminal opens `e3/layers/x:20`."""
    import dataclasses

    from .diagnostics import working_path

    try:
        return rulecheck.load_submission(submission, **({"allow_outside": True} if allow_outside else {}))
    except InputError as error:
        raise InputError([d if d.path in (str(submission), str(submission)[:200])  # the manifest, as named
                          else dataclasses.replace(d, path=working_path(submission, d.path))
                          for d in error.diagnostics]) from None


# ---- rules ----------------------------------------------------------------------------------------


@cli.group()
def rules() -> None:
    """List, show, validate and test rule packs."""


@rules.command("list")
@click.option("--rules", "rule_paths", multiple=True, metavar="PATH", help="Rule packs (default: the shipped ones).")
@click.option("--add-rules", "add_paths", multiple=True, metavar="PATH", help="One's own packs added to the shipped ones.")
@click.option("--params", "param_paths", multiple=True, metavar="FILE", help="Parameter files.")
@click.option("--format", "fmt", type=click.Choice(("text", "markdown", "json")), default="text", show_default=True)
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True)
def rules_list(rule_paths, add_paths, param_paths, fmt, lang):
    """List every rule: id, severity, title (and basis in markdown/json)."""
    import rulecheck

    from .report.catalog import render_catalog

    ruleset = rulecheck.load_rules(list(rule_paths) or None, list(param_paths) or None,
                                   **({"add": list(add_paths)} if add_paths else {}))
    params = ruleset.param_catalog() if fmt != "text" and hasattr(ruleset, "param_catalog") else None
    click.echo(render_catalog(ruleset.catalog(), fmt, lang=lang, params=params), nl=False)


@rules.command("show")
@click.argument("rule_id", metavar="ID")
@click.option("--rules", "rule_paths", multiple=True, metavar="PATH", help="Rule packs (default: the shipped ones).")
@click.option("--add-rules", "add_paths", multiple=True, metavar="PATH", help="One's own packs added to the shipped ones.")
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True)
def rules_show(rule_id, rule_paths, add_paths, lang):
    """Show one rule: titles, severity, legal basis, tags, where it is written, and its text."""
    import rulecheck

    from .report.catalog import render_rule

    ruleset = rulecheck.load_rules(list(rule_paths) or None, **({"add": list(add_paths)} if add_paths else {}))
    catalog = {entry["id"]: entry for entry in ruleset.catalog()}
    entry = catalog.get(rule_id) or catalog.get(rule_id.upper())
    if entry is None:
        close = difflib.get_close_matches(rule_id.upper(), list(catalog), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "see `rulecheck rules list`"
        raise InputError([Diagnostic("<command line>", f"no rule {rule_id!r}", field="ID", hint=hint)])
    click.echo(render_rule(entry, lang=lang), nl=False)
    compiled = ruleset.by_id().get(entry["id"]) if hasattr(ruleset, "by_id") else None
    if compiled is not None:  # the rule as written, for reading it against the article it cites
        click.echo("\n" + compiled.source_text(), nl=False)


@rules.command("validate")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--params", "param_paths", multiple=True, metavar="FILE",
              help="Parameter override files to check against the packs (a province's figures).")
@click.option("--plan", "show_plan", is_flag=True,
              help="Also print, per rule, which join conditions an index answers and which run per pair.")
@click.option("--with-builtin", is_flag=True,
              help="Check the packs added to the shipped rules, as `check --add-rules` loads them (a rule id the "
                   "shipped packs declare is an error unless written `override rule`).")
@_limit_option
def rules_validate(paths, param_paths, show_plan, with_builtin, limit_values):
    """Parse and check rule packs; print every problem found. Exit 2 when there is an error."""
    from .dsl import validate
    from .dsl.packs import validated
    from .limits import override

    with override(**_limits(limit_values)):
        where = {"add": list(paths)} if with_builtin else {}
        own = None if with_builtin else list(paths)
        if show_plan:
            rule_set, diagnostics = validated(own, list(param_paths) or None, **where)
        else:
            diagnostics = validate(own, list(param_paths) or None, **where)
        if not any(d.severity == "error" for d in diagnostics):
            # a loop of one's own that visits all pairs: a warning at its `for each`, with the rewrite that removes it
            from .dsl.packs import all_pairs_warnings

            plans = rule_set if show_plan else validated(own, list(param_paths) or None, **where)[0]
            diagnostics = list(diagnostics) + all_pairs_warnings(plans)
    for diagnostic in diagnostics:
        click.echo(diagnostic.render(), err=True)
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        sys.exit(EXIT_INPUT)
    if show_plan:
        from .dsl.plan import describe_plans

        for rule in rule_set.rules:
            if rule.path.endswith(".rule") and rule.plans is not None:
                click.echo(f"{rule.id}  {rule.path}:{rule.rule.span.line}")
                for line in describe_plans(rule.plans) or ["  (no loop over a collection)"]:
                    click.echo(line)
    from .dsl.packs import rule_files

    count = len(rule_files(list(paths))[0])  # a folder counts its pack files
    click.echo(f"{count} rule pack(s) OK" + (f", {len(diagnostics)} warning(s)" if diagnostics else ""))


@rules.command("test")
@click.argument("paths", nargs=-1, metavar="[PATH...]")
@click.option("--with-builtin", is_flag=True,
              help="Run the packs' tests with the shipped rules loaded too, as `check --add-rules` loads them.")
@_limit_option
def rules_test(paths, with_builtin, limit_values):
    """Run the tests written beside the rules (default: the shipped packs). Exit 1 when one fails."""
    from .limits import override
    from .ruletests import run_rule_tests

    with override(**_limits(limit_values)):
        if with_builtin and paths:
            results = run_rule_tests(None, add=list(paths))
        else:
            results = run_rule_tests(list(paths) or None)
    failed = 0
    for result in results:
        ok = bool(getattr(result, "passed", getattr(result, "ok", False)))
        failed += not ok
        text = result.render() if hasattr(result, "render") else str(result)
        click.echo(printable(text))  # a FAIL with its details on stdout, beside the PASS lines and the count
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(EXIT_CONFLICTS if failed else EXIT_PASSED)


@rules.command("lsp")
def rules_lsp():
    """Start the language server for .rule files on standard input/output (for an editor; needs pygls:
    pip install 'rulecheck-nrap[lsp]')."""
    try:
        import pygls  # noqa: F401
    except ImportError:
        raise InputError([Diagnostic("<command line>", "the language server needs pygls, which is not installed",
                                     hint="pip install 'rulecheck-nrap[lsp]' (or: pip install pygls)")]) from None
    from .dsl.lsp import serve

    serve()


# ---- schema ---------------------------------------------------------------------------------------


@cli.command()
@click.option("--output", "dest", default="-", metavar="FILE", help="Where the schema goes ('-' for standard output).")
def schema(dest):
    """Print the JSON Schema of a submission manifest (docs/submission.schema.json), for editors and validators."""
    from .model.manifest_schema import render_schema

    text = render_schema()
    if dest == "-":
        click.echo(text, nl=False)
    else:
        _write(dest, text)


# ---- hook (pre-commit) ----------------------------------------------------------------------------


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def hook(args):
    """For pre-commit: check the submissions the given files belong to (a manifest among them, else the nearest
    manifest in a file's folder or above; a file of none: every submission). Options are passed to `check`."""
    from .hook import run, split

    valued = {opt for param in check.params if isinstance(param, click.Option) and not param.is_flag
              for opt in param.opts} - {"--color"}
    options, files = split(list(args), valued)
    sys.exit(run(options, files))


# ---- init -----------------------------------------------------------------------------------------


@cli.command()
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--county", is_flag=True, help="Write a county submission instead: county.yaml, its scheme and two units.")
@click.option("--example", metavar="NAME", default=None,
              help="Copy a shipped example instead of the skeleton: defects (eco-recreation-defects), "
                   "eco-recreation, land-sea, land-sea-defects, mine-land, minimal.")
def init(directory, county, example):
    """Write a skeleton submission into DIR (a manifest and tiny layers) that loads cleanly. Never overwrites.
    With --county, a county (county.yaml, its scheme, two units); with --example NAME, a shipped example (the
    defects one: `--example defects`) instead."""
    from .skeleton import county_files, example_files, skeleton_files

    if county and example:
        raise click.UsageError("--county and --example: give one of them")
    files = county_files() if county else example_files(example) if example else skeleton_files()
    root = Path(directory)
    existing = [name for name in files if (root / name).exists()]
    if existing:
        raise InputError([Diagnostic(str(root / name), "already exists; rulecheck init never overwrites a file",
                                     hint="choose an empty or new folder") for name in existing])
    for name, text in files.items():
        if isinstance(text, bytes):  # a GeoPackage of an example
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(text)
        else:
            _write(str(root / name), text)
    click.echo(f"wrote {', '.join(str(root / name) for name in files)}")
    click.echo(f"next: rulecheck check {root / ('county.yaml' if county else 'submission.yaml')}")


# ---- batch, impact, serve (docs/service.md) -------------------------------------------------------


def _batch_options(as_of, select, ignore, fail_on, lang, rule_paths, param_paths, waiver_path=None, stage=None):
    from .checking import CheckOptions

    return CheckOptions(as_of=as_of.date().isoformat() if as_of else None, select=tuple(_split(select)),
                        ignore=tuple(_split(ignore)), fail_on=fail_on, lang=lang, waivers=waiver_path,
                        rules=tuple(rule_paths), params=tuple(param_paths), stage=stage)


def _check_options(command):
    """The options `batch` and `impact` share with `check`."""
    for option in reversed((
        click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, metavar="DATE",
                     help="The date whose law applies (default: each submission's as_of, else today)."),
        click.option("--stage", type=click.Choice(STAGES), default=None,
                     help="The moment of the gate for every submission: before the joint approval (同编同审) or "
                          "before supply (default: each submission's stage, else joint_review)."),
        click.option("--select", multiple=True, metavar="ID|PREFIX", help="Run only these rules or families."),
        click.option("--ignore", multiple=True, metavar="ID|PREFIX", help="Skip these rules or families."),
        click.option("--fail-on", type=click.Choice(FAIL_ON), default="error", show_default=True,
                     help="Lowest severity that fails a submission."),
        click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True, help="Report language."),
    )):
        command = option(command)
    return command


@cli.command()
@click.argument("target", metavar="DIR|LIST")
@click.option("--output-dir", required=True, type=click.Path(file_okay=False), metavar="DIR",
              help="Where the reports (<submission id>.json) and summary.csv / summary.json go.")
@click.option("--rules", "rule_paths", multiple=True, metavar="PATH", help="Rule packs (default: the shipped ones).")
@click.option("--params", "param_paths", multiple=True, metavar="FILE", help="Parameter files.")
@_check_options
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Processes (or Dask workers of the local cluster); default: every core.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:8786|local",
              help="Run on Dask distributed: a scheduler's address, or 'local' for an embedded LocalCluster.")
@click.option("--quiet", "-q", is_flag=True, help="No progress and no summary on standard output.")
def batch(target, output_dir, rule_paths, param_paths, as_of, stage, select, ignore, fail_on, lang, jobs, scheduler, quiet):
    """Check every submission of DIR (DIR/*/submission.yaml) or of LIST (one manifest path a line).

    Writes one JSON report per submission and summary.csv / summary.json into --output-dir. Exit status: 0 every
    submission passed, 1 one failed or was undecided, 2 one could not be read (its problems are in its report
    and the summary; the others are still checked).
    """
    import rulecheck

    from .batch import manifests_in, run_batch, write_batch

    manifests = manifests_in(target)
    options = _batch_options(as_of, select, ignore, fail_on, lang, rule_paths, param_paths, stage=stage)
    # a bad pack or an unknown --select fails once, here, not once per submission
    rulecheck.load_rules(list(rule_paths) or None, list(param_paths) or None).select(
        list(options.select) or None, list(options.ignore) or None)

    def progress(done, total, result):
        if not quiet:
            verdict = (result.get("record") or {}).get("summary", {}).get("verdict", "unreadable")
            click.echo(f"[{done}/{total}] {verdict:<11} {result['manifest']}", err=True)

    results = run_batch(manifests, options, jobs=jobs or os.cpu_count() or 1, scheduler=scheduler, progress=progress)
    rows = write_batch(results, output_dir)
    if not quiet:
        counts = {}
        for row in rows:
            counts[row["verdict"]] = counts.get(row["verdict"], 0) + 1
        click.echo(f"{len(rows)} submission(s): " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
                   + f"; summary in {Path(output_dir) / 'summary.csv'}")
    if any(row["verdict"] == "unreadable" for row in rows):
        sys.exit(EXIT_INPUT)
    sys.exit(EXIT_PASSED if all(row["passed"] for row in rows) or fail_on == "never" else EXIT_CONFLICTS)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback needs a token (--token-file or RULECHECK_TOKEN).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--token-file", type=click.Path(dir_okay=False, exists=True), default=None, metavar="FILE",
              help="Bearer tokens, 'TOKEN [submitter|reviewer|admin [NAME]]' a line (else $RULECHECK_TOKEN, "
                   "an admin's).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Where the history (history.sqlite) and the requests' private folders live "
                   "(default: $XDG_DATA_HOME/rulecheck or ~/.local/share/rulecheck).")
@click.option("--database", default=None, metavar="URL",
              help="The history's database, e.g. postgresql+psycopg://USER@HOST/rulecheck "
                   "(default: DATA_DIR/history.sqlite; PostgreSQL needs the postgresql extra).")
@click.option("--rules", "rule_paths", multiple=True, metavar="PATH", help="Rule packs (default: the shipped ones).")
@click.option("--params", "param_paths", multiple=True, metavar="FILE", help="Parameter files.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Check processes (default: every core).")
@click.option("--max-upload-mb", type=click.FloatRange(min=0, min_open=True), default=64, show_default=True)
@click.option("--max-files", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Entries a zip bundle may hold.")
@click.option("--max-expanded-mb", type=click.FloatRange(min=0, min_open=True), default=1024, show_default=True,
              help="What a zip bundle may expand to.")
@click.option("--job-threshold-mb", type=click.FloatRange(min=0), default=8, show_default=True,
              help="Bundles larger than this run as jobs (202, then GET /checks/{id}).")
@click.option("--run-seconds", type=click.FloatRange(min=0), default=600, show_default=True,
              help="Time one check may take.")
@click.option("--retention-days", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Forget checks and jobs older than this (0: keep them for ever).")
@click.option("--server-name", default=None, metavar="NAME",
              help="This server's name in the job table (distinct per server sharing one PostgreSQL).")
@click.option("--grace-seconds", type=click.FloatRange(min=0), default=30, show_default=True,
              help="A worker that has not answered this long after --run-seconds is killed (its job fails).")
@click.option("--database-timeout", type=click.FloatRange(min=0.1), default=5, show_default=True,
              help="Seconds the database may be busy or unreachable before a request gets 503.")
def serve(host, port, token_file, data_dir, database, rule_paths, param_paths, workers, max_upload_mb, max_files,
          max_expanded_mb, job_threshold_mb, run_seconds, retention_days, server_name, grace_seconds,
          database_timeout):
    """Serve checks over HTTP (POST /checks, GET /checks/{id}, /submissions, /rules, /health, /ready).

    The OpenAPI document is at /openapi.json, its browsable form at /docs. See docs/service.md.
    """
    try:
        from .service import is_loopback, read_tokens
        from .service.app import ServiceSettings
        from .bundle import BundleLimits
    except ImportError as error:
        raise click.UsageError(f"the service needs its optional dependencies ({error.name} is missing): "
                               "pip install 'rulecheck-nrap[service]'") from None
    try:
        tokens = read_tokens(token_file)
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise click.UsageError(str(error)) from None
    if tokens is None and not is_loopback(host):
        raise click.UsageError(f"refusing to listen on {host} without a token: give --token-file or set "
                               "RULECHECK_TOKEN (without one the service listens on 127.0.0.1 only)")
    from .history import default_data_dir
    from .service import serve as run

    settings = ServiceSettings(tokens=tokens, data_dir=Path(data_dir) if data_dir else default_data_dir(), database=database,
                               rules=tuple(rule_paths), params=tuple(param_paths), workers=workers or os.cpu_count() or 1,
                               limits=BundleLimits(max_upload_mb=max_upload_mb, max_files=max_files,
                                                   max_expanded_mb=max_expanded_mb),
                               job_threshold_mb=job_threshold_mb, run_seconds=run_seconds,
                               retention_days=retention_days, server_name=server_name,
                               kill_grace_seconds=grace_seconds, database_seconds=database_timeout)
    try:
        run(settings, host=host, port=port)
    except Exception as error:  # the history database cannot be opened: a message, not a traceback
        if type(error).__module__.startswith("sqlalchemy"):
            raise click.UsageError(f"the history database cannot be opened: {error.__class__.__name__}: "
                                   f"{str(error).splitlines()[0]}") from None
        raise


@cli.command()
@click.option("--rules", "rule_paths", multiple=True, metavar="PATH",
              help="The new rule packs (default: the ones in force, i.e. --base-rules).")
@click.option("--params", "param_paths", multiple=True, metavar="FILE", help="The new parameter files.")
@click.option("--against", "target", required=True, metavar="DIR|LIST|HISTORY",
              help="The submissions to re-check: DIR/*/submission.yaml, a file listing manifests, or a service's "
                   "history (its data folder or history.sqlite: each submission's latest bundle).")
@click.option("--base-rules", multiple=True, metavar="PATH", help="The packs in force (default: the shipped ones).")
@click.option("--base-params", multiple=True, metavar="FILE", help="The parameter files in force.")
@_check_options
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
@click.option("--output", "dest", default="-", metavar="FILE", help="Where the impact report goes ('-': stdout).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Processes (default: every core).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:8786|local", help="Run on Dask distributed.")
def impact(rule_paths, param_paths, target, base_rules, base_params, as_of, stage, select, ignore, fail_on, lang, fmt,
           dest, jobs, scheduler):
    """Which submissions a rule or parameter change affects: the conflicts it adds and removes, per submission.

    Every submission is checked with the rules in force (--base-rules/--base-params, default the shipped
    packs) and with the new ones (--rules/--params). Exit status: 0 none affected, 1 some affected, 2 a pack,
    parameter file or submission could not be read.
    """
    import rulecheck

    from .batch import manifests_in
    from .impact import impact as run_impact
    from .impact import proposed_options, render_impact

    if not rule_paths and not param_paths:
        raise click.UsageError("give the change: --rules NEW and/or --params NEW")
    from .impact import from_history, history_path

    current = _batch_options(as_of, select, ignore, fail_on, lang, base_rules, base_params, stage=stage)
    proposed = proposed_options(current, rule_paths, param_paths)
    for option in (current, proposed):  # a bad pack fails once, here
        rulecheck.load_rules(list(option.rules) or None, list(option.params) or None).select(
            list(option.select) or None, list(option.ignore) or None)
    database = history_path(target)
    with tempfile.TemporaryDirectory(prefix="rulecheck-impact-") as scratch:
        manifests, labels = from_history(database, Path(scratch)) if database else (manifests_in(target), None)
        result = run_impact(manifests, current, proposed, jobs=jobs or os.cpu_count() or 1, scheduler=scheduler,
                            labels=labels)
    text = render_impact(result, fmt, lang)
    if dest == "-":
        click.echo(text, nl=False)
    else:
        _write(dest, text)
    if result["unreadable"]:
        sys.exit(EXIT_INPUT)
    sys.exit(EXIT_CONFLICTS if result["affected"] else EXIT_PASSED)
