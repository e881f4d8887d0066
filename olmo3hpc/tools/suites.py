"""Benchmark suites for eval sweeps: named groups of local JSONL task files scored by the project's verifiers.

    groups = resolve_suite("sample")       # bundled: sample, math, ifeval, code
    groups = resolve_suite("my/gsm8k.jsonl")   # one file = one task group; a directory = one group per file
    rows = load_rows(groups[0])            # validated rows (clear errors naming file and line)

Rows use the RLVR layout the RL stage trains on: {"id", "messages": [{"role": "user", ...}],
"ground_truth", "dataset": <verifier name or list>} — `dataset` routes each row to its verifier
(rewards.registry: gsm8k, math, ifeval, code, ...). The bundled files in `tools/suites/` are small
hand-written samples (GSM8K-, MATH-, IFEval- and HumanEval-style) for smoke sweeps and tests; real
sweeps point --suite at full local copies of the benchmarks in the same layout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SUITE_DIR = Path(__file__).resolve().parent / "suites"
BUNDLED: dict[str, tuple[str, ...]] = {
    "sample": ("gsm8k", "math", "ifeval", "humaneval"),
    "math": ("gsm8k", "math"),
    "ifeval": ("ifeval",),
    "code": ("humaneval",),
}
MAX_NEW_TOKENS = {"gsm8k": 512, "math": 1024, "ifeval": 512, "humaneval": 512}
"""Generation budget per bundled group (a sweep's --max-new-tokens overrides every group)."""


class SuiteError(ValueError):
    """A suite name, file or row is unusable; the message names the file and line."""


@dataclass(frozen=True)
class TaskGroup:
    name: str
    path: str
    max_new_tokens: int = 512


def resolve_suite(suite: str) -> list[TaskGroup]:
    if suite in BUNDLED:
        return [TaskGroup(g, str(SUITE_DIR / f"{g}.jsonl"), MAX_NEW_TOKENS[g]) for g in BUNDLED[suite]]
    path = Path(suite)
    if path.is_file():
        return [TaskGroup(path.stem, str(path.resolve()))]
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise SuiteError(f"{path}: suite directory holds no .jsonl task files")
        return [TaskGroup(f.stem, str(f.resolve())) for f in files]
    raise SuiteError(f"suite {suite!r}: neither a bundled suite ({', '.join(BUNDLED)}) nor an existing file/dir")


def _check_row(row: object, where: str) -> dict:
    if not isinstance(row, dict):
        raise SuiteError(f"{where}: a row must be a JSON object")
    for key in ("messages", "ground_truth", "dataset"):
        if key not in row:
            raise SuiteError(f"{where}: row lacks {key!r} (rows need messages, ground_truth, dataset)")
    messages = row["messages"]
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) and "role" in m
                                                                 and "content" in m for m in messages):
        raise SuiteError(f"{where}: 'messages' must be a non-empty list of {{role, content}} objects")
    return row


def load_rows(group: TaskGroup, limit: int = 0) -> list[dict]:
    """The group's rows (first `limit` if > 0), each with an `id` (file line number when absent)."""
    path = Path(group.path)
    if not path.is_file():
        raise SuiteError(f"{path}: task file not found")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise SuiteError(f"{path}:{number}: not valid JSON ({e.msg})") from None
        row = _check_row(row, f"{path}:{number}")
        rows.append({**row, "id": str(row.get("id", f"{group.name}-{number}"))})
    if not rows:
        raise SuiteError(f"{path}: task file is empty")
    return rows[:limit] if limit > 0 else rows
