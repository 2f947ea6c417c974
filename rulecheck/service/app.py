"""The HTTP shell: authenticate, limit, unpack into a private folder, store the request as a job in the history
database, then run the same `check_one` the batch and the command line's library calls run, in a worker process
of its own; store every check in the history. Every error is problem details (RFC 9457)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import datetime as dt
import hashlib
import hmac
import importlib.resources
import json
import logging
import shutil
import socket
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from rulecheck.bundle import BundleLimits, BundleRefused, inside, unpack
from rulecheck.checking import CheckOptions, ruleset_for
from rulecheck.version import __version__
from rulecheck.vocabulary import FORMAT_NAMES, FORMAT_TABLE

from . import schemas
from .tokens import Principal
from .worker import Worker, WorkerDied, WorkerTimeout

log = logging.getLogger("rulecheck.service")

# the report formats, the default (json) first as the OpenAPI document lists them
Format = Literal[tuple(sorted(FORMAT_NAMES, key=lambda name: name != "json"))]  # type: ignore[valid-type]

# Accept media type -> report format (an explicit ?format= wins)
MEDIA_TYPES = {
    "application/json": "json", "application/problem+json": "json", "application/sarif+json": "sarif",
    "application/geo+json": "geojson", "application/junit+xml": "junit", "application/xml": "junit",
    "text/xml": "junit", "text/html": "html", "text/markdown": "markdown", "text/plain": "text",
    "*/*": "json", "application/*": "json", "text/*": "text",
}
CONTENT_TYPES = {name: fmt.content_type for name, fmt in FORMAT_TABLE.items()}
# what POST /checks accepts as its body
UPLOAD_TYPES = ("application/zip", "application/x-zip-compressed", "application/yaml", "application/x-yaml",
                "text/yaml", "text/x-yaml", "multipart/form-data", "application/octet-stream")
PROBLEM_TYPE = "application/problem+json"
CURSOR_PATTERN = "^[A-Za-z0-9_-]{1,200}$"
# a report larger than this is rendered into another format by a worker process, not in the server
RENDER_IN_PROCESS_BYTES = 2 * 1024 * 1024


@dataclass
class ServiceSettings:
    # one shared token (a submitter's), or `tokens`: token -> Principal (a token file); neither: no authentication
    token: str | None = None
    tokens: dict | None = None
    data_dir: Path = field(default_factory=lambda: __import__("rulecheck.history").history.default_data_dir())
    # the history's database URL (postgresql+psycopg://...); default: DATA_DIR/history.sqlite
    database: str | None = None
    rules: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    workers: int = 2
    limits: BundleLimits = field(default_factory=BundleLimits)
    # bundles larger than this run as jobs (202 + GET /checks/{id}); so does any request with ?mode=async
    job_threshold_mb: float = 8
    # seconds one check may run (the engine's run_seconds limit, in the worker process); the server kills a
    # worker that has not answered `kill_grace_seconds` after that (a loader stuck in C code)
    run_seconds: float = 600
    kill_grace_seconds: float = 30
    # checks and jobs older than this many days are forgotten (0: kept for ever)
    retention_days: float = 0
    # this server's name in the jobs table (servers sharing one PostgreSQL need distinct names)
    server_name: str | None = None
    # seconds a database may be busy or unreachable before a request gets 503
    database_seconds: float = 5
    # seconds in-flight requests get on SIGTERM
    shutdown_seconds: float = 5


class Problem(Exception):
    """An error answer: problem details (RFC 9457) with rulecheck's extensions (diagnostics, hint, check)."""

    TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
              405: "Method not allowed", 406: "Not acceptable", 409: "Conflict", 413: "Content too large",
              415: "Unsupported media type", 422: "Unprocessable content", 500: "Internal server error",
              503: "Service unavailable"}

    def __init__(self, status: int, detail: str, kind: str | None = None, headers: dict | None = None, **extra):
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers
        self.kind = kind
        self.extra = {key: value for key, value in extra.items() if value is not None}

    def body(self) -> dict:
        return problem_body(self.status, self.detail, self.kind, **self.extra)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers, media_type=PROBLEM_TYPE)


def problem_body(status: int, detail: str, kind: str | None = None, **extra) -> dict:
    return {"type": f"urn:rulecheck:problem:{kind}" if kind else "about:blank",
            "title": Problem.TITLES.get(status, "Error"), "status": status, "detail": detail,
            **{key: value for key, value in extra.items() if value is not None}}


def _trim_memory() -> None:
    """Give freed heap back to the system after a large upload (glibc keeps it otherwise)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class Service:
    """The job queue's consumer: one slot thread per worker process. A slot claims the oldest queued job from
    the history database, runs it in its worker, stores the outcome and wakes the request waiting for it."""

    def __init__(self, settings: ServiceSettings, history, scratch: Path):
        self.settings, self.history, self.scratch = settings, history, scratch
        self.name = settings.server_name or f"{socket.gethostname()}:{Path(settings.data_dir).resolve()}"
        self.stopping = threading.Event()
        self.is_closing = False
        self.ready = threading.Condition()
        self.waiters: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future]] = {}
        self.folders: dict[str, Path] = {}      # job id -> its request folder, unpacked when it was posted
        self.workers: list[Worker | None] = [None] * max(settings.workers, 1)
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()
        self.renderer: Worker | None = None
        self.pruned = time.monotonic()
        self.render_lock = threading.Lock()

    # ---- life ------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Recover from a crash (jobs this server was running are interrupted, request folders removed), apply
        the retention, and start the slots."""
        problem = problem_body(500, "the server stopped while this check ran; post the bundle again",
                               "interrupted", state="interrupted")
        lost = self.history.interrupt(None if self.history.sqlite else self.name, problem)
        if lost:
            log.warning("marked %d job(s) interrupted: %s", len(lost), ", ".join(j["id"] for j in lost))
        for entry in self.scratch.iterdir():
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
        self.history.requeue_folders(self.name)
        self.prune()
        for index in range(len(self.workers)):
            thread = threading.Thread(target=self._slot, args=(index,), name=f"slot-{index}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def prune(self) -> None:
        self.pruned = time.monotonic()
        if self.settings.retention_days > 0:
            before = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=self.settings.retention_days))
            gone = self.history.prune(before.isoformat(timespec="milliseconds"))
            if gone:
                log.info("retention: forgot %d check(s) older than %g days", gone, self.settings.retention_days)

    def closing(self) -> None:
        """SIGTERM: refuse new checks, answer the waiting requests now (their jobs stay in the database)."""
        self.is_closing = True
        for job_id in list(self.waiters):
            self._wake(job_id, {"state": "closing"})

    def stop(self) -> None:
        """Stop the slots and their workers; the jobs they were running are interrupted."""
        self.is_closing = True
        self.stopping.set()
        with self.ready:
            self.ready.notify_all()
        for worker in [*self.workers, self.renderer]:
            if worker is not None:
                worker.kill()
        for thread in self.threads:
            thread.join(timeout=15)
        try:
            self.history.interrupt(self.name, problem_body(
                500, "the server was stopped while this check ran; post the bundle again", "interrupted",
                state="interrupted"))
        except sa.exc.SQLAlchemyError:
            pass  # the next start marks them
        for folder in self.folders.values():
            shutil.rmtree(folder, ignore_errors=True)

    def poke(self) -> None:
        with self.ready:
            self.ready.notify()

    def alive_workers(self) -> int:
        return sum(1 for worker in self.workers if worker is not None and worker.alive())

    # ---- waiting requests ------------------------------------------------------------------------------

    def wait_for(self, job_id: str) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.waiters[job_id] = (loop, future)
        return future

    def forget(self, job_id: str, folder: Path) -> None:
        """A request that did not become a job (not committed, or a retry of one that did): no waiter, no folder."""
        self.folders.pop(job_id, None)
        self.waiters.pop(job_id, None)
        shutil.rmtree(folder, ignore_errors=True)

    def _wake(self, job_id: str, outcome: dict) -> None:
        waiter = self.waiters.pop(job_id, None)
        if waiter is not None:
            loop, future = waiter
            loop.call_soon_threadsafe(lambda: future.done() or future.set_result(outcome))

    # ---- the slots -------------------------------------------------------------------------------------

    def _slot(self, index: int) -> None:
        idle = 0
        while not self.stopping.is_set():
            if self.workers[index] is None or not self.workers[index].alive():
                try:
                    self.workers[index] = Worker(self.settings.rules, self.settings.params)
                except (WorkerDied, WorkerTimeout, OSError) as error:
                    log.error("slot %d: %s", index, error)
                    self.stopping.wait(2)
                    continue
            try:
                job = self.history.claim(self.name)
            except sa.exc.SQLAlchemyError as error:
                log.warning("slot %d: the database cannot be reached: %s", index, error.__class__.__name__)
                self.stopping.wait(1)
                continue
            if job is None:
                idle += 1
                if index == 0 and idle % 60 == 0:
                    self._sweep()
                with self.ready:
                    self.ready.wait(0.5)
                continue
            idle = 0
            try:
                self._run(index, job)
            except Exception:  # a bug must not stop the slot: the job fails, the queue goes on
                log.exception("slot %d: job %s", index, job["id"])
                with contextlib.suppress(Exception):
                    self._store(job, {"error": "internal error while running the check"})

    def _sweep(self) -> None:
        """Folders of jobs another server (sharing the database) took: removed once the job left the queue."""
        for job_id, folder in list(self.folders.items()):
            try:
                job = self.history.job(job_id)
            except sa.exc.SQLAlchemyError:
                return
            if job is None or job["state"] != "queued":  # taken by another server (this one pops its own)
                self.folders.pop(job_id, None)
                shutil.rmtree(folder, ignore_errors=True)
        if time.monotonic() - self.pruned > 3600:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                self.prune()

    def _folder(self, job: dict) -> Path:
        """The job's bundle unpacked: the folder its request made, else (another server's job, or after a
        restart) unpacked again from the bundle stored with the job."""
        folder = self.folders.pop(job["id"], None)
        if folder is not None and folder.is_dir():
            return folder
        data = self.history.bundle(job["bundle"])
        folder = Path(tempfile.mkdtemp(prefix="check-", dir=self.scratch))
        unpack(data, folder, self.settings.limits, job["options"].get("manifest_query"))
        return folder

    def _run(self, index: int, job: dict) -> None:
        options = job["options"]
        folder = None
        try:
            folder = self._folder(job)
            manifest = folder.joinpath(*Path(job["manifest"]).parts)
            waivers = str(inside(manifest.parent, options["waivers"])) if options.get("waivers") else None
            check = CheckOptions(
                as_of=options.get("as_of"), stage=options.get("stage"), select=tuple(options.get("select") or ()),
                ignore=tuple(options.get("ignore") or ()), fail_on=options.get("fail_on", "error"),
                lang=options.get("lang", "zh"), waivers=waivers, with_layers=options.get("format") == "html",
                rules=self.settings.rules, params=self.settings.params,
                limits={"run_seconds": self.settings.run_seconds})
            request = {"manifest": str(manifest), "options": check, "base": str(folder),
                       "format": options.get("format") or "json"}
            seconds = self.settings.run_seconds + self.settings.kill_grace_seconds \
                if self.settings.run_seconds else None
            answer = self.workers[index].call(request, seconds)
        except BundleRefused as refused:  # a stored bundle no longer unpacks (the limits changed)
            answer = {"problem": problem_body(refused.status, refused.message, "bundle-refused")}
        except WorkerTimeout:
            self.workers[index] = None
            answer = {"problem": problem_body(
                422, f"the check did not finish within {self.settings.run_seconds:g} s (run_seconds) and "
                     f"{self.settings.kill_grace_seconds:g} s of grace: its worker was stopped", "time-limit",
                diagnostics=[{"path": job["manifest"], "line": None, "column": None, "field": None,
                              "message": f"the check did not finish within {self.settings.run_seconds:g} s "
                                         f"(limit run_seconds); loading or checking took longer",
                              "hint": "a layer that never finishes loading (an endless view) is refused "
                                      "this way", "severity": "error"}])}
        except WorkerDied as died:
            self.workers[index] = None
            if self.stopping.is_set():
                return  # stop() marks it interrupted
            answer = {"problem": problem_body(500, f"the check's worker process died ({died}); only this "
                                                   "check is lost: post it again", "worker-died")}
        finally:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        self._store(job, answer)

    def _store(self, job: dict, answer: dict) -> None:
        if "record" in answer:
            outcome = {"state": "done", **answer["record"]}
        elif "diagnostics" in answer:
            outcome = {"state": "failed", "problem": problem_body(
                422, "the submission cannot be checked", "unreadable", check=job["id"],
                diagnostics=answer["diagnostics"])}
        elif "problem" in answer:
            outcome = {"state": "failed", "problem": {**answer["problem"], "check": job["id"]}}
        else:
            outcome = {"state": "failed", "problem": problem_body(500, answer.get("error") or "the check failed",
                                                                  "internal", check=job["id"])}
        while True:  # the outcome is kept until the database takes it
            try:
                if outcome["state"] == "done":
                    self.history.finish(job, outcome)
                else:
                    self.history.fail(job["id"], outcome["problem"])
                break
            except sa.exc.SQLAlchemyError as error:
                log.warning("job %s: the database cannot be written (%s); retrying", job["id"],
                            error.__class__.__name__)
                if self.stopping.wait(2):
                    return
        self._wake(job["id"], outcome)

    # ---- rendering a stored report ---------------------------------------------------------------------

    def render(self, report: str, fmt: str, lang: str) -> bytes:
        """A stored JSON report in `fmt`: in this thread when small, else in a worker process of its own, so
        a county's report never holds the server's interpreter."""
        if len(report) < RENDER_IN_PROCESS_BYTES:
            from .worker import render_text

            return render_text(report, fmt, lang)
        with self.render_lock:
            if self.renderer is None or not self.renderer.alive():
                self.renderer = Worker(self.settings.rules, self.settings.params)
            try:
                answer = self.renderer.call({"render": True, "report": report, "format": fmt, "lang": lang},
                                            max(self.settings.run_seconds, 60))
            except (WorkerDied, WorkerTimeout):
                self.renderer = None
                raise Problem(500, "rendering the report failed: its process died", "render-failed") from None
        if "rendered" not in answer:
            raise Problem(500, answer.get("error") or "rendering the report failed", "render-failed")
        return answer["rendered"]



def _only_a_reviewer_changes_the_gate(principal: Principal, **used: bool | str | list | None) -> None:
    """Waivers, select, ignore and fail_on change the gate: a 403 unless the token is a reviewer's."""
    chosen = [name for name, value in used.items() if value]
    if chosen and not principal.reviews:
        raise Problem(403, f"{', '.join(chosen)} change{'s' if len(chosen) == 1 else ''} the gate: only a "
                           f"reviewer's token may set {'it' if len(chosen) == 1 else 'them'} (this token "
                           f"is a {principal.role}'s)", "forbidden")


def _upload_media(request: Request) -> str:
    """The request's media type, one a bundle comes in, or a 415."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in UPLOAD_TYPES:
        raise Problem(415, f"Content-Type {media or '(none)'!r} is not a bundle; send one of "
                           + ", ".join(UPLOAD_TYPES), "unsupported-media-type")
    return media


async def _bundle_of(request: Request, media: str, data: bytes) -> bytes:
    """The bundle's bytes: the body, or its form's `bundle` file; a 400 when empty or not what it says it is."""
    if media == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=0)
        upload = form.get("bundle")
        if upload is None or isinstance(upload, str):
            raise Problem(400, "multipart upload without a 'bundle' file", "bad-bundle")
        data = await upload.read()
        await form.close()
    if not data:
        raise Problem(400, "empty request body: send a zip bundle or a manifest", "empty")
    if media in ("application/zip", "application/x-zip-compressed") and data[:2] != b"PK":
        raise Problem(400, "the body is declared application/zip but is not a zip archive", "bad-bundle")
    return data


def create_app(settings: ServiceSettings) -> FastAPI:
    """The application; no token (settings.token and settings.tokens None) means no authentication (the caller
    binds to localhost only)."""
    from rulecheck.history import History

    settings.data_dir = Path(settings.data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if settings.data_dir.stat().st_mode & 0o077:
        settings.data_dir.chmod(0o700)  # the history and every uploaded bundle: this user's only
    scratch = settings.data_dir / "requests"
    scratch.mkdir(exist_ok=True, mode=0o700)
    scratch.chmod(0o700)
    tokens: dict[str, Principal] = dict(settings.tokens or {})
    if settings.token:
        tokens.setdefault(settings.token, Principal("submitter", "submitter"))
    anonymous = Principal("local", "admin") if not tokens else None
    ruleset = ruleset_for(settings.rules, settings.params)  # a bad pack stops the start, not the first request
    history = History(settings.database or settings.data_dir / "history.sqlite", settings.database_seconds)
    service = Service(settings, history, scratch)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await asyncio.to_thread(service.start)
        try:
            yield
        finally:
            service.closing()
            await asyncio.to_thread(service.stop)
            history.close()

    app = FastAPI(title="rulecheck", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Check an allocation unit plan bundle against the detailed plan and the supply "
                              "contracts; the gate of `rulecheck check` over HTTP (docs/service.md). Every error "
                              "is application/problem+json (RFC 9457).")
    app.state.history, app.state.service = history, service
    bearer = HTTPBearer(auto_error=False, scheme_name="bearer", description="a token of the server's token file")

    async def who(request: Request, _=Depends(bearer)) -> Principal:
        if anonymous is not None:
            return anonymous
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            for token, principal in tokens.items():
                if hmac.compare_digest(given.strip().encode(), token.encode()):
                    return principal
        raise Problem(401, "missing or wrong token: send 'Authorization: Bearer TOKEN'", "unauthorized",
                      headers={"WWW-Authenticate": "Bearer"})

    def only(*names: str):
        """A dependency: 400 for a query parameter the endpoint does not know (a misspelling never runs
        everything)."""
        known = sorted(names)

        async def check(request: Request) -> None:
            unknown = sorted(set(request.query_params) - set(names))
            if unknown:
                raise Problem(400, f"unknown query parameter{'s' if len(unknown) > 1 else ''} "
                                   f"{', '.join(map(repr, unknown))}; known: {', '.join(known) or 'none'}",
                              "unknown-parameter", known=known)
        return Depends(check)

    def negotiated(request: Request, fmt: str | None) -> str:
        if fmt:
            return fmt
        accept = request.headers.get("accept", "").strip()
        if not accept:
            return "json"
        ranked = []
        for position, part in enumerate(accept.split(",")):
            media, *parameters = [piece.strip() for piece in part.split(";")]
            quality = 1.0
            for parameter in parameters:
                if parameter.startswith("q="):
                    with contextlib.suppress(ValueError):
                        quality = float(parameter[2:])
            ranked.append((-quality, position, media.lower()))
        for quality, _, media in sorted(ranked):
            if quality < 0 and media in MEDIA_TYPES:
                return MEDIA_TYPES[media]
        raise Problem(406, f"none of the accepted media types ({accept}) is served; available: "
                           + ", ".join(m for m in MEDIA_TYPES if "*" not in m), "not-acceptable")

    def json_only(request: Request) -> None:
        if negotiated(request, None) != "json":
            raise Problem(406, "this resource is served as application/json only", "not-acceptable")

    @app.exception_handler(Problem)
    async def _problem(request: Request, error: Problem):
        return error.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException):
        kind = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code)
        detail = error.detail if isinstance(error.detail, str) else json.dumps(error.detail)
        if error.status_code == 404 and detail == "Not Found":
            detail = f"no resource {request.url.path!r}"
        return Problem(error.status_code, detail, kind, headers=error.headers).response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError):
        problems = [{"path": None, "line": None, "column": None,
                     "field": ".".join(str(part) for part in e.get("loc", ())), "message": e.get("msg", ""),
                     "hint": None, "severity": "error"} for e in error.errors()]
        return Problem(422, "invalid request: " + "; ".join(f"{p['field']}: {p['message']}" for p in problems),
                       "invalid-request", diagnostics=problems).response()

    @app.exception_handler(sa.exc.SQLAlchemyError)
    async def _database(request: Request, error: sa.exc.SQLAlchemyError):
        log.warning("the database cannot be reached: %s", error.__class__.__name__)
        return Problem(503, "the history database cannot be reached or written; nothing was stored: retry "
                            "later", "database-unavailable", headers={"Retry-After": "5"}).response()

    @app.exception_handler(Exception)
    async def _bug(request: Request, error: Exception):
        log.exception("internal error")
        return Problem(500, f"internal error ({type(error).__name__}); the server log has the details",
                       "internal").response()

    @app.get("/health", summary="Liveness: the server answers (no token needed)", dependencies=[only()])
    def health() -> dict:
        return {"status": "ok", "version": __version__, "rules_sha256": ruleset.sha256, "rules": len(ruleset.rules)}

    @app.get("/ready", summary="Readiness: the database answers and the workers are up (no token needed)",
             dependencies=[only()])
    async def ready():
        try:
            await asyncio.wait_for(asyncio.to_thread(history.ping), settings.database_seconds + 1)
        except (sa.exc.SQLAlchemyError, asyncio.TimeoutError):
            raise Problem(503, "the history database cannot be reached", "database-unavailable",
                          headers={"Retry-After": "5"}) from None
        if service.is_closing:
            raise Problem(503, "the server is shutting down", "shutting-down")
        if not any(thread.is_alive() for thread in service.threads) or not service.alive_workers():
            raise Problem(503, "no worker process is up (starting, or being replaced)", "no-workers",
                          headers={"Retry-After": "2"})
        return {"status": "ready", "database": "ok", "workers": service.alive_workers()}

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(importlib.resources.files("rulecheck.service").joinpath("docs.html").read_text("utf-8"))

    @app.get("/rules", summary="Every rule: id, severity, titles, basis", dependencies=[only()])
    def rules(request: Request, principal: Principal = Depends(who)) -> list[dict]:
        json_only(request)
        return ruleset.catalog()

    @app.get("/rules/{rule_id}", summary="One rule", dependencies=[only()])
    def rule(request: Request, rule_id: str, principal: Principal = Depends(who)) -> dict:
        json_only(request)
        for entry in ruleset.catalog():
            if entry["id"].upper() == rule_id.upper():
                return entry
        raise Problem(404, f"no rule {rule_id!r}", "not-found")

    async def job_answer(request: Request, job: dict, fmt: str, principal: Principal,
                         headers: dict | None = None) -> Response:
        """What GET /checks/{id} says of a job: 202 while queued or running, the report once done, its
        problem once failed or interrupted."""
        headers = dict(headers or {})
        check_id = job["id"]
        headers["X-Rulecheck-Check"] = check_id
        headers["X-Rulecheck-State"] = job["state"]
        if job["state"] in ("queued", "running"):
            return JSONResponse({"id": check_id, "status": job["state"], "href": f"/checks/{check_id}",
                                 "created": job["created"], "started": job.get("started")}, status_code=202,
                                headers={**headers, "Location": f"/checks/{check_id}", "Retry-After": "1"})
        if job["state"] != "done":
            problem = dict(job.get("problem") or problem_body(500, "the check failed", "internal"))
            problem.update(check=check_id, state=job["state"])
            return JSONResponse(problem, status_code=problem.get("status", 500), headers=headers,
                                media_type=PROBLEM_TYPE)
        return await stored_report(request, check_id, fmt, principal, headers)

    async def stored_report(request: Request, check_id: str, fmt: str, principal: Principal,
                            headers: dict | None = None) -> Response:
        found = await asyncio.to_thread(history.report_text, check_id)
        if found is None or (not principal.reviews and found[1]["owner"] != principal.name):
            raise Problem(404, f"no check {check_id!r}", "not-found")
        text, row = found
        tag = '"' + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40] + f'-{fmt}"'
        headers = {**(headers or {}), "X-Rulecheck-Check": check_id, "X-Rulecheck-Verdict": row["verdict"],
                   "ETag": tag, "Cache-Control": "private, no-cache"}
        if tag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers=headers)
        if fmt == "json":
            return Response(text, media_type=CONTENT_TYPES["json"], headers=headers)
        lang = row["lang"] or "zh"
        body = await asyncio.to_thread(service.render, text, fmt, lang)
        return Response(body, media_type=CONTENT_TYPES[fmt], headers=headers)

    post_params = ("as_of", "stage", "select", "ignore", "fail_on", "lang", "waivers", "manifest", "format", "mode")

    @app.post("/checks", status_code=200, dependencies=[only(*post_params)],
              summary="Check a bundle: a zip of the manifest and its layers, or a manifest with inline data",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/zip": {"schema": {"type": "string", "format": "binary"}},
                  "application/yaml": {"schema": {"type": "string"}},
                  "multipart/form-data": {"schema": {"type": "object", "properties": {
                      "bundle": {"type": "string", "format": "binary"}}, "required": ["bundle"],
                      "additionalProperties": False}}}},
                  "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                  "schema": {"type": "string", "maxLength": 200},
                                  "description": "A retry with the same key gets the first request's answer"}]})
    async def post_check(
        request: Request,
        as_of: dt.date | None = Query(None, description="The date whose law applies (default: the submission's)"),
        stage: Literal["joint_review", "supply"] | None = Query(
            None, description="The moment of the gate: before the joint approval (同编同审) or before supply "
                              "(default: the submission's stage, else joint_review)"),
        select: list[str] = Query([], description="Rules or families to run (reviewers; repeatable or "
                                                  "comma-separated)"),
        ignore: list[str] = Query([], description="Rules or families to skip (reviewers)"),
        fail_on: Literal["error", "warning", "info", "indeterminate", "never"] = Query(
            "error", description="Lowest severity that fails (reviewers may change it)"),
        lang: Literal["zh", "en"] = Query("zh"),
        waivers: str | None = Query(None, description="A waiver file inside the bundle, relative to the manifest "
                                                      "(reviewers only: waivers are the reviewer's)"),
        manifest: str | None = Query(None, description="The manifest's path inside the zip"),
        format: Format | None = Query(None, description="Report format (else by the Accept header; default json)"),
        mode: Literal["sync", "async"] | None = Query(None, description="async: always a job (202)"),
        principal: Principal = Depends(who),
    ):
        if service.is_closing:
            raise Problem(503, "the server is shutting down: post again later", "shutting-down",
                          headers={"Retry-After": "10"})
        select, ignore = _split(select), _split(ignore)
        _only_a_reviewer_changes_the_gate(principal, waivers=waivers, select=select, ignore=ignore,
                                          fail_on=fail_on != "error")
        media = _upload_media(request)
        fmt = negotiated(request, format)
        key = request.headers.get("idempotency-key")
        if key is not None and not (0 < len(key) <= 200):
            raise Problem(400, "Idempotency-Key must be 1 to 200 characters", "bad-idempotency-key")
        data = await _read_capped(request, settings.limits.max_upload_mb)
        if data is None:
            raise Problem(413, f"upload exceeds the limit of {settings.limits.max_upload_mb:g} MiB", "too-large")
        try:
            data = await _bundle_of(request, media, data)
            as_job = mode == "async" or (mode != "sync" and len(data) > settings.job_threshold_mb * 1024 * 1024)
            digest = hashlib.sha256(data + b"\0" + str(sorted(request.query_params.multi_items())).encode()
                                    + fmt.encode()).hexdigest()
            if key is not None:
                earlier = await asyncio.to_thread(history.job_by_key, principal.name, key)
                if earlier is not None:
                    return await replay(request, earlier, digest, fmt, mode, principal)
            folder = Path(tempfile.mkdtemp(prefix="check-", dir=scratch))  # mode 0700: this request's alone
            try:
                path = await asyncio.to_thread(unpack, data, folder, settings.limits, manifest)
                if waivers:
                    inside(path.parent, waivers)
            except BundleRefused as refused:
                shutil.rmtree(folder, ignore_errors=True)
                raise Problem(refused.status, refused.message, "bundle-refused", hint=refused.hint) from None
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            check_id = uuid.uuid4().hex
            job = {"id": check_id, "owner": principal.name, "accepted_by": service.name,
                   "manifest": path.relative_to(folder).as_posix(), "idempotency_key": key,
                   "request_sha256": digest, "options": {
                       "as_of": as_of.isoformat() if as_of else None, "stage": stage, "select": select, "ignore": ignore,
                       "fail_on": fail_on, "lang": lang, "waivers": waivers, "manifest_query": manifest,
                       "format": fmt, "sync": not as_job}}
            service.folders[check_id] = folder
            waiter = None if as_job else service.wait_for(check_id)
            try:  # 202 (or the report) only once the job is committed
                earlier = await asyncio.to_thread(history.enqueue, job, data)
            except BaseException:
                service.forget(check_id, folder)
                raise
            if earlier is not None:  # the same key, posted at the same moment
                service.forget(check_id, folder)
                return await replay(request, earlier, digest, fmt, mode, principal)
        finally:
            big = len(data or b"") > 4 * 1024 * 1024
            del data
            if big:
                await asyncio.to_thread(_trim_memory)
        service.poke()
        if waiter is None:
            return JSONResponse({"id": check_id, "status": "queued", "href": f"/checks/{check_id}",
                                 "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
                                 "started": None}, status_code=202,
                                headers={"Location": f"/checks/{check_id}", "X-Rulecheck-Check": check_id})
        return await finished(request, check_id, waiter, fmt, principal)

    async def finished(request: Request, check_id: str, waiter: asyncio.Future | None, fmt: str,
                       principal: Principal) -> Response:
        """The answer to a synchronous request once its job has ended (here, or on another server)."""
        while True:
            if waiter is not None:
                try:
                    outcome = await asyncio.wait_for(asyncio.shield(waiter), 1.0)
                    break
                except asyncio.TimeoutError:
                    pass
            else:
                await asyncio.sleep(0.5)
            try:
                job = await asyncio.to_thread(history.job, check_id)
            except sa.exc.SQLAlchemyError:  # the database is away for a moment: the job goes on
                continue
            if service.is_closing and job["state"] in ("queued", "running"):
                service.waiters.pop(check_id, None)
                outcome = {"state": "closing"}
                break
            if job["state"] not in ("queued", "running"):  # another server ran it
                service.waiters.pop(check_id, None)
                return await job_answer(request, job, fmt, principal)
        headers = {"Location": f"/checks/{check_id}", "X-Rulecheck-Check": check_id}
        if outcome["state"] == "closing":
            raise Problem(503, f"the server is shutting down; check {check_id} was accepted and is kept: "
                               f"GET /checks/{check_id} later", "shutting-down", check=check_id,
                          headers={**headers, "Retry-After": "10"})
        if outcome["state"] == "failed":
            problem = {**outcome["problem"], "check": check_id, "state": "failed"}
            return JSONResponse(problem, status_code=problem["status"], headers=headers, media_type=PROBLEM_TYPE)
        headers.update({"X-Rulecheck-Verdict": outcome["verdict"], "X-Rulecheck-State": "done"})
        if outcome.get("rendered") is not None:
            return Response(outcome["rendered"], media_type=CONTENT_TYPES[fmt], headers=headers)
        return Response(outcome["report"], media_type=CONTENT_TYPES["json"], headers=headers)

    async def replay(request: Request, job: dict, digest: str, fmt: str, mode: str | None,
                     principal: Principal) -> Response:
        if job.get("request_sha256") != digest:
            raise Problem(422, "this Idempotency-Key was already used for another request (another body or "
                               "query): use a new key", "idempotency-key-reused", check=job["id"])
        headers = {"Idempotent-Replayed": "true"}
        if job["options"].get("sync"):  # the first answer was the report: so is the retry's
            job = await wait_ended(job)
        return await job_answer(request, job, fmt, principal, headers)

    async def wait_ended(job: dict) -> dict:
        while job["state"] in ("queued", "running") and not service.is_closing:
            await asyncio.sleep(0.5)
            job = await asyncio.to_thread(history.job, job["id"])
        return job

    @app.get("/checks/{check_id}", dependencies=[only("format")],
             summary="A check's report (200), its job queued or running (202), or its problem")
    async def get_check(request: Request, check_id: str, format: Format | None = Query(None),
                        principal: Principal = Depends(who)):
        fmt = negotiated(request, format)
        job = await asyncio.to_thread(history.job, check_id)
        if job is None:  # a check stored by an earlier version (no job)
            return await stored_report(request, check_id, fmt, principal)
        if not principal.reviews and job["owner"] != principal.name:
            raise Problem(404, f"no check {check_id!r}", "not-found")
        return await job_answer(request, job, fmt, principal)

    @app.get("/submissions", dependencies=[only("limit", "cursor")],
             summary="The submissions in the history (a submitter's own only), by id, a page at a time")
    async def submissions(request: Request, limit: int = Query(50, ge=1, le=500),
                          cursor: str | None = Query(None, description="`next` of the page before",
                                                     pattern=CURSOR_PATTERN),
                          principal: Principal = Depends(who)) -> dict:
        json_only(request)
        after = _decode_cursor(cursor, str) if cursor else None
        items = await asyncio.to_thread(history.submissions, None if principal.reviews else principal.name,
                                        after, limit + 1)
        more = len(items) > limit
        items = items[:limit]
        return {"items": items, "next": _encode_cursor(items[-1]["submission"]) if more else None}

    @app.get("/submissions/{submission_id}/checks", dependencies=[only("limit", "cursor")],
             summary="The rounds of a submission, each with new / persisting / resolved / not rechecked")
    async def submission_checks(request: Request, submission_id: str, limit: int = Query(20, ge=1, le=200),
                                cursor: str | None = Query(None, description="`next` of the page before",
                                                           pattern=CURSOR_PATTERN),
                                principal: Principal = Depends(who)) -> dict:
        json_only(request)
        start = _decode_cursor(cursor, int) if cursor else 0
        rounds = await asyncio.to_thread(history.rounds, submission_id,
                                         None if principal.reviews else principal.name)
        if not rounds:
            raise Problem(404, f"no check of submission {submission_id!r}", "not-found")
        page = rounds[start:start + limit]
        return {"submission": submission_id, "rounds": page,
                "next": _encode_cursor(start + limit) if start + limit < len(rounds) else None}

    _install_openapi(app)
    return app


def _encode_cursor(value) -> str:
    import base64

    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _decode_cursor(text: str, kind: type):
    import base64

    try:
        value = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, UnicodeDecodeError):
        value = None
    if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value < 0):
        raise Problem(400, "cursor is not one this server gave (use the `next` of the page before)", "bad-cursor")
    return value


def _split(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


async def _read_capped(request: Request, limit_mb: float) -> bytes | None:
    """The body, or None past the limit (read no further than the limit, whatever Content-Length says)."""
    limit = int(limit_mb * 1024 * 1024)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    body = b"".join(chunks)
    del chunks
    request._body = body  # noqa: SLF001 - starlette reads a cached body when parsing a form afterwards
    return body


# ---- the OpenAPI document ----------------------------------------------------------------------------------

_ERRORS = {
    "/health": {"get": (400, 406)},
    "/ready": {"get": (400, 406, 503)},
    "/rules": {"get": (400, 401, 406, 503)},
    "/rules/{rule_id}": {"get": (400, 401, 404, 406, 503)},
    "/checks": {"post": (400, 401, 403, 406, 413, 415, 422, 500, 503)},
    "/checks/{check_id}": {"get": (400, 401, 404, 406, 422, 500, 503)},
    "/submissions": {"get": (400, 401, 406, 422, 503)},
    "/submissions/{submission_id}/checks": {"get": (400, 401, 404, 406, 422, 503)},
}
_DESCRIPTIONS = {
    400: "malformed request: unknown query parameter (the known ones listed), bad bundle (zip, paths, links)",
    401: "missing or wrong token", 403: "the token's role may not do this (waivers, select, ignore, fail_on)",
    404: "no such resource (or not this submitter's)", 406: "no acceptable media type",
    413: "upload, entry count or expanded size over a limit", 415: "Content-Type is not a bundle",
    422: "the request or the submission cannot be used: located diagnostics",
    500: "the check failed (its worker died) or was interrupted", 503: "the database cannot be reached or the "
    "server is shutting down: nothing was stored, retry",
}
_REPORT_MEDIA = {"application/json": {"schema": {"$ref": "#/components/schemas/Report"}},
                 **{media: {"schema": {"type": "string"}} for media in (
                     "application/sarif+json", "application/geo+json", "application/xml", "text/html",
                     "text/markdown", "text/plain")}}
_PUBLIC = {"/health", "/ready"}


def _install_openapi(app: FastAPI) -> None:
    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = document.setdefault("components", {})
        found = components.setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            found.pop(name, None)
        found.update(schemas.ALL)
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer",
                                                    "description": "a token of the server's token file"}}
        problem = {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path, methods in document["paths"].items():
            for method, operation in methods.items():
                responses = operation.setdefault("responses", {})
                for status in [s for s in responses if s.startswith(("4", "5"))]:
                    del responses[status]
                for status in _ERRORS.get(path, {}).get(method, (400, 401, 406, 503)):
                    responses[str(status)] = {"description": _DESCRIPTIONS.get(status, "error"),
                                              "content": problem}
                if path in _PUBLIC:
                    operation.pop("security", None)
                else:
                    operation["security"] = [{"bearer": []}]
                    responses.setdefault("401", {"description": _DESCRIPTIONS[401], "content": problem})
                    responses["401"]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
                ok = responses.get("200")
                if path in ("/checks", "/checks/{check_id}"):
                    responses["200"] = {"description": "the report (format by ?format= or Accept)",
                                        "headers": {"X-Rulecheck-Check": {"schema": {"type": "string"}},
                                                    "X-Rulecheck-Verdict": {"schema": schemas._VERDICT}},
                                        "content": _REPORT_MEDIA}
                    responses["202"] = {"description": "a job, queued or running: poll its Location",
                                        "content": {"application/json": {
                                            "schema": {"$ref": "#/components/schemas/Job"}}}}
                    if path == "/checks/{check_id}":
                        responses["200"]["headers"]["ETag"] = {"schema": {"type": "string"}}
                        responses["304"] = {"description": "not modified (If-None-Match)"}
                elif ok is not None:
                    target = {"/submissions": "SubmissionsPage", "/submissions/{submission_id}/checks": "RoundsPage",
                              "/health": "Health", "/ready": "Health"}.get(path)
                    if target:
                        ok["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{target}"}}}
        app.openapi_schema = document
        return document

    app.openapi = openapi
