"""The history of checks: every check a service ran, stored in SQLite with its inputs' hashes, rule-pack hash,
parameter editions, verdict and report, and a submission's rounds compared one with the next (baseline.compare)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from pathlib import Path

from .baseline import compare

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    submission TEXT NOT NULL,
    created TEXT NOT NULL,
    verdict TEXT NOT NULL,
    passed INTEGER NOT NULL,
    inputs TEXT NOT NULL,          -- JSON [{path, sha256}] of the submission's files
    rules_sha256 TEXT NOT NULL,
    params TEXT NOT NULL,          -- JSON: the parameter editions the check used (name, key, value, source, from)
    options TEXT NOT NULL,         -- JSON: as_of, select, ignore, fail_on, lang, waivers
    report TEXT NOT NULL,          -- the JSON report record
    bundle TEXT                    -- SHA-256 of the uploaded bundle (in bundles), so it can be checked again
);
CREATE TABLE IF NOT EXISTS bundles (
    sha256 TEXT PRIMARY KEY,
    data BLOB NOT NULL             -- the bytes as uploaded (a zip, or a manifest with inline data)
);
CREATE INDEX IF NOT EXISTS checks_by_submission ON checks (submission, seq);
"""


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/rulecheck``, else ``~/.local/share/rulecheck``."""
    import os

    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "rulecheck"


class History:
    """The checks database (``history.sqlite`` in the data folder). Safe to share between threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        with self._lock, self._db:
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, check_id: str, record: dict, options: dict, bundle: bytes | None = None) -> None:
        """Store one check's report (as the client received it), what it was made from, and the bundle."""
        import hashlib

        digest = hashlib.sha256(bundle).hexdigest() if bundle is not None else None
        summary = record.get("summary") or {}
        rules = record.get("rules") or {}
        row = (check_id, str((record.get("submission") or {}).get("id") or ""),
               dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), str(summary.get("verdict") or ""),
               int(bool(summary.get("passed"))), _dumps((record.get("submission") or {}).get("inputs") or []),
               str(rules.get("sha256") or ""), _dumps(rules.get("params") or []), _dumps(options), _dumps(record),
               digest)
        with self._lock, self._db:
            if bundle is not None:
                self._db.execute("INSERT OR IGNORE INTO bundles (sha256, data) VALUES (?, ?)", (digest, bundle))
            self._db.execute("INSERT INTO checks (id, submission, created, verdict, passed, inputs, rules_sha256, "
                             "params, options, report, bundle) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)

    def report(self, check_id: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT report FROM checks WHERE id = ?", (check_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def latest_bundles(self) -> list[dict]:
        """Per submission (by id), its latest stored check with a bundle: ``{submission, check, manifest, data}``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT c.submission, c.id, c.report, b.data FROM checks c JOIN bundles b ON b.sha256 = c.bundle "
                "WHERE c.seq = (SELECT MAX(seq) FROM checks d WHERE d.submission = c.submission "
                "AND d.bundle IS NOT NULL) ORDER BY c.submission").fetchall()
        return [{"submission": submission, "check": check_id,
                 "manifest": (json.loads(report).get("submission") or {}).get("manifest"), "data": data}
                for submission, check_id, report, data in rows]

    def submissions(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT DISTINCT submission FROM checks ORDER BY submission")]

    def rounds(self, submission: str) -> list[dict]:
        """The submission's checks in the order they ran, each with its conflicts marked new or persisting against
        the round before and the conflicts of that round it resolved (the first round's are all new)."""
        with self._lock:
            rows = self._db.execute("SELECT id, created, verdict, inputs, rules_sha256, params, options, report "
                                    "FROM checks WHERE submission = ? ORDER BY seq", (submission,)).fetchall()
        rounds, previous = [], {"conflicts": []}
        for number, (check_id, created, verdict, inputs, rules_sha256, params, options, report) in enumerate(rows, 1):
            record = json.loads(report)
            compared = compare(previous, record, f"/checks/{rounds[-1]['check']}" if rounds else None)
            counts = compared["baseline"]
            rounds.append({
                "round": number, "check": check_id, "created": created, "verdict": verdict,
                "inputs": json.loads(inputs), "rules_sha256": rules_sha256, "params": json.loads(params),
                "options": json.loads(options),
                "new": counts["new"], "persisting": counts["persisting"], "resolved": counts["resolved"],
                "conflicts": [{key: c.get(key) for key in ("rule", "severity", "subjects", "message", "status")}
                              for c in compared["conflicts"]],
                "resolved_conflicts": [{key: c.get(key) for key in ("rule", "severity", "subjects", "message")}
                                       for c in compared["resolved"]],
            })
            previous = record
        return rounds


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
