"""`pyg_negdiff.train.EarlyStopping`: the model-selection rule the trainer follows."""

import math

from pyg_negdiff.checkpoint import initial_loop
from pyg_negdiff.train import EarlyStopping


def test_a_tie_is_not_an_improvement_and_patience_counts_bad_evaluations():
    stop = EarlyStopping(patience=2)
    assert stop.update(0, {"m": 0.3}, 0.3)
    assert not stop.update(1, {"m": 0.3}, 0.3)  # equal: not better
    assert not stop.stopped_early and stop.bad_evals == 1
    assert not stop.update(2, {"m": 0.1}, 0.1)
    assert stop.stopped_early and (stop.best_epoch, stop.best_val) == (0, {"m": 0.3})


def test_an_improvement_resets_the_count():
    stop = EarlyStopping(patience=2)
    stop.update(0, {}, 0.1), stop.update(1, {}, 0.0), stop.update(2, {}, 0.2)
    assert (stop.bad_evals, stop.best_epoch, stop.stopped_early) == (0, 2, False)


def test_without_patience_it_never_stops():
    stop = EarlyStopping(patience=None)
    for epoch in range(50):
        stop.update(epoch, {}, -epoch)
    assert not stop.stopped_early and stop.bad_evals == 49


def test_loop_state_round_trips_through_from_loop():
    fresh = EarlyStopping.from_loop(3, initial_loop())
    assert fresh.best_value == -math.inf and fresh.best_epoch == -1
    fresh.update(4, {"ndcg@20": 0.5}, 0.5)
    loop = fresh.loop_state(4, [])
    assert loop["epoch"] == 4 and set(loop) == set(initial_loop())
    again = EarlyStopping.from_loop(3, loop)
    assert again == fresh
