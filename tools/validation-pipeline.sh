#!/usr/bin/env bash
# Pre-trained NeuMF-64 with no choice made on the test set: the tuned GMF-64 and MLP-64 recipes trained without
# each user's validation row, each saved at the epoch the validation set chooses, assembled (epoch 0), and the
# parents' share alpha chosen on validation. Writes runs/validation/*.jsonl and prints the test figures.
# Takes about 50 min on a 2-core machine. Usage: tools/validation-pipeline.sh   env: DATA, THREADS (2), SEED (42)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/ml-1m/ml-1m}
THREADS=${THREADS:-2}
SEED=${SEED:-42}
OUT=runs/validation
mkdir -p "$OUT"
dotnet publish src/Ncf.Cli -c Release -o "$OUT/bin" -v quiet -nologo >/dev/null
NCF="dotnet $OUT/bin/ncf.dll"
common=(--data "$DATA" --seed "$SEED" --threads "$THREADS" --json --validation)
$NCF train "${common[@]}" --checkpoint best --model gmf --factors 64 --optimizer deferred-adam --epochs 200 \
    --lr 0.00003125 --l2 1e-5 --out "$OUT/gmf64.ncf" > "$OUT/gmf64.jsonl"
$NCF train "${common[@]}" --checkpoint best --model mlp --factors 64 --layers 3 --optimizer deferred-adam --epochs 16 \
    --neg 8 --average-from 5 --out "$OUT/mlp64.ncf" > "$OUT/mlp64.jsonl"
for alpha in 0.3 0.4 0.5 0.6 0.7 0.8; do
    $NCF train "${common[@]}" --model neumf --factors 64 --layers 3 --gmf "$OUT/gmf64.ncf" --mlp "$OUT/mlp64.ncf" \
        --epochs 0 --alpha "$alpha" > "$OUT/neumf64-alpha$alpha.jsonl"
done
python3 - "$OUT" <<'PY'
import json, sys, glob
out = sys.argv[1]
def summary(name):
    return [json.loads(l) for l in open(f"{out}/{name}.jsonl")][-1]
for name in ("gmf64", "mlp64"):
    s = summary(name)
    print(f"{name}: epoch {s['best_epoch']} chosen on validation: test HR@10 {s['best_hr10']:.4f} NDCG@10 {s['best_ndcg10']:.4f}")
runs = []
for path in sorted(glob.glob(f"{out}/neumf64-alpha*.jsonl")):
    first = json.loads(open(path).readline())
    runs.append((first["val_hr10"], path.split("alpha")[1][:-6], first["hr10"], first["ndcg10"]))
val, alpha, hr, ndcg = max(runs, key=lambda r: r[0])
print(f"neumf64 assembled, alpha {alpha} chosen on validation (HR@10 {val:.4f}): test HR@10 {hr:.4f} NDCG@10 {ndcg:.4f}")
PY
