"""Fixtures for the data-pipeline tests: the deterministic in-process BPE tokenizer (random:bpe)."""

from __future__ import annotations

from typing import Any

import pytest

from olmo3hpc.engine.modelfactory import random_bpe_tokenizer


@pytest.fixture(scope="session")
def tokenizer() -> Any:
    return random_bpe_tokenizer()
