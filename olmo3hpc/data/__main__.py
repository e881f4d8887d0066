"""`python -m olmo3hpc.data build <run_dir|config.yaml> [--which train|eval]`: tokenize a run's data
into the shared cache (the CPU pre-tokenization job) and print the cache directory."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from olmo3hpc.config import load_run
from olmo3hpc.data.cache import build_cache


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(prog="python -m olmo3hpc.data", description=__doc__)
    parser.add_argument("command", choices=["build"])
    parser.add_argument("config", help="run directory or its config.yaml")
    parser.add_argument("--which", choices=["train", "eval"], default="train")
    args = parser.parse_args(argv)
    config = Path(args.config)
    run = load_run(config / "config.yaml" if config.is_dir() else config)
    path = build_cache(run, which=args.which)
    meta = json.loads((path / "meta.json").read_text())
    kept = sum(d["kept"] for d in meta["datasets"])
    print(f"{path} ({kept} {meta['stage']} items, {meta['malformed']['skipped']} malformed rows skipped)")
    return path


if __name__ == "__main__":
    main()
