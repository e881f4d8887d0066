import io
import time

import pytest

from olmo3hpc.config import MetaConfig, SFTRun, TrainConfig
from olmo3hpc.engine.metrics import MetricsLogger, read_metrics


def _run(tmp_path, **meta):
    return SFTRun(meta=MetaConfig(name="m", output_root=str(tmp_path), **meta), train=TrainConfig(log_every=2))


def test_jsonl_is_appended_across_restarts_and_console_shows_progress(tmp_path):
    out = io.StringIO()
    log = MetricsLogger(_run(tmp_path), total_steps=4, stream=out)
    log.log(1, {"loss": 2.5, "lr": 1e-3, "tokens": 100})
    log.log(2, {"loss": 2.0, "lr": 1e-3, "tokens": 100})
    log.close()
    again = MetricsLogger(_run(tmp_path), total_steps=4, stream=out)  # a requeued job
    again.log(3, {"loss": 1.5, "lr": 5e-4, "tokens": 100})
    again.close()
    records = read_metrics(tmp_path / "m")
    assert [r["step"] for r in records] == [1, 2, 3]
    assert all(isinstance(r["time"], float) and r["tokens_per_s"] > 0 for r in records)
    line = out.getvalue().splitlines()[0]
    assert line.startswith("step 2/4") and "loss 2.0000" in line and "lr 1.000e-03" in line
    assert "tok/s" in line and "ETA" in line
    assert len(out.getvalue().splitlines()) == 1  # log_every 2: step 3 printed nothing


def test_first_step_rate_and_eval_records(tmp_path):
    """Step 1 is timed from the logger's start (not ~0 s); an eval record prints no progress line."""
    out = io.StringIO()
    log = MetricsLogger(_run(tmp_path), total_steps=2, stream=out)
    time.sleep(0.05)
    log.log(1, {"loss": 2.0, "tokens": 100})
    log.log(2, {"loss": 1.0, "tokens": 100})
    log.log(2, {"eval/loss": 0.5}, progress=False)
    log.close()
    first, second, evaluation = read_metrics(tmp_path / "m")
    assert 0 < first["tokens_per_s"] <= 100 / 0.05
    assert "tokens_per_s" not in evaluation and evaluation["eval/loss"] == 0.5
    assert [line.split(" |")[0] for line in out.getvalue().splitlines()] == ["step 2/2"]


def test_wandb_project_without_wandb_installed_is_a_clear_error(tmp_path):
    pytest.importorskip("olmo3hpc")
    try:
        import wandb  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match="meta.wandb_project"):
            MetricsLogger(_run(tmp_path, wandb_project="p"), total_steps=1)
    else:
        pytest.skip("wandb is installed; the offline W&B path needs credentials or WANDB_MODE=offline")
