# Before/after benchmark of the dsprites_reference train step, one script, nothing else running.
# before = commit ab43ef4 (git worktree at /work/before), now = /work/main (HEAD).
set -x
OUT=/work/bench/final2
for prec in float32 mixed_bfloat16; do
 for tree in before main; do
  cd /work/$tree && PYTHONPATH=/work/$tree python tools/benchmark.py --flagfile=flags/dsprites_reference.flags --precision=$prec --iterations=20 --output=$OUT/${tree}_${prec}.json > $OUT/${tree}_${prec}.log 2>&1
 done
 cd /work/main && rm -rf /tmp/prof_final_$prec && python tools/profile_step.py --flagfile=flags/dsprites_reference.flags --precision=$prec --iterations=3 --logdir=/tmp/prof_final_$prec --top=20 --output=$OUT/profile_${prec}.json > $OUT/profile_${prec}.log 2>&1
done
for tree in before main; do
  cd /work/$tree && PYTHONPATH=/work/$tree python tools/benchmark.py --flagfile=flags/dsprites_cpu.flags --iterations=10 --bench_steps_per_loop=5 --output=$OUT/${tree}_cpu_float32.json > $OUT/${tree}_cpu_float32.log 2>&1
done
