#!/usr/bin/env bash
# NeuMF-8 on ML-1M (the paper's settings: batch 256, lr 0.001, 4 negatives, 20 epochs) once per seed, to see how far
# the best and final HR@10 move with the seed alone. Writes runs/seeds/neumf-8-OPT-sSEED.jsonl and appends each run's
# wall time (process start to exit, evaluation after every epoch included) to runs/seeds/wall.txt.
# Usage: tools/seed-sweep.sh adam|lazy-adam|deferred-adam SEED...   env: DATA, THREADS (2), AVERAGE_FROM (weight averaging
# from that epoch, `--average-from`; the runs are then named neumf-8-OPT-avgN-sSEED).
set -euo pipefail
cd "$(dirname "$0")/.."
OPT=$1; shift
DATA=${DATA:-../shared/data/ml-1m/ml-1m}
THREADS=${THREADS:-2}
OUT=runs/seeds
AVERAGE_FROM=${AVERAGE_FROM:-0}
NAME=$OPT
[ "$AVERAGE_FROM" = 0 ] || NAME=$OPT-avg$AVERAGE_FROM
mkdir -p "$OUT"
# One build folder per commit, never republished while a sweep may be running from it; commit before sweeping.
BIN=$OUT/bin-$(git rev-parse --short HEAD)
[ -f "$BIN/ncf.dll" ] || dotnet publish src/Ncf.Cli -c Release -o "$BIN" -v quiet -nologo >/dev/null
for s in "$@"; do
  start=$(date +%s.%N)
  dotnet "$BIN/ncf.dll" train --data "$DATA" --model neumf --factors 8 --layers 3 --epochs 20 --seed "$s" --threads "$THREADS" \
    --optimizer "$OPT" --average-from "$AVERAGE_FROM" --json > "$OUT/neumf-8-$NAME-s$s.jsonl.tmp"
  mv "$OUT/neumf-8-$NAME-s$s.jsonl.tmp" "$OUT/neumf-8-$NAME-s$s.jsonl"
  echo "$NAME seed $s wall $(echo "$(date +%s.%N) - $start" | bc) s" >> "$OUT/wall.txt"
done
