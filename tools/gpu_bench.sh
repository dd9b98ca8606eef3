#!/usr/bin/env bash
# GPU throughput benchmark and short training run, as one prepared script (issue 20).
#
#   bash tools/gpu_bench.sh OUT_DIR [--install]
#
# --install first installs the project and the GPU build of TensorFlow as the README says
# (requirements.txt, `pip install -e . --no-deps`, then tensorflow-cpu replaced by
# tensorflow[and-cuda]==2.21.0); without it the installed TensorFlow is used as it is.
# Then, for each preset x precision x XLA setting, tools/benchmark.py writes one JSON file to
# OUT_DIR, and a short dsprites_reference training run writes its stats.jsonl there. summary.json
# lists every benchmark with the projected wall time of a 50,000-iteration run.
#
# Environment (all optional):
#   PRESETS="dsprites_reference dsprites chairs"   PRECISIONS="float32 mixed_bfloat16 mixed_float16"
#   XLA="false true"   ITERATIONS=50 (timed iterations)   LOOP=25 (iterations per compiled call)
#   TRAIN_STEPS=2000 (0 skips the training run)   TRAIN_PRECISION=mixed_bfloat16
#   DRY_RUN=1 prints the commands without running them (no GPU needed).
set -uo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
  echo "error: usage: bash tools/gpu_bench.sh OUT_DIR [--install]" >&2
  exit 2
fi
OUT=$1
INSTALL=${2:-}
if [ -n "$INSTALL" ] && [ "$INSTALL" != "--install" ]; then
  echo "error: second argument $INSTALL is not allowed; the only option is --install" >&2
  exit 2
fi
PRESETS=${PRESETS:-"dsprites_reference dsprites chairs"}
PRECISIONS=${PRECISIONS:-"float32 mixed_bfloat16 mixed_float16"}
XLA=${XLA:-"false true"}
ITERATIONS=${ITERATIONS:-50}
LOOP=${LOOP:-25}
TRAIN_STEPS=${TRAIN_STEPS:-2000}
TRAIN_PRECISION=${TRAIN_PRECISION:-mixed_bfloat16}
DRY_RUN=${DRY_RUN:-0}

run() {
  echo "+ $*"
  if [ "$DRY_RUN" != 1 ]; then "$@"; fi
}

if [ "$DRY_RUN" != 1 ]; then
  if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "error: no NVIDIA GPU here (nvidia-smi not found); DRY_RUN=1 prints the commands" >&2
    exit 2
  fi
  if [ -e "$OUT" ] && [ -n "$(ls -A "$OUT" 2>/dev/null)" ]; then
    echo "error: OUT_DIR=$OUT exists and is not empty; give a new folder" >&2
    exit 2
  fi
fi
run mkdir -p "$OUT"

if [ "$INSTALL" = "--install" ]; then
  run python -m pip install --quiet -r requirements.txt
  run python -m pip install --quiet -e . --no-deps
  run python -m pip uninstall --quiet -y tensorflow-cpu
  run python -m pip install --quiet "tensorflow[and-cuda]==2.21.0"
fi

if [ "$DRY_RUN" != 1 ]; then
  nvidia-smi -L > "$OUT/gpus.txt"
  if ! python -c "import sys, tensorflow as tf; sys.exit(0 if tf.config.list_physical_devices('GPU') else 1)"; then
    echo "error: TensorFlow sees no GPU (see $OUT/gpus.txt); run with --install" >&2
    exit 2
  fi
fi

failed=0
for preset in $PRESETS; do
  # chairs needs its image folder; its shapes and speed are measured on synthetic images.
  data=()
  if [ "$preset" = chairs ]; then data=(--dataset=fake); fi
  for precision in $PRECISIONS; do
    for xla in $XLA; do
      name="bench_${preset}_${precision}_xla-${xla}"
      if ! run python tools/benchmark.py --flagfile="flags/$preset.flags" "${data[@]}" \
          --precision="$precision" --jit_compile="$xla" --iterations="$ITERATIONS" \
          --bench_steps_per_loop="$LOOP" --output="$OUT/$name.json"; then
        echo "failed: $name" | tee -a "$OUT/failures.txt"
        failed=$((failed + 1))
      fi
    done
  done
done

if [ "$TRAIN_STEPS" -gt 0 ]; then
  if run python -m oogan_tf.train --flagfile=flags/dsprites_reference.flags \
      --precision="$TRAIN_PRECISION" --train_steps="$TRAIN_STEPS" \
      --instance_noise_steps=$((TRAIN_STEPS / 10)) --sample_every_steps=1000 \
      --checkpoint_every_steps=1000 --model_dir="$OUT/train_reference"; then
    run cp "$OUT/train_reference/stats.jsonl" "$OUT/train_reference_stats.jsonl"
  else
    echo "failed: training run" | tee -a "$OUT/failures.txt"
    failed=$((failed + 1))
  fi
fi

run python tools/benchmark_summary.py "$OUT"
echo "gpu_bench: $failed failed step(s); results in $OUT"
[ "$failed" -eq 0 ]
