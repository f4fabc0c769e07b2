#!/usr/bin/env bash
# Reproduces the NCF paper's ML-1M table with this engine: GMF, MLP and NeuMF at factors 8, 16, 32, 64 (batch 256,
# lr 0.001, 4 negatives, 20 epochs, 3 tower layers), and NeuMF pre-trained from the GMF and MLP runs.
# Writes one JSONL file per run under runs/paper/ (ignored by git) and prints the commands it ran.
# Usage: tools/paper-table.sh [FACTORS...]   (default: 8 16 32 64); DATA=../shared/data/ml-1m/ml-1m THREADS=2 SEED=42
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/ml-1m/ml-1m}
THREADS=${THREADS:-2}
SEED=${SEED:-42}
EPOCHS=${EPOCHS:-20}
OUT=runs/paper
PARENTS=${PARENTS:-best}
mkdir -p "$OUT"
# A private copy of the build, so rebuilding the project while the table runs cannot change the binary mid-way.
dotnet publish src/Ncf.Cli -c Release -o "$OUT/bin" -v quiet -nologo >/dev/null
NCF="dotnet $OUT/bin/ncf.dll"
factors=("$@")
[ ${#factors[@]} -gt 0 ] || factors=(8 16 32 64)
run() { # name, then ncf train arguments
  local name=$1; shift
  if [ -f "$OUT/$name.jsonl" ] && [ "${RERUN:-0}" != 1 ]; then echo "$name: done already (RERUN=1 to redo)"; return; fi
  local cmd="ncf train --data $DATA --epochs $EPOCHS --seed $SEED --threads $THREADS --json $*"
  echo "$cmd" > "$OUT/$name.cmd"
  local start=$(date +%s)
  $NCF train --data "$DATA" --epochs "$EPOCHS" --seed "$SEED" --threads "$THREADS" --json "$@" > "$OUT/$name.jsonl.tmp"
  mv "$OUT/$name.jsonl.tmp" "$OUT/$name.jsonl"
  echo "$name: $(( $(date +%s) - start )) s  $(tail -1 "$OUT/$name.jsonl" | cut -c1-200)"
}
for f in "${factors[@]}"; do
  run "gmf-$f" --model gmf --factors "$f" --checkpoint "$PARENTS" --out "$OUT/gmf-$f.ncf"
  run "mlp-$f" --model mlp --factors "$f" --layers 3 --checkpoint "$PARENTS" --out "$OUT/mlp-$f.ncf"
  run "neumf-$f" --model neumf --factors "$f" --layers 3
  run "neumf-pre-$f" --model neumf --factors "$f" --layers 3 --gmf "$OUT/gmf-$f.ncf" --mlp "$OUT/mlp-$f.ncf"
done
