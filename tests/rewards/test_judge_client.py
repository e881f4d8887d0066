"""LLM judge: prompts and score extraction, and the async client against a real loopback judge server."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from olmo3hpc.rewards.judge import JudgeClient, JudgeSettings, JudgeVerifier, estimate_tokens, fit_response
from olmo3hpc.rewards.judge_prompts import JUDGE_PROMPTS, JudgeParseError
from olmo3hpc.rewards.judge_server import JudgeServer

JUDGE_TYPES = ("quality", "quality_rubric", "quality_ref", "safety", "factuality", "creative_writing", "refusal",
               "web_instruct_general_verifier")


def test_every_judge_type_has_prompt_and_extractor() -> None:
    assert set(JUDGE_PROMPTS) == set(JUDGE_TYPES)
    for judge_type, prompt in JUDGE_PROMPTS.items():
        text = prompt.render("Q-TEXT", "R-TEXT", "L-TEXT")
        assert "Q-TEXT" in text and "R-TEXT" in text, judge_type


@pytest.mark.parametrize(("judge_type", "output", "score"), [
    ("quality", '{"REASONING": "fine", "SCORE": 7}', 0.7),
    ("quality_ref", '```json\n{"REASONING": "ok", "SCORE": "9"}\n```', 0.9),
    ("quality_rubric", 'Here you go: {"REASONING": "meh", "SCORE": 4} done', 0.4),
    ("creative_writing", '"SCORE": 12', 1.0),
    ("safety", '{"REASONING": "harmless", "SCORE": 1}', 1.0),
    ("factuality", '{"REASONING": "wrong date", "SCORE": 0}', 0.0),
    ("refusal", '{"REASONING": "refused", "SCORE": 1}', 1.0),
    ("web_instruct_general_verifier", "The answers agree.\nFinal Decision: Yes", 1.0),
    ("web_instruct_general_verifier", "Final Decision: Yes... wait.\nFinal Decision: No", 0.0),
])
def test_score_extractors(judge_type: str, output: str, score: float) -> None:
    assert JUDGE_PROMPTS[judge_type].extract(output) == pytest.approx(score)


def test_unparseable_outputs_raise_parse_error() -> None:
    for judge_type in JUDGE_TYPES:
        with pytest.raises(JudgeParseError):
            JUDGE_PROMPTS[judge_type].extract("I think it is pretty good overall.")


def test_prompt_strips_thinking_and_truncates_to_context() -> None:
    settings = JudgeSettings(url="http://unused", model="m", max_context=1000, max_tokens=200)
    client = JudgeClient(settings)
    prompt = client.build_prompt("quality", "q", "<think>SECRET PLAN</think><answer>final words</answer>", "")
    assert "SECRET PLAN" not in prompt and "final words" in prompt and "<answer>" not in prompt
    long = "head " + "x" * 100_000 + " tail"
    fitted = fit_response(100, long, settings)
    assert fitted.startswith("head") and fitted.endswith("tail") and estimate_tokens(fitted) <= 1000 - 200 - 100
    assert estimate_tokens(client.build_prompt("quality", "q", long, "")) <= 1000 - 200


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_client_against_real_server(tiny_chat_model_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    port = _free_port()
    server = JudgeServer(str(tiny_chat_model_dir), backend="transformers")
    settings = JudgeSettings(url=f"http://127.0.0.1:{port}", model="tiny", max_tokens=16, max_context=600,
                             timeout_s=60, retries=90, backoff_s=0.5, backoff_max_s=2.0)
    client = JudgeClient(settings)
    # The server is down when the first request goes out; the client retries until it comes up.
    starter = threading.Timer(1.0, server.start, kwargs={"port": port})
    starter.start()
    try:
        async def first_request() -> str:
            async with httpx.AsyncClient() as http:
                return await client.complete(http, "Rate this answer.")
        with caplog.at_level(logging.WARNING, logger="olmo3hpc.rewards.judge"):
            text = asyncio.run(first_request())
        starter.join()
        assert isinstance(text, str)
        assert any("retry" in r.getMessage() for r in caplog.records)

        # Random weights produce no JSON: the sample scores 0 and the failure is logged as unparseable.
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="olmo3hpc.rewards.judge"):
            long_response = "the answer is " * 3000  # far beyond the model context before truncation
            assert JudgeVerifier(client, "quality")(long_response, "", "What is it?") == 0.0
        assert any("unparseable" in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]

        # A timeout far below generation time fails fast and scores 0.
        hurried = JudgeClient(JudgeSettings(url=settings.url, model="tiny", max_tokens=400, max_context=600,
                                            timeout_s=0.02, retries=1, backoff_s=0.01))
        start = time.monotonic()
        assert asyncio.run(hurried.score("quality", "q", "r", None)) == 0.0
        assert time.monotonic() - start < 5.0
    finally:
        starter.cancel()
        starter.join()
        server.stop()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2)


@pytest.mark.slow
@pytest.mark.vllm
@pytest.mark.timeout(600)
def test_client_against_the_vllm_openai_server(vllm_chat_model_dir: Path) -> None:
    pytest.importorskip("vllm")
    with JudgeServer(str(vllm_chat_model_dir), backend="vllm") as server:
        settings = JudgeSettings(url=server.url, model=str(vllm_chat_model_dir), max_tokens=8, max_context=600,
                                 timeout_s=120, retries=2, backoff_s=0.5)
        client = JudgeClient(settings)

        async def one_request() -> str:
            async with httpx.AsyncClient() as http:
                return await client.complete(http, "Rate this answer.")
        assert isinstance(asyncio.run(one_request()), str)
        # Random weights produce no JSON verdict: the sample scores 0, the run goes on.
        assert JudgeVerifier(client, "quality")("some answer", "", "What is it?") == 0.0
        url = server.url
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/v1/models", timeout=2)


def test_judge_server_backend_choice() -> None:
    import importlib.util

    expected = "vllm" if importlib.util.find_spec("vllm") is not None else "transformers"
    assert JudgeServer("some/model").backend == expected
    assert "vllm.entrypoints.openai.api_server" in " ".join(JudgeServer("m", backend="vllm")._command(8000))
    with pytest.raises(ValueError, match="judge backend"):
        JudgeServer("m", backend="tgi")
