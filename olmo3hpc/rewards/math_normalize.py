"""Answer-string normalizers: Minerva-style `normalize_final_answer` and a Hendrycks-style `strip_string`.

Both turn surface variants of one answer (LaTeX spacing, `\\dfrac`, units, `\\%`, `^\\circ`, `\\text{}`)
into one canonical string so that plain string equality already decides most pairs before sympy runs.
"""

from __future__ import annotations

import re

_UNIT_WORDS = (
    "square", "sq", "cubic", "units", "unit", "ways", "integers", "dollars", "dollar", "cents", "cent", "mph",
    "inches", "inch", "in", "feet", "foot", "ft", "yards", "miles", "hours", "hour", "hrs", "minutes", "minute",
    "mins", "seconds", "second", "sec", "days", "day", "weeks", "years", "km", "cm", "mm", "m", "meters", "meter",
    "kg", "g", "gm", "grams", "pounds", "lbs", "points", "digits", "degrees", "degree", "students", "people",
    "edges", "multiples", "meals", "liters", "l", "ml", "gallons", "percent", "times", "s",
)
_UNIT_TAIL = re.compile(
    r"(?<=[\d}.)])\s*(?:\^?\{?\\circ\}?\s*)?(?:(?:" + "|".join(_UNIT_WORDS) + r")\b\.?\s*(?:\^\{?[23]\}?)?\s*)+$"
)
_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname|overline)\s*\{([^{}]*)\}")
_WORD_ARTICLE = re.compile(r"^(?:an?|the)\s+", re.IGNORECASE)


def _strip_math_delims(text: str) -> str:
    text = text.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if text.startswith(left) and text.endswith(right) and len(text) >= len(left) + len(right):
            text = text[len(left):len(text) - len(right)].strip()
    return text


def _common_cleanup(text: str) -> str:
    """LaTeX spacing/sizing commands, degree and percent signs, dollar signs, display-style fractions."""
    text = text.replace("{,}", ",").replace("\n", " ")
    for spacing in ("\\!", "\\,", "\\;", "\\:"):
        text = text.replace(spacing, "")
    text = text.replace("\\ ", " ").replace("~", " ").replace("\\quad", " ").replace("\\qquad", " ")
    text = text.replace("\\left", "").replace("\\right", "").replace("\\displaystyle", "")
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    text = text.replace("^{\\circ}", "").replace("^\\circ", "").replace("\\circ", "").replace("°", "")
    text = text.replace("\\%", "").replace("%", "").replace("\\$", "").replace("$", "")
    text = re.sub(r"\\(?:big|Big|bigg|Bigg)[lr]?", "", text)
    return text.strip()


def _unwrap_text_commands(text: str) -> str:
    previous = None
    while previous != text:
        previous, text = text, _TEXT_CMD.sub(r"\1", text)
    return text


def _fix_shorthand(text: str) -> str:
    """`\\frac12` -> `\\frac{1}{2}`, `\\frac1b`, `\\sqrt3` -> `\\sqrt{3}`."""
    text = re.sub(r"\\frac\s*([^{\s\\])\s*([^{\s\\])", r"\\frac{\1}{\2}", text)
    text = re.sub(r"\\frac\s*(\{[^{}]*\})\s*([^{\s\\])", r"\\frac\1{\2}", text)
    text = re.sub(r"\\frac\s*([^{\s\\])\s*(\{)", r"\\frac{\1}\2", text)
    return re.sub(r"\\sqrt\s*([^{\[\s\\])", r"\\sqrt{\1}", text)


def _remove_units(text: str) -> str:
    text = re.sub(r"\\(?:text|mbox|mathrm)\{\s*[a-zA-Z][a-zA-Z .]*\}(?:\^\{?[23]\}?)?\s*$", "", text).strip() or text
    stripped = _UNIT_TAIL.sub("", text).strip()
    return stripped or text


def normalize_final_answer(answer: str) -> str:
    """Minerva normalization: keep what follows the last `=`, drop units/words/markup, canonical fractions."""
    text = answer.split("=")[-1]
    text = _strip_math_delims(text)
    text = _common_cleanup(text)
    text = re.sub(r"\\boxed\s*\{(.*)\}", r"\1", text)
    text = _remove_units(text)
    text = _unwrap_text_commands(text)
    text = _WORD_ARTICLE.sub("", text.strip())
    text = text.replace("\\text{and}", ",").replace(" and ", ",")
    text = _fix_shorthand(text)
    text = re.sub(r"\s+", "", text).rstrip(".")
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", text):
        text = text.replace(",", "")
    return text


def _fix_a_slash_b(text: str) -> str:
    match = re.fullmatch(r"(-?)(\d+)/(\d+)", text)
    return f"{match.group(1)}\\frac{{{match.group(2)}}}{{{match.group(3)}}}" if match else text


def _canonical_decimal(text: str) -> str:
    """`.5` -> `0.5`, `2.50` -> `2.5`, `3.0` -> `3` so decimal spellings compare equal as strings."""
    text = re.sub(r"(^|[^\d])\.(\d)", r"\g<1>0.\2", text)
    if re.fullmatch(r"-?\d+\.\d+", text):
        text = text.rstrip("0").rstrip(".")
    return text


def strip_string(answer: str) -> str:
    """Hendrycks MATH normalization used by `hendrycks_is_equiv` (string compare after this)."""
    text = _strip_math_delims(answer)
    text = _common_cleanup(text).replace("\\\\", "\\")
    text = _remove_units(text)
    text = _unwrap_text_commands(text)
    parts = text.split("=")
    if len(parts) == 2 and len(parts[0].strip()) <= 2:  # "k = 5" -> "5"
        text = parts[1]
    text = _fix_shorthand(text)
    text = re.sub(r"\s+", "", text).rstrip(".")
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", text):
        text = text.replace(",", "")
    text = _canonical_decimal(text)
    if text == "0.5":
        text = "\\frac{1}{2}"
    return _fix_a_slash_b(text)
