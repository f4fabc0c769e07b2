#!/usr/bin/env python3
"""Turns the JSONL runs of tools/paper-table.sh (runs/paper/) into the Markdown table of docs/results.md:
for each model and factor, best-epoch and final-epoch HR@10/NDCG@10, seed, wall time and the exact command,
beside the paper's figures (../shared/REFERENCE.md)."""
import json, os, sys

RUNS = sys.argv[1] if len(sys.argv) > 1 else "runs/paper"
# He et al. 2017 (Table 2 for NeuMF; Figure/Table 3-4 for GMF and MLP where the REFERENCE gives them).
PAPER = {
    ("neumf", 8): (0.688, 0.410), ("neumf", 16): (0.696, 0.420), ("neumf", 32): (0.701, 0.425), ("neumf", 64): (0.705, 0.426),
    ("neumf-pre", 8): (0.684, 0.403), ("neumf-pre", 16): (0.707, 0.426), ("neumf-pre", 32): (0.726, 0.445), ("neumf-pre", 64): (0.730, 0.447),
    ("mlp", 8): (0.671, 0.399), ("mlp", 64): (0.702, 0.426),
}

# guoyang9/NCF, a PyTorch re-implementation, f = 32, 20 epochs (as quoted in ../shared/REFERENCE.md).
REIMPL = {("gmf", 32): (0.708, 0.429), ("mlp", 32): (0.691, 0.416), ("neumf", 32): (0.701, 0.424), ("neumf-pre", 32): (0.720, 0.439)}

def load(name):
    path = os.path.join(RUNS, name + ".jsonl")
    if not os.path.exists(path):
        return None
    rows = [json.loads(l) for l in open(path) if l.strip()]
    summary = rows[-1]
    phases = [r for r in rows if not r.get("summary")]
    final_phase = [r for r in phases if r.get("phase", "neumf") == "neumf"] if any("phase" in r for r in phases) else phases
    cmd = open(os.path.join(RUNS, name + ".cmd")).read().strip()
    return summary, final_phase, cmd

if os.path.basename(os.path.normpath(RUNS)) == "small":
    print("| data | model | f | best epoch (validation) | test HR@10 there | NDCG@10 there | final HR@10 | final NDCG@10 | popularity HR@10 | wall s | seed |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    commands = []
    for name in sorted(n[:-6] for n in os.listdir(RUNS) if n.endswith(".jsonl")):
        s, _, cmd = load(name)
        data, model, f = name.rsplit("-", 2)
        print(f"| {data} | {model} | {f} | {s['best_epoch']} | {s['best_hr10']:.4f} | {s['best_ndcg10']:.4f} | {s['final_hr10']:.4f} | "
              f"{s['final_ndcg10']:.4f} | {s['popularity_hr10']:.4f} | {s['total_seconds']:.0f} | {s['seed']} |")
        commands.append(f"{name}: `{cmd}`")
    print()
    for c in commands:
        print(f"- {c}")
    sys.exit(0)

print("| model | f | best epoch | best HR@10 | best NDCG@10 | final HR@10 | final NDCG@10 | paper HR@10 / NDCG@10 | guoyang9 PyTorch | wall s | seed |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
commands = []
for model in ("gmf", "mlp", "neumf", "neumf-pre"):
    for f in (8, 16, 32, 64):
        run = load(f"{model}-{f}")
        if run is None:
            continue
        s, epochs, cmd = run
        paper = PAPER.get((model, f))
        paper_text = f"{paper[0]:.3f} / {paper[1]:.3f}" if paper else "—"
        other = REIMPL.get((model, f))
        other_text = f"{other[0]:.3f} / {other[1]:.3f}" if other else "—"
        print(f"| {model} | {f} | {s['best_epoch']} | {s['best_hr10']:.4f} | {s['best_ndcg10']:.4f} | {s['final_hr10']:.4f} | "
              f"{s['final_ndcg10']:.4f} | {paper_text} | {other_text} | {s['total_seconds']:.0f} | {s['seed']} |")
        commands.append(f"{model}-{f}: `{cmd}`")
print()
print("Commands (each run's exact command line; `ncf` = `dotnet src/Ncf.Cli/bin/Release/net10.0/ncf.dll`):")
print()
for c in commands:
    print(f"- {c}")
