"""Answer extraction from model outputs: last \\boxed{}, Minerva phrase, last $...$, `Answer:` line, last number."""

from __future__ import annotations

import re

INVALID_ANSWER = "[invalidanswer]"
_MINERVA = re.compile(r"Final Answer: The final answer is(.*?)\. I hope it is correct\.", re.DOTALL)
_ANSWER_LINE = re.compile(r"^\s*\**Answer\**\s*:\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?\d*\.\d+|[-+]?\d+")


def _braced_group(text: str, start: int) -> int | None:
    """Index just past the brace group opening at text[start] == '{', or None if unbalanced."""
    depth = 0
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "{}":
            continue
        if ch == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif ch == "}" and (i == 0 or text[i - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def last_boxed_only_string(text: str) -> str | None:
    """The last `\\boxed{...}` / `\\fbox{...}` (or `\\boxed x`) including the command, balanced braces."""
    idx = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if idx < 0:
        return None
    cmd_end = idx + (6 if text.startswith("\\boxed", idx) else 5)
    if text.startswith(" ", cmd_end):  # "\boxed 5" form: the argument runs to the next `$` or space
        rest = text[cmd_end + 1:]
        arg = re.split(r"[\s$]", rest, maxsplit=1)[0]
        return text[idx:cmd_end] + " " + arg
    brace = text.find("{", cmd_end)
    if brace < 0 or text[cmd_end:brace].strip():
        return None
    end = _braced_group(text, brace)
    return None if end is None else text[idx:end]


def remove_boxed(boxed: str) -> str:
    """`\\boxed{x}` -> `x`; raises ValueError for anything else."""
    for cmd in ("\\boxed ", "\\fbox "):
        if boxed.startswith(cmd):
            return boxed[len(cmd):]
    for cmd in ("\\boxed{", "\\fbox{"):
        if boxed.startswith(cmd) and boxed.endswith("}"):
            return boxed[len(cmd):-1]
    raise ValueError(f"not a boxed expression: {boxed[:40]!r}")


def boxed_answer(text: str) -> str | None:
    boxed = last_boxed_only_string(text)
    if boxed is None:
        return None
    try:
        return remove_boxed(boxed)
    except ValueError:
        return None


def minerva_answer(text: str) -> str:
    """Text after `Final Answer: The final answer is` up to `. I hope it is correct.` (Minerva format)."""
    match = _MINERVA.search(text + " I hope it is correct.")
    return match.group(1).strip() if match else INVALID_ANSWER


def last_dollar_span(text: str) -> str | None:
    dollars = [m.start() for m in re.finditer(r"(?<!\\)\$", text)]
    if len(dollars) < 2:
        return None
    return text[dollars[-2] + 1:dollars[-1]]


def answer_line(text: str) -> str | None:
    """The RL-Zero template's last `Answer: X` line (X may itself be `$...$`)."""
    matches = _ANSWER_LINE.findall(text)
    if not matches:
        return None
    value = matches[-1].strip()
    if value.startswith("$") and value.endswith("$") and len(value) > 1:
        value = value.strip("$")
    return value.rstrip(".").strip() or None


def last_number(text: str) -> str | None:
    """Last number in the text with thousands separators removed (the gsm8k convention)."""
    numbers = _NUMBER.findall(text.replace(",", ""))
    return numbers[-1] if numbers else None
