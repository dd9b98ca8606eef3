set -x
for prec in float32 mixed_bfloat16; do
 for tree in before main; do
  cd /work/$tree && PYTHONPATH=/work/$tree python tools/benchmark.py --flagfile=flags/dsprites_reference.flags --precision=$prec --iterations=20 --output=/work/bench/final/${tree}_${prec}.json > /work/bench/final/${tree}_${prec}.log 2>&1
 done
done
