"""The exports directory: random names, sanitised download names, sidecars, the size quota and cleanup.

Layout: `<id>.<ext>` (the data), `<id>.meta.json` (the sidecar: bookkeeping, plus the export's metadata
when asked for), `<id>.<ext>.part` while writing. `<id>` is a random UUID (32 hex digits); the caller's
filename is only ever the *download* name. Only files with these names are counted or deleted, whatever
else the directory holds.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import re
import threading
import time
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from vf_mcp.errors import VfError

log = logging.getLogger(__name__)

Format = Literal["csv", "json", "jsonl", "excel", "parquet"]

EXTENSIONS: dict[str, str] = {
    "csv": ".csv",
    "json": ".json",
    "jsonl": ".jsonl",
    "excel": ".xlsx",
    "parquet": ".parquet",
}
MIME_TYPES: dict[str, str] = {
    "csv": "text/csv",
    "json": "application/json",
    "jsonl": "application/jsonl",
    "excel": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}
TEXT_FORMATS = frozenset({"csv", "json", "jsonl"})
"""Formats read back over MCP as text (TextResourceContents), not as a base64 blob."""
META_MIME_TYPE = "application/json"
_OURS = re.compile(r"^([0-9a-f]{32})(\.meta\.json|\.[a-z]+|\.[a-z]+\.part|\.meta\.json\.tmp)$")
NAME_RE = re.compile(r"^[0-9a-f]{32}(\.meta\.json)?$")
_UNSAFE = re.compile(r"[^\w.\- ()+,=@]+")


class ExportLimitError(VfError):
    """An export was refused or stopped by a limit of the exports directory."""

    code = "export_limit"


def default_exports_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("vf-mcp")) / "exports"


def sanitize_filename(name: str | None, fmt: str, now: datetime) -> str:
    """A safe download name: no directories, no control or shell-special characters, the format's extension."""
    ext = EXTENSIONS[fmt]
    base = ""
    if name:
        base = re.split(r"[/\\]", unicodedata.normalize("NFC", name))[-1]
        base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
        base = _UNSAFE.sub("_", base)
        if base.lower().endswith(ext):
            base = base[: -len(ext)]
        base = base.strip(" ._")[:100].rstrip(" ._")
    if not base:
        base = f"export-{now:%Y%m%d-%H%M%S}"
    return base + ext


@dataclass(frozen=True)
class StoredExport:
    """What the sidecar says about one export."""

    export_id: str
    format: str
    file_name: str
    data_file: str
    mime_type: str
    created_at: str
    expires: int
    size_bytes: int
    has_metadata: bool
    owner: str = ""
    """The identity (API key name, 'stdio', 'anonymous') that created it: the only one reading it through MCP."""


class ExportStore:
    """One exports directory, its limits and its cleanup."""

    def __init__(self, directory: Path, *, ttl_s: float, max_total_bytes: int) -> None:
        self.directory = directory
        self.ttl_s = ttl_s
        self.max_total_bytes = max_total_bytes
        self._writing: dict[str, int] = {}  # running export id -> bytes it accounted for (written or reserved)
        self._lock = threading.Lock()

    def reserve(self, export_id: str, adding: int) -> None:
        """Account `adding` more bytes (negative: a correction) for a running export, before writing them.

        Refuses (ExportLimitError) when the directory plus every running export's accounted bytes would
        exceed export_max_total_bytes, so concurrent exports cannot overshoot it together.
        """
        with self._lock:
            on_disk: dict[str, int] = {}
            for entry, m in self._ours():
                with contextlib.suppress(FileNotFoundError):
                    on_disk[m.group(1)] = on_disk.get(m.group(1), 0) + entry.stat(follow_symlinks=False).st_size
            total = sum(on_disk.values())
            for running, accounted in self._writing.items():
                total += max(0, accounted - on_disk.get(running, 0))
            mine = self._writing.get(export_id, 0)
            if adding > 0 and total + adding > self.max_total_bytes:
                self._raise_full(total)
            self._writing[export_id] = max(0, mine + adding)

    def release(self, export_id: str) -> None:
        """Forget a finished or failed export's accounting (its file, if kept, is counted on disk)."""
        with self._lock:
            self._writing.pop(export_id, None)

    def ensure_dir(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def part_path(self, export_id: str, fmt: str) -> Path:
        return self.directory / f"{export_id}{EXTENSIONS[fmt]}.part"

    def data_path(self, export_id: str, fmt: str) -> Path:
        return self.directory / f"{export_id}{EXTENSIONS[fmt]}"

    def meta_path(self, export_id: str) -> Path:
        return self.directory / f"{export_id}.meta.json"

    def create_part(self, export_id: str, fmt: str) -> Path:
        """Create the (empty, owner-only) file the writer fills."""
        self.ensure_dir()
        path = self.part_path(export_id, fmt)
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        return path

    def _ours(self) -> list[tuple[os.DirEntry[str], re.Match[str]]]:
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            return []
        out = []
        for entry in entries:
            m = _OURS.match(entry.name)
            if m and entry.is_file(follow_symlinks=False):
                out.append((entry, m))
        return out

    def total_bytes(self) -> int:
        total = 0
        for entry, _ in self._ours():
            with contextlib.suppress(FileNotFoundError):
                total += entry.stat(follow_symlinks=False).st_size
        return total

    def check_room(self, adding: int = 0) -> None:
        """Refuse when the directory (with `adding` more bytes) would exceed export_max_total_bytes."""
        total = self.total_bytes()
        if total + adding > self.max_total_bytes:
            self._raise_full(total)

    def _raise_full(self, total: int) -> None:
        from vf_mcp.units import human_bytes

        raise ExportLimitError(
            f"The exports directory would exceed its limit of {human_bytes(self.max_total_bytes)} "
            f"(export_max_total_bytes, env VF_MCP_EXPORT_MAX_TOTAL_BYTES; it holds {human_bytes(total)}). "
            "Export fewer rows or columns (add filters, select only the columns needed), wait for older "
            f"exports to expire (export_ttl_hours), or raise the limit."
        )

    def read(self, export_id: str) -> StoredExport | None:
        try:
            data = json.loads(self.meta_path(export_id).read_text(encoding="utf-8"))["export"]
            return StoredExport(**data)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def publish(self, part: Path, record: StoredExport, metadata: dict[str, object] | None) -> Path:
        """Write the sidecar, then move the finished file into place (atomically, both)."""
        body: dict[str, object] = {"export": record.__dict__}
        if metadata is not None:
            body["metadata"] = metadata
        meta = self.meta_path(record.export_id)
        tmp = meta.with_name(meta.name + ".tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(body, f, ensure_ascii=False, indent=2, default=str)
        os.replace(tmp, meta)
        final = self.directory / record.data_file
        os.replace(part, final)
        return final

    def resolve(
        self, name: str, now: float | None = None, *, owner: str | None = None
    ) -> tuple[Path, StoredExport] | None:
        """The file behind `<id>` (the data) or `<id>.meta.json` (the sidecar), unless unknown or expired.

        With `owner`, an export created by another identity is None too (indistinguishable from a missing one).
        """
        if not NAME_RE.match(name):
            return None
        export_id = name[:32]
        record = self.read(export_id)
        if record is None or (time.time() if now is None else now) > record.expires:
            return None
        if owner is not None and not hmac.compare_digest(record.owner.encode(), owner.encode()):
            return None
        path = self.meta_path(export_id) if name.endswith(".meta.json") else self.directory / record.data_file
        return (path, record) if path.is_file() else None

    @staticmethod
    def content_type(name: str, record: StoredExport) -> tuple[str, bool]:
        """The MIME type of `<id>` or `<id>.meta.json`, and whether it is text."""
        if name.endswith(".meta.json"):
            return META_MIME_TYPE, True
        return record.mime_type, record.format in TEXT_FORMATS

    def cleanup(self, now: float | None = None) -> int:
        """Delete expired exports, and leftovers (orphans, unfinished .part files) older than the TTL."""
        now = time.time() if now is None else now
        removed = 0
        groups: dict[str, list[os.DirEntry[str]]] = {}
        for entry, m in self._ours():
            groups.setdefault(m.group(1), []).append(entry)
        for export_id, entries in groups.items():
            record = self.read(export_id)
            for entry in entries:
                try:
                    if record is not None:
                        dead = now > record.expires
                    else:
                        dead = now - entry.stat(follow_symlinks=False).st_mtime > self.ttl_s
                    if dead:
                        os.unlink(entry.path)
                        removed += 1
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    log.warning("could not delete expired export %s: %s", entry.name, exc)
        return removed


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
