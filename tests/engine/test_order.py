import numpy as np
import pytest

from olmo3hpc.engine.order import TrainOrder


def test_each_epoch_is_a_seeded_permutation_addressable_by_step():
    order = TrainOrder(num_items=10, items_per_step=4, epochs=2, seed=3)
    assert order.total_steps == 5
    items = np.concatenate([order.step_items(s) for s in range(5)])
    assert sorted(items[:10]) == list(range(10)) and sorted(items[10:20]) == list(range(10))
    assert not np.array_equal(items[:10], items[10:20])
    again = TrainOrder(num_items=10, items_per_step=4, epochs=2, seed=3)
    assert np.array_equal(again.step_items(3), order.step_items(3))  # a resumed run sees the same batch
    assert order.epoch_at(5) == 2.0


def test_fractional_epochs_and_max_steps():
    assert TrainOrder(100, 10, 1.5, 0).total_steps == 15
    assert TrainOrder(100, 10, 2, 0, max_steps=7).total_steps == 7


def test_too_little_data_for_one_step_names_the_batch():
    with pytest.raises(ValueError, match="micro_batch_size x grad_accum x learners"):
        TrainOrder(3, 8, 1, 0)
