"""Rows and their provenance: reading local .jsonl/.parquet files, checking conversations, and the
malformed-row policy (fail naming file and line, or skip and count when `data.skip_malformed`)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from olmo3hpc.data.templates import SPAN_CLOSE, SPAN_OPEN

ROLES = frozenset({"system", "user", "assistant", "environment"})


class DataError(ValueError):
    """A row is malformed; the message names the file and line (1-based; parquet: row)."""


@dataclass(frozen=True)
class Origin:
    """Where a row came from: file and 1-based line (jsonl) or row number (parquet)."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Row:
    data: dict
    origin: Origin


@dataclass
class MalformedLog:
    """Counts malformed rows by reason when skipping them; raises on the first one otherwise."""

    skip: bool = False
    counts: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def report(self, origin: Origin, reason: str) -> None:
        if not self.skip:
            raise DataError(f"{origin}: {reason} (set data.skip_malformed=true to skip and count such rows)")
        kind = reason.split(":")[0]
        self.counts[kind] += 1
        self.examples.setdefault(kind, f"{origin}: {reason}")

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> dict[str, Any]:
        return {"skipped": self.total, "by_reason": dict(self.counts), "examples": dict(self.examples)}


def read_jsonl(path: str | Path, log: MalformedLog) -> Iterator[Row]:
    """Rows of a JSON-lines file; blank lines are ignored, undecodable or non-object lines are malformed."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            origin = Origin(str(path), number)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                log.report(origin, f"bad encoding: not UTF-8 at byte {err.start}")
                continue
            if not text.strip():
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as err:
                log.report(origin, f"bad json: {err.msg} at column {err.colno}")
                continue
            if not isinstance(data, dict):
                log.report(origin, f"bad row: expected a JSON object, got {type(data).__name__}")
                continue
            yield Row(data, origin)


def read_parquet(path: str | Path, log: MalformedLog) -> Iterator[Row]:
    """Rows of a parquet file, read batch by batch with pyarrow (no pandas)."""
    import pyarrow.parquet as pq

    number = 0
    for batch in pq.ParquetFile(str(path)).iter_batches(batch_size=4096):
        for data in batch.to_pylist():
            number += 1
            yield Row(data, Origin(str(path), number))


def read_file(path: str | Path, log: MalformedLog) -> Iterator[Row]:
    suffix = Path(path).suffix
    if suffix in (".jsonl", ".json"):
        return read_jsonl(path, log)
    if suffix == ".parquet":
        return read_parquet(path, log)
    raise DataError(f"{path}: unsupported data file type {suffix!r} (use .jsonl or .parquet)")


def message_problem(messages: Any, key: str) -> str | None:
    """Why a conversation is malformed, or None. Checks structure, roles, content and encoding."""
    if not isinstance(messages, list) or not messages:
        return f"missing key: '{key}' must be a non-empty list of messages"
    for i, message in enumerate(messages):
        where = f"{key}[{i}]"
        if not isinstance(message, dict):
            return f"bad message: {where} is not an object"
        role = message.get("role")
        if role not in ROLES:
            return f"unknown role: {where} has role {role!r} (expected one of {sorted(ROLES)})"
        content = message.get("content")
        calls = message.get("function_calls")
        if content is None and not (role == "assistant" and calls):
            return f"missing key: {where} has no 'content'"
        for name in ("content", "functions", "function_calls"):
            value = message.get(name)
            if value is None:
                continue
            if not isinstance(value, str):
                return f"bad content: {where}.{name} is {type(value).__name__}, expected a string"
            if problem := _text_problem(value):
                return f"{problem} in {where}.{name}"
        if role != "assistant" and not content.strip():
            return f"empty content: {where} ({role}) is empty"
    return None


def _text_problem(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "bad encoding: lone surrogate"
    if SPAN_OPEN in text or SPAN_CLOSE in text:
        return "bad encoding: reserved noncharacter U+10FFFE/U+10FFFF"
    return None


def sft_problem(messages: Any, key: str) -> str | None:
    """SFT rows also need something to train on: an assistant turn with non-empty output."""
    if problem := message_problem(messages, key):
        return problem
    trainable = any(
        m["role"] == "assistant" and ((m.get("content") or "").strip() or m.get("function_calls"))
        for m in messages
    )
    return None if trainable else "nothing to train on: no non-empty assistant turn"


def valid_rows(rows: Iterator[Row], check: Callable[[dict], str | None], log: MalformedLog) -> list[Row]:
    """The rows that pass `check` (which returns a problem string or None); others go to `log`."""
    kept = []
    for row in rows:
        problem = check(row.data)
        if problem is None:
            kept.append(row)
        else:
            log.report(row.origin, problem)
    return kept
