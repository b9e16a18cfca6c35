"""Lesson 1: the perceptron, and why it cannot learn XOR while one hidden layer can."""

from __future__ import annotations

import math

from nncli.lessons.lesson import Figure, Idea, Lesson, Runs, Step, by_value, mean


def numbers(runs: Runs) -> dict:
    records = by_value(runs.json("xor/summary.json"), "model.depth")
    line, hidden = records[0], records[1]
    return {
        "line_train": line["metrics"]["train"]["accuracy"]["values"],
        "line_train_max": max(line["metrics"]["train"]["accuracy"]["values"]),
        "hidden_train_min": min(hidden["metrics"]["train"]["accuracy"]["values"]),
        "line_test": mean(line, "test", "accuracy"),
        "line_test_std": line["metrics"]["test"]["accuracy"]["std"],
        "line_test_seeds": line["metrics"]["test"]["accuracy"]["values"],
        "line_loss": mean(line, "train", "loss"),
        "hidden_loss": mean(hidden, "train", "loss"),
        "hidden_test": mean(hidden, "test", "accuracy"),
        "coin_loss": math.log(2),
    }


def claims(n: dict) -> list[tuple[bool, str]]:
    return [
        (n["line_train_max"] <= 0.75, f"depth 0 train accuracy {n['line_train']} at most 0.75"),
        (n["hidden_train_min"] == 1.0, "depth 1 reaches train accuracy 1.0 on every seed"),
        (abs(n["line_loss"] - n["coin_loss"]) < 0.05, "the line's loss is a coin toss's, ln 2"),
        (0.9 <= n["hidden_test"] < 1.0, f"depth 1 test accuracy {n['hidden_test']} in [0.9, 1)"),
    ]


EN = """\
A perceptron computes one weighted sum of its inputs and answers by which side of zero it falls:
its decision boundary is a straight line. In nncli it is `model.depth: 0`: the 2 inputs feed
straight into the 2 outputs, with no hidden layer and so no activation between them (the output
turns the two sums into probabilities). XOR puts one class on two opposite corners of a square
and the other class on the other two, and no straight line separates them: the best a line can
do is 3 corners of 4, an accuracy of 0.75. One hidden layer of 4 tanh units bends the boundary:
each input is fed forward through the hidden layer to the outputs (feed-forward). The same
config, both depths, five seeds each:

[[run xor]]

With no hidden layer, training accuracy per seed is {line_train:.2f}: never above 0.75, whatever
the seed. With one hidden layer every seed reaches {hidden_train_min:.1f}.

Why the line scores about 0.5 rather than the 0.75 it could reach: training does not look for
the line with the best accuracy, it lowers the cross-entropy loss by gradient descent. XOR is
symmetric, and for a line the lowest loss is at weights near zero: the network answers 50/50
everywhere. Its training loss ends at {line_loss:.4f}, next to ln 2 = {coin_loss:.4f}, the loss
of a coin toss; a line that got 3 corners right would be confidently wrong on the fourth and
pay more. What decides each answer is then a tiny tilt, and accuracy lands near a coin toss:
{line_test:.4f} ± {line_test_std:.4f} on the test split over the five seeds
({line_test_seeds:.2f}). The hidden layer's training loss is {hidden_loss:.4f}.

The decision boundaries, side by side (the first seed of each):

[[figure xor-boundaries.png]]

Wherever the line lies, it leaves both classes on each of its sides; the hidden layer carves
out the two opposite corners. On the test split it scores {hidden_test:.4f}: the noise
(`data.noise: 0.15`) blurs the corners, and a few test points fall on the wrong side.
"""

KO = """\
퍼셉트론은 입력의 가중합 하나를 계산하고, 그 값이 0보다 큰지 작은지로 답합니다. 그래서 결정 경계는
직선 하나입니다. nncli에서는 `model.depth: 0`입니다. 입력 2개가 출력 2개로 바로 이어지고, 은닉층이
없으니 그 사이에 활성화 함수도 없습니다(출력층은 두 가중합을 확률로 바꿀 뿐입니다). XOR은
정사각형의 마주 보는 두 꼭짓점에 한 클래스를, 나머지 두 꼭짓점에 다른 클래스를 둡니다. 어떤 직선도
이 둘을 나누지 못합니다. 직선이 할 수 있는 최선은 꼭짓점 4개 중 3개, 정확도 0.75입니다. 활성화 함수
tanh를 쓰는 유닛 4개짜리 은닉층 하나를 더하면 경계가 휘어집니다. 입력은 은닉층을 거쳐 출력층으로
전달됩니다(순전파). 같은 설정으로 두 깊이를 각각 시드 5개씩 학습합니다:

[[run xor]]

은닉층이 없으면 시드별 학습 정확도는 {line_train:.2f}입니다. 시드가 무엇이든 0.75를 넘지 못합니다.
은닉층이 하나 있으면 모든 시드가 {hidden_train_min:.1f}에 이릅니다.

직선이 닿을 수 있는 0.75가 아니라 0.5 근처에 머무는 이유: 학습은 정확도가 가장 높은 직선을 찾지
않습니다. 경사 하강법으로 교차 엔트로피 손실을 줄일 뿐입니다. XOR은 대칭이라서, 직선 하나로 얻을 수
있는 가장 낮은 손실은 가중치가 0 근처일 때, 즉 어디서나 반반으로 답할 때입니다. 학습 손실은
{line_loss:.4f}에서 끝나는데, 이는 동전 던지기의 손실인 ln 2 = {coin_loss:.4f}에 가깝습니다. 꼭짓점
3개를 맞히는 직선은 네 번째 꼭짓점에서 자신 있게 틀리므로 손실이 더 큽니다. 그러니 답은 아주 작은
기울기로 갈리고, 정확도는 동전 던지기 근처에 머뭅니다. 시드 5개에 걸친 테스트 정확도는
{line_test:.4f} ± {line_test_std:.4f} ({line_test_seeds:.2f})입니다. 은닉층이 있는 망의 학습
손실은 {hidden_loss:.4f}입니다.

두 깊이의 결정 경계(각각 첫 번째 시드):

[[figure xor-boundaries.png]]

직선은 어디에 놓이든 양쪽에 두 클래스를 모두 남깁니다. 은닉층은 마주 보는 두 꼭짓점을 따로 떼어
냅니다. 테스트 정확도는 {hidden_test:.4f}입니다. 잡음(`data.noise: 0.15`)이 꼭짓점을 흐려 놓아서
테스트 점 몇 개가 경계 반대편에 떨어집니다.
"""

LESSON = Lesson(
    number=1,
    slug="perceptron",
    title={"en": "the perceptron and XOR", "ko": "퍼셉트론과 XOR"},
    steps=(
        Step(
            "xor",
            "sweep {configs}/xor_mlp.yaml --vary model.depth=0,1 --seeds 5 --out {out}",
            cost=3.5,
        ),
    ),
    figures=(
        Figure(
            "xor",
            "decision_boundaries.png",
            "xor-boundaries.png",
            {"en": "Decision boundaries, depth 0 and 1", "ko": "깊이 0과 1의 결정 경계"},
        ),
    ),
    numbers=numbers,
    claims=claims,
    text={"en": EN, "ko": KO},
    ideas=(
        Idea(
            {"en": "perceptron and XOR", "ko": "퍼셉트론과 XOR"},
            {
                "en": "depth 0: train accuracy at most {line_train_max:.2f} on 5 seeds; one hidden"
                " layer: {hidden_train_min:.1f}",
                "ko": "깊이 0: 시드 5개의 학습 정확도 최대 {line_train_max:.2f}; 은닉층 하나:"
                " {hidden_train_min:.1f}",
            },
        ),
        Idea(
            {"en": "feed-forward", "ko": "순전파"},
            {
                "en": "inputs → 4 tanh units → outputs: test accuracy {hidden_test:.4f}",
                "ko": "입력 → tanh 유닛 4개 → 출력: 테스트 정확도 {hidden_test:.4f}",
            },
        ),
    ),
)
