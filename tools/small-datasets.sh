#!/usr/bin/env bash
# GMF, MLP and NeuMF at f=8 on MovieLens-100K and ml-latest-small with the project's own leave-one-out split
# (latest interaction held out, 99 seeded negatives), with a validation hold-out choosing the epoch.
# Writes runs/small/NAME.jsonl (+ .cmd). Env: SHARED (../shared/data), THREADS (2), SEED (42), EPOCHS (20).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared/data}
THREADS=${THREADS:-2}
SEED=${SEED:-42}
EPOCHS=${EPOCHS:-20}
OUT=runs/small
mkdir -p "$OUT"
dotnet publish src/Ncf.Cli -c Release -o "$OUT/bin" -v quiet -nologo >/dev/null
for set in ml-100k ml-latest-small; do
  for model in gmf mlp neumf; do
    name="$set-$model-8"
    args=(train --data "$SHARED/$set" --model "$model" --factors 8 --epochs "$EPOCHS" --seed "$SEED" --threads "$THREADS" --validation --json)
    echo "ncf ${args[*]}" > "$OUT/$name.cmd"
    start=$(date +%s)
    dotnet "$OUT/bin/ncf.dll" "${args[@]}" > "$OUT/$name.jsonl.tmp"
    mv "$OUT/$name.jsonl.tmp" "$OUT/$name.jsonl"
    echo "$name: $(( $(date +%s) - start )) s  $(tail -1 "$OUT/$name.jsonl" | cut -c1-160)"
  done
done
