"""Helpers for the data-pipeline tests: write jsonl files and build run configs pointing at them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from olmo3hpc.config import DataConfig, MetaConfig, ModelConfig, SFTRun


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    with open(path, "w") as f:
        for row in rows:
            f.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


def chat(question: str, answer: str, system: str | None = None) -> dict:
    messages = [{"role": "system", "content": system}] if system else []
    return {"messages": messages + [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}


def sft_run(tmp_path: Path, mixer_list: tuple[str, ...], **data: Any) -> SFTRun:
    """An SFT run whose cache lives under tmp_path (model fields only matter for the tokenizer/template)."""
    template = data.pop("chat_template", "olmo")
    return SFTRun(
        meta=MetaConfig(name="t", output_root=str(tmp_path / "runs")),
        model=ModelConfig(init="random:tiny", tokenizer="random:bpe", chat_template=template),
        data=DataConfig(mixer_list=mixer_list, **{"num_workers": 1, "max_seq_length": 256, **data}),
    )


def with_data(run: Any, **changes: Any) -> Any:
    return dataclasses.replace(run, data=dataclasses.replace(run.data, **changes))
