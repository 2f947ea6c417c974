"""The history of checks: every check a service ran, stored (SQLite, or PostgreSQL by URL, through SQLAlchemy
Core) with its inputs' hashes, rule-pack hash, parameter editions, verdict, report and bundle, and a
submission's rounds compared one with the next (baseline.compare)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from pathlib import Path

import sqlalchemy as sa

from .baseline import compare

_METADATA = sa.MetaData()
CHECKS = sa.Table(
    "checks", _METADATA,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("submission", sa.Text, nullable=False),
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("verdict", sa.String(20), nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("inputs", sa.Text, nullable=False),        # JSON [{path, sha256}] of the submission's files
    sa.Column("rules_sha256", sa.String(64), nullable=False),
    sa.Column("params", sa.Text, nullable=False),        # JSON: the parameter editions the check used
    sa.Column("options", sa.Text, nullable=False),       # JSON: as_of, select, ignore, fail_on, lang, waivers
    sa.Column("report", sa.Text, nullable=False),        # the JSON report record
    sa.Column("bundle", sa.String(64)),                  # SHA-256 of the uploaded bundle, kept in BUNDLES
    sa.Index("checks_by_submission", "submission", "seq"),
)
BUNDLES = sa.Table(
    "bundles", _METADATA,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),   # the bytes as uploaded (a zip, or a manifest)
)


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/rulecheck``, else ``~/.local/share/rulecheck``."""
    import os

    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "rulecheck"


def database_url(where: str | Path) -> str:
    """A database URL (``postgresql+psycopg://...``, ``sqlite:///...``) as given, a path as a SQLite URL."""
    text = str(where)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


class History:
    """The checks database: a SQLite file (``history.sqlite`` in the data folder) or any database SQLAlchemy
    reaches by URL (a bureau's PostgreSQL). Safe to share between threads."""

    def __init__(self, where: str | Path):
        self.url = database_url(where)
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._engine = sa.create_engine(self.url, connect_args={"check_same_thread": False})
        else:
            self._engine = sa.create_engine(self.url, pool_pre_ping=True)
        self._lock = threading.Lock()
        _METADATA.create_all(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def add(self, check_id: str, record: dict, options: dict, bundle: bytes | None = None) -> None:
        """Store one check's report (as the client received it), what it was made from, and the bundle."""
        summary = record.get("summary") or {}
        rules = record.get("rules") or {}
        digest = hashlib.sha256(bundle).hexdigest() if bundle is not None else None
        row = {"id": check_id, "submission": str((record.get("submission") or {}).get("id") or ""),
               "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
               "verdict": str(summary.get("verdict") or ""), "passed": bool(summary.get("passed")),
               "inputs": _dumps((record.get("submission") or {}).get("inputs") or []),
               "rules_sha256": str(rules.get("sha256") or ""), "params": _dumps(rules.get("params") or []),
               "options": _dumps(options), "report": _dumps(record), "bundle": digest}
        with self._lock, self._engine.begin() as db:
            if bundle is not None:
                known = db.execute(sa.select(BUNDLES.c.sha256).where(BUNDLES.c.sha256 == digest)).first()
                if known is None:
                    try:
                        with db.begin_nested():  # another server may store the same bundle at the same moment
                            db.execute(BUNDLES.insert().values(sha256=digest, data=bundle))
                    except sa.exc.IntegrityError:
                        pass
            db.execute(CHECKS.insert().values(**row))

    def report(self, check_id: str) -> dict | None:
        with self._engine.connect() as db:
            row = db.execute(sa.select(CHECKS.c.report).where(CHECKS.c.id == check_id)).first()
        return json.loads(row[0]) if row else None

    def latest_bundles(self) -> list[dict]:
        """Per submission (by id), its latest stored check with a bundle: ``{submission, check, manifest, data}``."""
        latest = (sa.select(CHECKS.c.submission, sa.func.max(CHECKS.c.seq).label("seq"))
                  .where(CHECKS.c.bundle.is_not(None)).group_by(CHECKS.c.submission).subquery())
        query = (sa.select(CHECKS.c.submission, CHECKS.c.id, CHECKS.c.report, BUNDLES.c.data)
                 .join(latest, CHECKS.c.seq == latest.c.seq).join(BUNDLES, BUNDLES.c.sha256 == CHECKS.c.bundle)
                 .order_by(CHECKS.c.submission))
        with self._engine.connect() as db:
            rows = db.execute(query).all()
        return [{"submission": submission, "check": check_id,
                 "manifest": (json.loads(report).get("submission") or {}).get("manifest"), "data": bytes(data)}
                for submission, check_id, report, data in rows]

    def submissions(self) -> list[str]:
        with self._engine.connect() as db:
            return [r[0] for r in db.execute(sa.select(CHECKS.c.submission).distinct().order_by(CHECKS.c.submission))]

    def rounds(self, submission: str) -> list[dict]:
        """The submission's checks in the order they ran, each with its conflicts marked new or persisting against
        the round before and the conflicts of that round it resolved (the first round's are all new)."""
        columns = [CHECKS.c[name] for name in ("id", "created", "verdict", "inputs", "rules_sha256", "params",
                                               "options", "report")]
        with self._engine.connect() as db:
            rows = db.execute(sa.select(*columns).where(CHECKS.c.submission == submission)
                              .order_by(CHECKS.c.seq)).all()
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
