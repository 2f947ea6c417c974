"""The HTTP shell: authenticate, limit, unpack into a private folder, then run the same `check_one` the batch
and the command line's library calls run, in a process pool; store every check in the history."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import multiprocessing
import shutil
import tempfile
import uuid
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from rulecheck import __version__
from rulecheck.batch import CheckOptions, check_one, ruleset_for
from rulecheck.history import History

from .bundle import BundleLimits, BundleRefused, inside, unpack

Format = Literal["json", "text", "sarif", "junit", "geojson", "markdown", "html", "github", "gitlab"]

# Accept media type -> report format (an explicit ?format= wins)
MEDIA_TYPES = {
    "application/json": "json", "application/sarif+json": "sarif", "application/geo+json": "geojson",
    "application/junit+xml": "junit", "application/xml": "junit", "text/xml": "junit", "text/html": "html",
    "text/markdown": "markdown", "text/plain": "text",
}
CONTENT_TYPES = {"json": "application/json", "sarif": "application/sarif+json", "geojson": "application/geo+json",
                 "junit": "application/xml", "html": "text/html; charset=utf-8",
                 "markdown": "text/markdown; charset=utf-8", "text": "text/plain; charset=utf-8",
                 "github": "text/plain; charset=utf-8", "gitlab": "application/json"}


@dataclass
class ServiceSettings:
    token: str | None = None
    data_dir: Path = field(default_factory=lambda: __import__("rulecheck.history").history.default_data_dir())
    # the history's database URL (postgresql+psycopg://...); default: DATA_DIR/history.sqlite
    database: str | None = None
    rules: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    workers: int = 2
    limits: BundleLimits = field(default_factory=BundleLimits)
    # bundles larger than this run as jobs (202 + GET /checks/{id}); so does any request with ?mode=async
    job_threshold_mb: float = 8
    # seconds one check may run (the engine's run_seconds limit, in the worker process)
    run_seconds: float = 600


def _problem(status: int, message: str, hint: str | None = None, **extra) -> JSONResponse:
    return JSONResponse({"status": status, "error": message, **({"hint": hint} if hint else {}), **extra},
                        status_code=status)


def create_app(settings: ServiceSettings) -> FastAPI:
    """The application; `settings.token` None means no authentication (the caller binds to localhost only)."""
    settings.data_dir = Path(settings.data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    scratch = settings.data_dir / "requests"
    scratch.mkdir(exist_ok=True, mode=0o700)
    ruleset = ruleset_for(settings.rules, settings.params)  # a bad pack stops the start, not the first request
    history = History(settings.database or settings.data_dir / "history.sqlite")
    # spawn: workers must not inherit the server's threads and event loop
    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=max(settings.workers, 1), mp_context=multiprocessing.get_context("spawn"))

    pool = new_pool()
    jobs: dict[str, Future] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        pool.shutdown(wait=False, cancel_futures=True)
        history.close()

    app = FastAPI(title="rulecheck", version=__version__, lifespan=lifespan,
                  description="Check an allocation unit plan bundle against the detailed plan and the supply "
                              "contracts; the gate of `rulecheck check` over HTTP (docs/service.md).")
    app.state.history, app.state.jobs = history, jobs

    async def authenticated(request: Request) -> None:
        if settings.token is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), settings.token.encode()):
            raise HTTPException(401, "missing or wrong token: send 'Authorization: Bearer TOKEN'",
                                headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, error: HTTPException):
        return JSONResponse({"status": error.status_code, "error": error.detail}, status_code=error.status_code,
                            headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError):
        problems = [{"field": ".".join(str(part) for part in e.get("loc", ())), "message": e.get("msg", "")}
                    for e in error.errors()]
        return JSONResponse({"status": 422, "error": "invalid request: "
                             + "; ".join(f"{p['field']}: {p['message']}" for p in problems),
                             "diagnostics": problems}, status_code=422)

    @app.get("/health", summary="Liveness, version and the rule pack's hash (no token needed)")
    def health() -> dict:
        return {"status": "ok", "version": __version__, "rules_sha256": ruleset.sha256, "rules": len(ruleset.rules)}

    @app.get("/rules", dependencies=[Depends(authenticated)], summary="Every rule: id, severity, titles, basis")
    def rules() -> list[dict]:
        return ruleset.catalog()

    @app.get("/rules/{rule_id}", dependencies=[Depends(authenticated)], summary="One rule")
    def rule(rule_id: str) -> dict:
        for entry in ruleset.catalog():
            if entry["id"].upper() == rule_id.upper():
                return entry
        raise HTTPException(404, f"no rule {rule_id!r}")

    def render(record: dict, fmt: str, lang: str, status: int = 200, headers: dict | None = None) -> Response:
        from rulecheck.report import render as render_report

        return Response(render_report(record, fmt, lang=lang), status_code=status, media_type=CONTENT_TYPES[fmt],
                        headers=headers)

    def negotiated(request: Request, fmt: str | None) -> str:
        if fmt:
            return fmt
        for part in request.headers.get("accept", "").split(","):
            media = part.split(";")[0].strip().lower()
            if media in MEDIA_TYPES:
                return MEDIA_TYPES[media]
        return "json"

    def outcome(check_id: str, result: dict, options: CheckOptions, data: bytes) -> None:
        if result.get("record") is not None:
            history.add(check_id, result["record"], {
                "as_of": options.as_of, "stage": options.stage, "select": list(options.select), "ignore": list(options.ignore),
                "fail_on": options.fail_on, "lang": options.lang,
                "waivers": Path(options.waivers).name if options.waivers else None}, data)

    def answer(check_id: str, result: dict, fmt: str, lang: str) -> Response:
        if result.get("record") is None:
            return _problem(422, "the submission cannot be checked", check=check_id,
                            diagnostics=result.get("diagnostics") or [])
        return render(result["record"], fmt, lang, headers={
            "Location": f"/checks/{check_id}", "X-Rulecheck-Check": check_id,
            "X-Rulecheck-Verdict": str(result["record"]["summary"].get("verdict"))})

    @app.post("/checks", dependencies=[Depends(authenticated)], status_code=200,
              summary="Check a bundle: a zip of the manifest and its layers, or a manifest with inline data",
              responses={202: {"description": "accepted as a job: poll GET /checks/{id}"},
                         400: {"description": "malformed bundle (bad zip, path escaping it, link)"},
                         401: {"description": "missing or wrong token"},
                         413: {"description": "upload, entry count or expanded size over a limit"},
                         422: {"description": "the submission cannot be read: located diagnostics"}},
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/zip": {"schema": {"type": "string", "format": "binary"}},
                  "application/yaml": {"schema": {"type": "string"}},
                  "multipart/form-data": {"schema": {"type": "object", "properties": {
                      "bundle": {"type": "string", "format": "binary"}}, "required": ["bundle"]}}}}})
    async def post_check(
        request: Request,
        as_of: dt.date | None = Query(None, description="The date whose law applies (default: the submission's)"),
        stage: Literal["joint_review", "supply"] | None = Query(
            None, description="The moment of the gate: before the joint approval or before supply (default: the submission's)"),
        select: list[str] = Query([], description="Rules or families to run (repeatable or comma-separated)"),
        ignore: list[str] = Query([], description="Rules or families to skip"),
        fail_on: Literal["error", "warning", "info", "indeterminate", "never"] = Query("error"),
        lang: Literal["zh", "en"] = Query("zh"),
        waivers: str | None = Query(None, description="A waiver file inside the bundle, relative to the manifest"),
        manifest: str | None = Query(None, description="The manifest's path inside the zip"),
        format: Format | None = Query(None, description="Report format (else by the Accept header; default json)"),
        mode: Literal["sync", "async"] | None = Query(None, description="async: always a job (202)"),
    ):
        data = await _read_capped(request, settings.limits.max_upload_mb)
        if data is None:
            return _problem(413, f"upload exceeds the limit of {settings.limits.max_upload_mb:g} MiB")
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form(max_files=1, max_fields=0)
            upload = form.get("bundle")
            if upload is None or isinstance(upload, str):
                return _problem(400, "multipart upload without a 'bundle' file")
            data = await upload.read()
        if not data:
            return _problem(400, "empty request body: send a zip bundle or a manifest")
        fmt = negotiated(request, format)
        folder = Path(tempfile.mkdtemp(prefix="check-", dir=scratch))  # mode 0700: this request's alone
        try:
            path = await asyncio.to_thread(unpack, data, folder, settings.limits, manifest)
            waiver_path = str(inside(path.parent, waivers)) if waivers else None
        except BundleRefused as refused:
            shutil.rmtree(folder, ignore_errors=True)
            return _problem(refused.status, refused.message, refused.hint)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        options = CheckOptions(
            as_of=as_of.isoformat() if as_of else None, select=tuple(_split(select)), ignore=tuple(_split(ignore)),
            fail_on=fail_on, lang=lang, waivers=waiver_path, with_layers=fmt == "html", rules=settings.rules,
            params=settings.params, limits={"run_seconds": settings.run_seconds}, stage=stage)
        check_id = uuid.uuid4().hex
        nonlocal pool
        try:
            future = pool.submit(check_one, str(path), options, str(folder))
        except BrokenProcessPool:  # a worker died (killed, out of memory): the next request gets a fresh pool
            pool.shutdown(wait=False, cancel_futures=True)
            pool = new_pool()
            future = pool.submit(check_one, str(path), options, str(folder))

        def finished(done: Future) -> None:
            shutil.rmtree(folder, ignore_errors=True)
            if not done.cancelled() and done.exception() is None:
                outcome(check_id, done.result(), options, data)
                if done.result().get("record") is not None:
                    jobs.pop(check_id, None)  # stored: GET /checks/{id} reads the history from now on

        future.add_done_callback(finished)
        if mode == "async" or (mode != "sync" and len(data) > settings.job_threshold_mb * 1024 * 1024):
            jobs[check_id] = future
            return JSONResponse({"id": check_id, "status": "running", "href": f"/checks/{check_id}"},
                                status_code=202, headers={"Location": f"/checks/{check_id}"})
        try:
            result = await asyncio.wrap_future(future)
        except BrokenProcessPool:
            return _problem(500, "the check's worker process died (out of memory?); the request can be retried",
                            check=check_id)
        return answer(check_id, result, fmt, lang)

    @app.get("/checks/{check_id}", dependencies=[Depends(authenticated)],
             summary="A check's report (200), or its job still running (202)")
    async def get_check(request: Request, check_id: str, format: Format | None = Query(None)):
        fmt = negotiated(request, format)
        future = jobs.get(check_id)
        if future is not None:
            if not future.done():
                return JSONResponse({"id": check_id, "status": "running", "href": f"/checks/{check_id}"},
                                    status_code=202)
            if future.exception() is not None:
                return _problem(500, f"the check failed: {type(future.exception()).__name__}", check=check_id)
            result = future.result()
            if result.get("record") is None:
                return answer(check_id, result, fmt, "zh")
            # done but perhaps not yet stored (the callback that stores it runs just after): answer from the result
            record = result["record"]
            return render(record, fmt, record.get("lang", "zh"), headers={"X-Rulecheck-Check": check_id})
        record = await asyncio.to_thread(history.report, check_id)
        if record is None:
            raise HTTPException(404, f"no check {check_id!r}")
        return render(record, fmt, record.get("lang", "zh"), headers={"X-Rulecheck-Check": check_id})

    @app.get("/submissions/{submission_id}/checks", dependencies=[Depends(authenticated)],
             summary="The rounds of a submission, each with new / persisting / resolved against the one before")
    async def submission_checks(submission_id: str) -> dict:
        rounds = await asyncio.to_thread(history.rounds, submission_id)
        if not rounds:
            raise HTTPException(404, f"no check of submission {submission_id!r}")
        return {"submission": submission_id, "rounds": rounds}

    return app


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
    request._body = body  # noqa: SLF001 - starlette reads a cached body when parsing a form afterwards
    return body

