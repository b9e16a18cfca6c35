"""Lesson 4: the universal approximation theorem, and its catch: a fit inside the range only."""

from __future__ import annotations

from nncli.lessons.lesson import Figure, Idea, Lesson, Runs, Step, by_value, mean


def numbers(runs: Runs) -> dict:
    inside = runs.printed("inside")["metrics"]
    outside = runs.printed("outside")["metrics"]
    widths = by_value(runs.json("width/summary.json"), "model.width")
    mse = {w: mean(r, "test", "mse") for w, r in widths.items()}
    return {
        "inside_mse": inside["mse"],
        "inside_r2": inside["r2"],
        "outside_mse": outside["mse"],
        "outside_r2": outside["r2"],
        "widths": list(mse),
        "width_mse": list(mse.values()),
        "plateau": min(w for w, m in mse.items() if m < 1.5 * mse[max(mse)]),
        "mse_1": mse[min(mse)],
        "mse_32": mse[max(mse)],
    }


def claims(n: dict) -> list[tuple[bool, str]]:
    return [
        (n["outside_mse"] > 100 * n["inside_mse"], "outside the range MSE is 100 times worse"),
        (n["outside_r2"] < 0, "outside the range the fit is worse than the mean"),
        (n["mse_1"] > 5 * n["mse_32"], "width 1 fits far worse than width 32"),
    ]


EN = """\
The universal approximation theorem: one hidden layer with enough units can approximate any
continuous function on a bounded range as closely as you like. `configs/sine.yaml` fits
y = sin(x) + noise on [-π, π] with one layer of 32 tanh units:

[[run sine]]

The fit over the training range and as far again on each side:

[[figure sine-fit.png]]

Inside the grey band the curve follows the data; outside it each tanh unit levels off, and the
network continues in whatever direction its units last took, not the sine wave it never saw.
Measured on noise-free points (`data/sine_inside.csv`: x in [-π, π]; `data/sine_outside.csv`:
[-2π, -π] and [π, 2π]):

[[run inside]]

[[run outside]]

MSE {inside_mse:.4f} inside (R² {inside_r2:.4f}) against {outside_mse:.4f} outside
(R² {outside_r2:.2f}: worse than predicting the mean). That is the catch: the theorem promises a
fit on the range the network was trained on, nothing beyond it, and it does not say how many
units, how much data or how long training takes.

Wider fits better: a sweep of the hidden layer's width.

[[run width]]

Test MSE by width {widths}: {width_mse:.4f}. The noise has variance 0.05² = 0.0025, a floor no
width can beat. One unit is a single tanh step; a few more bend it into the wave; from width
{plateau} on the test MSE is within 1.5 times width 32's, and outside the range each width
guesses differently:

[[figure width-fits.png]]

[[figure width-mse.png]]
"""

KO = """\
보편 근사 정리: 유닛이 충분한 은닉층 하나로, 유계 구간 위의 어떤 연속 함수든 원하는 만큼 가깝게
근사할 수 있습니다. `configs/sine.yaml`은 tanh 유닛 32개짜리 층 하나로 [-π, π]에서 y = sin(x) +
잡음을 맞춥니다:

[[run sine]]

학습 구간과, 그 양쪽으로 같은 길이만큼 더 나간 곳까지의 근사:

[[figure sine-fit.png]]

회색 띠 안에서는 곡선이 데이터를 따라갑니다. 띠 밖에서는 tanh 유닛 하나하나가 평평해지고, 망은 보지
못한 사인파가 아니라 유닛들이 마지막으로 향하던 방향으로 이어 갑니다. 잡음 없는 점에서 잰 값
(`data/sine_inside.csv`: x가 [-π, π]; `data/sine_outside.csv`: [-2π, -π]와 [π, 2π]):

[[run inside]]

[[run outside]]

안쪽 MSE는 {inside_mse:.4f}(R² {inside_r2:.4f}), 바깥쪽은 {outside_mse:.4f}(R² {outside_r2:.2f}:
평균으로 예측하는 것보다 나쁨)입니다. 이것이 함정입니다. 정리가 약속하는 것은 학습한 구간 안의
근사뿐이고, 그 밖은 아무것도 약속하지 않습니다. 유닛이 몇 개, 데이터가 얼마나, 학습이 얼마나 오래
필요한지도 말해 주지 않습니다.

넓을수록 더 잘 맞습니다. 은닉층의 너비를 바꿔 가며:

[[run width]]

너비 {widths}의 테스트 MSE: {width_mse:.4f}. 잡음의 분산은 0.05² = 0.0025로, 어떤 너비도 넘을 수
없는 바닥입니다. 유닛 하나는 tanh 계단 하나일 뿐이고, 몇 개가 더 있으면 사인파 모양으로 휩니다.
너비 {plateau}부터는 테스트 MSE가 너비 32의 1.5배 안에 들고, 구간 밖에서는 너비마다 다르게
추측합니다:

[[figure width-fits.png]]

[[figure width-mse.png]]
"""

LESSON = Lesson(
    number=4,
    slug="approximation",
    title={
        "en": "universal approximation, and its catch",
        "ko": "보편 근사 정리와 그 한계",
    },
    steps=(
        Step("sine", "train {configs}/sine.yaml --out {out}", cost=4),
        Step(
            "inside",
            "evaluate {runs}/sine --data {data}/sine_inside.csv",
            after=("sine",),
            json=True,
        ),
        Step(
            "outside",
            "evaluate {runs}/sine --data {data}/sine_outside.csv",
            after=("sine",),
            json=True,
        ),
        Step(
            "width", "sweep {configs}/sine.yaml --vary model.width=1,2,4,8,32 --out {out}", cost=5
        ),
    ),
    figures=(
        Figure(
            "sine",
            "fit.png",
            "sine-fit.png",
            {"en": "The learned function beyond its range", "ko": "학습 구간 밖의 근사"},
        ),
        Figure("width", "fits.png", "width-fits.png", {"en": "Fits by width", "ko": "너비별 근사"}),
        Figure(
            "width",
            "metric_by_value.png",
            "width-mse.png",
            {"en": "Validation MSE by width", "ko": "너비별 검증 MSE"},
        ),
    ),
    numbers=numbers,
    claims=claims,
    text={"en": EN, "ko": KO},
    ideas=(
        Idea(
            {"en": "universal approximation", "ko": "보편 근사 정리"},
            {
                "en": "width 1 → 32: test MSE {mse_1:.4f} → {mse_32:.4f}; inside the range R²"
                " {inside_r2:.4f}",
                "ko": "너비 1 → 32: 테스트 MSE {mse_1:.4f} → {mse_32:.4f}; 구간 안 R²"
                " {inside_r2:.4f}",
            },
        ),
        Idea(
            {"en": "its limit: outside the training range", "ko": "그 한계: 학습 구간 밖"},
            {
                "en": "MSE {inside_mse:.4f} inside, {outside_mse:.4f} outside"
                " (R² {outside_r2:.2f})",
                "ko": "MSE 안쪽 {inside_mse:.4f}, 바깥쪽 {outside_mse:.4f} (R² {outside_r2:.2f})",
            },
        ),
    ),
)
