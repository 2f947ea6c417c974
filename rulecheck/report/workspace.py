"""Paths as CI and review tools want them: from the folder rulecheck ran in (the repository root in CI)."""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Iterable

from .record import Conflict, Report, Subject


def manifest_folder(report: Report) -> str:
    """The manifest's folder as the command line named it (``fixtures/unit``), ``""`` for the working folder."""
    manifest = str(report.submission.manifest or "").replace("\\", "/")
    folder = posixpath.dirname(manifest)
    return "" if folder in ("", ".") else folder


def workspace_path(report: Report, path: str) -> str:
    """A subject's path (relative to the manifest) from the working folder: ``fixtures/unit/layers/parcels.geojson``.

    A GDAL layer's ``file.gpkg#layer`` is the file; an absolute path stays absolute."""
    path = str(path).replace("\\", "/").split("#", 1)[0]
    full = posixpath.normpath(path if posixpath.isabs(path) else posixpath.join(manifest_folder(report), path))
    return _from_checkout(full) if posixpath.isabs(full) else full


def _from_checkout(path: str) -> str:
    """An absolute path inside the CI checkout (GITHUB_WORKSPACE, CI_PROJECT_DIR) made relative to it, as the
    annotation and code-quality consumers want; any other absolute path stays as it is."""
    for variable in ("GITHUB_WORKSPACE", "CI_PROJECT_DIR"):
        root = os.environ.get(variable, "").replace("\\", "/").rstrip("/")
        if root and path.startswith(root + "/"):
            return path[len(root) + 1:]
    return path


TEXT_SUFFIXES = (".yaml", ".yml", ".geojson", ".json")  # files whose records have lines (a GDAL layer has fids)


def first_location(report: Report, conflict: Conflict) -> tuple[str | None, int | None]:
    """(workspace path, line) of the conflict's first subject that has a file; (None, None) when none has.

    The line is None for a record of a GDAL layer (``file.gpkg#layer``), whose number is a feature id."""
    for subject in conflict.subjects:
        if subject.source.path:
            written, line = str(subject.source.path), subject.source.line
            has_lines = "#" not in written and written.lower().endswith(TEXT_SUFFIXES)
            return workspace_path(report, written), (int(line) if has_lines and isinstance(line, int) and line > 0 else None)
    return None, None


def fingerprint(rule: str, subjects: Iterable[Subject]) -> str:
    """Stable across runs, line moves and message rewording: a hash of the rule and its subjects."""
    key = rule + "|" + ",".join(subject.label for subject in subjects)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
