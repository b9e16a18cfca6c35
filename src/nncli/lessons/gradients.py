"""Lesson 2: activation functions, feed-forward and back-propagation, and the vanishing gradient."""

from __future__ import annotations

import itertools
import math

from nncli.lessons.lesson import Figure, Idea, Lesson, Runs, Step, mean

DEPTHS = [1, 2, 4, 6, 8]


def numbers(runs: Runs) -> dict:
    results = {r["activation"]: r for r in runs.json("activations/summary.json")["results"]}
    norms = {name: r["grad_norms"] for name, r in results.items()}
    sigmoid_norms = norms["sigmoid"]
    deep = runs.json("depth/summary.json")["results"]
    by = {(r["values"]["model.activation"], r["values"]["model.depth"]): r for r in deep}
    sigmoid = [by["sigmoid", d]["grad_ratio"]["mean"] for d in DEPTHS]
    relu = [by["relu", d]["grad_ratio"]["mean"] for d in DEPTHS]
    return {
        **{f"ratio_{name}": r["grad_ratio"]["mean"] for name, r in results.items()},
        **{f"accuracy_{name}": mean(r, "test", "accuracy") for name, r in results.items()},
        "sigmoid_learned": results["sigmoid"]["learned"],
        "sigmoid_saturated": results["sigmoid"]["saturated_fraction"]["mean"],
        "step_frozen": len(results["step"]["frozen_layers"]),
        "layers": len(sigmoid_norms),
        "per_layer": (sigmoid_norms[-1] / sigmoid_norms[0]) ** (1 / (len(sigmoid_norms) - 1)),
        "span_tanh": max(norms["tanh"]) / min(norms["tanh"]),
        "span_relu": max(norms["relu"]) / min(norms["relu"]),
        "depths": DEPTHS,
        "sigmoid_by_depth": sigmoid,
        "relu_by_depth": relu,
        "sigmoid_fall": sigmoid[0] / sigmoid[-1],
        "per_depth": (sigmoid[0] / sigmoid[-1]) ** (1 / (DEPTHS[-1] - DEPTHS[0])),
        "relu_fall": relu[0] / relu[-1],
        "relu_learned": sum(by["relu", d]["learned"] for d in DEPTHS),
        "sigmoid_peak_power": 0.25**6,
    }


def claims(n: dict) -> list[tuple[bool, str]]:
    sigmoid = n["sigmoid_by_depth"]
    return [
        (n["ratio_sigmoid"] < 1e-3, f"sigmoid's ratio {n['ratio_sigmoid']:.1e} below 1e-3"),
        (min(n["ratio_relu"], n["ratio_tanh"]) > 1e-2, "tanh's and relu's ratios above 1e-2"),
        (n["sigmoid_learned"] == 0, "the deep sigmoid network does not learn"),
        (n["step_frozen"] == 6, "every hidden layer below a step gets no gradient"),
        (all(a > b for a, b in itertools.pairwise(sigmoid)), f"sigmoid's ratio falls: {sigmoid}"),
        (n["relu_by_depth"][-1] > 100 * sigmoid[-1], "relu keeps 100 times sigmoid's at depth 8"),
        (n["relu_learned"] == len(DEPTHS), "every relu depth learns"),
        (math.isfinite(n["per_layer"]), "sigmoid's gradient norms are finite"),
    ]


EN = """\
Each layer computes a weighted sum of the layer before and passes it through its activation
function: step, sigmoid, tanh or ReLU (`model.activation`). Computing the output this way, layer
by layer from the inputs, is the feed-forward pass. Back-propagation goes the other way: from the
loss at the output, the chain rule gives each layer's gradient from the one above it, multiplied
by the derivative of that layer's activation. Sigmoid's derivative is at most 0.25 (at 0, and far
less elsewhere), so each sigmoid layer shrinks the gradient by 4 or more on its way back, and six
of them by at least 4⁶ ≈ 4,000 (0.25⁶ = {sigmoid_peak_power:.1e}), unless large weights make up
for it. `configs/deep_moons.yaml` has six hidden sigmoid layers; `compare-activations` trains it
with each activation (three seeds each) and measures, during the first epoch, each layer's
weight-gradient norm:

[[run activations]]

The column `grad first/out` is the first layer's gradient norm over the output layer's. For
sigmoid it is {ratio_sigmoid:.1e}: the first layer gets that fraction of the gradient the output
layer gets, its weights barely move, and the network stalls at test accuracy
{accuracy_sigmoid:.2f}, a coin toss on two balanced classes. Its `saturated` share is
{sigmoid_saturated:.2f}: no unit sits on the flat ends of the sigmoid, so the gradient vanishes
from the 0.25 ceiling alone, layer after layer. tanh ({ratio_tanh:.1e}) and ReLU
({ratio_relu:.1e}) keep gradients alive and reach {accuracy_tanh:.2f} and {accuracy_relu:.2f}.
The step function's derivative is zero wherever it is defined, so back-propagation passes
nothing below the output: all {step_frozen} hidden layers get exactly no gradient
(`zero gradient` in the `learned` column) and only the output layer learns, on top of the
random features below it, which here is still enough for test accuracy {accuracy_step:.2f}.

Why, in one figure: each activation and its derivative (the red dotted line marks the largest
derivative; sigmoid's is 0.25):

[[figure activations.png]]

And the gradient norm layer by layer, input layer first:

[[figure grad-norms.png]]

Sigmoid's line falls by a factor of about {per_layer:.0f} per layer towards the input. Across all
{layers} layers tanh's norms stay within a factor of {span_tanh:.0f} of each other and ReLU's
within {span_relu:.0f}. Step has no line: its hidden layers' gradient is exactly zero.

How it changes with depth: a sweep of `model.depth` for sigmoid and ReLU, with `--diagnostics`:

[[run depth]]

[[figure grad-ratio-by-depth.png]]

The first layer's share of the gradient for sigmoid, by depth {depths}: {sigmoid_by_depth:.1e}.
For ReLU: {relu_by_depth:.1e}. From depth 1 to depth 8 sigmoid's share falls by a factor of
{sigmoid_fall:,.0f}, about {per_depth:.0f} for each layer added: the vanishing gradient. ReLU's
falls too, but only by a factor of {relu_fall:,.0f}, and every ReLU depth learns (the `learned`
column).
"""

KO = """\
각 층은 앞 층 출력의 가중합을 계산하고 그것을 활성화 함수에 통과시킵니다. 활성화 함수는 계단 함수,
시그모이드, tanh, ReLU 중 하나입니다(`model.activation`). 이렇게 입력에서 시작해 층마다 차례로
출력을 계산하는 것이 순전파입니다. 역전파는 반대 방향으로 갑니다. 출력의 손실에서 시작해, 연쇄
법칙으로 위 층의 기울기에서 각 층의 기울기를 구하는데, 이때 그 층 활성화 함수의 도함수가
곱해집니다. 시그모이드의 도함수는 최대 0.25입니다(0에서, 다른 곳에서는 훨씬 작습니다). 그래서
시그모이드 층 하나를 거슬러 갈 때마다 기울기는 4배 이상 줄고, 여섯 층이면 적어도 4⁶ ≈ 4,000배
줄어듭니다(0.25⁶ = {sigmoid_peak_power:.1e}). 큰 가중치가 이를 메우지 않는 한 그렇습니다.
`configs/deep_moons.yaml`은 시그모이드 은닉층이 여섯 개입니다. `compare-activations`는 활성화
함수마다(시드 3개씩) 이 망을 학습하고, 첫 에포크 동안 각 층 가중치 기울기의 크기(노름)를 잽니다:

[[run activations]]

`grad first/out` 열은 첫 층의 기울기 노름을 출력층의 기울기 노름으로 나눈 값입니다. 시그모이드는
{ratio_sigmoid:.1e}입니다. 첫 층은 출력층이 받는 기울기의 그만큼만 받으니 가중치가 거의 움직이지
않고, 망은 테스트 정확도 {accuracy_sigmoid:.2f}에 멈춥니다. 균형 잡힌 두 클래스에서 동전
던지기입니다. `saturated`(포화된 유닛 비율)는 {sigmoid_saturated:.2f}입니다. 시그모이드의 평평한 양
끝에 걸린 유닛이 없으니, 기울기는 도함수의 상한 0.25 때문만으로 층마다 사라집니다.
tanh({ratio_tanh:.1e})와 ReLU({ratio_relu:.1e})는 기울기를 살려 두고 각각 {accuracy_tanh:.2f},
{accuracy_relu:.2f}에 이릅니다. 계단 함수의 도함수는 정의된 모든 곳에서 0이므로, 역전파는 출력층
아래로 아무것도 전하지 못합니다. 은닉층 {step_frozen}개 모두 기울기가 정확히 0이고(`learned` 열의
`zero gradient`), 출력층만 그 아래의 무작위 특징 위에서 학습합니다. 여기서는 그것만으로도 테스트
정확도가 {accuracy_step:.2f}에 이릅니다.

이유를 한 그림으로: 각 활성화 함수와 그 도함수(빨간 점선이 가장 큰 도함수 값이며, 시그모이드는
0.25입니다):

[[figure activations.png]]

그리고 층별 기울기 노름(입력 쪽 층이 먼저):

[[figure grad-norms.png]]

시그모이드의 선은 입력 쪽으로 한 층마다 약 {per_layer:.0f}배씩 떨어집니다. {layers}개 층 전체에서
tanh의 노름은 서로 {span_tanh:.0f}배 안에, ReLU는 {span_relu:.0f}배 안에 머뭅니다. 계단 함수에는
선이 없습니다. 은닉층의 기울기가 정확히 0이기 때문입니다.

깊이에 따라 어떻게 달라지는지: 시그모이드와 ReLU로 `model.depth`를 바꿔 가며, `--diagnostics`를
켜고 학습합니다:

[[run depth]]

[[figure grad-ratio-by-depth.png]]

깊이 {depths}에서 시그모이드의 첫 층 기울기 비율은 {sigmoid_by_depth:.1e}입니다. ReLU는
{relu_by_depth:.1e}입니다. 깊이 1에서 8까지 시그모이드의 비율은 {sigmoid_fall:,.0f}분의 1로, 층을
하나 더할 때마다 약 {per_depth:.0f}분의 1로 줄어듭니다. 이것이 기울기 소실입니다. ReLU도 줄지만
{relu_fall:,.0f}분의 1에 그치고, ReLU는 모든 깊이에서 학습합니다(`learned` 열).
"""

LESSON = Lesson(
    number=2,
    slug="gradients",
    title={
        "en": "activations, feed-forward and back-propagation, vanishing gradients",
        "ko": "활성화 함수, 순전파와 역전파, 기울기 소실",
    },
    steps=(
        Step(
            "activations",
            "compare-activations {configs}/deep_moons.yaml"
            " --activations sigmoid,tanh,relu,step --out {out}",
            cost=12,
        ),
        Step(
            "depth",
            "sweep {configs}/deep_moons.yaml --vary model.depth=1,2,4,6,8"
            " --vary model.activation=sigmoid,relu --diagnostics --out {out}",
            cost=17,
        ),
    ),
    figures=(
        Figure(
            "activations",
            "activations.png",
            "activations.png",
            {"en": "Activations and their derivatives", "ko": "활성화 함수와 도함수"},
        ),
        Figure(
            "activations",
            "grad_norms.png",
            "grad-norms.png",
            {"en": "Gradient norm by layer", "ko": "층별 기울기 노름"},
        ),
        Figure(
            "depth",
            "grad_ratio_by_value.png",
            "grad-ratio-by-depth.png",
            {"en": "Gradient ratio by depth", "ko": "깊이별 기울기 비율"},
        ),
    ),
    numbers=numbers,
    claims=claims,
    text={"en": EN, "ko": KO},
    ideas=(
        Idea(
            {"en": "step, sigmoid, tanh and ReLU", "ko": "계단 함수, 시그모이드, tanh, ReLU"},
            {
                "en": "test accuracy with 6 hidden layers: sigmoid {accuracy_sigmoid:.2f}, tanh"
                " {accuracy_tanh:.2f}, ReLU {accuracy_relu:.2f}, step {accuracy_step:.2f}",
                "ko": "은닉층 6개의 테스트 정확도: 시그모이드 {accuracy_sigmoid:.2f}, tanh"
                " {accuracy_tanh:.2f}, ReLU {accuracy_relu:.2f}, 계단 {accuracy_step:.2f}",
            },
        ),
        Idea(
            {"en": "back-propagation", "ko": "역전파"},
            {
                "en": "first layer's gradient / output layer's: sigmoid {ratio_sigmoid:.1e}, tanh"
                " {ratio_tanh:.1e}, ReLU {ratio_relu:.1e}, step 0",
                "ko": "첫 층 기울기 / 출력층 기울기: 시그모이드 {ratio_sigmoid:.1e}, tanh"
                " {ratio_tanh:.1e}, ReLU {ratio_relu:.1e}, 계단 0",
            },
        ),
        Idea(
            {"en": "vanishing gradient", "ko": "기울기 소실"},
            {
                "en": "sigmoid's ratio {sigmoid_by_depth[0]:.1e} at depth 1,"
                " {sigmoid_by_depth[4]:.1e} at depth 8",
                "ko": "시그모이드 비율: 깊이 1에서 {sigmoid_by_depth[0]:.1e}, 깊이 8에서"
                " {sigmoid_by_depth[4]:.1e}",
            },
        ),
    ),
)
