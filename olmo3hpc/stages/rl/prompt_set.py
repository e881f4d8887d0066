"""The RL stage's train and held-out prompt sets, built from the data package's pieces.

`data.mixer_list` (or `data.eval_mixer_list`) is read and sampled with the usual mixer semantics,
each row is checked (malformed rows fail naming file and line, or are skipped and counted with
`data.skip_malformed`), prompts are templated with the generation prompt, and prompts longer than
`rollout.max_prompt_length` are dropped and counted (open-instruct `rlvr_max_length_filter_v1`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from olmo3hpc.config import RLRun
from olmo3hpc.data.mixer import load_mix
from olmo3hpc.data.prompts import Prompt, encode_prompt_rows, prompt_problem
from olmo3hpc.data.rows import MalformedLog
from olmo3hpc.data.templates import ChatRenderer


@dataclass(frozen=True)
class PromptSet:
    prompts: list[Prompt]
    too_long: int
    """Prompts dropped for exceeding rollout.max_prompt_length."""
    malformed: int
    """Rows skipped as malformed (only with data.skip_malformed)."""


def load_prompt_set(run: RLRun, tokenizer: Any, held_out: bool = False) -> PromptSet:
    """The training prompts, or (held_out=True) the local-eval prompts; empty eval mix -> empty set."""
    data = run.data
    if held_out:
        mixer, splits = data.eval_mixer_list, data.eval_mixer_list_splits
    else:
        mixer, splits = data.mixer_list, data.mixer_list_splits
    if not mixer:
        return PromptSet([], 0, 0)
    log = MalformedLog(skip=data.skip_malformed)
    check = partial(prompt_problem, messages_key=data.messages_key, ground_truths_key=data.ground_truths_key)
    parts = load_mix(mixer, splits, check, log, seed=data.mix_seed)
    rows = [row.data for part in parts for row in part.rows]
    renderer = ChatRenderer.for_tokenizer(tokenizer, run.model.chat_template)
    encoded = encode_prompt_rows(tokenizer, renderer, rows, data.messages_key, data.ground_truths_key,
                                 run.rollout.max_prompt_length)
    kept = [p for p in encoded if p is not None]
    if encoded and not kept and not held_out:
        # Fail before any learner or engine starts, saying which limit removed everything.
        raise ValueError(f"data.mixer_list: all {len(encoded)} prompts are longer than rollout.max_prompt_length="
                         f"{run.rollout.max_prompt_length} tokens after templating with chat_template="
                         f"{run.model.chat_template!r}; raise the limit or shorten the prompts")
    return PromptSet(kept, too_long=len(encoded) - len(kept), malformed=log.total)
