"""A per-user cache of parsed rule packs, so a lint run does not parse every pack again.

Parsing the shipped packs costs several times what checking a small submission does. Each pack's parse
(its AST and diagnostics) is kept in `$XDG_CACHE_HOME/rulecheck` (else `~/.cache/rulecheck`), in a file
named by the sha256 of the rulecheck version, the parser's own source files, the pack's displayed path and
its text, so a changed pack, parser or rulecheck never meets an old entry.

A cache file is unpickled, so it is trusted only as far as its directory: the directory is created 0700 and
used only when it is a real directory (not a symbolic link) owned by the user and writable by no one else;
a file is used only when it is a regular file owned by the user, writable by no one else, and its content
matches the sha256 written in its first line. Never a shared temporary folder. Anything else (no home, a
read-only disk, a file that fails a check) means parsing as if there were no cache; the cache never changes
a result. `RULECHECK_NO_CACHE=1` turns it off.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import stat
import tempfile
from pathlib import Path

from rulecheck import __version__

FORMAT = b"rulecheck-pack-cache-1"


def cache_dir() -> Path | None:
    """The user's cache directory for rulecheck, created 0700 if need be; None when it cannot be trusted."""
    if os.environ.get("RULECHECK_NO_CACHE") or not hasattr(os, "getuid"):
        return None
    base = os.environ.get("XDG_CACHE_HOME")
    if not base or not os.path.isabs(base):
        home = os.path.expanduser("~")
        if not home or home == "~":
            return None
        base = os.path.join(home, ".cache")
    folder = Path(base) / "rulecheck"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    return folder


@functools.lru_cache(maxsize=1)
def _code_fingerprint() -> bytes:
    """The parser's own source (grammar, AST classes, transformer): a change to any of them, even without a
    new version number, makes every cached parse stale."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in ("grammar.lark", "ast.py", "parser.py", "cache.py", "../diagnostics.py"):
        try:
            digest.update((here / name).read_bytes())
        except OSError:
            digest.update(b"?" + name.encode())
    return digest.hexdigest().encode()


def key_of(display: str, text: str) -> str:
    digest = hashlib.sha256()
    for part in (FORMAT, __version__.encode(), _code_fingerprint(), display.encode("utf-8"), text.encode("utf-8")):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def load(key: str):
    """The cached value under `key`, or None."""
    folder = cache_dir()
    if folder is None:
        return None
    path = folder / f"{key}.pack"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
        with os.fdopen(fd, "rb") as f:
            fd = None
            data = f.read()
    finally:
        if fd is not None:
            os.close(fd)
    head, _, payload = data.partition(b"\n")
    if head != FORMAT + b" " + hashlib.sha256(payload).hexdigest().encode() + b" " + key.encode():
        return None
    try:
        return pickle.loads(payload)
    except Exception:  # a file of an older layout: parse again
        return None


def store(key: str, value) -> None:
    """Keep `value` under `key`; a failure to write is not an error (the next run parses again)."""
    folder = cache_dir()
    if folder is None:
        return
    try:
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return
    head = FORMAT + b" " + hashlib.sha256(payload).hexdigest().encode() + b" " + key.encode()
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".pack")  # 0600
        with os.fdopen(fd, "wb") as f:
            f.write(head + b"\n" + payload)
        os.replace(tmp, folder / f"{key}.pack")
    except OSError:
        try:
            os.unlink(tmp)
        except (OSError, UnboundLocalError):
            pass


def parse_file_cached(path: str | Path, display: str | None = None):
    """parser.parse_file, answered from the cache when this exact text was parsed before (then lark and the
    parser are not even imported)."""
    from rulecheck.limits import current
    from rulecheck.model.sources import SourceError, read_text_limited

    display = display or str(path)
    try:
        text = read_text_limited(path, "max_rule_file_mb")  # never more than the limit (nor a device without end)
    except SourceError:
        from rulecheck.dsl.parser import parse_file

        return parse_file(path, display)  # its own messages for a missing, oversized or undecodable file
    # the expression depth limit decides which diagnostics a parse has: an entry is for one limit
    key = key_of(f"{display}\0max_expr_depth={current().max_expr_depth}", text)
    cached = load(key)
    if cached is not None:
        return cached
    from rulecheck.dsl.parser import parse_file

    result = parse_file(path, display)
    if result[0].text == text:  # the file did not change while it was read twice
        store(key, result)
    return result
