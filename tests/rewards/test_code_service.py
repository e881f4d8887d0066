"""The code-execution HTTP service: contract, verifier client, and serving through attacks."""

from __future__ import annotations

import os
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from olmo3hpc.rewards.code import CodeVerifier, extract_code, http_timeout, parse_tests
from olmo3hpc.rewards.code_service import CodeService

ATTACKS = {
    "fork_bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
    "memory_bomb": "x = []\nwhile True:\n    x.append(bytearray(10**8))",
    "infinite_loop": "while True:\n    pass",
    "read_secret": "assert open('/root/.bashrc').read() is not None",
    "write_outside": "open('/etc/olmo3hpc-pwned', 'w').write('x')",
    "network": "import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)",
    "signal_parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
    "output_flood": "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)",
}


def test_extract_code_and_labels() -> None:
    text = "<think>```python\nbad()\n```</think>Here:\n```python\ndef f():\n    return 1\n```\nand\n```\nprint(2)\n```"
    assert extract_code(text) == "print(2)\n"
    assert extract_code("def g(): pass") == "def g(): pass"
    assert parse_tests('["assert f() == 1"]') == ["assert f() == 1"]
    assert parse_tests("[{'input': '1', 'output': '2'}]") == [{"input": "1", "output": "2"}]
    assert http_timeout(1.0) == 30.0 and http_timeout(6.0) == 60.0 and http_timeout(100.0) == 300.0


def test_verifier_retries_then_raises_when_service_is_down() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    verifier = CodeVerifier(f"http://127.0.0.1:{dead_port}", retries=2)
    with pytest.raises(RuntimeError, match="failed after 2 attempts"):
        verifier("def f(): pass", ["assert True"])


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_service_scores_programs_and_survives_attacks() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    with CodeService(workers=2) as service:
        url = service.url
        assert httpx.get(f"{url}/health").json() == {"status": "ok"}
        verifier = CodeVerifier(url, max_execution_time=1.0)
        program = "```python\ndef square(x):\n    return x * x\n```"
        tests = ["assert square(2) == 4", "assert square(3) == 9", "assert square(4) == 15"]
        assert verifier(program, tests) == pytest.approx(2 / 3)
        assert CodeVerifier(url, threshold=0.99)(program, tests) == 0.0
        stdio = CodeVerifier(url, stdio=True)
        assert stdio("a, b = map(int, input().split())\nprint(a + b)", [{"input": "1 2", "output": "3"},
                                                                        {"input": "5 5", "output": "11"}]) == 0.5

        def attack(code: str) -> list[int]:
            body = {"program": code.format(port=listener.getsockname()[1]), "tests": ["assert True"],
                    "max_execution_time": 1.0}
            return httpx.post(f"{url}/test_program", json=body, timeout=60).json()["results"]

        with ThreadPoolExecutor(len(ATTACKS) + 2) as pool:
            attacks = {name: pool.submit(attack, code) for name, code in ATTACKS.items()}
            honest = [pool.submit(verifier, program, tests[:2]) for _ in range(2)]
            assert {name: f.result() for name, f in attacks.items()} == {name: [0] for name in ATTACKS}
            assert [f.result() for f in honest] == [1.0, 1.0]
        assert not os.path.exists("/etc/olmo3hpc-pwned")
        assert verifier(program, tests[:2]) == 1.0
        launcher_pid = service._proc.pid
    listener.close()
    with pytest.raises(ProcessLookupError):
        os.kill(launcher_pid, 0)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/health", timeout=2)
