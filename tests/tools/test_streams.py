"""Low-level readers/writers behind convert and merge: torch files without torch, bf16 rounding, staging."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from olmo3hpc.tools.staging import OutputExistsError, staged_dir
from olmo3hpc.tools.tensor_stream import Segment, TensorSource, float32_to_bf16, read_range
from olmo3hpc.tools.torch_pickle import CheckpointFileError, read_torch_file


def _values(st) -> np.ndarray:
    offset, _ = st.byte_range(0, st.numel)
    return read_range(TensorSource("t", st.shape, (Segment(st.path, offset, st.numel, st.dtype),)), 0, st.numel)


def test_torch_file_structure_and_bytes(tmp_path: Path) -> None:
    big = torch.randn(6, 5)
    obj = {"sd": OrderedDict(w=big[2:4], b=torch.arange(7), h=torch.randn(9).to(torch.bfloat16)),
           "p": torch.nn.Parameter(torch.randn(3)), "meta": {"shape": torch.Size([2, 3]), "n": 4}}
    torch.save(obj, tmp_path / "x.pt")
    got = read_torch_file(tmp_path / "x.pt")
    assert got["meta"] == {"shape": (2, 3), "n": 4}
    assert got["sd"]["w"].shape == (2, 5) and got["sd"]["w"].storage_offset == 10
    np.testing.assert_array_equal(_values(got["sd"]["w"]).reshape(2, 5), big[2:4].numpy())
    np.testing.assert_array_equal(_values(got["sd"]["b"]), np.arange(7))
    np.testing.assert_array_equal(_values(got["sd"]["h"]), obj["sd"]["h"].float().numpy())
    np.testing.assert_array_equal(_values(got["p"]), obj["p"].detach().numpy())


def test_corrupt_torch_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "broken.pt"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CheckpointFileError, match="broken.pt"):
        read_torch_file(path)


def test_bf16_rounding_matches_torch() -> None:
    special = torch.tensor([0.0, -0.0, float("inf"), -float("inf"), float("nan"), 1e-40, -1e-40, 3.4e38, 1.00390625,
                            1.01171875, -2.5e-39])
    x = torch.cat([special, torch.randn(10000) * 1e3, torch.randn(10000) * 1e-30])
    ours = float32_to_bf16(x.numpy())
    theirs = x.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    nan = np.isnan(x.numpy())
    np.testing.assert_array_equal(ours[~nan], theirs[~nan])  # NaN payloads differ between torch kernels
    assert np.isnan(torch.from_numpy(ours.view(np.int16)).view(torch.bfloat16).float().numpy()[nan]).all()


def test_staged_dir_failure_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with staged_dir(out) as tmp:
            (tmp / "half").write_text("x")
            raise RuntimeError("boom")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_staged_dir_killed_writer_leaves_no_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    script = ("import sys, time; from olmo3hpc.tools.staging import staged_dir\n"
              "with staged_dir(sys.argv[1]) as tmp:\n"
              "    (tmp / 'model-00001-of-00002.safetensors').write_text('x'); print('ready', flush=True)\n"
              "    time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(out)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not out.exists()


def test_staged_dir_overwrite_is_explicit(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OutputExistsError):
        with staged_dir(out):
            pass
    with staged_dir(out, overwrite=True) as tmp:
        (tmp / "new").write_text("y")
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and (out / "new").is_file()
