"""The course notes' terms beside nncli's names, config keys and outputs: the glossary of both
tutorial pages. Each row: the notes' (Korean) term, the English one, where nncli shows it (in
each language: mostly keys and outputs, the same in both), and the lesson that shows it."""

from __future__ import annotations

from nncli.lessons.lesson import Text


def _same(text: str) -> Text:
    return {"en": text, "ko": text}


GLOSSARY: tuple[tuple[str, str, Text, int | None], ...] = (
    ("퍼셉트론", "perceptron", {
        "en": "`model.depth: 0`: inputs straight to outputs, no hidden layer, no activation",
        "ko": "`model.depth: 0`: 입력이 바로 출력으로, 은닉층도 활성화 함수도 없음"}, 1),
    ("다층 퍼셉트론", "multilayer perceptron (MLP)", {
        "en": "`model.depth` hidden layers of `model.width` units; the setup line's"
              " `MLP 2 → 4 → 2`",
        "ko": "`model.width`개 유닛의 은닉층 `model.depth`개; 설정 줄의 `MLP 2 → 4 → 2`"}, 1),
    ("은닉층", "hidden layer", _same("`model.depth`, `model.width`"), 1),
    ("가중치, 편향", "weights, biases", {
        "en": "the setup line's `parameters`; `model.safetensors`",
        "ko": "설정 줄의 `parameters`; `model.safetensors`"}, None),
    ("순전파", "feed-forward (forward pass)", {
        "en": "every prediction: `nncli predict`, `evaluate`; the boundaries in"
              " `decision_boundaries.png`",
        "ko": "모든 예측: `nncli predict`, `evaluate`; `decision_boundaries.png`의 경계"}, 1),
    ("결정 경계", "decision boundary", _same("`decision_boundaries.png`"), 1),
    ("활성화 함수", "activation function", {
        "en": "`model.activation`; `nncli compare-activations`; `activations.png`",
        "ko": "`model.activation`; `nncli compare-activations`; `activations.png`"}, 2),
    ("계단 함수", "step function", {
        "en": "`model.activation: step`; `zero gradient` in the `learned` column",
        "ko": "`model.activation: step`; `learned` 열의 `zero gradient`"}, 2),
    ("시그모이드", "sigmoid", {
        "en": "`model.activation: sigmoid`; the `saturated` column",
        "ko": "`model.activation: sigmoid`; `saturated` 열"}, 2),
    ("하이퍼볼릭 탄젠트", "tanh", _same("`model.activation: tanh`"), 2),
    ("ReLU", "ReLU", {
        "en": "`model.activation: relu`; the `dead` column",
        "ko": "`model.activation: relu`; `dead` 열"}, 2),
    ("역전파", "back-propagation", {
        "en": "every training step (`train/backprop.py`); `--diagnostics`: gradient norms per"
              " layer, `grad_norms.png`",
        "ko": "모든 학습 스텝(`train/backprop.py`); `--diagnostics`: 층별 기울기 노름,"
              " `grad_norms.png`"}, 2),
    ("기울기 소실", "vanishing gradient", {
        "en": "the `grad first/out` column; `grad_ratio` in `summary.json`;"
              " `grad_ratio_by_value.png`",
        "ko": "`grad first/out` 열; `summary.json`의 `grad_ratio`; `grad_ratio_by_value.png`"}, 2),
    ("손실 함수", "loss function", {
        "en": "`train loss`, `val loss`: cross-entropy (`log_loss`) for classes, MSE for values",
        "ko": "`train loss`, `val loss`: 분류는 교차 엔트로피(`log_loss`), 회귀는 MSE"}, 3),
    ("경사 하강법", "gradient descent", {
        "en": "every step; `training.batch_size` ≥ the training rows: one step an epoch",
        "ko": "모든 스텝; `training.batch_size` ≥ 학습 행 수이면 에포크당 한 스텝"}, 3),
    ("확률적 경사 하강법 (SGD)", "stochastic gradient descent (SGD)", {
        "en": "the setup line's `SGD`; `training.batch_size: 1`; `training.momentum`",
        "ko": "설정 줄의 `SGD`; `training.batch_size: 1`; `training.momentum`"}, 3),
    ("에포크", "epoch", {
        "en": "`training.epochs`; the `epoch N/M` progress lines; `history.csv`",
        "ko": "`training.epochs`; 진행 줄 `epoch N/M`; `history.csv`"}, 3),
    ("미니배치", "mini-batch", {
        "en": "`training.batch_size` rows, one SGD step",
        "ko": "`training.batch_size`개 행, SGD 한 스텝"}, 3),
    ("배치 크기", "batch size", _same("`training.batch_size`"), 3),
    ("미니배치 개수", "number of mini-batches", {
        "en": "the setup line's `steps per epoch`",
        "ko": "설정 줄의 `steps per epoch`(에포크당 스텝 수)"}, 3),
    ("학습률", "learning rate", {
        "en": "`training.lr`; `diverged (seed: epoch, step)`",
        "ko": "`training.lr`; `diverged (seed: epoch, step)`(발산)"}, 3),
    ("보편 근사 정리", "universal approximation theorem", {
        "en": "a sweep of `model.width`; `fit.png`, `fits.png`",
        "ko": "`model.width` 스윕; `fit.png`, `fits.png`"}, 4),
    ("과적합", "overfitting", {
        "en": "`val loss` turning up while `train loss` falls; `loss.png`; `best epoch`",
        "ko": "`train loss`가 내려가는 동안 올라가는 `val loss`; `loss.png`; `best epoch`"}, 5),
    ("검증 데이터", "validation set", {
        "en": "`data.split.val`; the `val` column",
        "ko": "`data.split.val`; `val` 열"}, 5),
    ("조기 종료", "early stopping", {
        "en": "`training.early_stopping`, `patience`; `kept_epoch` in `metrics.json`",
        "ko": "`training.early_stopping`, `patience`; `metrics.json`의 `kept_epoch`"}, 5),
    ("가중치 감쇠", "weight decay", _same("`training.weight_decay`"), 5),
    ("평균 제곱 오차 (MSE)", "mean squared error", _same("`mse`"), 6),
    ("평균 절대 백분율 오차 (MAPE)", "mean absolute percentage error", {
        "en": "`mape (fraction)`; `undefined` near zero targets", "ko": "`mape (fraction)`;"
        " 0 근처 목표값에서는 `undefined`"}, 6),
    ("결정 계수", "coefficient of determination (R²)", _same("`r2`"), 6),
    ("정확도", "accuracy", _same("`accuracy`"), 6),
    ("정밀도", "precision", _same("`precision`"), 6),
    ("재현율", "recall", _same("`recall`"), 6),
    ("특이도", "specificity", _same("`specificity`"), 6),
    ("F1 점수", "F1 score", _same("`f1`"), 6),
    ("균형 정확도", "balanced accuracy", _same("`balanced_accuracy`"), 6),
    ("혼동 행렬", "confusion matrix", {
        "en": "the `Confusion (test)` table; `confusion_matrix` in `metrics.json`",
        "ko": "`Confusion (test)` 표; `metrics.json`의 `confusion_matrix`"}, 6),
    ("클래스 불균형", "class imbalance", {
        "en": "the setup line's class shares; `training.class_weight: balanced`",
        "ko": "설정 줄의 클래스 비율; `training.class_weight: balanced`"}, 6),
)  # fmt: skip
