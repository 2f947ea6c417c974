"""The history of checks and the service's job queue: every check a service ran, stored (SQLite, or PostgreSQL by
URL, through SQLAlchemy Core) with its inputs' hashes, rule-pack hash, parameter editions, verdict, report and
bundle; every request as a job (queued -> running -> done | failed | interrupted, with timestamps), written
before the request is answered; and a submission's rounds compared one with the next."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
from pathlib import Path

import sqlalchemy as sa

from .baseline import conflict_key

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
    sa.Column("report", sa.Text, nullable=False),        # the JSON report, as the client received it
    sa.Column("bundle", sa.String(64)),                  # SHA-256 of the uploaded bundle, kept in BUNDLES
    sa.Column("owner", sa.Text),                         # who posted it (the token's name)
    sa.Column("rules_run", sa.Text),                     # JSON: the ids of the rules the check ran
    sa.Column("conflicts", sa.Text),                     # JSON: [{rule, severity, subjects, message}], for rounds
    sa.Index("checks_by_submission", "submission", "seq"),
)
BUNDLES = sa.Table(
    "bundles", _METADATA,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),   # the bytes as uploaded (a zip, or a manifest)
)
JOBS = sa.Table(
    "jobs", _METADATA,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("state", sa.String(12), nullable=False),   # queued, running, done, failed, interrupted
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("started", sa.String(40)),
    sa.Column("finished", sa.String(40)),
    sa.Column("accepted_by", sa.Text, nullable=False),   # the server that took the request (its folder is there)
    sa.Column("server", sa.Text),                        # the server that claimed it
    sa.Column("folder", sa.Text),                        # the unpacked bundle on the accepting server
    sa.Column("manifest", sa.Text, nullable=False),      # the manifest's path inside the bundle
    sa.Column("options", sa.Text, nullable=False),       # JSON: the check's options (paths inside the bundle)
    sa.Column("bundle", sa.String(64), nullable=False),
    sa.Column("idempotency_key", sa.Text),
    sa.Column("request_sha256", sa.String(64)),
    sa.Column("problem", sa.Text),                       # JSON problem details of a failed or interrupted job
    sa.Column("verdict", sa.String(20)),
    sa.UniqueConstraint("owner", "idempotency_key", name="jobs_idempotency"),
    sa.Index("jobs_by_state", "state", "seq"),
)
STATES = ("queued", "running", "done", "failed", "interrupted")


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/rulecheck``, else ``~/.local/share/rulecheck``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "rulecheck"


def database_url(where: str | Path) -> str:
    """A database URL (``postgresql+psycopg://...``, ``sqlite:///...``) as given, a path as a SQLite URL."""
    text = str(where)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _private_file(path: Path) -> None:
    """Create `path` (and its folder) readable by this user only; an existing file is made so."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    for name in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        if name.exists() and name.stat().st_mode & 0o077:
            os.chmod(name, 0o600)


class History:
    """The checks database: a SQLite file (``history.sqlite`` in the data folder, mode 0600) or any database
    SQLAlchemy reaches by URL (a bureau's PostgreSQL). Safe to share between threads."""

    def __init__(self, where: str | Path, busy_seconds: float = 5):
        self.url = database_url(where)
        self.sqlite = self.url.startswith("sqlite:")
        if self.sqlite:
            _private_file(Path(self.url.removeprefix("sqlite:///")))
            self._engine = sa.create_engine(self.url, connect_args={"check_same_thread": False,
                                                                    "timeout": busy_seconds})
        else:
            self._engine = sa.create_engine(self.url, pool_pre_ping=True, pool_timeout=busy_seconds,
                                            connect_args={"connect_timeout": max(1, int(busy_seconds))})
        self._lock = threading.Lock()
        _METADATA.create_all(self._engine)
        self._migrate()

    def _migrate(self) -> None:
        """Columns a history made by an earlier version lacks (the tables themselves are created above)."""
        present = {column["name"] for column in sa.inspect(self._engine).get_columns("checks")}
        with self._engine.begin() as db:
            for name in ("owner", "rules_run", "conflicts"):
                if name not in present:
                    db.execute(sa.text(f"ALTER TABLE checks ADD COLUMN {name} TEXT"))

    def close(self) -> None:
        self._engine.dispose()

    def ping(self) -> None:
        """Raises when the database cannot be reached (and, for SQLite, written)."""
        with self._engine.connect() as db:
            if self.sqlite:  # a lock another process holds blocks writing, not SELECT 1
                db.exec_driver_sql("BEGIN IMMEDIATE")
                db.rollback()
            else:
                db.execute(sa.text("SELECT 1"))

    # ---- jobs ------------------------------------------------------------------------------------------

    def enqueue(self, job: dict, bundle: bytes) -> dict | None:
        """Store a queued job and its bundle in one transaction. None when it was stored; the earlier job when
        the owner already sent this Idempotency-Key (nothing is stored then)."""
        digest = hashlib.sha256(bundle).hexdigest()
        row = {**job, "state": "queued", "created": now(), "bundle": digest,
               "options": _dumps(job.get("options") or {})}
        with self._lock, self._engine.begin() as db:
            if job.get("idempotency_key"):
                earlier = self._by_key(db, job["owner"], job["idempotency_key"])
                if earlier is not None:
                    return earlier
            self._store_bundle(db, digest, bundle)
            db.execute(JOBS.insert().values(**row))
        return None

    def _by_key(self, db, owner: str, key: str) -> dict | None:
        row = db.execute(sa.select(JOBS).where(JOBS.c.owner == owner, JOBS.c.idempotency_key == key)).first()
        return _job(row) if row else None

    @staticmethod
    def _store_bundle(db, digest: str, bundle: bytes) -> None:
        known = db.execute(sa.select(BUNDLES.c.sha256).where(BUNDLES.c.sha256 == digest)).first()
        if known is None:
            try:
                with db.begin_nested():  # another server may store the same bundle at the same moment
                    db.execute(BUNDLES.insert().values(sha256=digest, data=bundle))
            except sa.exc.IntegrityError:
                pass

    def job(self, job_id: str) -> dict | None:
        with self._engine.connect() as db:
            row = db.execute(sa.select(JOBS).where(JOBS.c.id == job_id)).first()
        return _job(row) if row else None

    def job_by_key(self, owner: str, key: str) -> dict | None:
        with self._engine.connect() as db:
            return self._by_key(db, owner, key)

    def claim(self, server: str) -> dict | None:
        """The oldest queued job, now running on `server`; None when none is queued. On PostgreSQL the row is
        locked with SKIP LOCKED, so servers sharing the database never take the same job twice."""
        with self._lock, self._engine.begin() as db:
            query = sa.select(JOBS.c.id).where(JOBS.c.state == "queued").order_by(JOBS.c.seq).limit(1)
            if not self.sqlite:
                query = query.with_for_update(skip_locked=True)
            found = db.execute(query).first()
            if found is None:
                return None
            taken = db.execute(JOBS.update().where(JOBS.c.id == found[0], JOBS.c.state == "queued")
                               .values(state="running", started=now(), server=server))
            if taken.rowcount != 1:
                return None
            return _job(db.execute(sa.select(JOBS).where(JOBS.c.id == found[0])).first())

    def bundle(self, digest: str) -> bytes | None:
        with self._engine.connect() as db:
            row = db.execute(sa.select(BUNDLES.c.data).where(BUNDLES.c.sha256 == digest)).first()
        return bytes(row[0]) if row else None

    def finish(self, job: dict, result: dict) -> None:
        """A job's check is done: its check stored and the job marked done, in one transaction."""
        options = job["options"]
        row = {"id": job["id"], "submission": result["submission"], "created": now(),
               "verdict": result["verdict"], "passed": bool(result["passed"]), "inputs": _dumps(result["inputs"]),
               "rules_sha256": result["rules_sha256"], "params": _dumps(result["params"]),
               "options": _dumps({key: options.get(key) for key in ("as_of", "select", "ignore", "fail_on",
                                                                     "lang", "waivers")}),
               "report": result["report"], "bundle": job["bundle"], "owner": job["owner"],
               "rules_run": _dumps(result["rules_run"]), "conflicts": _dumps(result["conflicts"])}
        with self._lock, self._engine.begin() as db:
            db.execute(CHECKS.insert().values(**row))
            db.execute(JOBS.update().where(JOBS.c.id == job["id"])
                       .values(state="done", finished=now(), verdict=result["verdict"], folder=None))

    def fail(self, job_id: str, problem: dict, state: str = "failed") -> None:
        with self._lock, self._engine.begin() as db:
            db.execute(JOBS.update().where(JOBS.c.id == job_id)
                       .values(state=state, finished=now(), problem=_dumps(problem), folder=None))

    def interrupt(self, server: str | None, problem: dict) -> list[dict]:
        """Mark the jobs `server` (None: any server) was running as interrupted; they are returned."""
        where = [JOBS.c.state == "running"]
        if server is not None:
            where.append(JOBS.c.server == server)
        with self._lock, self._engine.begin() as db:
            rows = [_job(r) for r in db.execute(sa.select(JOBS).where(*where)).all()]
            if rows:
                db.execute(JOBS.update().where(JOBS.c.id.in_([r["id"] for r in rows]))
                           .values(state="interrupted", finished=now(), problem=_dumps(problem), folder=None))
        return rows

    def requeue_folders(self, server: str) -> None:
        """The queued jobs this server accepted lose their folder (removed at start): unpacked again when run."""
        with self._lock, self._engine.begin() as db:
            db.execute(JOBS.update().where(JOBS.c.state == "queued", JOBS.c.accepted_by == server)
                       .values(folder=None))

    def prune(self, before: str) -> int:
        """Forget the checks and finished jobs older than `before` (ISO time), and bundles nothing refers to."""
        with self._lock, self._engine.begin() as db:
            gone = db.execute(CHECKS.delete().where(CHECKS.c.created < before)).rowcount
            db.execute(JOBS.delete().where(JOBS.c.state.in_(("done", "failed", "interrupted")),
                                           JOBS.c.created < before))
            used = sa.union(sa.select(CHECKS.c.bundle).where(CHECKS.c.bundle.is_not(None)),
                            sa.select(JOBS.c.bundle)).subquery()
            db.execute(BUNDLES.delete().where(BUNDLES.c.sha256.not_in(sa.select(used.c[0]))))
        return gone

    # ---- checks ----------------------------------------------------------------------------------------

    def add(self, check_id: str, record: dict, options: dict, bundle: bytes | None = None,
            owner: str | None = None) -> None:
        """Store one check's report (as the client received it), what it was made from, and the bundle."""
        summary = record.get("summary") or {}
        rules = record.get("rules") or {}
        digest = hashlib.sha256(bundle).hexdigest() if bundle is not None else None
        row = {"id": check_id, "submission": str((record.get("submission") or {}).get("id") or ""),
               "created": now(), "verdict": str(summary.get("verdict") or ""), "passed": bool(summary.get("passed")),
               "inputs": _dumps((record.get("submission") or {}).get("inputs") or []),
               "rules_sha256": str(rules.get("sha256") or ""), "params": _dumps(rules.get("params") or []),
               "options": _dumps(options), "report": _dumps(record), "bundle": digest, "owner": owner,
               "rules_run": _dumps(rules_run(record)), "conflicts": _dumps(compact_conflicts(record))}
        with self._lock, self._engine.begin() as db:
            if bundle is not None:
                self._store_bundle(db, digest, bundle)
            db.execute(CHECKS.insert().values(**row))

    def report_text(self, check_id: str) -> tuple[str, dict] | None:
        """The stored JSON report's text and its row's verdict, owner, submission and language; None when
        unknown."""
        with self._engine.connect() as db:
            row = db.execute(sa.select(CHECKS.c.report, CHECKS.c.verdict, CHECKS.c.owner, CHECKS.c.submission,
                                       CHECKS.c.options).where(CHECKS.c.id == check_id)).first()
        if row is None:
            return None
        lang = (json.loads(row[4]) if row[4] else {}).get("lang")
        return row[0], {"verdict": row[1], "owner": row[2], "submission": row[3], "lang": lang}

    def report(self, check_id: str) -> dict | None:
        found = self.report_text(check_id)
        return json.loads(found[0]) if found else None

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

    def submissions(self, owner: str | None = None, after: str | None = None, limit: int | None = None) -> list[dict]:
        """Submissions by id (those `owner` posted, when given): ``{submission, checks, latest}``, after the id
        `after`, at most `limit`."""
        query = sa.select(CHECKS.c.submission, sa.func.count().label("checks"), sa.func.max(CHECKS.c.seq))
        if owner is not None:
            query = query.where(CHECKS.c.owner == owner)
        if after is not None:
            query = query.where(CHECKS.c.submission > after)
        query = query.group_by(CHECKS.c.submission).order_by(CHECKS.c.submission)
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as db:
            rows = db.execute(query).all()
            latest = {seq: (check_id, created, verdict) for seq, check_id, created, verdict in db.execute(
                sa.select(CHECKS.c.seq, CHECKS.c.id, CHECKS.c.created, CHECKS.c.verdict)
                .where(CHECKS.c.seq.in_([r[2] for r in rows]))).all()} if rows else {}
        return [{"submission": submission, "checks": count,
                 "latest": {"check": latest[seq][0], "created": latest[seq][1], "verdict": latest[seq][2]}}
                for submission, count, seq in rows]

    def rounds(self, submission: str, owner: str | None = None) -> list[dict]:
        """The submission's checks in the order they ran (those `owner` posted, when given). Each conflict is
        ``new`` or ``persisting`` against what was open before it; an open conflict of a rule the round ran but
        did not find again is resolved; one of a rule the round did not run (a partial round: ``select``) is
        listed under ``not_rechecked`` and stays open, never resolved, and never new when found again."""
        columns = [CHECKS.c[name] for name in ("id", "created", "verdict", "inputs", "rules_sha256", "params",
                                               "options", "report", "rules_run", "conflicts")]
        query = sa.select(*columns).where(CHECKS.c.submission == submission)
        if owner is not None:
            query = query.where(CHECKS.c.owner == owner)
        with self._engine.connect() as db:
            rows = db.execute(query.order_by(CHECKS.c.seq)).all()
        rounds, open_conflicts = [], {}   # conflict key -> [conflict, ...] still open after the rounds so far
        for number, (check_id, created, verdict, inputs, rules_sha256, params, options, report, ran,
                     conflicts) in enumerate(rows, 1):
            if ran is None or conflicts is None:  # a row stored by an earlier version: read its report
                record = json.loads(report)
                ran, conflicts = rules_run(record), compact_conflicts(record)
            else:
                ran, conflicts = json.loads(ran), json.loads(conflicts)
            ran = set(ran)
            remaining = {key: list(items) for key, items in open_conflicts.items()}
            marked = []
            for conflict in conflicts:
                earlier = remaining.get(conflict_key(conflict))
                marked.append({**conflict, "status": "persisting" if earlier else "new"})
                if earlier:
                    earlier.pop(0)
            resolved, not_rechecked = [], []
            for key, items in remaining.items():
                for item in items:
                    (resolved if item["rule"] in ran else not_rechecked).append(item)
            open_conflicts = {}
            for conflict in [*conflicts, *not_rechecked]:
                open_conflicts.setdefault(conflict_key(conflict), []).append(conflict)
            counts = {status: sum(1 for c in marked if c["status"] == status) for status in ("new", "persisting")}
            rounds.append({
                "round": number, "check": check_id, "created": created, "verdict": verdict,
                "inputs": json.loads(inputs), "rules_sha256": rules_sha256, "params": json.loads(params),
                "options": json.loads(options), "rules_run": sorted(ran),
                "new": counts["new"], "persisting": counts["persisting"], "resolved": len(resolved),
                "not_rechecked": len(not_rechecked),
                "conflicts": marked, "resolved_conflicts": _ordered(resolved),
                "not_rechecked_conflicts": _ordered(not_rechecked),
            })
        return rounds


def rules_run(record: dict) -> list[str]:
    """The ids of the rules a report's check ran (its catalog)."""
    catalog = (record.get("rules") or {}).get("catalog") or []
    return sorted({str(entry.get("id")) for entry in catalog if isinstance(entry, dict)})


def compact_conflicts(record: dict) -> list[dict]:
    """What rounds need of each conflict: rule, severity, subjects (collection, id), message."""
    return [{"rule": c.get("rule"), "severity": c.get("severity"),
             "subjects": [{"collection": s.get("collection"), "id": s.get("id")} for s in c.get("subjects") or []],
             "message": c.get("message")} for c in record.get("conflicts") or []]


def _ordered(conflicts: list[dict]) -> list[dict]:
    return sorted(conflicts, key=lambda c: (str(c.get("rule")), json.dumps(c.get("subjects"), sort_keys=True)))


def _job(row) -> dict:
    job = dict(row._mapping)
    job["options"] = json.loads(job["options"]) if job.get("options") else {}
    job["problem"] = json.loads(job["problem"]) if job.get("problem") else None
    return job


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
