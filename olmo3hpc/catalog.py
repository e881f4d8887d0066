"""Find and load recipes: `recipes/<name>.py` files whose `recipe()` returns a typed run config.

Recipes live beside the package in the repository (users clone and `pip install -e .`);
OLMO3HPC_RECIPES points elsewhere, and any `path/to/file.py` works as a recipe name.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import sys
from pathlib import Path

from olmo3hpc.config import ConfigError, Run

RECIPES_DIR = Path(os.environ.get("OLMO3HPC_RECIPES", Path(__file__).resolve().parents[1] / "recipes"))


class UnknownRecipe(ConfigError):
    """No recipe of that name; the message lists the nearest ones."""


def recipe_names() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.py") if not p.stem.startswith("_"))


def recipe_path(name: str) -> Path:
    if name.endswith(".py"):
        path = Path(name)
        if not path.is_file():
            raise UnknownRecipe(f"recipe file {name} does not exist")
        return path
    path = RECIPES_DIR / f"{name}.py"
    if not path.is_file():
        names = recipe_names()
        near = difflib.get_close_matches(name, names, n=4, cutoff=0.4) or names[:6]
        raise UnknownRecipe(f"unknown recipe {name!r}; nearest: {', '.join(near)} (`olmo3hpc recipes` lists all)")
    return path


def load_recipe(name: str) -> Run:
    """Import the recipe file and return its run config (its meta.name defaults to the recipe name)."""
    path = recipe_path(name)
    # Recipes import their shared run-era defaults (`_olmo3.py`) from their own directory.
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(f"olmo3hpc_recipe_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "recipe"):
        raise ConfigError(f"{path}: a recipe file must define `recipe()` returning SFTRun, DPORun or RLRun")
    return module.recipe()


def lineage_dir(run: Run) -> Path:
    """Where `model.init: recipe:<name>` points: that recipe's final HF export under the same output root."""
    if not run.model.lineage:
        raise ConfigError(f"model.init {run.model.init!r} does not name a recipe")
    return Path(run.meta.output_root) / run.model.lineage / "hf" / "final"
