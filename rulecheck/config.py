"""Settings for `rulecheck check` from a file: `rulecheck.toml`, or `[tool.rulecheck]` in `pyproject.toml`.

The file is looked for in the folder rulecheck is run in (the working folder: `rulecheck.toml` first, then a
`pyproject.toml` that has a `[tool.rulecheck]` table), or named with `--config FILE`; never in the submission's
folder or its parents, which the submitter controls (a bundle's own settings file could set `fail-on = "never"`,
select no rule, waive its own conflicts or name files outside it). A settings file in the working folder that
lies inside the submission's folder (a run from within the bundle) is not read either (`ignored_inside`); only
`--config` names it. The command line wins over the file, key by key. Paths in the file are relative to the
file's folder. A key or a value the file may not hold is an input error with
its file and line (exit 2): a mistyped `fail-on` must never quietly loosen a gate.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rulecheck.diagnostics import Diagnostic, InputError

FILE_NAMES = ("rulecheck.toml", "pyproject.toml")

# key -> (kind, what it holds); list keys also take one string
KEYS: dict[str, tuple[str, str]] = {
    "select": ("ids", "rule ids or family prefixes"),
    "ignore": ("ids", "rule ids or family prefixes"),
    "fail-on": ("choice:fail_on", "the lowest severity that fails the gate"),
    "lang": ("choice:lang", "the report language"),
    "format": ("formats", "report formats"),
    "output-dir": ("path", "the folder report.<ext> files are written to"),
    "rules": ("paths", "rule pack files or folders"),
    "params": ("paths", "parameter override files"),
    "waivers": ("path", "the waivers file"),
}
ALIASES = {"formats": "format"}  # the plural reads naturally in a file


@dataclass
class Config:
    """What a config file set (only the keys it has), and where it is."""

    path: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


def find_config(folder: Path, submission_folder: Path | None = None) -> tuple[Path, dict[str, Any], str] | None:
    """The config file in `folder` (the working folder; its parents are not searched): (path, its rulecheck
    table, its text); None when there is none, or when the file lies inside `submission_folder` (the submitter's)."""
    for name in FILE_NAMES:
        path = folder / name
        if not path.is_file():
            continue
        if ignored_inside(path, submission_folder):
            return None
        text, data = _read(path)
        table = _table(path, data, text)
        if table is None:
            continue  # a pyproject.toml of another project, without settings for us
        return path, table, text
    return None


def ignored_inside(path: Path, submission_folder: Path | None) -> bool:
    """Whether the settings file `path` is inside the submission's folder (so the submitter's, not the gate's)."""
    if submission_folder is None:
        return False
    try:
        return path.resolve().is_relative_to(submission_folder.resolve())
    except OSError:
        return True


def _table(path: Path, data: dict[str, Any], text: str) -> dict[str, Any] | None:
    """The settings of a file: the whole of a rulecheck.toml, the [tool.rulecheck] table of a pyproject.toml."""
    if path.name != "pyproject.toml":
        return data
    tool = data.get("tool")
    table = tool.get("rulecheck") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise InputError([Diagnostic(shown(path), "[tool.rulecheck] must be a table", field="tool.rulecheck")])
    return table


def load_config(start: Path, explicit: str | Path | None = None, *, fail_on: tuple[str, ...], langs: tuple[str, ...],
                formats: tuple[str, ...], submission_folder: Path | None = None) -> Config:
    """Read and check the config in the folder `start` (the working folder), or the `explicit` file; a file in
    `start` that lies inside `submission_folder` is not read."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise InputError([Diagnostic(str(path), "no such config file", field="--config")])
        text, data = _read(path)
        found = (path, _table(path, data, text), text)
    else:
        found = find_config(start, submission_folder)
    if found is None:
        return Config()
    path, table, text = found
    section = "tool.rulecheck" if path.name == "pyproject.toml" else None
    if not table:
        return Config(path, {})
    choices = {"fail_on": fail_on, "lang": langs}
    diagnostics, values = [], {}
    for raw_key, value in table.items():
        key = ALIASES.get(raw_key, raw_key)
        line = _line_of(text, section, raw_key)
        where = f"{section}.{raw_key}" if section else raw_key
        if key not in KEYS:
            close = [k for k in KEYS if k.replace("-", "_") == raw_key.replace("-", "_")]
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(KEYS)}"
            diagnostics.append(Diagnostic(shown(path), f"unknown key '{raw_key}'", line=line, field=where, hint=hint))
            continue
        kind, what = KEYS[key]
        checked, problem = _check(kind, value, choices, formats)
        if problem:
            diagnostics.append(Diagnostic(shown(path), f"'{raw_key}' must be {problem} ({what}); got {value!r}",
                                          line=line, field=where))
            continue
        if kind in ("path", "paths"):
            checked = [shown(path.parent / p) for p in checked] if kind == "paths" else shown(path.parent / checked)
        values[key] = checked
    if diagnostics:
        raise InputError(diagnostics)
    return Config(path, values)


def _check(kind: str, value: Any, choices: dict[str, tuple[str, ...]], formats: tuple[str, ...]) -> tuple[Any, str | None]:
    if kind.startswith("choice:"):
        allowed = choices[kind.split(":", 1)[1]]
        if isinstance(value, str) and value in allowed:
            return value, None
        return None, "one of " + ", ".join(allowed)
    if kind == "path":
        return (value, None) if isinstance(value, str) and value else (None, "a path (text)")
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
        return None, "a list of texts"
    if kind == "ids":
        return [part.strip() for item in items for part in item.split(",") if part.strip()], None
    if kind == "formats":
        unknown = [i for i in items if i not in formats]
        if unknown or len(set(items)) != len(items):
            return None, "a list of distinct formats among " + ", ".join(formats)
    return items, None


def shown(path: Path) -> str:
    """A config file as messages and reports name it: from the working folder, never the machine's root."""
    return os.path.relpath(path).replace(os.sep, "/")


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError([Diagnostic(shown(path), f"cannot read the config file: {error}")]) from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"at line (\d+), column (\d+)", str(error))
        line, column = (int(found.group(1)), int(found.group(2))) if found else (None, None)
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        raise InputError([Diagnostic(shown(path), f"not valid TOML: {message}", line=line, column=column)]) from None


def _line_of(text: str, section: str | None, key: str | None) -> int | None:
    """The 1-based line of `key` in `[section]` (or at the top when section is None); of the header when key is None."""
    inside = section is None
    header = re.compile(r"^\s*\[\s*" + re.escape(section or "") + r"\s*\]\s*(#.*)?$") if section else None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if header is not None and header.match(line):
            if key is None:
                return number
            inside = True
            continue
        if stripped.startswith("["):
            if inside and section is None:
                break
            inside = False
            continue
        if inside and key is not None and re.match(r'^\s*["\']?' + re.escape(key) + r'["\']?\s*=', line):
            return number
    if section is None and key is not None:  # a table where a key was meant: [select]
        for number, line in enumerate(text.splitlines(), start=1):
            if re.match(r"^\s*\[\s*" + re.escape(key) + r"\s*[\].]", line):
                return number
    return None
