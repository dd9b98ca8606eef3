# float32 pair again (the float32 'now' run in final2 was disturbed: p90 5.8 s, matmul peak 129 GFLOP/s).
set -x
OUT=/work/bench/final3
for tree in before main; do
  cd /work/$tree && PYTHONPATH=/work/$tree python tools/benchmark.py --flagfile=flags/dsprites_reference.flags --precision=float32 --iterations=20 --output=$OUT/${tree}_float32.json > $OUT/${tree}_float32.log 2>&1
done
