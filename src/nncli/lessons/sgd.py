"""Lesson 3: SGD's knobs: gradient descent, epochs, mini-batches and batch size, learning rate."""

from __future__ import annotations

import re

from nncli.lessons.lesson import Figure, Idea, Lesson, Runs, Step, by_value, mean


def _where(record: dict) -> str:
    """Where a variant's seeds diverged, as the sweep table writes it: `0: 2, 3; 1: 2, 5`."""
    return "; ".join(f"{d['seed']}: {d['epoch']}, {d['step']}" for d in record["diverged_at"])


def numbers(runs: Runs) -> dict:
    lr = by_value(runs.json("lr/summary.json"), "training.lr")
    long = by_value(runs.json("epochs/summary.json"), "training.lr")
    raw = by_value(runs.json("raw/summary.json"), "training.lr")
    batch = runs.json("batch/summary.json")
    sizes = by_value(batch, "training.batch_size")
    steps = re.search(
        r"\(([\d, ]+) steps per epoch over (\d+) training rows\)",
        runs.json("batch/run.json")["setup"],
    )
    per_epoch = [int(s) for s in steps.group(1).split(", ")] if steps else []
    return {
        "diverged_1": lr[1.0]["diverged"],
        "where_1": _where(lr[1.0]),
        "loss_100": {str(v): mean(r, "train", "loss") for v, r in lr.items() if v != 1.0},
        "loss_1000": {str(v): mean(r, "train", "loss") for v, r in long.items()},
        "std_1000": {str(v): r["metrics"]["train"]["loss"]["std"] for v, r in long.items()},
        "raw_diverged": {str(v): r["diverged"] for v, r in raw.items()},
        "raw_where": _where(raw[0.1]),
        "raw_r2": {str(v): mean(r, "test", "r2") for v, r in raw.items() if not r["diverged"]},
        "raw_best": {str(v): r["best_epoch"]["mean"] for v, r in raw.items() if not r["diverged"]},
        "train_rows": int(steps.group(2)) if steps else None,
        "steps_per_epoch": per_epoch,
        "steps_20": [20 * s for s in per_epoch],
        "batch_loss": [mean(sizes[b], "train", "loss") for b in (1, 32, 350)],
        "seconds": [stack["seconds"] for stack in batch["stacks"]],  # measured: varies by run
    }


def claims(n: dict) -> list[tuple[bool, str]]:
    loss, long = n["loss_100"], n["loss_1000"]
    return [
        (n["diverged_1"] == 3, "lr 1 diverges on every seed"),
        (loss["0.001"] > loss["0.01"] > loss["0.1"], f"in 100 epochs, smaller is slower: {loss}"),
        (abs(long["0.001"] / loss["0.01"] - 1) < 0.1, "lr 0.001 x 1000 epochs ~ 0.01 x 100"),
        (long["0.005"] < loss["0.01"], "lr 0.005 x 1000 epochs beats 0.01 x 100"),
        (
            n["raw_diverged"]["0.1"] == n["raw_diverged"]["0.01"] == 3,
            "raw targets: 0.1, 0.01 diverge",
        ),
        (n["raw_diverged"]["0.001"] == n["raw_diverged"]["0.0001"] == 0, "raw: 0.001 trains"),
        (n["steps_per_epoch"] == [350, 11, 1], f"steps per epoch {n['steps_per_epoch']}"),
        (n["seconds"][0] > n["seconds"][-1], "a batch of 1 takes longer than the full batch"),
        (n["batch_loss"][0] < n["batch_loss"][-1], "more steps get further in 20 epochs"),
    ]


EN = """\
Training is gradient descent: after each mini-batch, every weight takes a step against its
gradient, the learning rate (`training.lr`) times the gradient back-propagation computed. An
epoch is every training row seen once, in mini-batches of `training.batch_size` rows, one step
per mini-batch: the notes' number of mini-batches is what the setup line calls steps per epoch.
`configs/sgd.yaml` fits y = sin(x) with plain SGD (no momentum), so that each knob does one
thing.

### The learning rate, across decades

[[run lr]]

At `lr=1` the steps overshoot and grow until the loss is no longer a number: nncli stops that
model, says where (seed: epoch, step: {where_1}) and lets the others finish (the exit code is 1
only when every model diverged). At `lr=0.1` the training loss ends at {loss_100[0.1]:.4f}; at
0.01 it is {loss_100[0.01]:.4f} and at 0.001 {loss_100[0.001]:.4f}: the same 100 epochs, steps
ten times smaller, and the network is still crawling towards the fit. The loss curves (lr 1's
end where they diverged):

[[figure lr-loss-curves.png]]

### The notes' advice: below 0.01, several times, for longer

The notes advise trying learning rates below 0.01, several times. As one command: 0.005 and
0.001, three seeds each, ten times the epochs:

[[run epochs]]

lr 0.001 for 1000 epochs ends at training loss {loss_1000[0.001]:.4f} (± {std_1000[0.001]:.4f}
over the seeds), where lr 0.01 ended after 100 ({loss_100[0.01]:.4f}): the same place. While
steps are small, what counts is their number times their size, lr × epochs: ten times smaller
steps need ten times more of them. lr 0.005 for 1000 epochs (a product of 5) reaches
{loss_1000[0.005]:.4f}, short of lr 0.1 for 100 epochs (a product of 10), {loss_100[0.1]:.4f}.
On this problem the advice costs ten times the training and buys nothing: the larger rate gets
there in a tenth of the epochs.

[[figure lr-epochs-loss-curves.png]]

### When the advice holds

It holds where the gradient is large. nncli standardizes a regression's target by default
(`data.scale_target: true`), so the loss is measured in standard deviations. On the diabetes
set, whose targets run from 25 to 346, turn that off and the squared errors, and with them the
gradients, are thousands of times larger:

[[run raw]]

lr 0.1 and 0.01 diverge on every seed within the first epoch (lr 0.1, seed: epoch, step:
{raw_where}); 0.001 and 0.0001 train (test R² {raw_r2[0.001]:.2f} and {raw_r2[0.0001]:.2f}).
Here the notes' advice is right. Unscaled inputs, momentum and deeper networks enlarge the steps
the same way. A learning rate is small or large only against the gradient it multiplies: try a
few decades, several seeds each, and keep the largest whose loss falls steadily.

That search is one command: `nncli tune configs/tune_lr.yaml --search
'training.lr=loguniform(1e-4,1)' --seeds 3 --trials 40` draws 40 rates on a log scale, trains 8
at once, judges each on validation, and draws `loss_by_value.png`: the val loss against the rate,
diverged rates marked (docs/commands.md#tune-a-search-with-optuna).

### Batch size: steps per epoch, noise and time

[[run batch]]

The `varied:` line counts the steps: over {train_rows} training rows a batch of 1 makes
{steps_per_epoch[0]} steps an epoch ({steps_per_epoch[0]} mini-batches), a batch of 32 makes
{steps_per_epoch[1]} and the full batch {steps_per_epoch[2]}; in 20 epochs that is {steps_20}
steps. The full batch is plain gradient descent: the exact gradient of the whole training loss,
once an epoch. A batch of 1 is stochastic gradient descent (SGD) in its strictest form: each
step's gradient is one row's, a noisy estimate. Mini-batches sit between. More steps get
further in the same epochs (training loss {batch_loss:.4f}) but cost time (the line under the
table gives each stack's seconds). The batch of 1's loss jumps from epoch to epoch (the widest
band); the full batch's is smooth and slow:

[[figure batch-loss-curves.png]]
"""

KO = """\
학습은 경사 하강법입니다. 미니배치 하나를 볼 때마다 모든 가중치가 기울기 반대 방향으로 한 걸음
움직이는데, 그 크기는 학습률(`training.lr`)에 역전파가 계산한 기울기를 곱한 값입니다. 에포크는 학습
데이터의 모든 행을 한 번씩 보는 것이고, `training.batch_size`개 행씩 미니배치로 나누어 미니배치마다
한 걸음씩 갑니다. 강의 노트의 미니배치 개수가 설정 줄의 steps per epoch(에포크당 스텝 수)입니다.
`configs/sgd.yaml`은 모멘텀 없는 순수한 SGD로 y = sin(x)를 맞춥니다. 손잡이 하나가 한 가지 일만
하도록 하기 위해서입니다.

### 학습률, 열 배씩 바꿔 보기

[[run lr]]

`lr=1`에서는 걸음이 목표를 지나쳐 점점 커지다가 손실이 더는 숫자가 아니게 됩니다(발산). nncli는 그
모델을 멈추고 어디서 발산했는지 알려 주며(시드: 에포크, 스텝: {where_1}) 나머지 모델은 끝까지
학습합니다 (모든 모델이 발산했을 때만 종료 코드가 1입니다). `lr=0.1`에서 학습 손실은 마지막에
{loss_100[0.1]:.4f}입니다. 0.01에서는 {loss_100[0.01]:.4f}, 0.001에서는
{loss_100[0.001]:.4f}입니다. 같은 100 에포크에 걸음이 열 배씩 작으니, 망은 아직 답을 향해 기어가는
중입니다. 손실 곡선(lr 1의 곡선은 발산한 곳에서 끝납니다):

[[figure lr-loss-curves.png]]

### 강의 노트의 조언: 0.01보다 작게, 여러 번, 더 오래

강의 노트는 학습률을 0.01보다 작은 값으로 여러 번 시도해 보라고 권합니다. 그 조언을 명령 하나로:
0.005와 0.001을 시드 3개씩, 에포크는 열 배로:

[[run epochs]]

lr 0.001로 1000 에포크를 학습하면 학습 손실이 {loss_1000[0.001]:.4f}(시드 간 ±
{std_1000[0.001]:.4f})로 끝납니다. lr 0.01로 100 에포크를 학습한 결과({loss_100[0.01]:.4f})와 같은
자리입니다. 걸음이 작은 동안에는 걸음 수와 걸음 크기의 곱, 즉 학습률 × 에포크가 중요합니다. 열 배
작은 걸음에는 열 배 많은 걸음이 필요합니다. lr 0.005로 1000 에포크(곱 5)면 {loss_1000[0.005]:.4f}에
이르러, lr 0.1로 100 에포크(곱 10)의 {loss_100[0.1]:.4f}에 못 미칩니다. 이 문제에서 그 조언은
학습을 열 배로 늘리고도 얻는 것이 없습니다. 큰 학습률은 10분의 1의 에포크로 같은 곳에 갑니다.

[[figure lr-epochs-loss-curves.png]]

### 그 조언이 맞는 경우

기울기가 클 때 맞습니다. nncli는 회귀의 목표값을 기본으로 표준화하므로(`data.scale_target: true`)
손실이 표준편차 단위로 재어집니다. 목표값이 25에서 346까지인 diabetes 데이터에서 이를 끄면 제곱
오차가, 그리고 기울기가 수천 배 커집니다:

[[run raw]]

lr 0.1과 0.01은 모든 시드에서 첫 에포크 안에 발산합니다(lr 0.1, 시드: 에포크, 스텝: {raw_where}).
0.001과 0.0001은 학습합니다(테스트 R² {raw_r2[0.001]:.2f}, {raw_r2[0.0001]:.2f}). 여기서는 강의
노트의 조언이 옳습니다. 스케일하지 않은 입력, 모멘텀, 더 깊은 망도 같은 식으로 걸음을 키웁니다.
학습률이 작은지 큰지는 그것이 곱해지는 기울기에 견주어서만 정해집니다. 열 배 간격으로 몇 값을, 각각
여러 시드로 시도하고, 손실이 꾸준히 내려가는 것 중 가장 큰 값을 고르십시오.

이 탐색은 명령 하나입니다. `nncli tune configs/tune_lr.yaml --search
'training.lr=loguniform(1e-4,1)' --seeds 3 --trials 40`은 로그 척도에서 학습률 40개를 뽑아 8개씩
한 번에 학습하고, 각각을 검증 데이터로 판정하며, `loss_by_value.png`에 학습률에 따른 검증 손실과
발산한 학습률을 그립니다(docs/commands.md#tune-a-search-with-optuna).

### 배치 크기: 에포크당 스텝 수, 잡음, 시간

[[run batch]]

`varied:` 줄이 스텝을 셉니다. 학습 데이터 {train_rows}행에서 배치 크기 1은 에포크마다
{steps_per_epoch[0]} 스텝(미니배치 {steps_per_epoch[0]}개), 배치 크기 32는 {steps_per_epoch[1]}
스텝, 전체 배치는 {steps_per_epoch[2]} 스텝입니다. 20 에포크면 {steps_20} 스텝입니다. 전체 배치는
순수한 경사 하강법입니다. 에포크마다 한 번, 학습 손실 전체의 정확한 기울기를 씁니다. 배치 크기 1은
가장 엄밀한 뜻의 확률적 경사 하강법(SGD)입니다. 스텝마다 한 행의 기울기, 즉 잡음 섞인 추정치를
씁니다. 미니배치는 그 사이에 있습니다. 같은 에포크 안에서 스텝이 많을수록 더 멀리 가지만(학습 손실
{batch_loss:.4f}) 시간이 더 듭니다(표 아래 줄이 묶음마다 걸린 초를 보여 줍니다). 배치 크기 1의
손실은 에포크마다 튀고(가장 넓은 띠), 전체 배치의 손실은 매끄럽고 느립니다:

[[figure batch-loss-curves.png]]
"""

LESSON = Lesson(
    number=3,
    slug="sgd",
    title={
        "en": "SGD's knobs: gradient descent, epochs, mini-batches, learning rate",
        "ko": "SGD의 손잡이: 경사 하강법, 에포크, 미니배치, 학습률",
    },
    steps=(
        Step(
            "lr",
            "sweep {configs}/sgd.yaml --vary training.lr=1,0.1,0.01,0.001 --seeds 3 --out {out}",
            cost=3,
        ),
        Step(
            "epochs",
            "sweep {configs}/sgd.yaml --vary training.lr=0.005,0.001"
            " --set training.epochs=1000 --seeds 3 --out {out}",
            cost=8,
        ),
        Step(
            "raw",
            "sweep {configs}/diabetes.yaml --set data.scale_target=false"
            " --vary training.lr=0.1,0.01,0.001,0.0001 --seeds 3 --out {out}",
            cost=5,
        ),
        Step(
            "batch",
            "sweep {configs}/sgd.yaml --vary training.batch_size=1,32,350"
            " --set training.epochs=20 --seeds 3 --out {out}",
            cost=4,
        ),
    ),
    figures=(
        Figure(
            "lr",
            "loss_curves.png",
            "lr-loss-curves.png",
            {"en": "Loss curves by learning rate", "ko": "학습률별 손실 곡선"},
        ),
        Figure(
            "epochs",
            "loss_curves.png",
            "lr-epochs-loss-curves.png",
            {"en": "Small learning rates, 1000 epochs", "ko": "작은 학습률, 1000 에포크"},
        ),
        Figure(
            "batch",
            "loss_curves.png",
            "batch-loss-curves.png",
            {"en": "Loss curves by batch size", "ko": "배치 크기별 손실 곡선"},
        ),
    ),
    numbers=numbers,
    claims=claims,
    text={"en": EN, "ko": KO},
    ideas=(
        Idea(
            {"en": "gradient descent and SGD", "ko": "경사 하강법과 확률적 경사 하강법"},
            {
                "en": "batch 1 (SGD), 32, 350 (gradient descent): train loss {batch_loss:.4f}"
                " after 20 epochs",
                "ko": "배치 1(SGD), 32, 350(경사 하강법): 20 에포크 뒤 학습 손실 {batch_loss:.4f}",
            },
        ),
        Idea(
            {"en": "mini-batch and batch size", "ko": "미니배치와 배치 크기"},
            {
                "en": "batch 1, 32, 350 over {train_rows} rows: {steps_per_epoch} steps per epoch",
                "ko": "{train_rows}행에서 배치 1, 32, 350: 에포크당 {steps_per_epoch} 스텝",
            },
        ),
        Idea(
            {"en": "epochs", "ko": "에포크"},
            {
                "en": "lr 0.001: train loss {loss_100[0.001]:.4f} after 100 epochs,"
                " {loss_1000[0.001]:.4f} after 1000",
                "ko": "lr 0.001: 100 에포크 뒤 학습 손실 {loss_100[0.001]:.4f}, 1000 에포크 뒤"
                " {loss_1000[0.001]:.4f}",
            },
        ),
        Idea(
            {"en": "learning rate", "ko": "학습률"},
            {
                "en": "lr 1 diverges ({diverged_1}/3 seeds); 0.001 × 1000 epochs"
                " {loss_1000[0.001]:.4f} ≈ 0.01 × 100 {loss_100[0.01]:.4f}; unscaled"
                " targets: 0.1 and 0.01 diverge",
                "ko": "lr 1 발산(시드 {diverged_1}/3); 0.001 × 1000 에포크 {loss_1000[0.001]:.4f} ≈"
                " 0.01 × 100 {loss_100[0.01]:.4f}; 스케일 안 한 목표값: 0.1, 0.01 발산",
            },
        ),
    ),
)
