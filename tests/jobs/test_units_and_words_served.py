"""A model trained on numbers written with units, compact dates and many-valued names serves
the same predictions from raw request values as its pickle does from raw rows.

The used-car table writes `mileage` as "23.4 kmpl", `engine` as "1248 CC", `max_power` as
"74 bhp"; its `name` ("Maruti Swift Dzire VDI") has hundreds of values and is split into
words; a compact sale date (`20141013T000000`) rides along.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.exceptions import InvalidInput
from jobs import inference
from tests.jobs.trained import train
from tests.training_image.frames import house_sales, used_cars

pytestmark = pytest.mark.slow


def _cars() -> pd.DataFrame:
    cars = used_cars(n=700, seed=3)
    return cars.assign(listed=house_sales(n=700, seed=3)["date"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cars-model")
    return train(_cars(), "selling_price", out)


def test_the_card_records_units_formats_and_the_word_split(trained):
    card = trained.card
    features = {f["name"]: f for f in card["features"]}
    assert {c: features[c].get("unit") for c in ("mileage", "engine", "max_power", "torque")} == {
        "mileage": "kmpl",
        "engine": "CC",
        "max_power": "bhp",
        "torque": None,
    }
    assert features["engine"]["kind"] == "numeric" and features["engine"]["min"] >= 600
    assert features["listed"]["format"] == "%Y%m%dT%H%M%S"
    assert features["name"]["kind"] == "text"
    inputs = {i["column"]: i for i in card["onnx"]["inputs"]}
    assert inputs["mileage"]["unit"] == "kmpl" and inputs["mileage"]["dtype"] == "float"
    assert inputs["name"]["encoding"] == "text"
    assert "a `numeric` input with a `unit` also takes the number" in card["onnx"]["notes"]


def test_the_pickle_reads_numbers_with_or_without_their_unit_alike(trained):
    rows = _cars().drop(columns=["selling_price"]).head(40)
    bare = rows.assign(
        engine=rows["engine"].str.removesuffix(" CC").astype(float),
        max_power=rows["max_power"].str.removesuffix(" bhp"),
    )
    np.testing.assert_array_equal(trained.model.predict(rows), trained.model.predict(bare))


def test_the_server_feeds_the_onnx_graph_what_the_pickle_sees(trained):
    import onnxruntime as ort

    spec = inference.model_spec(trained.card)
    session = ort.InferenceSession(trained.onnx_model, providers=["CPUExecutionProvider"])
    # Raw cells as a CSV upload or a JSON request carries them: text, "?" and blanks included.
    rows = _cars().drop(columns=["selling_price"]).tail(60).reset_index(drop=True).astype(object)
    rows.loc[0, "mileage"] = "?"
    rows.loc[1, "engine"] = "1497cc"
    rows.loc[2, "max_power"] = 88.5
    rows.loc[3, "name"] = "Tesla Model 3 Long Range"  # words the model never saw
    rows.loc[4, "mileage"] = "26.6 km/kg"  # another unit: missing in the pickle
    expected = trained.model.predict(rows)
    served_rows = rows.drop(index=4)
    columns = {
        c: [None if v is None or v != v else v for v in served_rows[c].tolist()]
        for c in spec.feature_columns
    }
    feeds = inference.build_column_inputs(spec, columns, len(served_rows))
    got = session.run(None, feeds)[0].ravel()
    np.testing.assert_allclose(got, np.delete(expected, 4), rtol=1e-5)
    assert math.isfinite(float(expected[4]))
    with pytest.raises(InvalidInput, match="'26.6 km/kg' is not in kmpl"):
        inference.build_inputs(spec, rows.iloc[4].to_dict())


def test_the_playground_asks_for_a_number_in_the_unit(trained):
    from jobs.playground import playground_fields

    spec = inference.model_spec(trained.card)
    fields = {f["column"]: f for f in playground_fields(spec.features)}
    assert fields["engine"]["describe"].startswith("integer in CC, ")  # whole numbers of CC
    assert fields["mileage"]["describe"].startswith("number in kmpl, ")
    assert fields["year"]["describe"].startswith("integer, ")
    assert fields["listed"]["describe"] == "date, like 20240301T134500"
