"""Frozen-config plumbing: dict/YAML round-trips, stable hashes and dotted-path access.

Only stdlib + PyYAML: the login node imports this to resolve and freeze a run, and the job reads
the frozen `config.yaml` back through `load_yaml`, so both sides see the same typed object.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value is unknown, mistyped or inconsistent; the message names the field."""


def to_dict(cfg: Any) -> Any:
    """Plain JSON-able data for a config tree (tuples become lists)."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    if isinstance(cfg, dict):
        return {k: to_dict(v) for k, v in cfg.items()}
    return cfg


def from_dict(cls: type[T], data: Any, path: str = "") -> T:
    """Build `cls` from plain data, checking every field name and type; errors name the dotted path."""
    return _coerce(cls, data, path or cls.__name__)


def _coerce(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping for {tp.__name__}, got {type(value).__name__}")
        hints = typing.get_type_hints(tp)
        known = {f.name for f in dataclasses.fields(tp)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigError(f"{path}: unknown field(s) {unknown}; known: {sorted(known)}")
        kwargs = {k: _coerce(hints[k], v, f"{path}.{k}") for k, v in value.items()}
        return tp(**kwargs)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, path)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"{path}: {value!r} matches none of {_type_name(tp)}")
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{path}: {value!r} is not one of {list(typing.get_args(tp))}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {type(value).__name__}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{path}: expected {len(args)} items, got {len(value)}")
        return tuple(_coerce(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp in (int, str, bool) and type(value) is tp:
        return value
    if tp is Any:
        return value
    raise ConfigError(f"{path}: expected {_type_name(tp)}, got {value!r}")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def dump_yaml(cfg: Any) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=None, width=100)


def load_yaml(cls: type[T], path: str | Path) -> T:
    with open(path) as f:
        return from_dict(cls, yaml.safe_load(f), path=str(path))


def stable_hash(cfg: Any, length: int = 12) -> str:
    """Content hash of a config (sorted-key JSON); used for cache keys and run identity."""
    blob = json.dumps(to_dict(cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def get_path(cfg: Any, dotted: str) -> Any:
    """`get_path(run, "optim.lr")`: read a field by the same dotted path the CLI overrides use."""
    value = cfg
    for part in dotted.split("."):
        if not dataclasses.is_dataclass(value) or not hasattr(value, part):
            raise ConfigError(f"no field {dotted!r} (stopped at {part!r})")
        value = getattr(value, part)
    return value


def replace_path(cfg: T, dotted: str, new: Any) -> T:
    """Return a copy of `cfg` with the field at `dotted` replaced (configs are never mutated)."""
    head, _, rest = dotted.partition(".")
    if not dataclasses.is_dataclass(cfg) or head not in {f.name for f in dataclasses.fields(cfg)}:
        raise ConfigError(f"no field {dotted!r}")
    value = replace_path(getattr(cfg, head), rest, new) if rest else new
    return dataclasses.replace(cfg, **{head: value})
