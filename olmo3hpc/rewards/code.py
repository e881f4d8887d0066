"""`code` / `code_stdio` verifiers: extract the program, POST it to the code service, score the pass rate."""

from __future__ import annotations

import ast
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)```", re.DOTALL)


def extract_code(prediction: str) -> str:
    """The last fenced code block of the answer (after `</think>`), or the whole answer if none."""
    text = prediction.rsplit("</think>", 1)[-1]
    blocks = _FENCE.findall(text)
    return blocks[-1][1] if blocks else text.strip()


def parse_tests(label: Any) -> list[Any]:
    """Tests from a list or a JSON / python-literal string of a list (stdio tests are dicts)."""
    if isinstance(label, str):
        try:
            label = json.loads(label)
        except ValueError:
            label = ast.literal_eval(label)
    if isinstance(label, dict):
        label = [label]
    if not isinstance(label, list):
        raise ValueError(f"code label must be a list of tests, got {type(label).__name__}")
    return label


def http_timeout(max_execution_time: float) -> float:
    """open-instruct's request timeout: max(30, min(300, 10 * max_execution_time))."""
    return max(30.0, min(300.0, 10.0 * max_execution_time))


@dataclass(frozen=True)
class CodeVerifier:
    """Scores a response by the pass rate of its program on the label's tests (0 below `threshold`)."""

    url: str
    stdio: bool = False
    max_execution_time: float = 1.0
    threshold: float = 0.0
    retries: int = 3

    def post(self, program: str, tests: list[Any]) -> dict[str, Any]:
        endpoint = f"{self.url.rstrip('/')}/test_program{'_stdio' if self.stdio else ''}"
        payload = {"program": program, "tests": tests, "max_execution_time": self.max_execution_time}
        last_error: Exception | None = None
        for attempt in range(self.retries):
            try:
                response = httpx.post(endpoint, json=payload, timeout=http_timeout(self.max_execution_time))
                response.raise_for_status()
                return response.json()
            except (httpx.HTTPError, ValueError) as exc:
                last_error = exc
                log.warning("code service %s attempt %d/%d failed: %s", endpoint, attempt + 1, self.retries, exc)
                time.sleep(min(4.0, 0.5 * 2**attempt))
        raise RuntimeError(f"code service {endpoint} failed after {self.retries} attempts") from last_error

    def __call__(self, prediction: str, label: Any, query: str | None = None) -> float:
        tests = parse_tests(label)
        if not tests:
            raise ValueError("code label holds no tests")
        results = self.post(extract_code(prediction), tests)["results"]
        rate = sum(results) / len(tests)
        return rate if rate >= self.threshold else 0.0
