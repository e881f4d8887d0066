"""Group advantages, zero-std filtering and the no-resampling rule."""

from __future__ import annotations

import numpy as np
import pytest

from olmo3hpc.stages.rl.advantages import group_advantages, judge_group, should_exclude


def test_standard_and_centered_advantages():
    r = np.array([10.0, 0.0, 0.0, 10.0])
    assert group_advantages(r, "centered").tolist() == [5.0, -5.0, -5.0, 5.0]
    np.testing.assert_allclose(group_advantages(r, "standard"), [1.0, -1.0, -1.0, 1.0], atol=1e-8)
    np.testing.assert_allclose(group_advantages(np.array([3.0, 3.0]), "standard"), [0.0, 0.0])
    with pytest.raises(ValueError, match="advantage_normalization"):
        group_advantages(r, "median")  # type: ignore[arg-type]


def test_zero_std_groups_are_classified_and_filtered():
    assert judge_group(np.zeros(4), 10.0, True).kind == "all_zero"
    solved = judge_group(np.full(4, 10.0), 10.0, True)
    assert (solved.kind, solved.keep, solved.pass_rate) == ("all_solved", False, 1.0)
    assert judge_group(np.full(4, 5.0), 10.0, True).kind == "all_equal"
    assert judge_group(np.full(4, 5.0), 10.0, filter_zero_std=False).keep
    mixed = judge_group(np.array([10.0, 0.0, 10.0, 10.0]), 10.0, True)
    assert (mixed.kind, mixed.keep, mixed.pass_rate) == ("mixed", True, 0.75)


def test_no_resampling_threshold():
    assert should_exclude(0.875, 0.875) and not should_exclude(0.75, 0.875)
    assert not should_exclude(1.0, None)
