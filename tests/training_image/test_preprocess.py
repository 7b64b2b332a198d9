"""Preprocessing estimators: the plan, raw rows -> inputs, the encoder, label decoding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from tests.training_image import frames
from training_image.data import profile_frame
from training_image.preprocess import (
    MISSING_TOKEN,
    DecodedClassifier,
    NaNIndicator,
    RawFramePreparer,
    ToFloat32,
    WordCount,
    build_encoder,
    encoded_sources,
    plan_features,
)


@parametrize_with_checks([NaNIndicator(), ToFloat32(), DecodedClassifier(LogisticRegression())])
def test_it_follows_the_sklearn_estimator_contract(estimator, check):
    check(estimator)


def _plan(df: pd.DataFrame, target: str, excluded=()):
    return plan_features(df, target, profile_frame(df), excluded)


def test_it_drops_ids_constants_duplicates_and_exclusions_with_reasons():
    df = frames.mixed()

    plan = _plan(df, "churn", excluded=["comment"])

    reasons = {d["column"]: d["reason"] for d in plan.dropped}
    assert reasons["customer_id"].startswith("identifier")
    assert reasons["country"].startswith("constant")
    assert reasons["amount_copy"] == "duplicate: identical to column 'amount'"
    assert reasons["comment"] == "excluded when the job was set up"
    assert plan.columns == ["amount", "plan", "signup_date"]
    encodings = {f.column: f.encoding for f in plan.features}
    assert encodings == {"amount": "numeric", "plan": "onehot", "signup_date": "datetime"}


def test_it_encodes_many_categories_as_frequency_ranked_codes():
    rng = np.random.default_rng(1)
    cities = [f"city{i:02d}" for i in range(40)]
    df = pd.DataFrame({"city": rng.choice(cities, 600, p=np.arange(40, 0, -1) / 820), "y": 1.0})
    df.loc[:5, "y"] = 2.0
    plan = _plan(df, "y")
    preparer = RawFramePreparer(plan.features).fit(df)
    prepared = preparer.transform(df)
    encoder = build_encoder(plan.features, prepared).fit(prepared)

    codes = encoder.transform(preparer.transform(pd.DataFrame({"city": ["city00", "nowhere"]})))

    assert plan.features[0].encoding == "ordinal"
    most_frequent = df["city"].value_counts().index[0]
    assert encoder.transform(preparer.transform(pd.DataFrame({"city": [most_frequent]})))[0, 0] == 0
    assert codes[1, 0] == -1  # an unseen city gets the explicit unknown code
    assert codes.shape == (2, 1)


def test_it_turns_raw_rows_into_typed_inputs():
    df = frames.mixed()
    plan = _plan(df, "churn")
    preparer = RawFramePreparer(plan.features).fit(df)
    raw = pd.DataFrame(
        {
            "amount": ["12.5", None],
            "plan": ["pro", None],
            "signup_date": ["2021-03-04", "not a date"],
            "comment": ["Terrible SUPPORT", None],
        }
    )

    prepared = preparer.transform(raw)

    assert prepared["f1_amount"].tolist()[0] == 12.5 and np.isnan(prepared["f1_amount"][1])
    assert prepared["f2_plan"].tolist() == ["pro", MISSING_TOKEN]
    date = prepared.filter(like="signup_date").iloc[0].to_dict()
    assert date == {
        "f3_signup_date__year": 2021.0,
        "f3_signup_date__month": 3.0,
        "f3_signup_date__day": 4.0,
        "f3_signup_date__dayofweek": 3.0,  # a Thursday
        "f3_signup_date__dayofyear": 63.0,
        "f3_signup_date__epoch_days": 18690.0,
    }
    assert prepared.filter(like="signup_date").iloc[1].isna().all()
    assert prepared["f4_comment"].tolist() == ["terrible support", ""]


def test_it_names_the_columns_a_row_lacks():
    df = frames.mixed()
    plan = _plan(df, "churn")
    preparer = RawFramePreparer(plan.features).fit(df)

    with pytest.raises(ValueError, match="lack 2 feature column.*'plan', 'comment'"):
        preparer.transform(df.drop(columns=["plan", "comment"]))


def test_it_adds_missing_flags_and_maps_features_back_to_columns():
    df = frames.mixed()
    plan = _plan(df, "churn")
    prepared = RawFramePreparer(plan.features).fit(df).transform(df)
    encoder = build_encoder(plan.features, prepared).fit(prepared)

    sources = encoded_sources(encoder, plan.features)
    matrix = encoder.transform(prepared)

    assert len(sources) == matrix.shape[1]
    assert sources.count("amount") == 2  # the value and its missing flag
    assert sources.count("plan") == 4  # basic, plus, pro and the missing category
    assert sources.count("signup_date") == 6
    assert sources.count("comment") >= 5  # one slot per frequent word
    flag = matrix[:, len(sources) - 1 - sources[::-1].index("amount")]  # its second slot
    assert np.array_equal(flag == 1.0, df["amount"].isna().to_numpy())


def test_it_returns_the_original_labels():
    X = np.array([[0.0], [0.1], [0.9], [1.0], [0.2], [0.8]])
    y = np.array(["no", "no", "yes", "yes", "no", "yes"], dtype=object)

    model = DecodedClassifier(LogisticRegression()).fit(X, y)

    assert model.classes_.tolist() == ["no", "yes"]
    assert model.predict(np.array([[0.05], [0.95]])).tolist() == ["no", "yes"]
    assert model.estimator_.classes_.tolist() == [0, 1]


def test_it_weights_the_words_of_free_text_by_their_rarity():
    df = frames.mixed()
    plan = _plan(df, "churn")
    prepared = RawFramePreparer(plan.features).fit(df).transform(df)
    encoder = build_encoder(plan.features, prepared).fit(prepared)
    (text,) = [t for name, t, _ in encoder.transformers_ if name.startswith("text_")]
    words = text.get_feature_names_out()
    comments = prepared[[f.inputs[0] for f in plan.features if f.column == "comment"][0]]

    weights = text.transform(comments).toarray()

    tokens = [set(text.build_analyzer()(c)) for c in comments]
    present = np.array([[w in found for w in words] for found in tokens])
    assert np.array_equal(weights > 0, present)  # a word absent from a row weighs 0
    share = present.mean(axis=0)
    rare, common = np.argmin(share), np.argmax(share)
    row_rare, row_common = np.argmax(present[:, rare]), np.argmax(present[:, common])
    assert weights[row_rare, rare] > weights[row_common, common] > 0


def test_free_text_also_gives_its_word_count_as_tf_idf_splits_words():
    df = frames.mixed()
    plan = _plan(df, "churn")
    prepared = RawFramePreparer(plan.features).fit(df).transform(df)
    encoder = build_encoder(plan.features, prepared).fit(prepared)
    parts = dict((name, t) for name, t, _ in encoder.transformers_)
    (text_name,) = [n for n in parts if n.startswith("text_")]
    analyzer = parts[text_name].build_analyzer()
    (comment,) = [f.inputs[0] for f in plan.features if f.column == "comment"]

    counts = parts[f"words_{comment}"].transform(prepared[comment]).ravel()

    assert counts.tolist() == [len(analyzer(text)) for text in prepared[comment]]
    assert counts.max() > counts.min()  # the texts differ in length
    sources = encoded_sources(encoder, plan.features)
    assert sources.count("comment") == len(parts[text_name].vocabulary_) + 1


def test_a_word_is_two_letters_or_digits_and_missing_text_has_none():
    texts = ["", "a", "Mr. Owen Harris", "né 1912, x2", "   "]

    counts = WordCount().fit(texts).transform(texts).ravel()

    assert counts.tolist() == [0, 0, 3, 2, 0]
