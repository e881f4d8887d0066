"""Which data, mixed how, tokenized to what length (open-instruct `dataset_mixer_list` semantics)."""

from __future__ import annotations

from dataclasses import dataclass

from olmo3hpc.config.base import ConfigError


@dataclass(frozen=True)
class DataConfig:
    mixer_list: tuple[str, ...] = ()
    """`name amount name amount ...`: an amount with a "." is a fraction of the dataset (1.0 = all),
    otherwise a row count (larger than the dataset = full repeats plus a random remainder).
    Names are hub dataset ids or local .jsonl/.parquet files."""
    mixer_list_splits: tuple[str, ...] = ("train",)
    """One split for every dataset, or one per dataset."""
    eval_mixer_list: tuple[str, ...] = ()
    """Held-out mix in the same form (RL local eval, DPO accuracy)."""
    eval_mixer_list_splits: tuple[str, ...] = ("train",)
    """Splits of the eval mix."""
    mix_seed: int = 42
    """Seed of the row sampling in the mix (open-instruct `dataset_config_seed`)."""
    max_seq_length: int = 4096
    """Tokens per training sequence (SFT/DPO; longer conversations are truncated)."""
    messages_key: str = "messages"
    """Column holding the conversation."""
    ground_truths_key: str = "ground_truth"
    """RL: column holding the verifier label."""
    skip_malformed: bool = False
    """Skip and count malformed rows instead of failing on the first one (which names file and line)."""
    cache_dir: str = ""
    """Tokenized-data cache; empty = <meta.output_root>/cache. Put it on shared storage."""
    num_workers: int = 4
    """Tokenizer worker processes."""
    packing: bool = True
    """Pack documents into fixed-length sequences (best-fit decreasing, no cross-document attention)."""
    shuffle_seed: int = 34521
    """Seed of the training order (OLMo-core data loader seed)."""

    @property
    def mix(self) -> tuple[tuple[str, str], ...]:
        """The mixer list as (name, amount) pairs."""
        items = self.mixer_list
        return tuple((items[i], items[i + 1]) for i in range(0, len(items), 2))

    def validate(self) -> None:
        for field, items, splits in (
            ("mixer_list", self.mixer_list, self.mixer_list_splits),
            ("eval_mixer_list", self.eval_mixer_list, self.eval_mixer_list_splits),
        ):
            if len(items) % 2:
                raise ConfigError(f"data.{field}: needs `name amount` pairs, got {len(items)} items")
            for name, amount in zip(items[::2], items[1::2]):
                _check_amount(f"data.{field}", name, amount)
            n = len(items) // 2
            if n and len(splits) not in (1, n):
                raise ConfigError(f"data.{field}_splits: give 1 split or {n}, got {len(splits)}")
        if not self.mixer_list:
            raise ConfigError("data.mixer_list: empty; name at least one dataset and amount")
        if self.max_seq_length < 16:
            raise ConfigError(f"data.max_seq_length: {self.max_seq_length} is too small")


def _check_amount(field: str, name: str, amount: str) -> None:
    try:
        value = float(amount) if "." in amount else int(amount)
    except ValueError:
        raise ConfigError(f"{field}: amount {amount!r} for {name!r} is neither a fraction nor a count") from None
    if value <= 0:
        raise ConfigError(f"{field}: amount for {name!r} must be > 0, got {amount}")
