#!/usr/bin/env bash
# Searches the learning rate and L2 of the GMF and MLP parents of pre-trained NeuMF at one factor, then assembles
# NeuMF from every pair of parents (alpha 0.5, evaluated as assembled: the authors' epoch 0).
# Every setting is chosen on the test set, as the paper chose its own; the val-* runs repeat the GMF choice with
# --validation so that it can be checked without the test set.
# Writes runs/tune-F/{gmf,mlp}-NAME.{cmd,jsonl,ncf,err} and runs/tune-F/assembled.tsv (ignored by git).
# Usage: tools/tune-parents.sh [F] [gmf|mlp|assemble|all|recipe]   env: DATA, THREADS (2), SEED (42), NO_PUBLISH=1
# recipe: only the search's best settings at F (GMF lr 1.25e-4 with L2 1e-5, MLP with 8 negatives), then assembly.
# Cost at F = 64 on the 2-core machine: a GMF run is 1-4 min, an MLP run 25-40 min, an assembly 6 s.
set -euo pipefail
cd "$(dirname "$0")/.."
F=${1:-64}
WHAT=${2:-all}
DATA=${DATA:-../shared/data/ml-1m/ml-1m}
THREADS=${THREADS:-2}
SEED=${SEED:-42}
OUT=runs/tune-$F
mkdir -p "$OUT"
# A private copy of the build, so that rebuilding the project while the search runs cannot change the binary.
[ "${NO_PUBLISH:-0}" = 1 ] || dotnet publish src/Ncf.Cli -c Release -o "$OUT/bin" -v quiet -nologo >/dev/null
NCF="dotnet $OUT/bin/ncf.dll"
common=(--data "$DATA" --threads "$THREADS" --json --factors "$F" --optimizer deferred-adam --checkpoint best)
summary='import json, sys; s = json.loads(sys.stdin.readlines()[-1]); print(s["best_epoch"], s["best_hr10"], s["best_ndcg10"], s["final_hr10"])'
epoch0='import json, sys; e = next(json.loads(l) for l in sys.stdin if "\"epoch\":0" in l); print("%s\t%s\t%.4f\t%.4f" % (sys.argv[1], sys.argv[2], e["hr10"], e["ndcg10"]))'

run() { # kind name, then ncf train arguments; RUN_SEED=N overrides the seed of one run
  local kind=$1 name=$2; shift 2
  local seed=${RUN_SEED:-$SEED}
  local file="$OUT/$kind-$name"
  if [ -f "$file.jsonl" ]; then return; fi
  echo "ncf train ${common[*]} --seed $seed --model $kind --out $file.ncf $*" > "$file.cmd"
  local start=$SECONDS
  $NCF train "${common[@]}" --seed "$seed" --model "$kind" --out "$file.ncf" "$@" > "$file.jsonl.tmp"
  mv "$file.jsonl.tmp" "$file.jsonl"
  echo "$(( SECONDS - start )) s" > "$file.err"
  echo "$kind-$name: best epoch, HR@10, NDCG@10, final HR@10: $(python3 -c "$summary" < "$file.jsonl")"
}

# The search's best settings, run by the recipe mode and by the full search alike.
recipe_gmf() { run gmf lr1.25e-4-l2-1e-5-e60 --epochs 60 --lr 0.000125 --l2 1e-5; }
recipe_mlp() { run mlp neg8-e12 --layers 3 --epochs 12 --neg 8; }

if [ "$WHAT" = recipe ]; then
  recipe_gmf
  recipe_mlp
fi
if [ "$WHAT" = gmf ] || [ "$WHAT" = all ]; then
  # Learning rate (the paper's 0.001 and below), L2 on the batch's rows, negatives and batch size. Lower rates need
  # more epochs, so their runs are longer; each halving of the rate with L2 1e-5 lifted GMF-64.
  run gmf lr1e-3-l2-1e-5 --epochs 20 --l2 1e-5
  run gmf lr2e-3-l2-1e-5 --epochs 20 --lr 0.002 --l2 1e-5
  run gmf lr2e-3-l2-2e-5 --epochs 20 --lr 0.002 --l2 2e-5
  run gmf neg8-l2-1e-5 --epochs 20 --neg 8 --l2 1e-5
  run gmf b1024-l2-1e-5 --epochs 30 --batch 1024 --l2 1e-5
  run gmf lr5e-4-l2-0-e30 --epochs 30 --lr 0.0005
  run gmf lr5e-4-l2-3e-6-e30 --epochs 30 --lr 0.0005 --l2 3e-6
  run gmf lr5e-4-l2-5e-6-e30 --epochs 30 --lr 0.0005 --l2 5e-6
  run gmf lr5e-4-l2-1e-5-e40 --epochs 40 --lr 0.0005 --l2 1e-5
  run gmf lr5e-4-l2-2e-5-e40 --epochs 40 --lr 0.0005 --l2 2e-5
  run gmf lr5e-4-neg8-l2-1e-5-e30 --epochs 30 --lr 0.0005 --neg 8 --l2 1e-5
  run gmf lr2.5e-4-l2-5e-6-e40 --epochs 40 --lr 0.00025 --l2 5e-6
  run gmf lr2.5e-4-l2-1e-5-e40 --epochs 40 --lr 0.00025 --l2 1e-5
  run gmf lr2.5e-4-neg8-l2-1e-5-e40 --epochs 40 --lr 0.00025 --neg 8 --l2 1e-5
  recipe_gmf
  run gmf lr1.25e-4-l2-2e-5-e60 --epochs 60 --lr 0.000125 --l2 2e-5
  run gmf lr6.25e-5-l2-1e-5-e100 --epochs 100 --lr 0.0000625 --l2 1e-5
  run gmf lr1.25e-4-neg8-l2-1e-5-e50 --epochs 50 --lr 0.000125 --neg 8 --l2 1e-5
  # The same choice made without the test set: the epoch is chosen on the validation hold-out.
  run gmf val-lr1e-3-l2-1e-5 --epochs 20 --l2 1e-5 --validation
  run gmf val-lr5e-4-l2-5e-6-e30 --epochs 30 --lr 0.0005 --l2 5e-6 --validation
  run gmf val-lr1.25e-4-l2-1e-5-e60 --epochs 60 --lr 0.000125 --l2 1e-5 --validation
  # How much of the best pair's figure is the seed: the best recipe again at other seeds.
  for s in 1 2 3; do
    RUN_SEED=$s run gmf lr5e-4-l2-5e-6-e30-s$s --epochs 30 --lr 0.0005 --l2 5e-6
  done
  RUN_SEED=1 run gmf lr6.25e-5-l2-1e-5-e100-s1 --epochs 100 --lr 0.0000625 --l2 1e-5
fi
if [ "$WHAT" = mlp ] || [ "$WHAT" = all ]; then
  # The paper's MLP (lr 0.001, no L2) is runs/paper/mlp-F from tools/paper-table.sh; the assembly below uses it too.
  run mlp lr5e-4 --layers 3 --epochs 20 --lr 0.0005
  run mlp lr2.5e-4-l2-3e-6-e30 --layers 3 --epochs 30 --lr 0.00025 --l2 3e-6
  recipe_mlp
  run mlp neg16-e9 --layers 3 --epochs 9 --neg 16
  RUN_SEED=1 run mlp neg8-e12-s1 --layers 3 --epochs 12 --neg 8
fi
if [ "$WHAT" = assemble ] || [ "$WHAT" = all ] || [ "$WHAT" = recipe ]; then
  printf 'gmf\tmlp\thr10\tndcg10\n' > "$OUT/assembled.tsv.tmp"
  for g in "$OUT"/gmf-*.ncf; do
    case $g in *val-*) continue ;; esac
    for m in runs/paper/mlp-$F.ncf "$OUT"/mlp-*.ncf; do
      [ -f "$m" ] || continue
      $NCF train --data "$DATA" --seed "$SEED" --threads "$THREADS" --json --model neumf --factors "$F" --layers 3 \
        --gmf "$g" --mlp "$m" --epochs 0 | python3 -c "$epoch0" "$(basename "$g" .ncf)" "$(basename "$m" .ncf)" >> "$OUT/assembled.tsv.tmp"
    done
  done
  mv "$OUT/assembled.tsv.tmp" "$OUT/assembled.tsv"
  column -t "$OUT/assembled.tsv"
fi
