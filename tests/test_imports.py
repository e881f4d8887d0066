"""Dependency direction: the login-node side never imports the heavy ML stack; stages never import launch."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "olmo3hpc"
HEAVY = ("torch", "ray", "vllm", "deepspeed", "transformers")


def test_login_node_modules_import_no_ml_stack():
    code = (
        "import sys, pkgutil, importlib, olmo3hpc.config, olmo3hpc.catalog, olmo3hpc.cli\n"
        "import olmo3hpc.launch as L\n"
        "for m in pkgutil.iter_modules(L.__path__): importlib.import_module('olmo3hpc.launch.' + m.name)\n"
        f"bad = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_config_imports_only_stdlib_and_itself():
    for path in (PACKAGE / "config").glob("*.py"):
        for name in _imports(path):
            assert name.split(".")[0] not in HEAVY, f"{path.name} imports {name}"
            assert not name.startswith("olmo3hpc.") or name.startswith("olmo3hpc.config"), f"{path.name} imports {name}"


def test_launch_has_no_module_level_ml_imports():
    for path in (PACKAGE / "launch").glob("*.py"):
        for name in _module_level_imports(path):
            assert name.split(".")[0] not in HEAVY, f"{path.name} imports {name} at module level"
            assert not name.startswith(("olmo3hpc.stages", "olmo3hpc.engine")), f"{path.name} imports {name}"


def test_stages_engine_data_rewards_never_import_launch_or_cli():
    for sub in ("stages", "engine", "data", "rewards"):
        for path in (PACKAGE / sub).rglob("*.py"):
            for name in _imports(path):
                assert not name.startswith(("olmo3hpc.launch", "olmo3hpc.cli", "olmo3hpc.job")), f"{path} imports {name}"
