#!/usr/bin/env bash
# NeuMF-8 on ML-1M (the paper's settings: batch 256, lr 0.001, 4 negatives, 20 epochs) once per seed, to see how far
# the best and final HR@10 move with the seed alone. Writes runs/seeds/neumf-8-OPT-sSEED.jsonl and appends each run's
# wall time (process start to exit, evaluation after every epoch included) to runs/seeds/wall.txt.
# Usage: tools/seed-sweep.sh adam|lazy-adam SEED...   env: DATA, THREADS (2)
set -euo pipefail
cd "$(dirname "$0")/.."
OPT=$1; shift
DATA=${DATA:-../shared/data/ml-1m/ml-1m}
THREADS=${THREADS:-2}
OUT=runs/seeds
mkdir -p "$OUT"
[ -x "$OUT/bin/ncf.dll" ] || [ -f "$OUT/bin/ncf.dll" ] || dotnet publish src/Ncf.Cli -c Release -o "$OUT/bin" -v quiet -nologo >/dev/null
for s in "$@"; do
  start=$(date +%s.%N)
  dotnet "$OUT/bin/ncf.dll" train --data "$DATA" --model neumf --factors 8 --layers 3 --epochs 20 --seed "$s" --threads "$THREADS" \
    --optimizer "$OPT" --json > "$OUT/neumf-8-$OPT-s$s.jsonl.tmp"
  mv "$OUT/neumf-8-$OPT-s$s.jsonl.tmp" "$OUT/neumf-8-$OPT-s$s.jsonl"
  echo "$OPT seed $s wall $(echo "$(date +%s.%N) - $start" | bc) s" >> "$OUT/wall.txt"
done
