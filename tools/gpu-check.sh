#!/usr/bin/env bash
# GPU check for a lent NVIDIA machine (H100/H200; 15 minutes of device time in all): checks every kernel of the
# ILGPU backend on CUDA and on NVIDIA's OpenCL against the scalar references, measures training and scoring samples/s
# of whole models (ncf-gpu-bench --train: NeuMF-8 on ML-1M, the MLPerf-shape model on ML-20M-size synthetic data at
# batch 2^16 and 2^20), times the kernels, and runs the PyTorch peer on CUDA when it is present; ends with a step table
# and one throughput table (ours and the peer's). Safe under a hard timeout: every step gets its own
# `timeout` carved from a total budget, and the table is printed on exit, also when the budget runs out.
#
# The lent machine is bare and offline (no .NET SDK, no NuGet), so binaries travel prebuilt:
#   here:    tools/gpu-check.sh --pack        # Release build of the benchmark/checker + a .NET runtime -> .gpucheck/
#   there:   tools/gpu-check.sh               # with the run tool's carry: [".gpucheck"]
# The xunit suite (tests/Ncf.Gpu.Tests) travels too, with xunit's console runner (2.4.1, the last one that runs on
# .NET Core without an SDK), and runs on CUDA and on OpenCL. Where a .NET SDK and the NuGet packages are present, the
# script instead builds Release itself and runs the suite with `dotnet test`.
#
# Usage: tools/gpu-check.sh [--pack] [--tiny] [--short] [--budget SECONDS (default 540)] [--out DIR (default $OUT or ./gpucheck-out)]
# --short: the CUDA suite, check, throughput and kernel timings, and the OpenCL check; no peer (a rerun after a fix).
# --tiny (or NCF_BENCH_TINY=1): tiny data and batches, no build and no xunit (uses an existing Release build), CUDA
# steps skipped without nvidia-smi, the peer on the CPU when there is no GPU: an end-to-end check of this script on a
# CPU-only machine with OpenCL (PoCL), about 3 minutes.
# Env: GPU_CHECK_PREBUILT=1 runs the packed binaries even where a .NET SDK is installed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PACK_DIR="$ROOT/.gpucheck"
BUDGET=540
MODE=run
TINY=${NCF_BENCH_TINY:-0}
SHORT=0
OUT_DIR=${OUT:-$ROOT/gpucheck-out}
while [ $# -gt 0 ]; do
    case "$1" in
        --pack) MODE=pack ;;
        --tiny) TINY=1 ;;
        --short) SHORT=1 ;;
        --budget) BUDGET=$2; shift ;;
        --out) OUT_DIR=$2; shift ;;
        *) echo "usage: tools/gpu-check.sh [--pack] [--tiny] [--short] [--budget SECONDS] [--out DIR]" >&2; exit 2 ;;
    esac
    shift
done

if [ "$MODE" = pack ]; then
    # Everything the device run needs, built here (x86-64, Debian 12) and kept under .gpucheck/ (git-ignored).
    set -e
    rm -rf "$PACK_DIR" && mkdir -p "$PACK_DIR"
    dotnet publish benchmarks/Ncf.Gpu.Bench -c Release -o "$PACK_DIR/bench" --nologo -v q
    # The test assembly with its dependencies, and xunit's console runner beside it (run with the runner's own
    # runtimeconfig, rolled forward to .NET 10; it reads the tests' deps.json itself).
    dotnet build tests/Ncf.Gpu.Tests -c Release --nologo -v q
    cp -r tests/Ncf.Gpu.Tests/bin/Release/net10.0 "$PACK_DIR/tests"
    runner="${NUGET_PACKAGES:-$HOME/.nuget/packages}/xunit.runner.console/2.4.1"
    if [ ! -f "$runner/tools/netcoreapp2.0/xunit.console.dll" ]; then
        runner=$(mktemp -d)
        curl -fsSL -o "$runner/runner.nupkg" https://api.nuget.org/v3-flatcontainer/xunit.runner.console/2.4.1/xunit.runner.console.2.4.1.nupkg
        (cd "$runner" && unzip -q runner.nupkg 'tools/netcoreapp2.0/*')
    fi
    cp "$runner"/tools/netcoreapp2.0/xunit.console.* "$runner"/tools/netcoreapp2.0/xunit.runner.*.dll "$PACK_DIR/tests/"
    dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
    runtime=$(ls -d "$dotnet_root"/shared/Microsoft.NETCore.App/10.* | sort -V | tail -n 1)
    tar -C "$dotnet_root" -cJf "$PACK_DIR/dotnet-runtime.tar.xz" dotnet host "shared/Microsoft.NETCore.App/$(basename "$runtime")"
    # The PyTorch peer and ML-1M's NCF files (~4 MB compressed), for a machine that gets no ../shared.
    for shared in ../shared shared; do
        if [ -f "$shared/peers/pytorch_ncf.py" ]; then
            files=(peers/pytorch_ncf.py peers/README.md)
            for f in data/ml-1m/ml-1m.train.rating data/ml-1m/ml-1m.test.rating data/ml-1m/ml-1m.test.negative; do
                [ -f "$shared/$f" ] && files+=("$f")
            done
            tar -C "$shared" -cJf "$PACK_DIR/shared.tar.xz" "${files[@]}"
            break
        fi
    done
    du -sh "$PACK_DIR"
    echo "packed; run there with carry [\".gpucheck\"]: tools/gpu-check.sh"
    exit 0
fi

mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/gpu-check.log"
: > "$LOG"
START=$SECONDS
FAILURES=0
declare -a TABLE=()

remaining() { echo $((BUDGET - (SECONDS - START))); }

print_table() {
    local snapshot="$LOG.rows"
    cp "$LOG" "$snapshot" 2>/dev/null || : > "$snapshot"
    {
        echo
        echo "| step | result | seconds |"
        echo "|---|---|---:|"
        for row in "${TABLE[@]}"; do echo "$row"; done
        echo "(log: $LOG; budget ${BUDGET}s, used $((SECONDS - START))s; $FAILURES step(s) failed)"
        echo
        echo "Throughput (samples/s; ours: ncf-gpu-bench --train, timed steps after 2 warm-up steps; peer: one epoch, train loop only)"
        echo "| device | model | data | batch | train samples/s | score samples/s | steps timed | epoch prep s |"
        echo "|---|---|---|---:|---:|---:|---:|---:|"
        # Our rows, whether the bench finished (its table) or was cut off (its progress lines).
        grep -E '^ *\| (cuda|opencl|ilgpu-cpu) \| ' "$snapshot" | sed -E 's/^ +//' | awk '!seen[$0]++'
        # The peer's summary lines (JSON): device, shape, batch, mean train samples/s.
        grep -h '"summary": true' "$snapshot" 2>/dev/null | sed -E \
            's/.*"device": "([^"]*)".*"data": "([^"]*)".*"factors": ([0-9]+), "layers": ([0-9]+), "batch": ([0-9]+).*"mean_samples_per_second": ([0-9.]+).*/| pytorch \1 | f\3 L\4 | \2 | \5 | \6 | - | 1 epoch | - |/'
    } | tee -a "$LOG"
}
trap print_table EXIT

# step NAME LIMIT COMMAND...: runs COMMAND under `timeout`, at most LIMIT seconds and never past the budget.
step() {
    local name=$1 limit=$2
    shift 2
    local left
    left=$(remaining)
    if [ "$left" -le 5 ]; then
        TABLE+=("| $name | skipped: budget spent | 0 |")
        return 1
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    echo "=== $name (limit ${limit}s)" | tee -a "$LOG"
    local t0=$SECONDS rc
    timeout --kill-after=5 "$limit" "$@" 2>&1 | tee -a "$LOG"
    rc=${PIPESTATUS[0]}
    local result=ok
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then result="TIMEOUT"; elif [ "$rc" -ne 0 ]; then result="FAILED (exit $rc)"; fi
    TABLE+=("| $name | $result | $((SECONDS - t0)) |")
    [ "$rc" -ne 0 ] && FAILURES=$((FAILURES + 1))
    return "$rc"
}

HAVE_CUDA=no
if command -v nvidia-smi > /dev/null; then
    step "nvidia-smi" 20 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv && HAVE_CUDA=yes
else
    TABLE+=("| CUDA steps | skipped: no nvidia-smi | 0 |")
fi
TRAIN_ARGS=(--train --train-seconds 4)
if [ "$TINY" = 1 ]; then TRAIN_ARGS=(--train --tiny --train-seconds 1); fi

# NVIDIA's OpenCL in a container: ILGPU loads the unversioned libOpenCL.so, and the ICD file may be missing.
CL_SHIM=$(mktemp -d)
if ! ldconfig -p | grep -q 'libOpenCL.so '; then
    libcl=$(ldconfig -p | awk '/libOpenCL.so.1 /{print $NF; exit}')
    [ -n "$libcl" ] && ln -s "$libcl" "$CL_SHIM/libOpenCL.so" && export LD_LIBRARY_PATH="$CL_SHIM${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# On the H100 of 2026-11-27 /etc/OpenCL/vendors held only PoCL's CPU device, so NVIDIA's ICD is added beside what is
# there whenever the driver's library exists and no vendor file names it.
nvcl=$(ldconfig -p | awk '/libnvidia-opencl.so.1 /{print $NF; exit}')
vendors=${OCL_ICD_VENDORS:-/etc/OpenCL/vendors}
if [ -n "$nvcl" ] && ! grep -qs nvidia "$vendors"/*.icd; then
    mkdir -p "$CL_SHIM/vendors"
    cp "$vendors"/*.icd "$CL_SHIM/vendors/" 2>/dev/null
    echo "$nvcl" > "$CL_SHIM/vendors/nvidia.icd"
    export OCL_ICD_VENDORS="$CL_SHIM/vendors"
fi

# The .NET to run with: the SDK when present, else the runtime packed by --pack.
DOTNET=$(command -v dotnet || true)
HAVE_SDK=no
if [ -n "$DOTNET" ] && "$DOTNET" --list-sdks 2>/dev/null | grep -q '^10\.'; then HAVE_SDK=yes; fi
# GPU_CHECK_PREBUILT=1: use .gpucheck/ even where an SDK exists (e.g. an SDK without the NuGet packages offline).
[ "${GPU_CHECK_PREBUILT:-0}" = 1 ] && [ -f "$PACK_DIR/bench/ncf-gpu-bench.dll" ] && HAVE_SDK=no
if { [ -z "$DOTNET" ] || [ "${GPU_CHECK_PREBUILT:-0}" = 1 ]; } && [ -f "$PACK_DIR/dotnet-runtime.tar.xz" ]; then
    mkdir -p /tmp/gpucheck-dotnet && tar -C /tmp/gpucheck-dotnet -xJf "$PACK_DIR/dotnet-runtime.tar.xz"
    export DOTNET_ROOT=/tmp/gpucheck-dotnet
    DOTNET=$DOTNET_ROOT/dotnet
fi
if [ -z "$DOTNET" ]; then
    TABLE+=("| .NET | FAILED: no dotnet and no .gpucheck/ (run tools/gpu-check.sh --pack here first) | 0 |")
    exit 1
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# ML-1M and the peer: ../shared when this checkout has it, else what --pack put in .gpucheck/shared.tar.xz.
if [ ! -f ../shared/peers/pytorch_ncf.py ] && [ ! -f shared/peers/pytorch_ncf.py ] && [ -f "$PACK_DIR/shared.tar.xz" ]; then
    mkdir -p /tmp/gpucheck-shared && tar -C /tmp/gpucheck-shared -xJf "$PACK_DIR/shared.tar.xz"
fi
for prefix in ../shared/data/ml-1m/ml-1m shared/data/ml-1m/ml-1m /tmp/gpucheck-shared/data/ml-1m/ml-1m; do
    if [ -f "$prefix.train.rating" ]; then export NCF_ML1M_PREFIX=$(readlink -f "$prefix.train.rating" | sed 's/\.train\.rating$//'); break; fi
done

BENCH="$PACK_DIR/bench/ncf-gpu-bench.dll"
BUILT="$ROOT/benchmarks/Ncf.Gpu.Bench/bin/Release/net10.0/ncf-gpu-bench.dll"
if [ "$TINY" = 1 ]; then
    [ -f "$BUILT" ] && BENCH=$BUILT
elif [ "$HAVE_SDK" = yes ] && step "build Release" 240 "$DOTNET" build Ncf.Native.sln -c Release --nologo -v q; then
    BENCH=$BUILT
    [ "$HAVE_CUDA" = yes ] && step "xunit on CUDA" 120 "$DOTNET" test tests/Ncf.Gpu.Tests -c Release --no-build --filter "FullyQualifiedName~Cuda"
    step "xunit on OpenCL" 120 "$DOTNET" test tests/Ncf.Gpu.Tests -c Release --no-build --filter "FullyQualifiedName~OpenCL"
fi
# The packed suite (no SDK there): one test class per accelerator, so a method filter on the class name picks it.
XUNIT_PACKED=no
[ "$TINY" = 1 ] || [ "$HAVE_SDK" = yes ] || [ ! -f "$PACK_DIR/tests/xunit.console.dll" ] || XUNIT_PACKED=yes
xunit_packed() {
    # -failskips: a device test skips when its device is missing, which here means the check did not happen.
    step "xunit on $1 (packed)" "$2" env DOTNET_ROLL_FORWARD=Major "$DOTNET" "$PACK_DIR/tests/xunit.console.dll" \
        "$PACK_DIR/tests/Ncf.Gpu.Tests.dll" -nocolor -failskips -method "*.$1*"
}

# The PyTorch peer on CUDA, for comparison (its README describes the data and flags).
run_peer() {
    local PEER="" candidate
    for candidate in ../shared/peers/pytorch_ncf.py shared/peers/pytorch_ncf.py /tmp/gpucheck-shared/peers/pytorch_ncf.py; do
        [ -f "$candidate" ] && PEER=$candidate && break
    done
    if [ -z "$PEER" ]; then
        TABLE+=("| pytorch peer | skipped: ../shared/peers/pytorch_ncf.py not here | 0 |")
        return
    fi
    local peers_dir data PY=""
    peers_dir=$(dirname "$PEER")
    data="$peers_dir/../data/ml-1m/ml-1m"
    [ -f "$data.train.rating" ] || data="$peers_dir/synth/u.data"
    if [ ! -f "$data.train.rating" ] && [ ! -f "$data" ]; then
        TABLE+=("| pytorch peer | skipped: no data beside it | 0 |")
        return
    fi
    # The peers' README: Debian's /usr/bin/python3 has torch; the python3 first on PATH may not.
    for candidate in /usr/bin/python3 python3; do
        if "$candidate" -c 'import torch, numpy' 2>/dev/null; then PY=$candidate; break; fi
    done
    if [ -z "$PY" ]; then
        TABLE+=("| pytorch peer | skipped: no python3 with torch and numpy | 0 |")
        return
    fi
    # NeuMF-8 at 2^16 and at the paper's batch 256, and the MLPerf shape (f64 L3) at 2^16, one epoch each.
    if [ "$HAVE_CUDA" = yes ]; then
        PYTHONUNBUFFERED=1 step "pytorch peer cuda NeuMF-8 b65536" 60 "$PY" "$PEER" --data "$data" --epochs 1 --batch 65536 --device cuda || true
        PYTHONUNBUFFERED=1 step "pytorch peer cuda MLPerf-shape b65536" 60 "$PY" "$PEER" --data "$data" --epochs 1 --batch 65536 --factors 64 --layers 3 --device cuda || true
        PYTHONUNBUFFERED=1 step "pytorch peer cuda NeuMF-8 b256" 120 "$PY" "$PEER" --data "$data" --epochs 1 --device cuda || true
    else
        PYTHONUNBUFFERED=1 step "pytorch peer cpu NeuMF-8 b65536" 120 "$PY" "$PEER" --data "$data" --epochs 1 --batch 65536 --device cpu || true
    fi
}

# Device runs, most wanted first (the budget may end early): the CUDA suite, the CUDA check and throughput, the
# peer on CUDA, then OpenCL, then the kernel timings.
[ "$HAVE_CUDA" = yes ] && [ "$XUNIT_PACKED" = yes ] && xunit_packed Cuda 150
if [ -f "$BENCH" ]; then
    if [ "$HAVE_CUDA" = yes ]; then
        step "check on CUDA" 60 "$DOTNET" "$BENCH" --check --device cuda
        step "train bench on CUDA" 150 "$DOTNET" "$BENCH" --device cuda "${TRAIN_ARGS[@]}"
    fi
else
    TABLE+=("| kernels | FAILED: $BENCH missing | 0 |")
fi
if [ "$SHORT" = 1 ]; then
    if [ -f "$BENCH" ]; then
        [ "$HAVE_CUDA" = yes ] && step "bench on CUDA" 60 "$DOTNET" "$BENCH" --device cuda --seconds 0.2
        step "check on OpenCL" 30 "$DOTNET" "$BENCH" --check --device opencl
    fi
    exit $((FAILURES > 0 ? 1 : 0))
fi
run_peer
[ "$XUNIT_PACKED" = yes ] && xunit_packed OpenCL 120
if [ -f "$BENCH" ]; then
    step "check on OpenCL" 60 "$DOTNET" "$BENCH" --check --device opencl
    if [ "$HAVE_CUDA" = yes ]; then
        # NVIDIA's OpenCL: only the small cases matter here; a shorter measurement.
        step "train bench on OpenCL" 90 "$DOTNET" "$BENCH" --device opencl --train --train-seconds 2
        step "bench on CUDA" 60 "$DOTNET" "$BENCH" --device cuda --seconds 0.2
        step "bench on OpenCL" 60 "$DOTNET" "$BENCH" --device opencl --seconds 0.2
    else
        step "train bench on OpenCL" 120 "$DOTNET" "$BENCH" --device opencl "${TRAIN_ARGS[@]}"
    fi
fi

exit $((FAILURES > 0 ? 1 : 0))
