"""The audit trail: append-only, hash-chained, and checked against the live data.

Every insert, update and delete the store makes writes one ``audit_log`` row in the same transaction:
who (user name), when (UTC), what (table, row id, the patient it belongs to: study id and code) and the
row's old and new *image* — every column except the surrogate id, as canonical JSON (sorted keys;
decimals as their exact text, dates ISO 8601). Each entry's hash is
``SHA-256(previous hash + canonical JSON of the entry)``; the first entry chains to 64 zeros, and
``audit_head`` holds the last sequence number and hash (updating it first serialises concurrent writers on
PostgreSQL).

Limit and anchor: the chain is a plain hash chain kept in the same database. It detects changes made by
anyone who does not also recompute every later hash and the head. Someone who can write the database
directly (its administrator) can delete the newest entries together with their rows and reset the head,
or rewrite an entry and recompute everything after it; the chain alone cannot tell. A **checkpoint**
closes that gap for everything up to it: ``audit checkpoint`` writes the head (sequence number, hash, entry
count, time; optionally HMAC-SHA256-signed with a key the database administrator does not hold) to a file
kept outside the database (trial master file, another system), and ``audit verify --against FILE``
requires the log still to hold that entry with that hash. Since every hash covers all earlier entries,
truncation below the checkpoint and any rewrite of an entry at or before it are detected; entries written
after the newest checkpoint are protected by the next one. ``audit verify`` prints the head, so the head
can also simply be written down.

:func:`verify_audit` detects tampering of two kinds:

1. the log itself: an entry edited, removed or inserted breaks the chain or disagrees with the head;
2. the data behind the registry's back: replaying the log gives the image every live row must have; a
   row whose current image differs, a row that has no audit entry, or an audited row that vanished is
   reported.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, select

from immunoreset.errors import InvalidInput, writing
from immunoreset.registry.schema import AuditHead, AuditLog

ADDED_COLUMNS: dict[str, frozenset[str]] = {
    "infusion": frozenset({"dose_cells_total"}),
    "study": frozenset({"design"}),
    "site": frozenset({"country"}),
    "patient": frozenset(
        {
            "race",
            "ethnicity",
            "age_years",
            "consent_day",
            "consent_date",
            "disposition",
            "disposition_day",
            "disposition_date",
            "disposition_reason",
        }
    ),
    "adverse_event": frozenset({"serious_criteria", "relationship", "action_taken"}),
}
"""Columns added by schema revisions after 0001 (table -> columns): audit entries written before a column
existed lack it, and its value must still be NULL (revision 0002: the flat dose; revision 0004: demographics,
disposition, adverse-event causality and the study design)."""

__all__ = [
    "ADDED_COLUMNS",
    "AUDITED_TABLES",
    "CHECKPOINT_KEY_VAR",
    "GENESIS",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditVerification",
    "canonical_json",
    "checkpoint_key",
    "entry_hash",
    "make_checkpoint",
    "read_checkpoint",
    "row_image",
    "write_checkpoint",
]

CHECKPOINT_KEY_VAR = "IMMUNORESET_CHECKPOINT_KEY"
CHECKPOINT_FORMAT = "immunoreset-audit-checkpoint/1"

GENESIS = "0" * 64
AUDITED_TABLES: tuple[str, ...] = (
    "study",
    "site",
    "app_user",
    "user_site",
    "patient",
    "infusion",
    "lymphodepletion",
    "visit",
    "observation",
    "medication",
    "adverse_event",
)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def row_image(table: Table, row: Any) -> dict[str, Any]:
    """A row's audited image: every column except ``id``, as JSON-ready plain values."""
    mapping = row._mapping if hasattr(row, "_mapping") else row
    return {c.name: _plain(mapping[c.name]) for c in table.columns if c.name != "id"}


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)


@dataclass(frozen=True)
class AuditEntry:
    """One audit log entry as shown to users."""

    seq: int
    at: dt.datetime
    user: str
    action: str
    table: str
    row_id: int
    patient: str | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None

    def changes(self) -> dict[str, tuple[Any, Any]]:
        """Changed columns as ``{column: (old, new)}``."""
        old, new = self.old or {}, self.new or {}
        return {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    """SHA-256 of the previous hash followed by the entry's canonical JSON."""
    keys = ("seq", "at", "user_name", "action", "table_name", "row_id", "study_id", "patient_code")
    payload = {k: entry[k] for k in keys}
    payload["at"] = _plain(payload["at"])
    payload["old"] = entry["old"]
    payload["new"] = entry["new"]
    return hashlib.sha256((prev_hash + canonical_json(payload)).encode("utf-8")).hexdigest()


@dataclass
class AuditVerification:
    """The result of :func:`verify_audit`: ``ok`` when the chain is intact and the data match it.

    ``head_seq``/``head_hash``: the last entry of the log as read (what a checkpoint keeps).
    """

    entries: int = 0
    rows_checked: int = 0
    problems: list[str] = field(default_factory=list)
    head_seq: int = 0
    head_hash: str = GENESIS

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class AuditCheckpoint:
    """The audit head at one moment, to be kept outside the database (see the module docstring).

    ``signature``: HMAC-SHA256 (hex) over the other fields' canonical JSON, or ``None`` when unsigned.
    """

    seq: int
    hash: str
    entries: int
    at: str
    registry: str
    signature: str | None = None

    def payload(self) -> dict[str, Any]:
        return {"format": CHECKPOINT_FORMAT, **{k: v for k, v in asdict(self).items() if k != "signature"}}


def _sign(payload: dict[str, Any], key: bytes) -> str:
    return hmac.new(key, canonical_json(payload).encode("utf-8"), hashlib.sha256).hexdigest()


def checkpoint_key(path: Path | None = None) -> bytes | None:
    """The signing key: the content of ``path`` (stripped), else ``$IMMUNORESET_CHECKPOINT_KEY``, else None."""
    if path is not None:
        try:
            key = path.read_bytes().strip()
        except OSError as exc:
            raise InvalidInput(
                "key file", str(path), f"a readable file ({exc.strerror or type(exc).__name__})"
            ) from None
        if not key:
            raise InvalidInput("key file", str(path), "a file holding a non-empty key")
        return key
    env = os.environ.get(CHECKPOINT_KEY_VAR, "").strip()
    return env.encode("utf-8") if env else None


def make_checkpoint(seq: int, head_hash: str, *, registry: str, key: bytes | None = None) -> AuditCheckpoint:
    """A checkpoint of the head ``(seq, head_hash)``, signed with ``key`` when one is given."""
    at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    unsigned = AuditCheckpoint(seq=seq, hash=head_hash, entries=seq, at=at, registry=registry)
    if key is None:
        return unsigned
    return AuditCheckpoint(**{**asdict(unsigned), "signature": _sign(unsigned.payload(), key)})


def write_checkpoint(checkpoint: AuditCheckpoint, path: Path) -> None:
    with writing(path, "checkpoint file"):
        path.write_text(json.dumps({**checkpoint.payload(), "signature": checkpoint.signature}, indent=2) + "\n")


def read_checkpoint(path: Path, key: bytes | None = None) -> AuditCheckpoint:
    """Read and check a checkpoint file; a signed one needs ``key`` and must carry its valid signature."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput("checkpoint", str(path), f"a readable file ({exc.strerror or type(exc).__name__})") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InvalidInput("checkpoint", str(path), "a checkpoint written by `immunoreset audit checkpoint`") from None
    fields = ("seq", "hash", "entries", "at", "registry", "signature")
    if (
        not isinstance(data, dict)
        or data.get("format") != CHECKPOINT_FORMAT
        or set(data) != {"format", *fields}
        or not isinstance(data["seq"], int)
        or isinstance(data["seq"], bool)
        or not 0 <= data["seq"] < 2**63
        or not isinstance(data["hash"], str)
        or len(data["hash"]) != 64
    ):
        raise InvalidInput("checkpoint", str(path), "a checkpoint written by `immunoreset audit checkpoint`")
    checkpoint = AuditCheckpoint(**{k: data[k] for k in fields})
    if checkpoint.signature is not None:
        if key is None:
            raise InvalidInput("checkpoint key", None, f"the signing key (--key-file or ${CHECKPOINT_KEY_VAR})")
        if not hmac.compare_digest(_sign(checkpoint.payload(), key), str(checkpoint.signature)):
            raise InvalidInput("checkpoint", str(path), "a checkpoint whose signature matches the key (it was altered)")
    elif key is not None:
        raise InvalidInput("checkpoint", str(path), "a signed checkpoint (a key was given, the file has no signature)")
    return checkpoint


def verify_audit(
    connection: Connection, tables: dict[str, Table], against: AuditCheckpoint | None = None
) -> AuditVerification:
    """Check the hash chain and that every live row equals the image the log says it has.

    ``against``: a checkpoint the log must still contain (the entry of its sequence number, with its hash).
    """
    result = AuditVerification()
    checkpoint_hash: str | None = None
    log = AuditLog.__table__
    expected: dict[tuple[str, int], dict[str, Any] | None] = {}
    prev = GENESIS
    previous_seq = 0
    for row in connection.execute(select(log).order_by(log.c.seq)):
        entry = dict(row._mapping)
        result.entries += 1
        if entry["seq"] != previous_seq + 1:
            result.problems.append(f"audit entry {previous_seq + 1} is missing (next entry is {entry['seq']})")
        previous_seq = entry["seq"]
        if entry["prev_hash"] != prev:
            result.problems.append(f"audit entry {entry['seq']}: previous-hash link broken")
        old = json.loads(entry["old"]) if entry["old"] is not None else None
        new = json.loads(entry["new"]) if entry["new"] is not None else None
        computed = entry_hash(entry["prev_hash"], {**entry, "old": old, "new": new})
        if computed != entry["hash"]:
            result.problems.append(f"audit entry {entry['seq']}: content does not match its hash (edited)")
        prev = entry["hash"]
        if against is not None and entry["seq"] == against.seq:
            checkpoint_hash = entry["hash"]
        expected[(entry["table_name"], entry["row_id"])] = new
    result.head_seq, result.head_hash = previous_seq, prev
    if against is not None and against.seq > 0:
        if checkpoint_hash is None:
            result.problems.append(
                f"the log ends at entry {previous_seq}, before the checkpoint's entry {against.seq}: entries removed"
            )
        elif checkpoint_hash != against.hash:
            result.problems.append(
                f"audit entry {against.seq} has another hash than the checkpoint of {against.at} keeps: the log up to "
                "it was rewritten"
            )
    head = connection.execute(select(AuditHead.__table__)).first()
    head_seq, head_hash = (head.seq, head.hash) if head is not None else (0, GENESIS)
    if (head_seq, head_hash) != (previous_seq, prev):
        result.problems.append(
            f"audit head (entry {head_seq}) does not match the last entry ({previous_seq}): entries removed or added"
        )
    for name, table in tables.items():
        live: set[int] = set()
        for row in connection.execute(select(table)):
            result.rows_checked += 1
            row_id = row._mapping["id"]
            live.add(row_id)
            image = json.loads(canonical_json(row_image(table, row)))
            key = (name, row_id)
            if key not in expected or expected[key] is None:
                result.problems.append(f"{name} row {row_id} has no audit entry (written behind the registry's back)")
                continue
            # a column added by a later migration is absent from older entries: it must still be NULL
            audited = {**dict.fromkeys(ADDED_COLUMNS.get(name, ())), **(expected[key] or {})}
            if audited != image:
                changed = sorted(k for k in set(image) | set(audited) if image.get(k) != audited.get(k))
                result.problems.append(f"{name} row {row_id} differs from its audited state in: {', '.join(changed)}")
        for (t, row_id), image in expected.items():
            if t == name and image is not None and row_id not in live:
                result.problems.append(f"{name} row {row_id} was deleted behind the registry's back")
    return result
