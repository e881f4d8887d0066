#!/usr/bin/env python
"""Weighted average (model soup) of HF models with one architecture (= `olmo3hpc merge`).

    tools/merge.py --models A B --weights 0.5 0.5 --output SOUP [--dtype bfloat16|float32]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # usable from a checkout without installing

import tyro  # noqa: E402

from olmo3hpc.tools.merge import MergeArgs, merge  # noqa: E402

if __name__ == "__main__":
    print(merge(tyro.cli(MergeArgs)))
