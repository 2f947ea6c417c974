"""Who may call the service: the bearer tokens of a token file or of RULECHECK_TOKEN, each a principal with a
role; and whether a host is the loopback (where the service may run without tokens)."""

from __future__ import annotations

import hashlib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

TOKEN_VARIABLE = "RULECHECK_TOKEN"
ROLES = ("submitter", "reviewer", "admin")


@dataclass(frozen=True)
class Principal:
    """Who a token speaks for: `name` owns the checks it posts; `role` says what it may do."""

    name: str
    role: str

    @property
    def reviews(self) -> bool:
        return self.role in ("reviewer", "admin")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_tokens(text: str, where: str = "token file") -> dict[str, Principal]:
    """``TOKEN [ROLE [NAME]]`` a line (``#`` comments, blank lines skipped). A token alone is a submitter's (the
    one shared token of earlier versions may post and read, not change the gate); a missing name is derived from
    the token."""
    tokens: dict[str, Principal] = {}
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        token, role = words[0], (words[1] if len(words) > 1 else "submitter")
        if role not in ROLES:
            raise ValueError(f"{where}:{number}: unknown role {role!r}; roles: {', '.join(ROLES)}")
        if len(words) > 3:
            raise ValueError(f"{where}:{number}: expected 'TOKEN [ROLE [NAME]]'")
        if token in tokens:
            raise ValueError(f"{where}:{number}: this token is given twice")
        name = words[2] if len(words) > 2 else "token-" + hashlib.sha256(token.encode()).hexdigest()[:12]
        tokens[token] = Principal(name, role)
    if not tokens:
        raise ValueError(f"{where}: the token file is empty")
    return tokens


def read_tokens(token_file: str | None) -> dict[str, Principal] | None:
    """The tokens of --token-file, else RULECHECK_TOKEN (a submitter's), else None (no authentication)."""
    if token_file:
        return parse_tokens(Path(token_file).read_text(encoding="utf-8"), token_file)
    token = os.environ.get(TOKEN_VARIABLE)
    return parse_tokens(token, TOKEN_VARIABLE) if token and token.strip() else None


def read_token(token_file: str | None) -> str | None:
    """The first token (kept for callers of earlier versions)."""
    tokens = read_tokens(token_file)
    return next(iter(tokens)) if tokens else None
