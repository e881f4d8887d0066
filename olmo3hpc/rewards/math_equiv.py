"""Symbolic answer equivalence: intervals, tuples, sets and lists compared element-wise with sympy.

`sympy_equivalent` may take unbounded time on hostile input; callers go through `is_equiv`, which runs
it in a `TimeBoundedWorker` helper process.
"""

from __future__ import annotations

import re
from fractions import Fraction

import sympy

from olmo3hpc.rewards.math_latex import LatexError, latex_to_sympy
from olmo3hpc.rewards.math_normalize import normalize_final_answer, strip_string
from olmo3hpc.rewards.time_bound import TimeBoundedWorker

_OPEN, _CLOSE = "([{", ")]}"


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """Split on `separator` outside (), [], {} nesting."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
        elif depth == 0 and text.startswith(separator, i):
            parts.append(text[start:i])
            start = i + len(separator)
            i = start
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _structure(text: str) -> tuple[str, list[str]]:
    """('set'|'list'|'<open><close>'|'scalar', elements) for an answer string."""
    text = text.strip()
    if text.startswith("\\{") and text.endswith("\\}"):
        return "set", split_top_level(text[2:-2])
    if len(text) >= 2 and text[0] in "([" and text[-1] in ")]" and _balanced_outer(text):
        inner = split_top_level(text[1:-1])
        if len(inner) > 1:
            return text[0] + text[-1], inner
    parts = split_top_level(text)
    return ("list", parts) if len(parts) > 1 else ("scalar", [text])


def _balanced_outer(text: str) -> bool:
    """True if text[0] and text[-1] bracket the whole string (not `(1)+(2)`)."""
    depth = 0
    for i, ch in enumerate(text):
        depth += 1 if ch in _OPEN else -1 if ch in _CLOSE else 0
        if depth == 0 and i < len(text) - 1:
            return False
    return True


def _numeric_gap(diff: sympy.Expr, reference: sympy.Expr) -> float | None:
    """|diff| relative to |reference| at a fixed probe point for free symbols; None if not evaluable."""
    symbols = sorted(diff.free_symbols | reference.free_symbols, key=str)
    probe = {sym: sympy.Rational(3 + 2 * k, 7) for k, sym in enumerate(symbols)}
    try:
        gap = abs(complex(sympy.N(diff.subs(probe))))
        scale = max(1.0, abs(complex(sympy.N(reference.subs(probe)))))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return gap / scale if gap == gap else None  # NaN (a pole at the probe) -> not evaluable


def _scalar_equal(a: str, b: str) -> bool:
    if strip_string(a) == strip_string(b):
        return True
    left = latex_to_sympy(normalize_final_answer(a))
    right = latex_to_sympy(normalize_final_answer(b))
    if left == right:
        return True
    diff = left - right
    gap = _numeric_gap(diff, right)
    if gap is not None and gap > 1e-6:  # clearly different: skip the expensive simplify
        return False
    if gap is not None and not diff.free_symbols and (left.has(sympy.Float) or right.has(sympy.Float)):
        return gap <= 1e-9
    return sympy.simplify(diff) == 0


def _unordered_equal(left: list[str], right: list[str]) -> bool:
    remaining = list(right)
    for item in left:
        match = next((k for k, other in enumerate(remaining) if _safe_scalar_equal(item, other)), None)
        if match is None:
            return False
        remaining.pop(match)
    return not remaining


def _safe_scalar_equal(a: str, b: str) -> bool:
    try:
        return _scalar_equal(a, b)
    except (LatexError, TypeError, ValueError, AttributeError, ZeroDivisionError):
        return False


def sympy_equivalent(a: str, b: str) -> bool:
    """Structure-aware equivalence; unbounded run time (call through `is_equiv`)."""
    unions_a, unions_b = split_top_level(a, "\\cup"), split_top_level(b, "\\cup")
    if len(unions_a) != len(unions_b):
        return False
    for part_a, part_b in zip(unions_a, unions_b):
        kind_a, elems_a = _structure(part_a)
        kind_b, elems_b = _structure(part_b)
        if kind_a != kind_b or len(elems_a) != len(elems_b):
            return False
        if kind_a in ("set", "list"):
            if not _unordered_equal(elems_a, elems_b):
                return False
        elif not all(_safe_scalar_equal(x, y) for x, y in zip(elems_a, elems_b)):
            return False
    return True


_WORKER = TimeBoundedWorker(sympy_equivalent)


def hendrycks_is_equiv(a: str, b: str) -> bool:
    """String equality after the Hendrycks MATH normalizer."""
    try:
        return strip_string(a) == strip_string(b)
    except Exception:  # a normalizer bug on odd input must not crash the reward
        return a == b


_PLAIN_NUMBER = re.compile(r"(-?)(?:(\d+(?:\.\d+)?)|\\frac\{(-?\d+)\}\{(\d+)\}|(\d+)/(\d+))")


def _plain_number(text: str) -> Fraction | None:
    """Exact value of an integer, decimal or integer fraction; None for anything else."""
    match = _PLAIN_NUMBER.fullmatch(text)
    if match is None:
        return None
    sign, decimal, num, den, snum, sden = match.groups()
    if decimal is not None:
        value = Fraction(decimal)
    else:
        top, bottom = (num, den) if num is not None else (snum, sden)
        if int(bottom) == 0:
            return None
        value = Fraction(int(top), int(bottom))
    return -value if sign else value


def is_equiv(a: str, b: str, timeout: float = 5.0) -> bool:
    """Minerva-style equivalence: normalized strings, exact numbers, then sympy bounded by `timeout` s."""
    norm_a, norm_b = normalize_final_answer(a), normalize_final_answer(b)
    if norm_a == norm_b:
        return True
    if re.fullmatch(r"\s*", a) or re.fullmatch(r"\s*", b):
        return False
    num_a, num_b = _plain_number(norm_a), _plain_number(norm_b)
    if num_a is not None and num_b is not None:  # the common case needs no sympy and no helper round trip
        return num_a == num_b
    try:
        return bool(_WORKER.call(a, b, timeout=timeout))
    except (TimeoutError, RuntimeError):
        return False
