"""A small LaTeX -> sympy translator for answer strings (fractions, radicals, powers, greek, functions).

sympy's own `parse_latex` needs the antlr4 runtime (or lark); answers in RL data use a narrow LaTeX
subset, so a brace-aware translator to a Python expression plus `parse_expr` covers them without a dep.
Unsupported commands raise `LatexError` (the caller then treats the pair as not sympy-comparable).
"""

from __future__ import annotations

import re

import sympy
from sympy.parsing.sympy_parser import (
    convert_xor,
    implicit_multiplication_application,
    parse_expr,
    standard_transformations,
)

_TRANSFORMS = standard_transformations + (implicit_multiplication_application, convert_xor)
_GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota",
    "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega",
}
_COMMANDS = {
    "pi": " pi ", "infty": " oo ", "cdot": "*", "times": "*", "ast": "*", "div": "/", "ln": " log", "log": " log",
    "exp": " exp", "sin": " sin", "cos": " cos", "tan": " tan", "sec": " sec", "csc": " csc", "cot": " cot",
    "arcsin": " asin", "arccos": " acos", "arctan": " atan", "sinh": " sinh", "cosh": " cosh", "tanh": " tanh",
    "pm": "+", "cdotp": "*",
}
_IGNORED = {"left", "right", "displaystyle", "mathrm", "mathbf", "text", "mbox", "operatorname", ",", "!", ";", " "}
_MAX_LEN = 400


class LatexError(ValueError):
    """The string is outside the supported LaTeX subset."""


def _read_arg(text: str, i: int) -> tuple[str, int]:
    """One macro argument at text[i]: a braced group (without braces) or a single token."""
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text):
        raise LatexError("missing argument")
    if text[i] == "{":
        depth = 0
        for j in range(i, len(text)):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                return text[i + 1:j], j + 1
        raise LatexError("unbalanced braces")
    if text[i] == "\\":
        match = re.match(r"\\[a-zA-Z]+", text[i:])
        if match:
            return match.group(0), i + len(match.group(0))
    return text[i], i + 1


def _command(text: str, i: int) -> tuple[str, int]:
    """Translate the command starting at text[i] == '\\'; returns (python text, next index)."""
    match = re.match(r"\\([a-zA-Z]+|.)", text[i:])
    name = match.group(1)
    j = i + len(match.group(0))
    if name in ("frac", "dfrac", "tfrac", "cfrac"):
        num, j = _read_arg(text, j)
        den, j = _read_arg(text, j)
        return f"(({translate(num)})/({translate(den)}))", j
    if name == "sqrt":
        index = None
        if j < len(text) and text[j] == "[":
            close = text.index("]", j)
            index, j = text[j + 1:close], close + 1
        arg, j = _read_arg(text, j)
        if index is None:
            return f"sqrt({translate(arg)})", j
        return f"(({translate(arg)})**(1/({translate(index)})))", j
    if name in ("text", "mathrm", "mathbf", "mbox", "operatorname"):
        arg, j = _read_arg(text, j)
        return translate(arg), j
    if name in _COMMANDS:
        return _COMMANDS[name], j
    if name in _GREEK:
        return f" {name} ", j
    if name in _IGNORED:
        return "", j
    if name in "{}":
        return "", j
    raise LatexError(f"unsupported command \\{name}")


def translate(text: str) -> str:
    """LaTeX math -> a Python/sympy expression string."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            piece, i = _command(text, i)
            out.append(piece)
        elif ch in "{}":
            out.append("(" if ch == "{" else ")")
            i += 1
        elif ch == "^":
            arg, i = _read_arg(text, i + 1)
            out.append(f"**({translate(arg)})")
        elif ch == "_":
            arg, i = _read_arg(text, i + 1)
            if not re.fullmatch(r"[A-Za-z0-9]+", arg):
                raise LatexError("unsupported subscript")
            out.append(f"_{arg}")
        elif ch in "[]":
            out.append("(" if ch == "[" else ")")
            i += 1
        elif ch.isalnum() or ch in "+-*/(). !":
            out.append(ch)
            i += 1
        else:
            raise LatexError(f"unsupported character {ch!r}")
    return "".join(out)


def _check_size(expr: sympy.Basic) -> None:
    """Refuse obviously explosive powers before evaluation (the caller's time bound is the backstop)."""
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Pow) and node.exp.is_Number and abs(node.exp) > 10_000:
            raise LatexError("exponent too large")
        if isinstance(node, sympy.Integer) and abs(int(node)).bit_length() > 4_000:
            raise LatexError("integer too large")


def latex_to_sympy(text: str) -> sympy.Expr:
    """Parse a LaTeX (or plain) math answer into a sympy expression; raises LatexError."""
    if len(text) > _MAX_LEN:
        raise LatexError("expression too long")
    source = translate(text.strip())
    if not source.strip():
        raise LatexError("empty expression")
    local = {"e": sympy.E, "i": sympy.I, "E": sympy.E, "pi": sympy.pi}
    try:
        unevaluated = parse_expr(source, local_dict=dict(local), transformations=_TRANSFORMS, evaluate=False)
        _check_size(unevaluated)
        return parse_expr(source, local_dict=dict(local), transformations=_TRANSFORMS, evaluate=True)
    except LatexError:
        raise
    except Exception as exc:  # parse_expr raises many types (SyntaxError, TokenError, TypeError, ...)
        raise LatexError(f"cannot parse {text[:60]!r}: {type(exc).__name__}") from exc
