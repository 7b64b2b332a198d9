"""portable.dumps: model.pkl carries the code of this package's classes, dependencies first."""

from __future__ import annotations

import pickle

from sklearn.linear_model import LinearRegression

from training_image import portable
from training_image.features import FeatureSpec
from training_image.preprocess import RawFramePreparer


def test_it_ships_the_modules_the_model_uses_and_their_imports_first():
    preparer = RawFramePreparer(features=(FeatureSpec("x", "numeric", "numeric", ("f0_x",)),))
    blob, modules = portable.pickled(preparer)
    assert modules == {"training_image.preprocess", "training_image.features"}
    sources = portable.shipped_sources(modules)
    order = list(sources)
    assert order.index("training_image.detection") < order.index("training_image.features")
    assert order.index("training_image.features") < order.index("training_image.preprocess")
    assert "training_image.data" not in sources  # imported only for type checking


def test_a_model_of_library_classes_only_stays_a_plain_pickle():
    model = LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    assert portable.dumps(model) == portable.pickled(model)[0]


def test_in_this_project_it_loads_with_the_real_modules():
    preparer = RawFramePreparer(features=(FeatureSpec("x", "numeric", "numeric", ("f0_x",)),))
    loaded = pickle.loads(portable.dumps(preparer))
    assert type(loaded) is RawFramePreparer
