"""The leakage check keeps to the time it is given."""

from __future__ import annotations

import numpy as np

from tests.training_image import frames
from tests.training_image.test_budget import FakeClock
from training_image import evaluate


def test_it_checks_columns_most_important_first_until_its_deadline():
    df = frames.breast_cancer()
    X = df.drop(columns=["target"]).to_numpy(dtype=np.float32)
    y = df["target"].to_numpy()
    sources = list(df.columns[:-1])
    clock = FakeClock()

    def check(deadline):
        return evaluate.leakage_warnings(
            X, y, sources, problem_type="binary", seed=0, deadline=deadline, clock=clock
        )

    everything = check(None)
    clock.now, clock.step = 100.0, 1.0  # each column takes a second
    some = check(103.5)
    clock.now = 200.0
    none = check(150.0)  # past its deadline before it starts

    assert (everything.checked, everything.columns) == (len(sources), len(sources))
    # The first few whatever the time, then one a second until 3.5 s have passed.
    assert (some.checked, some.columns) == (evaluate.LEAKAGE_MIN_COLUMNS + 4, len(sources))
    # The most important columns are checked whatever the time: a leak shows there first.
    assert none.checked == evaluate.LEAKAGE_MIN_COLUMNS
