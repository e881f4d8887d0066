"""OLMo 3 chat templates (open-instruct `CHAT_TEMPLATES` names) and a fast renderer that also returns
the character spans the loss trains on.

Every ChatML template wraps what the assistant must learn -- its content, `<function_calls>` and the
closing token (`<|im_end|>`, or the EOS that ends the conversation) -- in `{% generation %}` blocks.
HF `apply_chat_template(..., return_assistant_tokens_mask=True)` and vLLM read the same strings, so the
template set on the tokenizer is the one exported with the model. Resulting masks equal open-instruct's
prefix-rendering masks (`sft_tulu_tokenize_and_truncate_v1`): system/user/environment turns, the
default system prompt, every `<|im_start|>assistant\\n` header and the `\\n` after `<|im_end|>` are
masked. One deliberate difference: with `olmo_thinker`, open-instruct masks a leading `<think>` of
the assistant content (its generation prompt ends in `<think>`; the "known <think> masking bug");
here it is trained. The OLMo 3 think SFT runs used the `*_no_think_*` variants, where both agree.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Unicode noncharacters (reserved for internal use): they mark generation spans in rendered text and
# are stripped before tokenizing; rows containing them are rejected by the row validator.
SPAN_OPEN, SPAN_CLOSE = "\U0010fffe", "\U0010ffff"

_FUNCTIONS_NONE = " You do not currently have access to any functions. <functions></functions>"
OLMO_SYSTEM = (
    "You are OLMo, a helpful function-calling AI assistant built by Ai2. Your date cutoff is November 2024, "
    "and your model weights are available at https://huggingface.co/allenai." + _FUNCTIONS_NONE
)
THINKER_SYSTEM = "You are a helpful AI assistant."
"""olmo_thinker default from ~Nov 2025; earlier run commits (68da0a1, d928a7c) used OLMO_SYSTEM."""
OLMO_7B_IDENTITY = (
    "You are Olmo, a helpful AI assistant built by Ai2. Your date cutoff is December 2024, and your model "
    "weights are available at https://huggingface.co/allenai."
)
_RLZERO_MATH = (
    "Solve the following problem step by step. The last line of your response should be the answer to the "
    "problem in form Answer: $Answer (without quotes) where $Answer is the answer to the problem."
)
_RLZERO_MATH_REMINDER = '\nRemember to put your answer on its own line after "Answer:"'
_RLZERO_CODE = (
    "Solve the following code problem step by step. The last part of your response should be the solution to "
    "the problem in form ```\npython\nCODE\n``` where CODE is the solution for the problem."
)
_RLZERO_CODE_REMINDER = "\nRemember to put your solution inside the ```\npython\nCODE\n``` tags"


def _lit(text: str) -> str:
    """A Jinja string literal for `text`."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _chatml(default_system: str, generation_prompt: str) -> str:
    """The OLMo ChatML template: default system prompt when none is given, `<functions>` on system and
    user turns, `<function_calls>` on assistant turns, environment turns, one EOS at the very end."""
    return (
        "{% set has_system = messages|selectattr('role', 'equalto', 'system')|list|length > 0 %}"
        "{% if not has_system %}{{ " + _lit(f"<|im_start|>system\n{default_system}<|im_end|>\n") + " }}{% endif %}"
        "{% for message in messages %}"
        "{% if message['role'] == 'system' %}"
        "{{ '<|im_start|>system\n' + message['content'] }}"
        "{% if message.get('functions', none) is not none %}"
        "{{ ' <functions>' + message['functions'] + '</functions><|im_end|>\n' }}"
        "{% else %}{{ " + _lit(_FUNCTIONS_NONE + "<|im_end|>\n") + " }}{% endif %}"
        "{% elif message['role'] == 'user' %}"
        "{% if message.get('functions', none) is not none %}"
        "{{ '<|im_start|>user\n' + message['content'] + '\n<functions>' + message['functions'] "
        "+ '</functions><|im_end|>\n' }}"
        "{% else %}{{ '<|im_start|>user\n' + message['content'] + '<|im_end|>\n' }}{% endif %}"
        "{% elif message['role'] == 'assistant' %}"
        "{{ '<|im_start|>assistant\n' }}"
        "{% generation %}"
        "{% if message.get('content', none) is not none %}{{ message['content'] }}{% endif %}"
        "{% if message.get('function_calls', none) is not none %}"
        "{{ '<function_calls>' + message['function_calls'] + '</function_calls>' }}{% endif %}"
        "{% if not loop.last %}{{ '<|im_end|>' }}{% else %}{{ eos_token }}{% endif %}"
        "{% endgeneration %}"
        "{% if not loop.last %}{{ '\n' }}{% endif %}"
        "{% elif message['role'] == 'environment' %}"
        "{{ '<|im_start|>environment\n' + message['content'] + '<|im_end|>\n' }}"
        "{% endif %}"
        "{% if loop.last and add_generation_prompt %}{{ " + _lit(generation_prompt) + " }}{% endif %}"
        "{% endfor %}"
    )


def _plain(instruction: str, reminder: str) -> str:
    """RL-Zero templates: no special tokens; the instruction, then contents joined by blank lines, then
    a reminder as the generation prompt. Assistant contents are generation spans (for SFT use only)."""
    return (
        instruction + "\n\n"
        "{% for message in messages %}"
        "{{ '\n\n' if not loop.first else '' }}"
        "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] }}{% endgeneration %}"
        "{{ '\n' }}{% else %}{{ message['content'] + '\n' }}{% endif %}"
        "{% if loop.last and add_generation_prompt %}{{ " + _lit(reminder) + " }}{% endif %}"
        "{% endfor %}"
    )


CHAT_TEMPLATES: dict[str, str] = {
    "olmo": _chatml(OLMO_SYSTEM, "<|im_start|>assistant\n"),
    "olmo_thinker": _chatml(THINKER_SYSTEM, "<|im_start|>assistant\n<think>"),
    "olmo_thinker_no_think_7b": _chatml(OLMO_7B_IDENTITY, "<|im_start|>assistant\n"),
    "olmo_thinker_no_think_sft_tokenization": _chatml(THINKER_SYSTEM, "<|im_start|>assistant\n"),
    "olmo_thinker_rlzero": _plain(_RLZERO_MATH, _RLZERO_MATH_REMINDER),
    "olmo_thinker_code_rlzero": _plain(_RLZERO_CODE, _RLZERO_CODE_REMINDER),
}
"""Template name -> Jinja source (model.chat_template; `tokenizer` means the tokenizer's own)."""

_GENERATION_TAG = re.compile(r"\{%-?\s*generation\s*-?%\}")


def template_source(name: str, tokenizer: Any) -> str:
    """Jinja source of `name`; `tokenizer` = the tokenizer's own `chat_template`."""
    if name == "tokenizer":
        source = getattr(tokenizer, "chat_template", None)
        if not isinstance(source, str) or not source:
            raise ValueError("model.chat_template: 'tokenizer' but the tokenizer has no chat_template")
        return source
    if name not in CHAT_TEMPLATES:
        raise ValueError(f"model.chat_template: {name!r} is not one of {sorted(CHAT_TEMPLATES)} or 'tokenizer'")
    return CHAT_TEMPLATES[name]


def set_chat_template(tokenizer: Any, name: str) -> Any:
    """Set `tokenizer.chat_template` to template `name` (in place; returned for chaining). Call this
    before saving/exporting the tokenizer so HF/vLLM users get the training template."""
    tokenizer.chat_template = template_source(name, tokenizer)
    return tokenizer


def has_generation_spans(source: str) -> bool:
    """Whether the template marks trainable text with `{% generation %}` (needed for label masks)."""
    return bool(_GENERATION_TAG.search(source))


class _GenerationMarks(Extension):
    """`{% generation %}...{% endgeneration %}`: surround the body with span sentinels."""

    tags = {"generation"}

    def parse(self, parser: Any) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_mark"), [], [], body).set_lineno(lineno)

    def _mark(self, caller: Any) -> str:
        return SPAN_OPEN + caller() + SPAN_CLOSE


def _raise(message: str) -> None:
    raise ValueError(f"chat template: {message}")


@functools.lru_cache(maxsize=32)
def _compile(source: str) -> Any:
    # Same environment options as transformers' chat-template renderer, so strings match exactly.
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_GenerationMarks, loopcontrols]
    )
    env.globals["raise_exception"] = _raise
    return env.from_string(source)


def split_spans(marked: str) -> tuple[str, list[tuple[int, int]]]:
    """Remove span sentinels; return the clean text and the [start, end) character spans they marked."""
    text: list[str] = []
    spans: list[tuple[int, int]] = []
    pos, start = 0, -1
    for part in re.split(f"([{SPAN_OPEN}{SPAN_CLOSE}])", marked):
        if part == SPAN_OPEN:
            start = pos
        elif part == SPAN_CLOSE:
            if pos > start:
                spans.append((start, pos))
        else:
            text.append(part)
            pos += len(part)
    return "".join(text), spans


class ChatRenderer:
    """Renders conversations with one compiled template; cheap to build, picklable by name + source."""

    def __init__(self, source: str, eos_token: str, bos_token: str | None = None) -> None:
        self.source, self.eos_token, self.bos_token = source, eos_token, bos_token
        self._template = _compile(source)

    @classmethod
    def for_tokenizer(cls, tokenizer: Any, name: str) -> "ChatRenderer":
        return cls(template_source(name, tokenizer), tokenizer.eos_token, getattr(tokenizer, "bos_token", None))

    def __reduce__(self) -> tuple:
        return (ChatRenderer, (self.source, self.eos_token, self.bos_token))

    @property
    def marks_spans(self) -> bool:
        return has_generation_spans(self.source)

    def render_marked(self, messages: list[dict], add_generation_prompt: bool = False) -> str:
        return self._template.render(
            messages=messages, add_generation_prompt=add_generation_prompt,
            eos_token=self.eos_token, bos_token=self.bos_token,
        )

    def render(self, messages: list[dict], add_generation_prompt: bool = False) -> str:
        """The exact string HF `apply_chat_template(..., tokenize=False)` produces."""
        return split_spans(self.render_marked(messages, add_generation_prompt))[0]

    def render_with_spans(self, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
        """Full conversation text and the character spans to train on."""
        if not self.marks_spans:
            raise ValueError(
                "chat template has no {% generation %} blocks, so assistant tokens cannot be found; "
                "use one of the named OLMo templates or add generation blocks to the tokenizer's template"
            )
        return split_spans(self.render_marked(messages))
