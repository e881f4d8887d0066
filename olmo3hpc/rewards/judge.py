"""Async OpenAI-compatible chat-completions client for the `general-<type>` LLM-judge verifiers."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from olmo3hpc.rewards.ifeval.registry import remove_thinking
from olmo3hpc.rewards.judge_prompts import JUDGE_PROMPTS, JudgeParseError

log = logging.getLogger(__name__)
CHARS_PER_TOKEN = 4.0  # conservative estimate for English prose; no tokenizer is needed client-side
_TRUNCATION_MARK = "\n[... truncated ...]\n"


@dataclass(frozen=True)
class JudgeSettings:
    url: str
    model: str
    timeout_s: float = 600.0
    max_tokens: int = 2048
    max_context: int = 32768
    temperature: float = 1.0
    retries: int = 3
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


def fit_response(template_len_tokens: int, response: str, settings: JudgeSettings) -> str:
    """Shorten the response (keeping head and tail) so prompt + completion fit in `max_context`."""
    budget = settings.max_context - settings.max_tokens - template_len_tokens - 16
    if budget <= 0:
        raise ValueError(f"judge prompt template alone exceeds max_context {settings.max_context}")
    if estimate_tokens(response) <= budget:
        return response
    keep = int(budget * CHARS_PER_TOKEN) - len(_TRUNCATION_MARK)
    head = keep // 2
    return response[:head] + _TRUNCATION_MARK + response[len(response) - (keep - head):]


def _is_client_error(exc: Exception) -> bool:
    """4xx other than timeout / rate limit: the same request would fail again."""
    if not isinstance(exc, httpx.HTTPStatusError):
        return False
    code = exc.response.status_code
    return 400 <= code < 500 and code not in (408, 429)


def strip_judge_thinking(text: str) -> str:
    return text.rsplit("</think>", 1)[-1].strip()


class JudgeClient:
    """Scores responses with an LLM judge; any failure (HTTP, timeout, unparseable output) scores 0."""

    def __init__(self, settings: JudgeSettings) -> None:
        self.settings = settings

    def build_prompt(self, judge_type: str, query: str, response: str, label: str) -> str:
        prompt = JUDGE_PROMPTS[judge_type]
        answer = remove_thinking(response)
        template_tokens = estimate_tokens(prompt.render(query, "", label))
        return prompt.render(query, fit_response(template_tokens, answer, self.settings), label)

    async def complete(self, client: httpx.AsyncClient, prompt: str) -> str:
        """One chat completion with retries and exponential backoff on transport errors and 5xx."""
        s = self.settings
        body = {"model": s.model, "messages": [{"role": "user", "content": prompt}], "max_tokens": s.max_tokens,
                "temperature": s.temperature}
        endpoint = f"{s.url.rstrip('/')}/v1/chat/completions"
        for attempt in range(s.retries + 1):
            try:
                reply = await client.post(endpoint, json=body, timeout=s.timeout_s)
                reply.raise_for_status()
                return reply.json()["choices"][0]["message"]["content"] or ""
            except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
                if attempt == s.retries or _is_client_error(exc):
                    raise
                delay = min(s.backoff_max_s, s.backoff_s * 2**attempt)
                log.warning("judge request failed (%s); retry %d/%d in %.1fs", exc, attempt + 1, s.retries, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def score(self, judge_type: str, query: str, response: str, label: Any, sample_id: Any = None) -> float:
        if judge_type not in JUDGE_PROMPTS:
            raise KeyError(f"unknown judge type {judge_type!r}; known: {', '.join(sorted(JUDGE_PROMPTS))}")
        prompt = self.build_prompt(judge_type, query or "", response, "" if label is None else str(label))
        try:
            async with httpx.AsyncClient() as client:
                text = await self.complete(client, prompt)
            return JUDGE_PROMPTS[judge_type].extract(strip_judge_thinking(text))
        except JudgeParseError as exc:
            log.warning("judge %s sample %s: unparseable output, score 0: %s", judge_type, sample_id, exc)
        except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
            log.warning("judge %s sample %s: request failed, score 0: %s", judge_type, sample_id, exc)
        return 0.0


@dataclass(frozen=True)
class JudgeVerifier:
    """Synchronous `general-<type>` verifier (runs the async client on its own event loop)."""

    client: JudgeClient
    judge_type: str

    def __call__(self, prediction: str, label: Any, query: str | None = None) -> float:
        return asyncio.run(self.client.score(self.judge_type, query or "", prediction, label))
