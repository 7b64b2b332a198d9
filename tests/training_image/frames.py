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


# Used-car listings (after public used-car price tables): brand -> (price premium, models),
# model -> (log base price, engine cc, power bhp). Trims are per brand.
_CAR_BRANDS: dict[str, tuple[float, dict[str, tuple[float, int, float]]]] = {
    "Maruti": (
        0.0,
        {
            "Alto": (1.0, 796, 47.3),
            "Wagon R": (1.3, 998, 67.0),
            "Swift": (1.6, 1197, 81.8),
            "Swift Dzire": (1.7, 1248, 74.0),
            "Baleno": (1.8, 1197, 83.1),
            "Ertiga": (2.0, 1462, 103.3),
            "Vitara Brezza": (2.1, 1248, 88.5),
            "Ciaz": (2.1, 1462, 103.3),
        },
    ),
    "Hyundai": (
        0.1,
        {
            "Santro": (1.1, 1086, 68.0),
            "i10": (1.3, 1197, 80.0),
            "Grand i10": (1.5, 1197, 81.9),
            "i20": (1.8, 1197, 81.8),
            "Verna": (2.1, 1591, 121.3),
            "Creta": (2.4, 1582, 126.2),
            "Tucson": (2.9, 1999, 152.9),
        },
    ),
    "Mahindra": (
        0.05,
        {
            "KUV100": (1.5, 1198, 82.0),
            "Bolero": (1.9, 1493, 70.0),
            "Scorpio": (2.3, 2179, 120.0),
            "XUV500": (2.6, 2179, 140.0),
            "Thar": (2.4, 2184, 130.0),
        },
    ),
    "Tata": (
        -0.1,
        {
            "Nano": (0.5, 624, 37.5),
            "Tiago": (1.3, 1199, 84.0),
            "Indica": (0.9, 1396, 70.0),
            "Nexon": (2.1, 1198, 108.5),
            "Harrier": (2.7, 1956, 167.6),
        },
    ),
    "Honda": (
        0.15,
        {
            "Brio": (1.4, 1198, 86.8),
            "Amaze": (1.7, 1199, 88.7),
            "Jazz": (1.8, 1199, 88.7),
            "City": (2.1, 1497, 117.3),
            "WR-V": (2.0, 1199, 88.7),
            "Civic": (2.6, 1799, 139.5),
        },
    ),
    "Toyota": (
        0.25,
        {
            "Etios Liva": (1.4, 1197, 78.9),
            "Etios": (1.6, 1496, 88.8),
            "Innova": (2.4, 2494, 100.6),
            "Innova Crysta": (2.8, 2393, 147.5),
            "Corolla Altis": (2.6, 1798, 138.1),
            "Fortuner": (3.3, 2755, 174.5),
        },
    ),
    "Ford": (
        0.0,
        {
            "Figo": (1.3, 1196, 86.8),
            "Figo Aspire": (1.5, 1196, 86.8),
            "Freestyle": (1.7, 1194, 94.7),
            "EcoSport": (2.0, 1498, 98.6),
            "Endeavour": (3.2, 2198, 158.0),
        },
    ),
    "Renault": (
        -0.05,
        {"KWID": (1.0, 799, 53.3), "Duster": (2.0, 1461, 108.5), "Triber": (1.6, 999, 71.0)},
    ),
    "Volkswagen": (
        0.1,
        {"Polo": (1.7, 1199, 74.0), "Vento": (2.0, 1598, 103.6), "Ameo": (1.6, 1198, 73.8)},
    ),
    "Chevrolet": (
        -0.25,
        {
            "Beat": (1.0, 1199, 76.8),
            "Spark": (0.8, 995, 62.0),
            "Cruze": (2.1, 1998, 163.7),
            "Enjoy": (1.5, 1399, 98.6),
        },
    ),
    "Skoda": (
        0.2,
        {"Rapid": (1.9, 1598, 103.5), "Octavia": (2.6, 1798, 177.5), "Superb": (3.0, 1798, 157.7)},
    ),
    "Nissan": (
        -0.05,
        {"Micra": (1.3, 1198, 74.0), "Sunny": (1.7, 1498, 97.7), "Terrano": (2.0, 1461, 108.5)},
    ),
    "Kia": (0.3, {"Seltos": (2.6, 1497, 113.4), "Sonet": (2.2, 1197, 81.8)}),
    "MG": (0.3, {"Hector": (2.7, 1451, 141.0)}),
    "Jeep": (0.35, {"Compass": (3.0, 1368, 160.8)}),
    "BMW": (
        0.6,
        {"3 Series": (3.4, 1995, 190.0), "5 Series": (3.8, 1995, 190.0), "X1": (3.5, 1995, 187.7)},
    ),
    "Mercedes-Benz": (
        0.65,
        {
            "A Class": (3.2, 1461, 107.0),
            "C-Class": (3.6, 2143, 170.0),
            "E-Class": (3.9, 2143, 201.1),
            "GLA": (3.5, 2143, 134.1),
        },
    ),
    "Audi": (0.55, {"A4": (3.5, 1968, 174.3), "A6": (3.8, 1968, 187.7), "Q3": (3.5, 1968, 174.3)}),
    "Datsun": (-0.3, {"GO": (0.8, 1198, 67.0), "redi-GO": (0.6, 799, 53.6)}),
    "Fiat": (-0.2, {"Punto": (1.1, 1248, 75.0), "Linea": (1.4, 1248, 91.7)}),
}
_CAR_TRIMS = {
    "Maruti": ["LXI", "VXI", "ZXI", "LDI", "VDI", "ZDI", "ZXI Plus"],
    "Hyundai": ["Era", "Magna", "Sportz", "Asta", "Asta Option", "CRDi SX", "SX Option"],
    "Mahindra": ["M2DI", "SLE", "S4", "S6", "S10", "W8", "W10"],
    "Tata": ["XE", "XM", "XT", "XZ", "XZ Plus", "GLE", "LX"],
    "Honda": ["E", "S", "SV", "V", "VX", "ZX", "i-DTEC S"],
    "Toyota": ["G", "GD", "V", "VX", "ZX", "2.8 4x2", "2.8 4x4"],
    "BMW": ["sDrive20d", "320d", "520d", "Sport Line", "Luxury Line", "M Sport", "GT"],
    "Mercedes-Benz": ["A180", "C220 CDI", "E250 CDI", "Avantgarde", "Elegance", "AMG Line"],
    "Audi": ["1.8 TFSI", "2.0 TDI", "Premium", "Premium Plus", "Technology", "Quattro"],
}
_TRIMS_DEFAULT = ["Base", "Ambiente", "Trend", "Titanium", "Titanium Plus", "RXE", "RXL"]
_CAR_SUFFIXES = ["", "", "", "AT", "BSIV", "Dual Tone", "Option", "AMT", "Sport", "BSIII"]
_SUFFIX_EFFECT = {"AT": 0.12, "AMT": 0.06, "Option": 0.08, "Sport": 0.05, "BSIII": -0.12}


def used_cars(n: int = 8000, seed: int = 0) -> pd.DataFrame:
    """Used-car listings with numbers stored as text with units and a many-valued name.

    `selling_price` (right-skewed) depends on the brand, model and trim (only in `name`, e.g.
    "Maruti Swift Dzire VDI": ~2,000 distinct names, most seen a few times), the year, the
    kilometres, and the engine and power, which are written `"1248 CC"` and `"74 bhp"`;
    `mileage` is `"23.4 kmpl"` (`"26.6 km/kg"` for the few gas cars), `torque` is messy text.
    """
    rng = np.random.default_rng(seed)
    catalogue = []
    for brand, (premium, models) in _CAR_BRANDS.items():
        trims = _CAR_TRIMS.get(brand, _TRIMS_DEFAULT)
        for model, (base, cc, bhp) in models.items():
            for rank, trim in enumerate(trims):
                for suffix in dict.fromkeys(_CAR_SUFFIXES):
                    catalogue.append((brand, premium, model, base, cc, bhp, rank, trim, suffix))
    # Listings follow a long tail: a few variants are common, most are rare.
    weights = 1.0 / np.arange(1, len(catalogue) + 1) ** 0.9
    order = rng.permutation(len(catalogue))
    picks = order[rng.choice(len(catalogue), n, p=weights / weights.sum())]
    rows = []
    for i in picks:
        brand, premium, model, base, cc, bhp, rank, trim, suffix = catalogue[i]
        fuel = rng.choice(["Diesel", "Petrol", "CNG", "LPG"], p=[0.54, 0.447, 0.008, 0.005])
        diesel = fuel == "Diesel"
        engine = int(cc * (1.15 if diesel and cc < 1400 else 1.0) + rng.integers(-3, 4))
        power = round(bhp * (0.92 if diesel else 1.0) * rng.uniform(0.97, 1.03), 1)
        year = int(np.clip(rng.normal(2014.5, 3.5), 1995, 2020))
        km = int(rng.gamma(2.2, 30_000) * (2021 - year) / 6 + 1000)
        economy = 990 / engine**0.55 * (1.2 if diesel else 1.0) * rng.uniform(0.9, 1.1)
        gas = fuel in ("CNG", "LPG")
        mileage = f"{economy * 1.35:.2f} km/kg" if gas else f"{economy:.1f} kmpl"
        nm = int(power * rng.uniform(1.3, 2.4))
        torque = (
            f"{nm}Nm@ {int(rng.integers(15, 45)) * 100}rpm"
            if rng.random() < 0.7
            else f"{nm / 9.8:.1f} kgm at {int(rng.integers(15, 30)) * 100}-"
            f"{int(rng.integers(30, 45)) * 100}rpm"
        )
        transmission = "Automatic" if suffix in ("AT", "AMT") or rng.random() < 0.08 else "Manual"
        log_price = (
            base
            + premium
            + 0.07 * rank
            + _SUFFIX_EFFECT.get(suffix, 0.0)
            + 0.11 * (year - 2014)
            - 0.12 * np.log(km / 50_000)
            + 0.0035 * (power - bhp)
            + (0.1 if diesel else 0.0)
            + (0.08 if transmission == "Automatic" else 0.0)
            + rng.normal(0, 0.12)
        )
        rows.append(
            {
                "name": " ".join(p for p in (brand, model, trim, suffix) if p),
                "year": year,
                "km_driven": km,
                "fuel": fuel,
                "seller_type": rng.choice(
                    ["Individual", "Dealer", "Trustmark Dealer"], p=[0.83, 0.14, 0.03]
                ),
                "transmission": transmission,
                "owner": rng.choice(
                    ["First Owner", "Second Owner", "Third Owner", "Fourth & Above Owner"],
                    p=[0.65, 0.25, 0.07, 0.03],
                ),
                "mileage": mileage,
                "engine": f"{engine} CC",
                "max_power": f"{power:g} bhp",
                "torque": torque,
                "seats": 7 if model in ("Ertiga", "Innova", "Innova Crysta", "XUV500") else 5,
                "selling_price": int(round(np.exp(log_price) * 1e5, -3)),
            }
        )
    frame = pd.DataFrame(rows)
    for column in ("mileage", "engine", "max_power", "torque"):
        frame.loc[rng.random(n) < 0.03, column] = np.nan  # listings without the spec sheet
    return frame


def house_sales(n: int = 6000, seed: int = 0) -> pd.DataFrame:
    """House sales with a compact sale date (`20141013T000000`) and a zip code.

    `price` rises through the sale period (about 2 % a month) and with the size, grade and
    location; the date carries that trend only when it is read as a date.
    """
    rng = np.random.default_rng(seed)
    sold = pd.Timestamp("2014-05-02") + pd.to_timedelta(rng.integers(0, 390, n), unit="D")
    zipcodes = rng.choice(np.arange(98001, 98200, 3), n)
    zip_effect = {z: e for z, e in zip(np.unique(zipcodes), rng.normal(0, 0.25, 200), strict=False)}
    sqft = rng.gamma(8.0, 260.0, n).round(-1) + 400
    grade = np.clip(np.round(rng.normal(7.5, 1.1, n)), 3, 13).astype(int)
    months = (sold - pd.Timestamp("2014-05-01")).days / 30.4
    log_price = (
        12.2
        + 0.55 * np.log(sqft / 2000)
        + 0.18 * (grade - 7.5)
        + np.array([zip_effect[z] for z in zipcodes])
        + 0.02 * months
        + rng.normal(0, 0.1, n)
    )
    return pd.DataFrame(
        {
            "date": sold.strftime("%Y%m%dT000000"),
            "bedrooms": np.clip(np.round(sqft / 700 + rng.normal(0, 0.8, n)), 1, 9).astype(int),
            "sqft_living": sqft.astype(int),
            "grade": grade,
            "zipcode": zipcodes,
            "yr_built": rng.integers(1900, 2015, n),
            "price": np.round(np.exp(log_price), -2),
        }
    )
