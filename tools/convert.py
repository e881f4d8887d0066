#!/usr/bin/env python
"""Convert a DeepSpeed ZeRO 1/2/3 checkpoint into an HF safetensors directory (= `olmo3hpc convert`).

    tools/convert.py --checkpoint runs/smoke_sft [--output DIR] [--dtype bfloat16|float32]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # usable from a checkout without installing

import tyro  # noqa: E402

from olmo3hpc.tools.convert import ConvertArgs, convert  # noqa: E402

if __name__ == "__main__":
    print(convert(tyro.cli(ConvertArgs)))
