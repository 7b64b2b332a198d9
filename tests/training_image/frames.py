"""Real data for the training tests: pip-shipped datasets and frames built with a known signal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def iris() -> pd.DataFrame:
    """Iris with the species names as a string target."""
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame = bunch.frame.copy()
    frame["species"] = frame.pop("target").map(dict(enumerate(bunch.target_names)))
    return frame


def breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).frame


def diabetes() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True, scaled=False).frame


def wine() -> pd.DataFrame:
    from sklearn.datasets import load_wine

    return load_wine(as_frame=True).frame


def penguins_csv() -> Path:
    """The penguins.csv file shipped inside the palmerpenguins package (NA for missing)."""
    import palmerpenguins

    return Path(palmerpenguins.__file__).parent / "data" / "penguins.csv"


def mixed(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Numbers with gaps, categories, dates, free text, an ID and a constant column.

    The target `churn` ("yes"/"no") depends on the amount, the plan, the signup month and
    words in the comment, so each kind of column carries signal.
    """
    rng = np.random.default_rng(seed)
    amount = rng.gamma(2.0, 50.0, n)
    plan = rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2])
    signup = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 730, n), unit="D")
    unhappy = rng.random(n) < 0.4
    happy_words = ["great service and friendly staff", "love the product, works well"]
    sad_words = ["terrible support, very slow refund", "cancel soon, billing problems again"]
    comment = np.where(unhappy, rng.choice(sad_words, n), rng.choice(happy_words, n)).astype(object)
    comment = np.array(
        [f"{c} (ticket {i})" for i, c in enumerate(comment)], dtype=object
    )  # unique texts
    logit = (
        0.012 * (amount - 100)
        + np.where(plan == "basic", 0.8, -0.6)
        + np.where(signup.month >= 10, 0.7, 0.0)
        + np.where(unhappy, 1.8, -1.2)
    )
    churn = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{100000 + i}" for i in range(n)],
            "amount": amount.round(2),
            "plan": plan,
            "signup_date": signup.strftime("%Y-%m-%d"),
            "comment": comment,
            "country": "NL",
            "amount_copy": amount.round(2),
            "churn": churn,
        }
    )
    frame.loc[rng.random(n) < 0.1, "amount"] = np.nan
    frame.loc[rng.random(n) < 0.05, "plan"] = np.nan
    frame["amount_copy"] = frame["amount"]
    return frame
