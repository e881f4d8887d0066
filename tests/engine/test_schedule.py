import pytest

from olmo3hpc.config import OptimConfig
from olmo3hpc.engine.schedule import lr_at


def test_linear_warmup_then_linear_decay_to_zero():
    o = OptimConfig(lr=1e-3, warmup_steps=4, schedule="linear")
    lrs = [lr_at(o, s, 14) for s in range(14)]
    assert lrs[:4] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3])
    assert lrs[4] == pytest.approx(1e-3)
    assert all(a > b for a, b in zip(lrs[4:], lrs[5:]))
    assert lr_at(o, 14, 14) == pytest.approx(0.0)
    assert lrs[9] == pytest.approx(5e-4)


def test_warmup_ratio_and_final_ratio():
    o = OptimConfig(lr=1.0 - 1e-9, warmup_ratio=0.1, final_lr_ratio=0.1)
    assert o.warmup_for(100) == 10
    assert lr_at(o, 0, 100) == pytest.approx(0.1, rel=1e-6)
    assert lr_at(o, 100, 100) == pytest.approx(0.1, rel=1e-6)


def test_cosine_and_constant():
    cos = OptimConfig(lr=0.5, warmup_steps=0, warmup_ratio=0.0, schedule="cosine")
    assert lr_at(cos, 0, 10) == pytest.approx(0.5)
    assert lr_at(cos, 5, 10) == pytest.approx(0.25)
    assert lr_at(cos, 10, 10) == pytest.approx(0.0)
    const = OptimConfig(lr=0.5, warmup_steps=2, schedule="constant")
    assert [lr_at(const, s, 10) for s in (0, 1, 2, 9)] == pytest.approx([0.25, 0.5, 0.5, 0.5])
