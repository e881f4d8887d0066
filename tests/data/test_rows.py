"""Malformed rows: an error naming file and line, or skipped and counted with data.skip_malformed."""

from __future__ import annotations

import json

import pytest
from data_helpers import chat, write_jsonl

from olmo3hpc.data.mixer import load_mix
from olmo3hpc.data.rows import DataError, MalformedLog, sft_problem

GOOD = chat("2+2?", "4")
BAD_ROWS = {
    "missing key": {"text": "no messages here"},
    "unknown role": {"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]},
    "empty content": {"messages": [{"role": "user", "content": "  "}, {"role": "assistant", "content": "y"}]},
    "nothing to train on": {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]},
    "bad content": {"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "y"}]},
}


def check(row: dict) -> str | None:
    return sft_problem(row.get("messages"), "messages")


def load(path, skip: bool = False):
    log = MalformedLog(skip=skip)
    return load_mix((str(path), "1.0"), ("train",), check, log), log


@pytest.mark.parametrize("reason", sorted(BAD_ROWS))
def test_malformed_row_names_file_and_line(tmp_path, reason):
    path = write_jsonl(tmp_path / "d.jsonl", [GOOD, GOOD, BAD_ROWS[reason], GOOD])
    with pytest.raises(DataError, match=rf"d\.jsonl:3: {reason}"):
        load(path)


def test_bad_utf8_bad_json_and_lone_surrogates(tmp_path):
    path = tmp_path / "raw.jsonl"
    good = json.dumps(GOOD).encode()
    surrogate = b'{"messages": [{"role": "user", "content": "\\ud800"}, {"role": "assistant", "content": "y"}]}'
    path.write_bytes(b"\n".join([good, b'{"messages": "\xff\xfe"}', good, b"{not json", surrogate, b"[1, 2]"]) + b"\n")
    with pytest.raises(DataError, match=r"raw\.jsonl:2: bad encoding"):
        load(path)
    (part,), log = load(path, skip=True)
    assert len(part.rows) == 2
    assert log.summary()["by_reason"] == {"bad encoding": 2, "bad json": 1, "bad row": 1}
    assert "raw.jsonl:4" in log.summary()["examples"]["bad json"]


def test_skip_malformed_counts_every_reason(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [GOOD, *BAD_ROWS.values(), GOOD])
    (part,), log = load(path, skip=True)
    assert part.valid_rows == 2 and [r.origin.line for r in part.rows] == [1, 7]
    assert log.total == len(BAD_ROWS)
    assert set(log.counts) == set(BAD_ROWS)


def test_blank_lines_are_not_rows_but_keep_line_numbers(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [GOOD, "", BAD_ROWS["unknown role"]])
    with pytest.raises(DataError, match=r"d\.jsonl:3: unknown role"):
        load(path)


def test_assistant_with_only_function_calls_is_trainable():
    row = {"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "function_calls": "f()"}]}
    assert check(row) is None
