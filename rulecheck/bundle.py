"""A bundle unpacked into a private folder: a zip of the manifest and its layers, or a manifest alone,
held to the service's limits (upload size, number of files, expanded size, paths and links that escape)."""

from __future__ import annotations

import io
import os
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class BundleLimits:
    max_upload_mb: float = 64
    max_files: int = 2000
    max_expanded_mb: float = 1024
    # a deflated file expands at most this many times (text GeoJSON compresses ~10-20x; a zip bomb ~1000x)
    max_ratio: float = 200


class BundleRefused(Exception):
    """An upload the service will not unpack: `status` is the HTTP status (400 malformed, 413 too large)."""

    def __init__(self, status: int, message: str, hint: str | None = None):
        super().__init__(message)
        self.status, self.message, self.hint = status, message, hint


SMALL_ENTRY = 64 * 1024
# a file system's usual limits: a name of at most 255 bytes, a path of at most 1024 characters
MAX_NAME_BYTES, MAX_PATH_CHARS = 255, 1024


def _mb(limit: float) -> int:
    return int(limit * 1024 * 1024)


def is_zip(data: bytes) -> bool:
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def unpack(data: bytes, folder: Path, limits: BundleLimits, manifest: str | None = None) -> Path:
    """Write the bundle into `folder` (which the caller created private and removes) and return its manifest.

    A zip holds the manifest (`manifest`, else ``submission.yaml``, else its one ``*.yaml``) at its top or in its
    one top-level folder; anything else is taken as the manifest's own text (inline data)."""
    if len(data) > _mb(limits.max_upload_mb):
        raise BundleRefused(413, f"upload of {len(data)} bytes exceeds the limit of {limits.max_upload_mb:g} MiB")
    if not is_zip(data):
        target = folder / "submission.yaml"
        target.write_bytes(data)
        return target
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as error:
        raise BundleRefused(400, f"not a readable zip archive: {error}") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > limits.max_files:
            raise BundleRefused(413, f"the archive holds {len(entries)} entries; the limit is {limits.max_files}")
        declared = compressed = 0
        names = []
        for entry in entries:
            names.append(_safe_name(entry))
            declared += entry.file_size
            compressed += entry.compress_size
            # a small entry may compress well by chance; past 64 KiB, 200 times is a bomb's, not a layer's
            if entry.file_size > SMALL_ENTRY and entry.file_size > limits.max_ratio * max(entry.compress_size, 1):
                raise BundleRefused(413, f"{entry.filename!r} expands {entry.file_size / max(entry.compress_size, 1):.0f} "
                                         f"times (limit {limits.max_ratio:g}): refused as a zip bomb")
        # many small entries that each pass: the archive as a whole is held to the same ratio
        if declared > SMALL_ENTRY and declared > limits.max_ratio * max(compressed, 1):
            raise BundleRefused(413, f"the archive's {len(entries)} entries expand {declared / max(compressed, 1):.0f} "
                                     f"times (limit {limits.max_ratio:g}): refused as a zip bomb")
        if declared > _mb(limits.max_expanded_mb):
            raise BundleRefused(413, f"the archive expands to {declared} bytes; the limit is "
                                     f"{limits.max_expanded_mb:g} MiB")
        _no_clashes(entries, names)
        budget = _mb(limits.max_expanded_mb)
        for entry, name in zip(entries, names):
            target = folder.joinpath(*name.parts)
            # the sizes in the headers are the sender's word: count what really comes out
            try:
                if entry.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(entry) as source, open(target, "xb") as sink:
                    while chunk := source.read(1 << 16):
                        budget -= len(chunk)
                        if budget < 0:
                            raise BundleRefused(413, f"the archive expands past the limit of "
                                                     f"{limits.max_expanded_mb:g} MiB")
                        sink.write(chunk)
            except FileExistsError:
                raise BundleRefused(400, f"{entry.filename!r} appears twice in the archive") from None
            except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError,
                    zlib.error, ValueError) as error:
                raise BundleRefused(400, f"{entry.filename!r} cannot be extracted: {error}") from None
            except OSError as error:  # a name clash the checks above missed, a name the file system refuses
                raise BundleRefused(400, f"{entry.filename!r} cannot be written: {error.strerror}") from None
    return _find_manifest(folder, manifest)


def _safe_name(entry: zipfile.ZipInfo) -> PurePosixPath:
    """The entry's path inside the bundle; a refusal for an absolute path, a '..', a link or a device."""
    raw = entry.filename
    name = PurePosixPath(raw.replace("\\", "/"))
    if name.is_absolute() or raw.startswith(("/", "\\")) or (len(raw) > 1 and raw[1] == ":"):
        raise BundleRefused(400, f"{raw!r} is an absolute path: every entry must stay inside the archive")
    if ".." in name.parts:
        raise BundleRefused(400, f"{raw!r} escapes the archive ('..'): every entry must stay inside it")
    if "\x00" in raw or not name.parts:
        raise BundleRefused(400, f"{raw!r} is not a usable file name")
    if len(raw) > MAX_PATH_CHARS or any(len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES
                                        for part in name.parts):
        raise BundleRefused(400, f"{raw[:80]!r}{'...' if len(raw) > 80 else ''} is too long a name (at most "
                                 f"{MAX_NAME_BYTES} bytes a name and {MAX_PATH_CHARS} characters a path)")
    mode = entry.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise BundleRefused(400, f"{raw!r} is a symbolic link: links are refused, put the file itself in the archive")
    if mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)) and stat.S_IFMT(mode):
        raise BundleRefused(400, f"{raw!r} is not a regular file")
    return name


def _no_clashes(entries: list[zipfile.ZipInfo], names: list[PurePosixPath]) -> None:
    """Refuse an archive where one name is both a file and a folder ('a' and 'a/b'), or a file twice."""
    files: dict[PurePosixPath, str] = {}
    folders: dict[PurePosixPath, str] = {}
    for entry, name in zip(entries, names):
        if entry.is_dir():
            folders.setdefault(name, entry.filename)
        else:
            if name in files:
                raise BundleRefused(400, f"{entry.filename!r} appears twice in the archive")
            files[name] = entry.filename
        for parent in name.parents:
            if parent.parts:
                folders.setdefault(parent, entry.filename)
    for name, raw in files.items():
        if name in folders:
            raise BundleRefused(400, f"{raw!r} is a file, but {folders[name]!r} makes it a folder: an archive "
                                     "cannot hold both")


def _find_manifest(folder: Path, manifest: str | None) -> Path:
    roots = [folder]
    tops = [p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if len(tops) == 1 and tops[0].is_dir():
        roots.append(tops[0])
    if manifest:
        wanted = PurePosixPath(manifest)
        if wanted.is_absolute() or ".." in wanted.parts:
            raise BundleRefused(400, f"manifest {manifest!r} must be a path inside the archive")
        for root in roots:
            path = root.joinpath(*wanted.parts)
            if path.is_file():
                return path
        raise BundleRefused(400, f"the archive has no {manifest!r}")
    for root in roots:
        if (root / "submission.yaml").is_file():
            return root / "submission.yaml"
        yamls = sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        if len(yamls) == 1:
            return yamls[0]
    raise BundleRefused(400, "the archive has no submission.yaml at its top (nor in its one top-level folder)",
                        hint="zip the manifest and its layers, or name the manifest with ?manifest=PATH")


def inside(folder: Path, name: str) -> Path:
    """A file the request names (a waiver file) inside the unpacked bundle, never outside it."""
    wanted = PurePosixPath(name)
    if wanted.is_absolute() or ".." in wanted.parts:
        raise BundleRefused(400, f"{name!r} must be a path inside the bundle")
    path = folder.joinpath(*wanted.parts)
    if not path.is_file() or os.path.islink(path):
        raise BundleRefused(400, f"the bundle has no file {name!r}")
    return path
