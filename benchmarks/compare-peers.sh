#!/usr/bin/env bash
# Trains one epoch of NeuMF-8 [64,32,16,8] (batch 256, 4 negatives, lr 0.001) on ML-1M with this engine and with
# both peers in ../shared/peers (PyTorch and TorchSharp), back to back, 2 threads each, and prints samples/s and the
# ratios. Scoring speed compares our full-catalogue scoring with the PyTorch peer's evaluation (pairs scored per s).
# Usage: benchmarks/compare-peers.sh [EPOCHS]   env: DATA (NCF prefix), THREADS (2), PEERS (../shared/peers)
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-1}
DATA=${DATA:-../shared/data/ml-1m/ml-1m}
THREADS=${THREADS:-2}
PEERS=${PEERS:-../shared/peers}
WORK=${NCF_PEER_BUILD:-${TMPDIR:-/tmp}/ncf-peers}
OUT=$WORK/out
mkdir -p "$OUT"
PY=/usr/bin/python3

[ -e "$DATA.train.rating" ] || { echo "compare-peers: $DATA.train.rating not found (set DATA)" >&2; exit 2; }
if ! $PY -c 'import torch, numpy' 2>/dev/null; then
  echo "compare-peers: installing Debian's python3-torch and python3-numpy" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-torch python3-numpy >/dev/null
fi
# shared/ is read-only: build the TorchSharp peer in a private copy.
if [ ! -f "$WORK/torchsharp-ncf/bin/Release/net10.0/torchsharp-ncf.dll" ]; then
  rm -rf "$WORK/torchsharp-ncf" && cp -r "$PEERS/torchsharp-ncf" "$WORK/torchsharp-ncf"
  (cd "$WORK/torchsharp-ncf" && dotnet build -c Release -v quiet -nologo >/dev/null)
fi
dotnet publish src/Ncf.Cli -c Release -o "$WORK/ncf" -v quiet -nologo >/dev/null

run() { # name, command...
  local name=$1; shift
  echo "running $name: $*" >&2
  "$@" > "$OUT/$name.jsonl"
}
run ncf-adam      dotnet "$WORK/ncf/ncf.dll" train --data "$DATA" --epochs "$EPOCHS" --threads "$THREADS" --json --optimizer adam
run ncf-lazy-adam dotnet "$WORK/ncf/ncf.dll" train --data "$DATA" --epochs "$EPOCHS" --threads "$THREADS" --json --optimizer lazy-adam
run ncf-deferred-adam dotnet "$WORK/ncf/ncf.dll" train --data "$DATA" --epochs "$EPOCHS" --threads "$THREADS" --json --optimizer deferred-adam
run pytorch       $PY "$PEERS/pytorch_ncf.py" --data "$DATA" --epochs "$EPOCHS" --threads "$THREADS"
run torchsharp    dotnet "$WORK/torchsharp-ncf/bin/Release/net10.0/torchsharp-ncf.dll" --data "$DATA" --epochs "$EPOCHS" --threads "$THREADS"
run ncf-score     dotnet "$WORK/ncf/ncf.dll" bench --data "$DATA" --threads "$THREADS" --score-users all --json

$PY - "$OUT" <<'PY'
import json, sys, os
out = sys.argv[1]
def epochs(name):
    rows = [json.loads(l) for l in open(os.path.join(out, name + ".jsonl")) if l.strip()]
    return [r for r in rows if "epoch" in r and not r.get("summary")]
def rate(name):
    e = epochs(name)
    return sum(r["samples"] for r in e) / sum(r["train_seconds"] for r in e), e[-1]["hr10"], sum(r.get("eval_seconds", 0) for r in e) / len(e)
ours, ours_lazy, ours_deferred, py, ts = (rate(n) for n in ("ncf-adam", "ncf-lazy-adam", "ncf-deferred-adam", "pytorch", "torchsharp"))
print(f"{'engine':<28}{'samples/s':>12}{'HR@10':>8}{'vs TorchSharp':>15}{'vs PyTorch':>12}")
for label, (r, hr, _) in [("ncf (exact Adam)", ours), ("ncf (lazy Adam)", ours_lazy), ("ncf (deferred Adam)", ours_deferred),
                          ("TorchSharp 0.107 peer", ts), ("PyTorch peer", py)]:
    print(f"{label:<28}{r:>12,.0f}{hr:>8.4f}{r / ts[0]:>14.2f}x{r / py[0]:>11.2f}x")
score = [json.loads(l) for l in open(os.path.join(out, "ncf-score.jsonl")) if l.strip()][-1]
py_pairs = 6040 * 100 / py[2]
print(f"scoring: ncf full catalogue {score['score_pairs_per_second']:,.0f} pairs/s; PyTorch peer evaluation {py_pairs:,.0f} pairs/s "
      f"({score['score_pairs_per_second'] / py_pairs:.1f}x)")
PY
