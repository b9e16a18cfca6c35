"""Lesson 5: overfitting, and two remedies: early stopping and weight decay."""

from __future__ import annotations

from nncli.lessons.lesson import Figure, Idea, Lesson, Runs, Step, by_value, mean


def numbers(runs: Runs) -> dict:
    history = runs.history("overfit/history.csv")
    best = min(history, key=lambda row: row["val_loss"])
    last = history[-1]
    late = runs.json("overfit/metrics.json")["metrics"]
    early = runs.json("early/metrics.json")
    decay = by_value(runs.json("decay/summary.json"), "training.weight_decay")
    return {
        "best_epoch": int(best["epoch"]),
        "best_train_loss": best["train_loss"],
        "best_val_loss": best["val_loss"],
        "last_epoch": int(last["epoch"]),
        "last_train_loss": last["train_loss"],
        "last_val_loss": last["val_loss"],
        "late_train_accuracy": late["train"]["accuracy"],
        "late_accuracy": late["test"]["accuracy"],
        "late_log_loss": late["test"]["log_loss"],
        "kept_epoch": early["kept_epoch"],
        "epochs_run": early["epochs_run"],
        "early_accuracy": early["metrics"]["test"]["accuracy"],
        "early_log_loss": early["metrics"]["test"]["log_loss"],
        "decay_val": {str(wd): mean(r, "val", "loss") for wd, r in decay.items()},
        "decay_accuracy": {str(wd): mean(r, "test", "accuracy") for wd, r in decay.items()},
    }


def claims(n: dict) -> list[tuple[bool, str]]:
    val = n["decay_val"]
    return [
        (n["last_val_loss"] > 1.5 * n["best_val_loss"], "validation loss turns up"),
        (n["last_train_loss"] < 0.5 * n["best_train_loss"], "while training loss keeps falling"),
        (n["kept_epoch"] == n["best_epoch"], "early stopping keeps the best epoch"),
        (n["early_log_loss"] < n["late_log_loss"], "early stopping's test log loss is lower"),
        (val["0.1"] < val["0.0"] / 2, f"weight decay 0.1 halves the validation loss: {val}"),
    ]


EN = """\
Overfitting: a network with far more weights than it has examples learns its training data,
noise included, and gets worse on data it has not seen. `configs/overfit.yaml` gives a network
of 8,642 weights 60 noisy training points (`data.noise: 0.5`, so the two moons overlap) and 300
epochs:

[[run overfit]]

[[figure overfit-loss.png]]

Training loss keeps falling: from {best_train_loss:.4f} at epoch {best_epoch} to
{last_train_loss:.4f} at epoch {last_epoch}, and the final weights classify
{late_train_accuracy:.0%} of the training points correctly. Validation loss is lowest at epoch
{best_epoch} ({best_val_loss:.4f}) and then turns up, to {last_val_loss:.4f}: the network
memorizes the noise of its 60 points and grows ever more confident, and wrong, on points it has
not seen. The final weights score test accuracy {late_accuracy:.4f} and log loss
{late_log_loss:.4f}.

**Early stopping** watches the validation loss, stops once it has not improved for `patience`
epochs, and restores the best epoch's weights (the outcome line names both):

[[run early]]

Kept epoch {kept_epoch}, stopped at {epochs_run}: test accuracy {early_accuracy:.4f} and log
loss {early_log_loss:.4f}, against {late_accuracy:.4f} and {late_log_loss:.4f} for the weights
of epoch {last_epoch}.

**Weight decay** is the other remedy: every step also shrinks each weight a little, so only the
patterns the data keeps supporting grow large.

[[run decay]]

Validation loss after 300 epochs falls from {decay_val[0.0]:.4f} without decay to
{decay_val[0.01]:.4f} at 0.01 and {decay_val[0.1]:.4f} at 0.1 (test accuracy
{decay_accuracy[0.0]:.4f}, {decay_accuracy[0.01]:.4f} and {decay_accuracy[0.1]:.4f}). The
boundaries show what the decay removes: islands drawn around single noisy points.

[[figure decay-boundaries.png]]
"""

KO = """\
과적합: 예제보다 가중치가 훨씬 많은 망은 학습 데이터를 잡음까지 외우고, 보지 못한 데이터에서는 더
나빠집니다. `configs/overfit.yaml`은 가중치 8,642개짜리 망에 잡음 섞인 학습 점 60개(`data.noise:
0.5`라서 두 반달이 겹칩니다)와 300 에포크를 줍니다:

[[run overfit]]

[[figure overfit-loss.png]]

학습 손실은 계속 내려갑니다. 에포크 {best_epoch}의 {best_train_loss:.4f}에서 에포크 {last_epoch}의
{last_train_loss:.4f}까지 내려가고, 마지막 가중치는 학습 점의 {late_train_accuracy:.0%}를 맞힙니다.
검증 손실은 에포크 {best_epoch}에서 가장 낮고({best_val_loss:.4f}) 그 뒤로 다시 올라
{last_val_loss:.4f}에 이릅니다. 망은 점 60개의 잡음을 외우면서, 보지 못한 점에 대해 점점 더 자신
있게 틀립니다. 마지막 가중치의 테스트 정확도는 {late_accuracy:.4f}, 로그 손실은
{late_log_loss:.4f}입니다.

**조기 종료**는 검증 손실을 지켜보다가 `patience` 에포크 동안 나아지지 않으면 멈추고, 가장 좋았던
에포크의 가중치를 되살립니다(결과 줄이 두 에포크를 모두 알려 줍니다):

[[run early]]

에포크 {kept_epoch}의 가중치를 남기고 에포크 {epochs_run}에서 멈췄습니다. 테스트 정확도
{early_accuracy:.4f}, 로그 손실 {early_log_loss:.4f}입니다. 에포크 {last_epoch}의 가중치(정확도
{late_accuracy:.4f}, 로그 손실 {late_log_loss:.4f})보다 낫습니다.

**가중치 감쇠**는 또 하나의 처방입니다. 스텝마다 모든 가중치를 조금씩 줄여서, 데이터가 계속
뒷받침하는 패턴만 크게 자라게 합니다.

[[run decay]]

300 에포크 뒤의 검증 손실은 감쇠가 없을 때 {decay_val[0.0]:.4f}에서 0.01일 때
{decay_val[0.01]:.4f}, 0.1일 때 {decay_val[0.1]:.4f}까지 내려갑니다(테스트 정확도
{decay_accuracy[0.0]:.4f}, {decay_accuracy[0.01]:.4f}, {decay_accuracy[0.1]:.4f}). 결정 경계를 보면
감쇠가 무엇을 없애는지 보입니다. 잡음 섞인 점 하나하나를 둘러싼 섬들입니다.

[[figure decay-boundaries.png]]
"""

LESSON = Lesson(
    number=5,
    slug="overfitting",
    title={"en": "overfitting", "ko": "과적합"},
    steps=(
        Step("overfit", "train {configs}/overfit.yaml --out {out}", cost=4),
        Step(
            "early",
            "train {configs}/overfit.yaml --set training.early_stopping=true --out {out}",
            cost=2,
        ),
        Step(
            "decay",
            "sweep {configs}/overfit.yaml"
            " --vary training.weight_decay=0,0.001,0.01,0.1 --seeds 3 --out {out}",
            cost=10,
        ),
    ),
    figures=(
        Figure(
            "overfit",
            "loss.png",
            "overfit-loss.png",
            {"en": "Training and validation loss", "ko": "학습 손실과 검증 손실"},
        ),
        Figure(
            "decay",
            "decision_boundaries.png",
            "decay-boundaries.png",
            {"en": "Decision boundaries by weight decay", "ko": "가중치 감쇠별 결정 경계"},
        ),
    ),
    numbers=numbers,
    claims=claims,
    text={"en": EN, "ko": KO},
    ideas=(
        Idea(
            {"en": "overfitting", "ko": "과적합"},
            {
                "en": "val loss lowest at epoch {best_epoch} ({best_val_loss:.4f}),"
                " {last_val_loss:.4f} at epoch {last_epoch} while train loss falls to"
                " {last_train_loss:.4f}; early stopping: test log loss {early_log_loss:.4f}"
                " against {late_log_loss:.4f}; weight decay 0.1: val loss"
                " {decay_val[0.1]:.4f} against {decay_val[0.0]:.4f}",
                "ko": "검증 손실 최저 에포크 {best_epoch}({best_val_loss:.4f}), 에포크"
                " {last_epoch}에 {last_val_loss:.4f}, 그동안 학습 손실은"
                " {last_train_loss:.4f}까지 하락; 조기 종료: 테스트 로그 손실"
                " {early_log_loss:.4f} 대 {late_log_loss:.4f}; 가중치 감쇠 0.1: 검증 손실"
                " {decay_val[0.1]:.4f} 대 {decay_val[0.0]:.4f}",
            },
        ),
    ),
)
