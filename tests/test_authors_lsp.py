"""The language server for .rule files (issue 11, deliverable 7), spoken to over stdio as an editor does:
diagnostics as the text changes, hover on a parameter, field and function, completion, go-to-definition."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("pygls")

ROOT = Path(__file__).resolve().parent.parent

GOOD = """rule IND-950
  title zh "示例" en "example"
  severity warning
  basis "示例"
  for each p in detailed_plan.parcels where present(p.far_max)
  require p.far_max <= 2 and 1 m2 <= overlap_max and area(p) > 0 m2
  message zh "地块 {p}" en "Parcel {p}"
"""
TYPO = GOOD.replace("p.far_max <= 2", "p.far_maxx <= 2")


class Client:
    def __init__(self, cwd: Path):
        self.proc = subprocess.Popen([sys.executable, "-m", "rulecheck", "rules", "lsp"], cwd=cwd,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.next_id = 0
        self.notifications: list[dict] = []

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def read(self) -> dict:
        length = None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise EOFError(self.proc.stderr.read().decode())
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value.strip())
        return json.loads(self.proc.stdout.read(length))

    def request(self, method: str, params: dict) -> dict:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        while True:
            message = self.read()
            if message.get("id") == self.next_id and "method" not in message:
                assert "error" not in message, message
                return message.get("result")
            if "method" in message:
                self.notifications.append(message)

    def notify(self, method: str, params: dict) -> None:
        self.send({"method": method, "params": params})

    def diagnostics(self, uri: str, version_hint: str) -> list[dict]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for message in list(self.notifications):
                if message["method"] == "textDocument/publishDiagnostics" and message["params"]["uri"] == uri:
                    self.notifications.remove(message)
                    return message["params"]["diagnostics"]
            message = self.read()
            if "method" in message:
                self.notifications.append(message)
        raise AssertionError(f"no diagnostics for {uri} ({version_hint})")


@pytest.fixture
def client(tmp_path):
    c = Client(tmp_path)
    c.request("initialize", {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}})
    c.notify("initialized", {})
    yield c
    try:
        c.request("shutdown", None)
        c.notify("exit", None)
        c.proc.wait(timeout=20)
    finally:
        if c.proc.poll() is None:
            c.proc.kill()


def test_diagnostics_hover_completion_and_definition_over_stdio(client, tmp_path):
    path = tmp_path / "province.rule"
    path.write_text(TYPO, encoding="utf-8")
    uri = path.as_uri()
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "rulecheck", "version": 1,
                                                            "text": TYPO}})
    (diagnostic,) = client.diagnostics(uri, "typo")
    assert diagnostic["range"]["start"] == {"line": 5, "character": 12}
    assert diagnostic["message"].startswith("Parcel records have no field 'far_maxx'")
    assert "did you mean 'far_max'?" in diagnostic["message"] and diagnostic["severity"] == 1

    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                             "contentChanges": [{"text": GOOD}]})
    assert client.diagnostics(uri, "fixed") == []

    line = GOOD.splitlines()[5]
    hover = client.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                  "position": {"line": 5, "character": line.index("overlap_max") + 2}})
    value = hover["contents"]["value"]
    assert value.startswith("parameter overlap_max: an area") and "from 1990-01-01: 1 m²" in value
    hover = client.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                  "position": {"line": 5, "character": line.index("far_max") + 1}})
    assert "Parcel.far_max: " in hover["contents"]["value"]
    hover = client.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                  "position": {"line": 5, "character": line.index("area(") + 1}})
    assert hover["contents"]["value"].startswith("area(geom)") and "in m²" in hover["contents"]["value"]

    completion = client.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                            "position": {"line": 5, "character": line.index("far_max")}})
    labels = {item["label"]: item for item in completion["items"]}
    # after `p.` (a parcel) a parcel's fields only (issue 24), not every record's
    assert "far_max" in labels and "term_years" not in labels and labels["far_max"]["kind"] == 5  # Field
    completion = client.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                            "position": {"line": 5, "character": 10}})
    labels = {item["label"]: item["kind"] for item in completion["items"]}
    assert labels["overlap_max"] == 21 and labels["detailed_plan"] == 9 and labels["buffer"] == 3

    found = client.request("textDocument/definition", {"textDocument": {"uri": uri},
                                                       "position": {"line": 5, "character": line.index("overlap_max")}})
    target = Path(found["uri"].removeprefix("file://"))
    assert target.name == "tolerances.rule"
    assert target.read_text(encoding="utf-8").splitlines()[found["range"]["start"]["line"]].startswith("param overlap_max")
