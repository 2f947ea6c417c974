"""rulecheck as an HTTP service for approval systems (`rulecheck serve`; docs/service.md). Needs the optional
dependencies of the ``service`` extra (FastAPI, uvicorn, python-multipart)."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

TOKEN_VARIABLE = "RULECHECK_TOKEN"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(token_file: str | None) -> str | None:
    """The token from --token-file (its first line), else RULECHECK_TOKEN, else None (no authentication)."""
    if token_file:
        text = Path(token_file).read_text(encoding="utf-8").strip().splitlines()
        token = text[0].strip() if text else ""
        if not token:
            raise ValueError(f"{token_file}: the token file is empty")
        return token
    return os.environ.get(TOKEN_VARIABLE) or None


def serve(settings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the service on uvicorn until interrupted."""
    import uvicorn

    from .app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
