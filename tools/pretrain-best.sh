#!/usr/bin/env bash
# The authors' pre-training: GMF and MLP parents saved at their best epoch (chosen on the test set, as GMF.py and
# MLP.py do), then NeuMF fine-tuned from them with SGD. Writes runs/extra/{gmf,mlp,neumf-pre}-best-F.jsonl.
# Usage: tools/pretrain-best.sh [F]   env: DATA, THREADS (2), SEED (42), NO_PUBLISH=1 (reuse runs/extra/bin)
set -euo pipefail
cd "$(dirname "$0")/.."
F=${1:-8}
DATA=${DATA:-../shared/data/ml-1m/ml-1m}
THREADS=${THREADS:-2}
SEED=${SEED:-42}
OUT=runs/extra
mkdir -p "$OUT"
[ "${NO_PUBLISH:-0}" = 1 ] || dotnet publish src/Ncf.Cli -c Release -o "$OUT/bin" -v quiet -nologo >/dev/null
NCF="dotnet $OUT/bin/ncf.dll"
common=(--data "$DATA" --epochs 20 --seed "$SEED" --threads "$THREADS" --json)
$NCF train "${common[@]}" --model gmf --factors "$F" --checkpoint best --out "$OUT/gmf-best-$F.ncf" > "$OUT/gmf-best-$F.jsonl"
$NCF train "${common[@]}" --model mlp --factors "$F" --layers 3 --checkpoint best --out "$OUT/mlp-best-$F.ncf" > "$OUT/mlp-best-$F.jsonl"
$NCF train "${common[@]}" --model neumf --factors "$F" --layers 3 --gmf "$OUT/gmf-best-$F.ncf" --mlp "$OUT/mlp-best-$F.ncf" > "$OUT/neumf-pre-best-$F.jsonl"
tail -n 1 "$OUT/neumf-pre-best-$F.jsonl"
