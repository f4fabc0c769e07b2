#!/usr/bin/env bash
# Regenerates docs/results.md from runs/paper, runs/small and runs/extra (see tools/paper-table.sh, small-datasets.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
{
  cat docs/results-intro.md
  python3 tools/results-table.py runs/paper
  cat docs/results-notes.md
  echo
  echo "## Exact and lazy Adam (NeuMF-8, ML-1M, seed 42, 20 epochs)"
  echo
  python3 - <<'PY'
import json, os
rows = {}
for name, path in [("exact Adam", "runs/paper/neumf-8.jsonl"), ("lazy Adam (embedding rows of the batch only)", "runs/extra/neumf-8-lazy.jsonl")]:
    if os.path.exists(path):
        rows[name] = [json.loads(l) for l in open(path) if l.strip()][-1]
print("| optimizer | best HR@10 | best NDCG@10 | final HR@10 | final NDCG@10 |")
print("|---|---|---|---|---|")
for name, s in rows.items():
    print(f"| {name} | {s['best_hr10']:.4f} | {s['best_ndcg10']:.4f} | {s['final_hr10']:.4f} | {s['final_ndcg10']:.4f} |")
print()
print("Command: `ncf train --data ../shared/data/ml-1m/ml-1m --epochs 20 --seed 42 --threads 1 --optimizer lazy-adam --json`.")
PY
  echo
  echo "## MovieLens-100K and ml-latest-small (the project's own leave-one-out split, 99 seeded negatives)"
  echo
  echo "Each user's latest interaction is the test case; with \`--validation\` the second-latest one chooses the epoch,"
  echo "and the test figures are reported at that epoch — no choice is made on the test set."
  echo
  python3 tools/results-table.py runs/small
} > docs/results.md
