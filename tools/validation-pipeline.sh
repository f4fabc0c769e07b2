#!/usr/bin/env bash
# Pre-trained NeuMF-64 with no choice made on the test set: the tuned GMF-64 and MLP-64 recipes trained without
# each user's validation row, each saved at the epoch the validation set chooses, assembled (epoch 0), and the
# parents' share alpha chosen on validation. Then the refit: each parent trained again with the validation rows in
# training for the epochs validation chose (what `ncf train --validation --refit` does in one command; done here by
# hand because alpha is chosen on the validation-run parents), assembled with the chosen alpha.
# Writes runs/validation/*.jsonl and prints the test figures.
# Takes about 100 min on a 2-core machine. Usage: tools/validation-pipeline.sh   env: DATA, THREADS (2), SEED (42), OUT (runs/validation)
# Run it again after a crash or Ctrl-C: finished stages are kept, and the stage under way resumes from its --state.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/ml-1m/ml-1m}
THREADS=${THREADS:-2}
SEED=${SEED:-42}
OUT=${OUT:-runs/validation}
MLP_AVERAGE_FROM=5
mkdir -p "$OUT"
dotnet publish src/Ncf.Cli -c Release -o "$OUT/bin" -v quiet -nologo >/dev/null
NCF="dotnet $OUT/bin/ncf.dll"
# `stage NAME OPTIONS...`: ncf train OPTIONS into $OUT/NAME.jsonl, skipped once that file ends in a summary written by
# the same options (kept in $OUT/NAME.cmd: another SEED, DATA or recipe trains again); a stage that stopped part-way
# continues from $OUT/NAME.state (the same command with --resume), removed when it finishes.
stage() {
    local name=$1 resume=()
    shift
    local command="$*"
    if [ -f "$OUT/$name.cmd" ] && [ "$(cat "$OUT/$name.cmd")" = "$command" ]; then
        if [ -f "$OUT/$name.jsonl" ] && tail -n 1 "$OUT/$name.jsonl" | grep -q '"summary":true'; then
            return
        fi
        [ -f "$OUT/$name.state" ] && resume=(--resume)
    else
        rm -f "$OUT/$name.state" "$OUT/$name.jsonl"
        printf '%s\n' "$command" > "$OUT/$name.cmd"
    fi
    $NCF train "$@" --state "$OUT/$name.state" "${resume[@]}" > "$OUT/$name.jsonl"
    rm -f "$OUT/$name.state"
}
common=(--data "$DATA" --seed "$SEED" --threads "$THREADS" --json --validation)
stage gmf64 "${common[@]}" --checkpoint best --model gmf --factors 64 --optimizer deferred-adam --epochs 200 \
    --lr 0.00003125 --l2 1e-5 --out "$OUT/gmf64.ncf"
stage mlp64 "${common[@]}" --checkpoint best --model mlp --factors 64 --layers 3 --optimizer deferred-adam --epochs 16 \
    --neg 8 --average-from "$MLP_AVERAGE_FROM" --out "$OUT/mlp64.ncf"
for alpha in 0.3 0.4 0.5 0.6 0.7 0.8; do
    stage "neumf64-alpha$alpha" "${common[@]}" --model neumf --factors 64 --layers 3 --gmf "$OUT/gmf64.ncf" --mlp "$OUT/mlp64.ncf" \
        --epochs 0 --alpha "$alpha"
done
chosen() { python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1])][-1]["best_epoch"])' "$1"; }
refit=(--data "$DATA" --seed "$SEED" --threads "$THREADS" --json)
gmf_epochs=$(chosen "$OUT/gmf64.jsonl")
stage gmf64-refit "${refit[@]}" --model gmf --factors 64 --optimizer deferred-adam --epochs "$gmf_epochs" \
    --lr 0.00003125 --l2 1e-5 --out "$OUT/gmf64-refit.ncf"
mlp_epochs=$(chosen "$OUT/mlp64.jsonl")  # averaging carries over only if the chosen epoch had reached it, as --refit does
stage mlp64-refit "${refit[@]}" --model mlp --factors 64 --layers 3 --optimizer deferred-adam --epochs "$mlp_epochs" \
    --neg 8 --average-from $((mlp_epochs >= MLP_AVERAGE_FROM ? MLP_AVERAGE_FROM : 0)) --out "$OUT/mlp64-refit.ncf"
best_alpha=$(python3 - "$OUT" <<'PY'
import json, sys, glob
runs = [(json.loads(open(p).readline())["val_hr10"], p.split("alpha")[1][:-6]) for p in sorted(glob.glob(f"{sys.argv[1]}/neumf64-alpha*.jsonl"))]
print(max(runs, key=lambda r: r[0])[1])
PY
)
stage neumf64-refit "${refit[@]}" --model neumf --factors 64 --layers 3 --gmf "$OUT/gmf64-refit.ncf" --mlp "$OUT/mlp64-refit.ncf" \
    --epochs 0 --alpha "$best_alpha"
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
for name in ("gmf64-refit", "mlp64-refit"):
    s = summary(name)
    print(f"{name}: {s['epochs']} epochs with the validation rows: test HR@10 {s['final_hr10']:.4f} NDCG@10 {s['final_ndcg10']:.4f}")
s = summary("neumf64-refit")
print(f"neumf64 from the refitted parents, alpha {alpha}: test HR@10 {s['final_hr10']:.4f} NDCG@10 {s['final_ndcg10']:.4f}")
PY
