#!/usr/bin/env bash
# The headline CPU figures of docs/performance.md in one go, on an otherwise idle machine:
#  1. benchmarks/compare-peers.sh 1 (one ML-1M epoch each: ncf exact, lazy and deferred Adam, PyTorch, TorchSharp; scoring);
#  2. 20 epochs of NeuMF-8 end to end (process start to exit, evaluation after every epoch), lazy, deferred and exact Adam;
#  3. the fused step against the layer-by-layer one (`ncf bench --step`), alternated, two rounds.
# Usage: benchmarks/headline.sh   env: DATA (NCF prefix), THREADS (2), SEED (42)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/ml-1m/ml-1m}
THREADS=${THREADS:-2}
SEED=${SEED:-42}
benchmarks/compare-peers.sh 1
NCF="dotnet ${NCF_PEER_BUILD:-${TMPDIR:-/tmp}/ncf-peers}/ncf/ncf.dll" # published by compare-peers.sh
echo
echo "20 epochs, NeuMF-8, seed $SEED, $THREADS threads (wall time of the whole process):"
for opt in lazy-adam deferred-adam adam; do
  start=$(date +%s.%N)
  summary=$($NCF train --data "$DATA" --epochs 20 --seed "$SEED" --threads "$THREADS" --optimizer "$opt" --json | tail -n 1)
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  python3 -c "import json,sys; s=json.loads(sys.argv[1]); print(f'  {sys.argv[2]:<10} wall {float(sys.argv[3]):6.1f} s  best HR@10 {s[\"best_hr10\"]:.4f} (epoch {s[\"best_epoch\"]})  final {s[\"final_hr10\"]:.4f}')" "$summary" "$opt" "$wall"
done
echo
echo "fused vs layer-by-layer step, one ML-1M epoch each (samples/s):"
for round in 1 2; do
  for opt in lazy-adam adam; do
    for step in fused layered; do
      rate=$($NCF bench --data "$DATA" --threads "$THREADS" --optimizer "$opt" --step "$step" --score-users 10 --json \
        | python3 -c "import json,sys; print(f'{json.loads(sys.stdin.read())[\"train_samples_per_second\"]:,.0f}')")
      echo "  round $round  $opt  $step  $rate"
    done
  done
done
