"""A per-user cache of parsed rule packs, so a lint run does not parse every pack again.

Parsing the shipped packs costs several times what checking a small submission does. Each pack's parse
(its AST and diagnostics) is kept in `$XDG_CACHE_HOME/rulecheck` (else `~/.cache/rulecheck`), in a file
named by the sha256 of the rulecheck version, the parser's own source files, the pack's displayed path and
its text, so a changed pack, parser or rulecheck never meets an old entry.

A cache file is unpickled, so it is trusted only when this install, for this user, wrote it. The folder
`XDG_CACHE_HOME` names can be the submitter's (a CI job that sets `XDG_CACHE_HOME=$PWD/.cache` in a checkout
of the submitter's repository: git writes its files 0644, owned by the runner), so owner and mode checks are
not enough, and a checksum anyone can compute proves nothing. Every entry is bound to a per-user secret
(32 random bytes in `~/.local/state/rulecheck/cache-secret`, the home directory taken from the password
database, not from the environment; created 0600 in a 0700 folder, used only when it is a regular file owned
by the user and readable by no one else): a file's name is the HMAC-SHA256 of the entry's key material
(version, the parser's source, this install's path, the pack's displayed path and text) under the secret,
and its first line the HMAC of its name and payload. Whoever cannot read the secret cannot name an entry
nor sign one; a planted file (a valid parse of another pack, or a pickle that runs code) is never
unpickled. The folder is also created 0700 and used only when it is a real directory owned by the user and
writable by no one else; a file only when it is a regular file owned by the user and writable by no one
else. Never a shared temporary folder.

The cache is pruned: after a store, the least recently used entries (a read touches a file) are removed
while there are more than MAX_ENTRIES or they take more than MAX_BYTES. The language server's documents
(`not_storing()`) are never stored: each keystroke's text would be a new entry.

Anything else (no home, a read-only disk, a file that fails a check) means parsing as if there were no
cache; the cache never changes a result. `RULECHECK_NO_CACHE=1` turns it off.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import hmac
import os
import pickle
import secrets
import stat
import tempfile
from pathlib import Path

from rulecheck.version import __version__

FORMAT = b"rulecheck-pack-cache-2"
MAX_ENTRIES = 200  # the shipped packs are about a dozen entries; one's own packs and their versions the rest
MAX_BYTES = 64 * 2**20
SECRET_BYTES = 32

_storing: contextvars.ContextVar[bool] = contextvars.ContextVar("rulecheck_cache_storing", default=True)


@contextlib.contextmanager
def not_storing():
    """Within it, parses are read from the cache but never stored (a language server's unsaved documents)."""
    token = _storing.set(False)
    try:
        yield
    finally:
        _storing.reset(token)


def _home() -> str | None:
    """The user's home from the password database (the environment's HOME as a fallback only)."""
    try:
        import pwd

        home = pwd.getpwuid(os.getuid()).pw_dir
    except (ImportError, KeyError, OSError):
        home = None
    if not home:
        home = os.path.expanduser("~")
        if not home or home == "~":
            return None
    return home


def secret_path() -> Path | None:
    home = _home()
    return Path(home) / ".local" / "state" / "rulecheck" / "cache-secret" if home else None


def _private_folder(folder: Path) -> bool:
    """Create `folder` 0700 if need be; whether it is a real directory of the user's that no one else can write."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def secret() -> bytes | None:
    """This user's cache secret, made (0600, O_EXCL) on first use; None when it cannot be kept privately."""
    path = secret_path()
    if path is None or not _private_folder(path.parent):
        return None
    for _ in range(2):
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            except FileExistsError:
                continue  # another process made it first: read theirs
            except OSError:
                return None
            try:
                os.write(fd, secrets.token_bytes(SECRET_BYTES))
            except OSError:
                return None
            finally:
                os.close(fd)
            continue
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
                return None
            value = os.read(fd, SECRET_BYTES + 1)
        except OSError:
            return None
        finally:
            os.close(fd)
        return value if len(value) == SECRET_BYTES else None
    return None


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
    return folder if _private_folder(folder) else None


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


def key_of(display: str, text: str) -> str | None:
    """The entry's name: the HMAC of its key material under this user's secret; None without a secret."""
    key = secret()
    if key is None:
        return None
    digest = hmac.new(key, digestmod=hashlib.sha256)
    for part in (FORMAT, __version__.encode(), _code_fingerprint(), str(Path(__file__).resolve()).encode("utf-8"),
                 display.encode("utf-8"), text.encode("utf-8")):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def _seal(name: str, payload: bytes) -> bytes | None:
    """The first line of an entry: the format and the HMAC of its name and payload under the secret."""
    key = secret()
    if key is None:
        return None
    mac = hmac.new(key, FORMAT + b"\0" + name.encode() + b"\0" + payload, hashlib.sha256).hexdigest().encode()
    return FORMAT + b" " + mac + b" " + name.encode()


def load(key: str | None):
    """The cached value under `key`, or None."""
    folder = cache_dir()
    if folder is None or key is None:
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
    expected = _seal(key, payload)
    if expected is None or not hmac.compare_digest(head, expected):
        return None  # planted, tampered with, or of another install or user: never unpickled
    try:
        value = pickle.loads(payload)
    except Exception:  # a file of an older layout: parse again
        return None
    try:
        os.utime(path)  # least recently used is pruned first
    except OSError:
        pass
    return value


def store(key: str | None, value) -> None:
    """Keep `value` under `key`, then prune; a failure to write is not an error (the next run parses again)."""
    folder = cache_dir()
    if folder is None or key is None or not _storing.get():
        return
    try:
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return
    head = _seal(key, payload)
    if head is None:
        return
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
    prune(folder)


def prune(folder: Path, max_entries: int | None = None, max_bytes: int | None = None) -> None:
    """Remove the least recently used entries while there are more than `max_entries` or they take more than
    `max_bytes`; stray temporary files older than an hour too."""
    import time

    max_entries = MAX_ENTRIES if max_entries is None else max_entries
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    entries = []
    try:
        with os.scandir(folder) as found:
            for entry in found:
                if not entry.is_file(follow_symlinks=False):
                    continue
                info = entry.stat(follow_symlinks=False)
                if entry.name.startswith(".tmp-"):
                    if info.st_mtime < time.time() - 3600:
                        entries.append((0.0, info.st_size, entry.path))
                    continue
                if entry.name.endswith(".pack"):
                    entries.append((info.st_mtime, info.st_size, entry.path))
    except OSError:
        return
    entries.sort()
    total = sum(size for _, size, _ in entries)
    count = len(entries)
    for mtime, size, path in entries:
        if count <= max_entries and total <= max_bytes and mtime:
            break
        try:
            os.unlink(path)
        except OSError:
            continue
        count -= 1
        total -= size


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
