#!/usr/bin/env bash
# The GPU checks, run once on a machine with CUDA (see the device notes in docs/benchmarks.md):
# the GPU tests (explicit vs autograd, CUDA graphs, tf32, bf16, no host sync in a step), a sweep
# trained on cuda against the same sweep on the CPU, the harness's GPU scenarios (per step
# against bare loops, CUDA graphs, each precision) and the stacked speed-up on the GPU. Writes
# its outputs under $OUT when set.
set -uo pipefail
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))"
python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py -rs 2>&1 | tail -5
sweep=(sweep configs/moons.yaml --vary training.lr=1,0.1,0.01 --vary model.activation=tanh,relu
       --seeds 2 --set training.epochs=30 --json --quiet)
python3 -m nncli "${sweep[@]}" --set training.device=cuda --out "$out/cuda" > "$out/cuda.json"
python3 -m nncli "${sweep[@]}" --out "$out/cpu" > "$out/cpu.json"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
cuda, cpu = (json.load(open(f"{out}/{d}.json")) for d in ("cuda", "cpu"))
worst = 0.0
for a, b in zip(cuda["results"], cpu["results"]):
    for x, y in zip(a["metrics"]["test"]["loss"]["values"], b["metrics"]["test"]["loss"]["values"]):
        worst = max(worst, abs(x - y) / max(abs(y), 1e-9))
print(f"sweep on cuda vs cpu: {len(cuda['results'])} variants, worst relative test-loss gap {worst:.2e}")
PY
python3 benchmarks/run.py --quick --threads 4 2>&1 | tee "$out/harness.txt"
python3 benchmarks/sweep_speed.py --engine-only --set training.device=cuda --repeats 3
python3 benchmarks/sweep_speed.py --engine-only --set training.device=cuda --repeats 3 --seeds 5 \
  --set model.depth=4 --set model.width=64 \
  --vary model.activation=sigmoid,tanh,relu,leaky_relu,elu,gelu
# CPU scaling on this machine's 16 cores: one process against two under torchrun (gloo).
python3 benchmarks/scaling.py --repeats 1 2>&1 | tee "$out/scaling.txt"
