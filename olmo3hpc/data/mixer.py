"""`dataset_mixer_list` semantics (open-instruct `load_dataset_configs` / `select_samples`).

An amount with a "." is a fraction (`int(frac * size)` rows), otherwise a row count. The target size
is made of `target // size` full passes in file order plus `target % size` rows drawn without
replacement by `np.random.RandomState(seed).choice` (seed 42 by default, the same for every dataset).
Datasets are concatenated in list order. Malformed rows are dropped (or fail) before sampling, so
`size` counts valid rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from olmo3hpc.data.rows import DataError, MalformedLog, Row, read_file, valid_rows
from olmo3hpc.data.sources import resolve_files


def parse_amount(amount: str) -> int | float:
    try:
        return float(amount) if "." in amount else int(amount)
    except ValueError:
        raise DataError(f"data.mixer_list: amount {amount!r} is neither a fraction nor a count") from None


def target_size(amount: int | float, size: int) -> int:
    return int(amount * size) if isinstance(amount, float) else int(amount)


def select_indices(size: int, target: int, seed: int = 42) -> np.ndarray:
    """Row indices for a target size: full passes, then a seeded sample without replacement."""
    if size == 0:
        return np.zeros(0, dtype=np.int64)
    repeats, extra = divmod(target, size)
    parts = [np.tile(np.arange(size, dtype=np.int64), repeats)]
    if extra:
        parts.append(np.random.RandomState(seed).choice(size, size=extra, replace=False).astype(np.int64))
    return np.concatenate(parts)


def mix_pairs(mixer_list: tuple[str, ...], splits: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(name, amount, split) triples; one split for all datasets or one per dataset."""
    names, amounts = mixer_list[::2], mixer_list[1::2]
    if len(names) != len(amounts) or not names:
        raise DataError(f"data.mixer_list: needs `name amount` pairs, got {list(mixer_list)}")
    if len(splits) not in (1, len(names)):
        raise DataError(f"data.mixer_list_splits: give 1 split or {len(names)}, got {len(splits)}")
    splits = splits * len(names) if len(splits) == 1 else splits
    return list(zip(names, amounts, splits))


@dataclass(frozen=True)
class MixPart:
    """One dataset of the mix after sampling, with its bookkeeping for the statistics file."""

    name: str
    split: str
    amount: str
    valid_rows: int
    rows: list[Row]


def load_mix(
    mixer_list: tuple[str, ...], splits: tuple[str, ...], check: Callable[[dict], str | None],
    log: MalformedLog, seed: int = 42,
) -> list[MixPart]:
    """Read, check and sample every dataset of the mix, in list order."""
    parts = []
    for name, amount, split in mix_pairs(mixer_list, splits):
        rows: list[Row] = []
        for path in resolve_files(name, split):
            rows.extend(valid_rows(read_file(path, log), check, log))
        if not rows:
            raise DataError(f"{name}: no usable rows in split {split!r}")
        picked = select_indices(len(rows), target_size(parse_amount(amount), len(rows)), seed)
        parts.append(MixPart(name, split, amount, len(rows), [rows[i] for i in picked]))
    return parts
