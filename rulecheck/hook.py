"""The pre-commit hook: `rulecheck hook [CHECK OPTIONS] FILE...` checks the submissions the changed files belong to.

pre-commit passes the changed files (and `pre-commit try-repo` passes no `args`): a manifest among them is checked;
any other file (a layer, a FileGDB table, a Shapefile's .shx, a waiver file) is checked with the manifest it
belongs to, the nearest one in its folder or above; a file that belongs to none (a rule pack, rulecheck.toml at
the top) has every submission of the repository checked. Exit status: the worst of the checks (2, 1, 0)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

_FORMAT = re.compile(r"^format:\s*[\"']?rulecheck/v1\b", re.MULTILINE)
_SKIP = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox"}


def is_manifest(path: Path) -> bool:
    if path.suffix.lower() not in (".yaml", ".yml") or not path.is_file():
        return False
    try:
        with path.open(encoding="utf-8", errors="replace") as stream:
            return bool(_FORMAT.search(stream.read(4096)))
    except OSError:
        return False


def _manifests_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if is_manifest(p)) if folder.is_dir() else []


def owner(path: Path, top: Path) -> list[Path]:
    """The manifests of the nearest folder at or above the file's that has any (up to `top`)."""
    folder = path.parent.resolve()
    top = top.resolve()
    while True:
        found = _manifests_in(folder)
        if found:
            return found
        if folder == top or top not in folder.parents:
            return []
        folder = folder.parent


def every_manifest(top: Path) -> list[Path]:
    found = []
    for path in sorted(top.rglob("*.y*ml")):
        if not _SKIP.intersection(path.relative_to(top).parts) and is_manifest(path):
            found.append(path)
    return found


def manifests_for(files: list[str], top: Path) -> list[Path]:
    chosen: dict[Path, None] = {}
    orphans = False
    for name in files:
        path = Path(name)
        if is_manifest(path):
            chosen[path.resolve()] = None
            continue
        mine = owner(path, top)
        orphans |= not mine
        chosen.update(dict.fromkeys(mine))
    if orphans:
        chosen.update(dict.fromkeys(every_manifest(top)))
    return sorted(chosen)


def split(args: list[str], valued: set[str]) -> tuple[list[str], list[str]]:
    """(options for `check`, file names): an option that takes a value keeps the word after it."""
    options, files = [], []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-") and arg != "-":
            options.append(arg)
            if arg in valued and i + 1 < len(args):
                options.append(args[i + 1])
                i += 1
        else:
            files.append(arg)
        i += 1
    return options, files


def run(options: list[str], files: list[str], top: Path | None = None) -> int:
    top = top or Path.cwd()
    manifests = manifests_for(files, top)
    if not manifests:
        print("rulecheck hook: no submission manifest (format: rulecheck/v1) among or above the changed files")
        return 0
    worst = 0
    for manifest in manifests:
        try:
            shown = str(manifest.relative_to(top.resolve()))
        except ValueError:
            shown = str(manifest)
        print(f"rulecheck check {shown}", flush=True)
        code = subprocess.call([sys.executable, "-m", "rulecheck", "check", *options, shown], cwd=top)
        worst = max(worst, code) if code in (0, 1, 2) else max(worst, 2)
    return worst
