"""Lesson 6: the metrics: MSE and MAPE, accuracy, precision, recall, specificity and F1."""

from __future__ import annotations

import csv

from nncli.lessons.lesson import Figure, Idea, Lesson, Runs, Step

CLASSIFIER = ("accuracy", "precision", "recall", "specificity", "f1", "balanced_accuracy")


def _smallest_quarter(runs: Runs, path: str) -> tuple[float, float, int]:
    """From `predict`'s rows: the smallest |target|, and the share of the summed percentage
    error the quarter of rows with the smallest targets hold (and how many rows that is)."""
    with (runs.root / path).open(encoding="utf-8") as handle:
        rows = [
            (abs(float(r["y"])), abs(float(r["prediction"]) - float(r["y"])) / abs(float(r["y"])))
            for r in csv.DictReader(handle)
        ]
    rows.sort()
    quarter = max(len(rows) // 4, 1)
    total = sum(ape for _, ape in rows)
    return rows[0][0], sum(ape for _, ape in rows[:quarter]) / total, quarter


def numbers(runs: Runs) -> dict:
    square = runs.json("square/metrics.json")["metrics"]
    smallest, share, quarter = _smallest_quarter(runs, "square-test.csv")
    sigmoid = runs.json("sigmoid/metrics.json")
    fraud = runs.json("fraud/metrics.json")
    balanced = runs.json("fraud-balanced/metrics.json")["metrics"]["test"]
    plain = fraud["metrics"]["test"]
    (tn, fp), (fn, tp) = plain["confusion_matrix"]
    (_, bfp), (bfn, btp) = balanced["confusion_matrix"]
    supports = [c["support"] for c in fraud["metrics"]["train"]["per_class"]]
    return {
        **{f"square_{m}": square["test"][m] for m in ("mse", "r2", "mape")},
        "square_train_mape": square["train"]["mape"],
        "square_smallest": smallest,
        "square_share": share,
        "square_quarter": quarter,
        **{f"sigmoid_{m}": sigmoid["metrics"]["test"][m] for m in CLASSIFIER},
        "sigmoid_confusion": sigmoid["metrics"]["test"]["confusion_matrix"],
        "sigmoid_baseline_f1": sigmoid["baseline"]["test"]["f1"],
        **{f"fraud_{m}": plain[m] for m in CLASSIFIER},
        "fraud_majority": (tn + fp) / (tn + fp + fn + tp),
        "fraud_missed": fn,
        "fraud_positives": fn + tp,
        "fraud_weight": supports[0] / supports[1],  # balanced: n / (2 n_c) per class
        **{f"balanced_{m}": balanced[m] for m in CLASSIFIER},
        "balanced_caught": btp,
        "balanced_positives": bfn + btp,
        "balanced_false_alarms": bfp,
    }


def claims(n: dict) -> list[tuple[bool, str]]:
    return [
        (n["square_r2"] > 0.99 and n["square_mape"] > 0.2, "y = x²: R² near 1, MAPE above 0.2"),
        (n["square_share"] > 0.5, "the quarter of smallest targets holds most of the MAPE"),
        (n["sigmoid_recall"] == 1.0 and n["sigmoid_specificity"] == 0.0, "all positive"),
        (abs(n["sigmoid_f1"] - 2 / 3) < 1e-9, "F1 of answering positive always is 2/3"),
        (n["fraud_accuracy"] > 0.94 and n["fraud_f1"] < 0.7, "accuracy high, F1 low"),
        (n["balanced_recall"] > n["fraud_recall"] + 0.2, "class weights raise recall"),
        (n["balanced_balanced_accuracy"] > n["fraud_balanced_accuracy"], "and balanced accuracy"),
    ]


EN = """\
### MSE against MAPE

MSE, the mean squared error, averages squared errors in the target's units squared: every row
counts alike. MAPE, the mean absolute percentage error, averages each row's error as a fraction of
its target: it reads well ("off by 5%") when targets are far from zero, and blows up near zero.
`data/square.csv` holds y = x² for x from 0.1 to 3 on each side, so targets run from 0.01 to 9
(the test split's smallest is {square_smallest:.4f}):

[[run square]]

R² is {square_r2:.4f}: the curve is nearly perfect, and MSE is {square_mse:.4f}. Yet MAPE on the
test split is {square_mape:.4f}, "off by {square_mape:.0%}" ({square_train_mape:.4f} on the
training split). An error of 0.05 is about 0.6% of a target of 9 and 500% of one of 0.01, and the
{square_quarter} test rows with the smallest targets hold {square_share:.0%} of the summed
percentage error (from `nncli predict`'s rows):

[[run square-rows]]

[[figure square-errors.png]]

A model tuned for MAPE learns to favour small targets; MSE does not care where zero is. Where
targets take both signs or touch zero, nncli reports MAPE as `undefined` (`null` in JSON) rather
than a number like 10¹⁴.

### Accuracy, precision, recall, specificity and F1

For two classes, one of them positive: accuracy is the share answered right; precision, of the rows
answered positive, the share that are; recall (sensitivity), of the positive rows, the share found;
specificity, of the negative rows, the share answered negative; F1 is the harmonic mean of
precision and recall; balanced accuracy the mean of recall and specificity. The deep sigmoid
network of lesson 2 stalls and answers positive for every row:

[[run sigmoid]]

Recall {sigmoid_recall:.4f}: every positive found, because every row is called positive. Precision
{sigmoid_precision:.4f}, so F1 is {sigmoid_f1:.4f}, which looks like a model. Only specificity,
{sigmoid_specificity:.4f}, shows that no negative row was recognized (confusion matrix
{sigmoid_confusion}, rows true, columns predicted); balanced accuracy is
{sigmoid_balanced_accuracy:.4f}, a coin toss, as accuracy {sigmoid_accuracy:.4f} says too. The
input-blind baseline answers the other class always and scores F1 {sigmoid_baseline_f1:.4f}: two
useless models, F1 0.67 and 0.

### Imbalanced classes

`data/transactions.csv` (made up) has one fraudulent transaction in 25:

[[run fraud]]

Accuracy {fraud_accuracy:.4f} looks excellent, but answering "no" every time would score
{fraud_majority:.4f} on this test split. Specificity is {fraud_specificity:.4f}: nearly every
honest transaction passes. F1 for the positive class (`data.positive_class: "yes"`) is
{fraud_f1:.4f}: recall {fraud_recall:.4f}, {fraud_missed} of the {fraud_positives} frauds missed;
balanced accuracy {fraud_balanced_accuracy:.4f}. Weighting the classes (`training.class_weight:
balanced`) makes a missed fraud cost as much as {fraud_weight:.0f} false alarms (the ratio of the
classes in the training split):

[[run fraud-balanced]]

Recall rises to {balanced_recall:.4f} ({balanced_caught} of {balanced_positives} caught) at the
cost of {balanced_false_alarms} false alarms (precision {balanced_precision:.4f}, specificity
{balanced_specificity:.4f}); accuracy drops to {balanced_accuracy:.4f}, F1 is {balanced_f1:.4f} and
balanced accuracy rises to {balanced_balanced_accuracy:.4f}. Which is better depends on what a
missed fraud and a false alarm cost; accuracy alone would have called the first model nearly
perfect.
"""

KO = """\
### MSE와 MAPE

평균 제곱 오차(MSE)는 목표값 단위의 제곱으로 오차 제곱을 평균합니다. 모든 행이 똑같이 셉니다. 평균
절대 백분율 오차(MAPE)는 각 행의 오차를 그 목표값에 대한 비율로 평균합니다. 목표값이 0에서 멀 때는
읽기 좋지만("5% 틀림"), 0 가까이에서는 폭발합니다. `data/square.csv`는 양쪽으로 x가 0.1에서 3까지일
때 y = x²이므로, 목표값은 0.01에서 9까지입니다(테스트 데이터에서 가장 작은 값은
{square_smallest:.4f}):

[[run square]]

R²는 {square_r2:.4f}입니다. 곡선은 거의 완벽하고 MSE는 {square_mse:.4f}입니다. 그런데 테스트
데이터의 MAPE는 {square_mape:.4f}, 즉 "{square_mape:.0%} 틀림"입니다(학습 데이터에서는
{square_train_mape:.4f}). 오차 0.05는 목표값 9의 약 0.6%이지만 목표값 0.01의 500%입니다. 목표값이
가장 작은 테스트 행 {square_quarter}개가 백분율 오차 합의 {square_share:.0%}를 차지합니다(`nncli
predict`가 쓴 행에서):

[[run square-rows]]

[[figure square-errors.png]]

MAPE에 맞춰 조정한 모델은 작은 목표값을 편애하게 되고, MSE는 0이 어디 있는지 상관하지 않습니다.
목표값의 부호가 둘 다 있거나 0에 닿으면, nncli는 MAPE를 10¹⁴ 같은 숫자 대신
`undefined`(JSON에서는 `null`)로 보고합니다.

### 정확도, 정밀도, 재현율, 특이도, F1 점수

두 클래스 중 하나가 양성일 때: 정확도는 맞게 답한 비율, 정밀도는 양성이라고 답한 행 중 실제 양성의
비율, 재현율(민감도)은 양성 행 중 찾아낸 비율, 특이도는 음성 행 중 음성이라고 답한 비율입니다. F1
점수는 정밀도와 재현율의 조화 평균이고, 균형 정확도는 재현율과 특이도의 평균입니다. 수업 2의 깊은
시그모이드 망은 학습이 멈춰서 모든 행에 양성이라고 답합니다:

[[run sigmoid]]

재현율 {sigmoid_recall:.4f}: 모든 행을 양성이라고 했으니 양성은 모두 찾았습니다. 정밀도는
{sigmoid_precision:.4f}입니다. 그래서 F1 점수는 {sigmoid_f1:.4f}에 이르러, 그럴듯한 모델처럼
보입니다. 특이도 {sigmoid_specificity:.4f}만이 음성 행을 하나도 알아보지 못했음을 보여 줍니다(혼동
행렬 {sigmoid_confusion}, 행은 실제, 열은 예측). 균형 정확도는 {sigmoid_balanced_accuracy:.4f}, 즉
동전 던지기이고, 정확도({sigmoid_accuracy:.4f})도 같은 말을 합니다. 입력을 보지 않는 기준 모델은 늘
다른 클래스로 답해서 F1 점수가 {sigmoid_baseline_f1:.4f}입니다. 쓸모없는 두 모델이 F1 0.67과 0을
받습니다.

### 클래스 불균형

`data/transactions.csv`(지어낸 데이터)는 거래 25건 중 1건이 사기입니다:

[[run fraud]]

정확도는 {fraud_accuracy:.4f}입니다. 훌륭해 보이지만, 늘 "아니오"라고 답해도 이 테스트 데이터에서
정확도가 {fraud_majority:.4f}입니다. 특이도는 {fraud_specificity:.4f}입니다. 정상 거래는 거의 다
통과합니다. 양성 클래스(`data.positive_class: "yes"`)의 F1 점수는 {fraud_f1:.4f}입니다. 재현율은
{fraud_recall:.4f}입니다. 사기 {fraud_positives}건 중 {fraud_missed}건을 놓쳤습니다. 균형 정확도는
{fraud_balanced_accuracy:.4f}입니다. 클래스에 가중치를 주면(`training.class_weight: balanced`) 사기
하나를 놓치는 비용이 오경보 {fraud_weight:.0f}건과 같아집니다(학습 데이터의 클래스 비율):

[[run fraud-balanced]]

재현율이 {balanced_recall:.4f}까지 오릅니다({balanced_positives}건 중 {balanced_caught}건 적발).
대신 오경보가 {balanced_false_alarms}건 생깁니다(정밀도 {balanced_precision:.4f}, 특이도
{balanced_specificity:.4f}). 정확도는 {balanced_accuracy:.4f}까지 내려가고, F1 점수는
{balanced_f1:.4f}, 균형 정확도는 {balanced_balanced_accuracy:.4f}까지 오릅니다. 어느 쪽이 나은지는
사기를 놓치는 비용과 오경보의 비용에 달렸습니다. 정확도만 봤다면 첫 모델을 거의 완벽하다고 했을
것입니다. """

LESSON = Lesson(
    number=6,
    slug="metrics",
    title={
        "en": "the metrics: MSE, MAPE, accuracy, precision, recall, specificity, F1",
        "ko": "평가 지표: MSE, MAPE, 정확도, 정밀도, 재현율, 특이도, F1 점수",
    },
    steps=(
        Step("square", "train {configs}/square_csv.yaml --out {out}", cost=4),
        Step(
            "square-rows",
            "predict {runs}/square --split test --out {runs}/square-test.csv",
            after=("square",),
        ),
        Step("sigmoid", "train {configs}/deep_moons.yaml --out {out}", cost=2.5),
        Step("fraud", "train {configs}/transactions_csv.yaml --out {out}", cost=2.5),
        Step(
            "fraud-balanced",
            "train {configs}/transactions_csv.yaml"
            " --set training.class_weight=balanced --out {out}",
            cost=2.5,
        ),
    ),
    figures=(
        Figure(
            "square",
            "errors.png",
            "square-errors.png",
            {"en": "Errors against target, y = x²", "ko": "목표값에 따른 오차, y = x²"},
        ),
    ),
    numbers=numbers,
    claims=claims,
    text={"en": EN, "ko": KO},
    ideas=(
        Idea(
            {"en": "MSE", "ko": "평균 제곱 오차"},
            {
                "en": "y = x²: test MSE {square_mse:.4f}, R² {square_r2:.4f}",
                "ko": "y = x²: 테스트 MSE {square_mse:.4f}, R² {square_r2:.4f}",
            },
        ),
        Idea(
            {"en": "MAPE", "ko": "평균 절대 백분율 오차"},
            {
                "en": "y = x²: test MAPE {square_mape:.4f}, {square_share:.0%} of it from the"
                " smallest quarter of targets",
                "ko": "y = x²: 테스트 MAPE {square_mape:.4f}, 그중 {square_share:.0%}가 가장 작은"
                " 목표값 4분의 1에서",
            },
        ),
        Idea(
            {"en": "accuracy, precision, recall", "ko": "정확도, 정밀도, 재현율"},
            {
                "en": "fraud: accuracy {fraud_accuracy:.4f} (always 'no': {fraud_majority:.4f}),"
                " precision {fraud_precision:.4f}, recall {fraud_recall:.4f}",
                "ko": "사기: 정확도 {fraud_accuracy:.4f}(늘 '아니오': {fraud_majority:.4f}),"
                " 정밀도 {fraud_precision:.4f}, 재현율 {fraud_recall:.4f}",
            },
        ),
        Idea(
            {"en": "specificity", "ko": "특이도"},
            {
                "en": "all-positive sigmoid network: specificity {sigmoid_specificity:.4f},"
                " recall {sigmoid_recall:.4f}",
                "ko": "모두 양성이라 답하는 시그모이드 망: 특이도 {sigmoid_specificity:.4f}, 재현율"
                " {sigmoid_recall:.4f}",
            },
        ),
        Idea(
            {"en": "F1", "ko": "F1 점수"},
            {
                "en": "all-positive network: F1 {sigmoid_f1:.4f}; fraud: F1 {fraud_f1:.4f},"
                " balanced accuracy {fraud_balanced_accuracy:.4f}",
                "ko": "모두 양성인 망: F1 {sigmoid_f1:.4f}; 사기: F1 {fraud_f1:.4f}, 균형 정확도"
                " {fraud_balanced_accuracy:.4f}",
            },
        ),
    ),
)
