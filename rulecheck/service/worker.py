"""The service's check processes. Each worker is a child process of its own (``python -m
rulecheck.service.worker``) that checks one bundle at a time, sent over a pipe; the server holds one `Worker` per
slot. A worker that dies (killed, out of memory) or overruns its time fails only the job it had: the slot starts
a new one. A worker dies with the server (PR_SET_PDEATHSIG, and a watchdog on its parent's pid), so a killed
server leaves no orphan."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection


def _die_with_parent(parent: int) -> None:
    """SIGKILL when the parent dies. (The kernel sends it when the *thread* that started this process ends: the
    server starts each worker from its slot's thread, which lives as long as the server.)"""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def summarise(record: dict) -> dict:
    """What the server stores beside the report text (so the server never parses a large report)."""
    from rulecheck.history import compact_conflicts, rules_run

    summary = record.get("summary") or {}
    submission = record.get("submission") or {}
    rules = record.get("rules") or {}
    return {"submission": str(submission.get("id") or ""), "verdict": str(summary.get("verdict") or ""),
            "passed": bool(summary.get("passed")), "inputs": submission.get("inputs") or [],
            "rules_sha256": str(rules.get("sha256") or ""), "params": rules.get("params") or [],
            "rules_run": rules_run(record), "conflicts": compact_conflicts(record), "lang": record.get("lang")}


def run_job(request: dict) -> dict:
    """One check: ``{"record": {...summary..., "report": JSON text, "rendered": bytes}}`` or ``{"diagnostics"}``."""
    from rulecheck.checking import check_one
    from rulecheck.report import encoded_pieces, render

    result = check_one(request["manifest"], request["options"], request["base"])
    record = result.get("record")
    if record is None:
        return {"diagnostics": result.get("diagnostics") or []}
    out = summarise(record)
    out["report"] = b"".join(encoded_pieces(record, "json", lang=record.get("lang", "zh"))).decode("utf-8")
    fmt = request.get("format") or "json"
    if fmt != "json":
        out["rendered"] = render(record, fmt, lang=record.get("lang", "zh")).encode("utf-8", "backslashreplace")
    return {"record": out}


def render_text(report: str, fmt: str, lang: str) -> bytes:
    """A stored JSON report in another format (run in a worker process for a large report)."""
    import json

    from rulecheck.report import render

    return render(json.loads(report), fmt, lang=lang).encode("utf-8", "backslashreplace")


def main(argv: list[str]) -> None:
    read_fd, write_fd, parent = int(argv[0]), int(argv[1]), int(argv[2])
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops its workers itself
    incoming, outgoing = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    from rulecheck.checking import ruleset_for

    ruleset_for(tuple(argv[3].split("\0")) if argv[3] else (), tuple(argv[4].split("\0")) if argv[4] else ())
    outgoing.send({"ready": os.getpid()})
    while True:
        try:
            request = incoming.recv()
        except EOFError:
            return
        try:
            if request.get("render"):
                answer = {"rendered": render_text(request["report"], request["format"], request["lang"])}
            else:
                answer = run_job(request)
        except MemoryError:
            answer = {"error": "the check ran out of memory"}
        except Exception as error:  # a bug: the job fails with a 500, the worker goes on
            answer = {"error": f"internal error: {type(error).__name__}: {error}"}
        outgoing.send(answer)
        del request, answer


class WorkerDied(Exception):
    pass


class WorkerTimeout(Exception):
    pass


class Worker:
    """A check process and its two pipe ends, owned by one slot thread."""

    def __init__(self, rules: tuple[str, ...] = (), params: tuple[str, ...] = (), start_seconds: float = 180):
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rulecheck.service.worker", str(to_child_r), str(from_child_w), str(os.getpid()),
             "\0".join(rules), "\0".join(params)],
            pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL, close_fds=True)
        os.close(to_child_r)
        os.close(from_child_w)
        self._send = Connection(to_child_w, readable=False)
        self._receive = Connection(from_child_r, writable=False)
        self.pid = self.process.pid
        ready = self._wait(start_seconds)
        if "ready" not in ready:
            self.kill()
            raise WorkerDied(f"the worker did not start: {ready}")

    def _wait(self, seconds: float | None):
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise WorkerTimeout()
            try:
                if self._receive.poll(min(left, 1.0) if left is not None else 1.0):
                    return self._receive.recv()
            except (EOFError, OSError):
                raise WorkerDied(self._death()) from None
            if self.process.poll() is not None:
                raise WorkerDied(self._death())

    def _death(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "the worker process stopped answering"
        if code < 0:
            return f"the worker process was killed by signal {signal.Signals(-code).name}"
        return f"the worker process exited with status {code}"

    def call(self, request: dict, seconds: float | None) -> dict:
        """The worker's answer to `request`; WorkerDied or WorkerTimeout (the worker is then killed)."""
        try:
            self._send.send(request)
        except (OSError, ValueError):
            raise WorkerDied(self._death()) from None
        try:
            return self._wait(seconds)
        except WorkerTimeout:
            self.kill()
            raise

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for end in (self._send, self._receive):
            try:
                end.close()
            except OSError:
                pass


if __name__ == "__main__":
    main(sys.argv[1:])
