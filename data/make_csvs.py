"""Regenerate the CSVs in data/ from the copies scikit-learn ships (no download)."""

import csv
from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes, load_iris

HERE = Path(__file__).parent


def write(path: Path, header: list[str], rows) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


iris = load_iris()
write(
    HERE / "iris.csv",
    ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm", "species"],
    (
        [*(f"{v:g}" for v in x), iris.target_names[t]]
        for x, t in zip(iris.data, iris.target, strict=True)
    ),
)
# The same flowers with the Korean names the course notes' readers know: column names and class
# labels in Hangul, for figures, tables and report pages that must draw them.
KOREAN_SPECIES = {"setosa": "세토사", "versicolor": "버시컬러", "virginica": "버지니카"}
write(
    HERE / "iris_ko.csv",
    ["꽃받침_길이_cm", "꽃받침_너비_cm", "꽃잎_길이_cm", "꽃잎_너비_cm", "품종"],
    (
        [*(f"{v:g}" for v in x), KOREAN_SPECIES[iris.target_names[t]]]
        for x, t in zip(iris.data, iris.target, strict=True)
    ),
)
diabetes = load_diabetes(scaled=False)
write(
    HERE / "diabetes.csv",
    [*diabetes.feature_names, "progression"],
    (
        [*(f"{v:g}" for v in x), f"{t:g}"]
        for x, t in zip(diabetes.data, diabetes.target, strict=True)
    ),
)

# y = sin(x) without noise, inside the range `sine` trains on ([-pi, pi]) and outside it.
inside = np.linspace(-np.pi, np.pi, 101)
outside = np.concatenate([np.linspace(-2 * np.pi, -np.pi, 51), np.linspace(np.pi, 2 * np.pi, 51)])
for name, xs in (("sine_inside.csv", inside), ("sine_outside.csv", outside)):
    write(HERE / name, ["x", "y"], ([f"{x:.6f}", f"{np.sin(x):.6f}"] for x in xs))

# claims.csv: a made-up table shaped as practitioners' tables are (categories, booleans, blanks,
# "NA", an id column), for the README's example. The decision follows the amount, the region
# and the prior claims, with noise.
rng = np.random.default_rng(2026)
n = 600
region = rng.choice(["north", "south", "east", "west"], n)
channel = rng.choice(["online", "phone", "agent", ""], n, p=[0.5, 0.3, 0.15, 0.05])
amount = np.round(rng.lognormal(6, 0.8, n), 2)
prior = rng.poisson(1.0, n)
repeat = rng.random(n) < 0.3
risk = np.log(amount) / 2 + 0.6 * prior + (region == "east") + rng.normal(0, 0.2, n)
decision = np.select([risk < 3.6, risk < 4.6], ["approve", "review"], "reject")
amount_text = amount.astype(str).astype(object)
amount_text[rng.random(n) < 0.06] = "NA"
write(
    HERE / "claims.csv",
    ["claim_id", "region", "channel", "amount", "prior_claims", "repeat_customer", "decision"],
    (
        [f"C{i:04d}", region[i], channel[i], amount_text[i], prior[i], repeat[i], decision[i]]
        for i in range(n)
    ),
)

# transactions.csv: made up, and imbalanced on purpose: about 1 in 25 card transactions is
# fraud. Fraud is likelier for large amounts, at night and far from home, but overlaps the rest,
# so a model that never says "fraud" is already 96% accurate (docs/tutorial.md, lesson 6).
rng = np.random.default_rng(11)
n = 3000
amount = np.round(rng.lognormal(3.5, 1.0, n), 2)
hour = rng.integers(0, 24, n)
distance = np.round(rng.exponential(8.0, n), 1)
night = (hour < 6) | (hour >= 23)
score = 1.1 * np.log(amount) + 1.6 * night + 0.12 * distance + rng.normal(0, 1.0, n)
fraud = score > np.quantile(score, 0.96)
write(
    HERE / "transactions.csv",
    ["amount", "hour", "distance_km", "fraud"],
    (
        [f"{amount[i]:g}", hour[i], f"{distance[i]:g}", "yes" if fraud[i] else "no"]
        for i in range(n)
    ),
)

# square.csv: y = x² with no noise, x on [-3, -0.1] and [0.1, 3], so the smallest target is
# 0.01 and the largest 9: a network fits it with R² near 1, while MAPE, a percentage of each
# target, is ruled by the rows nearest zero (docs/tutorial.md, lesson 6).
rng = np.random.default_rng(7)
n = 400
x = np.round(rng.uniform(0.1, 3.0, n) * rng.choice([-1, 1], n), 4)
write(HERE / "square.csv", ["x", "y"], ([f"{v:.4f}", f"{v * v:.8g}"] for v in x))
