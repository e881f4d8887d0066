"""`olmo3hpc`: list, inspect, launch and follow OLMo 3 post-training runs; convert, evaluate, report.

    olmo3hpc recipes                                   every recipe: stage, size, GPUs
    olmo3hpc show <recipe> [--dotted.overrides] [--json]
    olmo3hpc launch <recipe> [--dotted.overrides] [--dry-run] [--executor local|slurm] [--site NAME]
    olmo3hpc status|logs|cancel <run_dir or job id>
    olmo3hpc convert|merge|eval-sweep|report ...

The login-node path (recipes, show, launch) imports no torch, ray, vllm or deepspeed: recipes are
resolved, validated and planned from typed configs alone, so it stays fast on a busy login node.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from olmo3hpc.config import ConfigError, Run, dump_run, plan, run_to_dict

USAGE = __doc__.split("\n\n")[1]


@dataclasses.dataclass(frozen=True)
class ShowFlags:
    json: bool = False
    """Print the resolved config as JSON (same field paths as the overrides)."""


def _parse_run(recipe: str, args: Sequence[str], flags_type: type, prog: str) -> tuple[Run, Any]:
    """Recipe defaults (+ site profile) overridden by dotted flags, parsed by tyro into typed configs."""
    import tyro

    from olmo3hpc.catalog import load_recipe

    run = load_recipe(recipe)
    args, site = _pop_site(list(args))
    if site:
        from olmo3hpc.launch.sites import apply_site

        run = apply_site(run, site)
    command = dataclasses.make_dataclass(
        "Command",
        [("run", Annotated[type(run), tyro.conf.arg(name="")]), ("flags", Annotated[flags_type, tyro.conf.arg(name="")])],
        frozen=True,
    )
    parsed = tyro.cli(command, default=command(run=run, flags=flags_type()), args=args, prog=prog,
                      use_underscores=True, description=f"{recipe}: {type(run).__doc__}")
    return parsed.run, parsed.flags


def _pop_site(args: list[str]) -> tuple[list[str], str]:
    """`--site NAME` (or `--slurm.site NAME`) is applied before the other overrides so they win over it."""
    site = ""
    for flag in ("--site", "--slurm.site"):
        for i, arg in enumerate(args):
            if arg == flag and i + 1 < len(args):
                site = args[i + 1]
                del args[i : i + 2]
                break
            if arg.startswith(flag + "="):
                site = arg.split("=", 1)[1]
                del args[i]
                break
    return args, site


def cmd_recipes(args: Sequence[str]) -> int:
    from olmo3hpc.catalog import load_recipe, recipe_names

    rows = [("recipe", "stage", "model", "nodes x GPUs", "learners", "engines", "init")]
    for name in recipe_names():
        run = load_recipe(name)
        p = plan(run)
        gpus = f"{run.slurm.nodes} x {run.slurm.gpus_per_node}" if run.slurm.gpus_per_node else f"{run.slurm.nodes} x CPU"
        size = f"{run.model.params_b:g}B" if run.model.params_b >= 1 else run.model.init
        rows.append((name, run.stage, size, gpus, str(p.learners), str(p.engines or "-"), run.model.init))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def cmd_show(args: Sequence[str]) -> int:
    recipe, rest = _recipe_arg(args, "show")
    run, flags = _parse_run(recipe, rest, ShowFlags, "olmo3hpc show " + recipe)
    if flags.json:
        print(json.dumps(run_to_dict(run), indent=2))
        return 0
    p = plan(run)
    print(f"# {recipe}: {type(run).__doc__}\n")
    print(dump_run(run).rstrip())
    print()
    print(p.describe())
    note = _lineage_note(run)
    if note:
        print(note)
    return 0


def cmd_launch(args: Sequence[str]) -> int:
    from olmo3hpc.launch.options import LaunchOptions
    from olmo3hpc.launch.submit import launch, render_sbatch

    recipe, rest = _recipe_arg(args, "launch")
    run, opts = _parse_run(recipe, rest, LaunchOptions, "olmo3hpc launch " + recipe)
    p = plan(run)
    print(p.describe(), file=sys.stderr)
    note = _lineage_note(run)
    if opts.dry_run:
        if note:
            print(note, file=sys.stderr)
        print(render_sbatch(run, opts))
        return 0
    if note and "not present" in note:
        raise ConfigError(note + f"; run that recipe first, or pass --model.init {run.model.public_equivalent or '<hub id>'}")
    result = launch(run, opts)
    print(result.describe())
    if result.executor != "local" or opts.detach:
        return 0
    from olmo3hpc.launch import jobs

    return 0 if jobs.logs(str(result.run_dir), follow=True) == "COMPLETED" else 1


def _lineage_note(run: Run) -> str:
    from olmo3hpc.catalog import lineage_dir

    if not run.model.lineage:
        return ""
    path = lineage_dir(run)
    state = "present" if (path / "config.json").is_file() else "not present yet"
    return f"model.init {run.model.init} -> {path} ({state})"


def _recipe_arg(args: Sequence[str], cmd: str) -> tuple[str, list[str]]:
    if not args or args[0].startswith("-"):
        if args and args[0] in ("-h", "--help"):
            print(f"usage: olmo3hpc {cmd} <recipe> [--dotted.overrides]  (`olmo3hpc {cmd} <recipe> --help` lists them)")
            raise SystemExit(0)
        raise ConfigError(f"usage: olmo3hpc {cmd} <recipe> [overrides]; `olmo3hpc recipes` lists the recipes")
    return args[0], list(args[1:])


def _job_command(name: str) -> Callable[[Sequence[str]], int]:
    def run(args: Sequence[str]) -> int:
        from olmo3hpc.launch import jobs

        if not args or args[0].startswith("-"):
            raise ConfigError(f"usage: olmo3hpc {name} <run_dir or job id>" + (" [--follow]" if name == "logs" else ""))
        if name == "logs":
            final = jobs.logs(args[0], follow="--follow" in args or "-f" in args)
            return 0 if final in ("", "COMPLETED") else 1
        return getattr(jobs, name)(args[0]) or 0

    return run


def _tool_command(module: str, args_type: str, func: str) -> Callable[[Sequence[str]], int]:
    def run(args: Sequence[str]) -> int:
        import importlib

        import tyro

        mod = importlib.import_module(f"olmo3hpc.tools.{module}")
        parsed = tyro.cli(getattr(mod, args_type), args=list(args), use_underscores=True,
                          prog=f"olmo3hpc {module.replace('_', '-')}")
        result = getattr(mod, func)(parsed)
        return result if isinstance(result, int) else 0

    return run


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "recipes": cmd_recipes,
    "show": cmd_show,
    "launch": cmd_launch,
    "status": _job_command("status"),
    "logs": _job_command("logs"),
    "cancel": _job_command("cancel"),
    "convert": _tool_command("convert", "ConvertArgs", "convert"),
    "merge": _tool_command("merge", "MergeArgs", "merge"),
    "eval-sweep": _tool_command("eval_sweep", "EvalSweepArgs", "eval_sweep"),
    "report": _tool_command("report", "ReportArgs", "report"),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if argv is None and hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `olmo3hpc show x --json | head` ends quietly
    if not args or args[0] in ("-h", "--help", "help"):
        print("usage:\n" + USAGE)
        return 0
    if args[0] == "--version":
        from olmo3hpc import __version__

        print(__version__)
        return 0
    command = COMMANDS.get(args[0])
    if command is None:
        import difflib

        near = difflib.get_close_matches(args[0], COMMANDS, n=3)
        print(f"olmo3hpc: unknown command {args[0]!r}" + (f"; did you mean {', '.join(near)}?" if near else ""),
              file=sys.stderr)
        return 2
    try:
        return command(args[1:])
    except ConfigError as e:
        print(f"olmo3hpc: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
