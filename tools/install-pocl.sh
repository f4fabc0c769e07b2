#!/usr/bin/env bash
# Installs PoCL 6.0 (an OpenCL 3.0 CPU runtime with generic address space support, which ILGPU needs) on
# Debian 12, so the OpenCL backend can be built and tested on a machine without a GPU.
#
# Debian 12 ships PoCL 3.1, which ILGPU cannot use (no generic address space). This script builds PoCL 6.0
# from Debian's own source package (trixie's pocl 6.0-6, fetched with `apt-get source` through a private
# apt directory so the system's sources stay untouched) against Debian 12's LLVM 15, and installs it under
# $POCL_PREFIX (default /opt/pocl-6.0). Nothing is downloaded from outside Debian's archive.
#
# Idempotent: when $POCL_PREFIX already holds a working PoCL 6 with generic address space support, it only
# prints the environment line. Needs root (or sudo) for apt-get and for writing the prefix. About 5 minutes
# on 2 cores; the install is about 11 MB.
#
# Usage: tools/install-pocl.sh            then   export OCL_ICD_VENDORS=/opt/pocl-6.0/etc/OpenCL/vendors
# Knobs: POCL_PREFIX, POCL_HOST_CPU (LLVM CPU name for the kernel library), POCL_WORK (build directory, default /var/tmp/pocl-6.0-build), POCL_JOBS (default nproc).
set -euo pipefail

PREFIX=${POCL_PREFIX:-/opt/pocl-6.0}
WORK=${POCL_WORK:-/var/tmp/pocl-6.0-build}
JOBS=${POCL_JOBS:-$(nproc)}
VENDORS="$PREFIX/etc/OpenCL/vendors"
SOURCE_VERSION=6.0-6
SOURCE_SUITE=trixie
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { printf '[install-pocl] %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "run as root or install sudo"; exit 1; }
    SUDO=sudo
fi

# True when the installed PoCL is visible through the ICD loader and reports generic address space support.
pocl_works() {
    [ -d "$VENDORS" ] || return 1
    command -v clinfo >/dev/null || return 1
    local info
    info=$(OCL_ICD_VENDORS="$VENDORS" clinfo 2>/dev/null) || return 1
    grep -q 'Platform Version.*OpenCL 3.0 PoCL 6' <<<"$info" || return 1
    grep -q 'Generic address space support *Yes' <<<"$info" || return 1
}

print_env() {
    log "PoCL 6.0 is installed in $PREFIX. Use it with:"
    echo "export OCL_ICD_VENDORS=$VENDORS"
}

if pocl_works; then
    log "already installed and working; nothing to do"
    print_env
    exit 0
fi

# 1. Build dependencies, all from Debian 12 (bookworm). ocl-icd-opencl-dev provides the unversioned
#    libOpenCL.so that ILGPU loads; without it ILGPU finds no OpenCL device at all.
export DEBIAN_FRONTEND=noninteractive
PACKAGES=(
    ocl-icd-libopencl1 ocl-icd-opencl-dev ocl-icd-dev clinfo
    cmake ninja-build g++ pkg-config dpkg-dev
    llvm-15-dev clang-15 libclang-15-dev libclang-cpp15-dev
    libhwloc-dev zlib1g-dev libzstd-dev libxml2-dev libedit-dev libncurses-dev libffi-dev
)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing build dependencies: ${missing[*]}"
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# 2. The source package, through a private apt directory holding one deb-src line for trixie.
mkdir -p "$WORK"
APT_DIR="$WORK/apt"
mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" "$APT_DIR/sources.list.d"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SOURCE_SUITE main" > "$APT_DIR/sources.list"
APT_OPTS=(
    -o "Dir::Etc::SourceList=$APT_DIR/sources.list"
    -o "Dir::Etc::SourceParts=$APT_DIR/sources.list.d"
    -o "Dir::State::Lists=$APT_DIR/lists"
    -o "Dir::Cache=$APT_DIR/cache"
    -o "APT::Sandbox::User=root"
)
SRC_DIR="$WORK/pocl-6.0"
if [ ! -f "$SRC_DIR/CMakeLists.txt" ]; then
    log "fetching Debian source package pocl $SOURCE_VERSION ($SOURCE_SUITE)"
    apt-get "${APT_OPTS[@]}" update -qq
    rm -rf "$WORK/src" && mkdir -p "$WORK/src"
    (
        cd "$WORK/src"
        apt-get "${APT_OPTS[@]}" source -qq "pocl=$SOURCE_VERSION" ||
            { log "pocl $SOURCE_VERSION not found; taking $SOURCE_SUITE's pocl"; apt-get "${APT_OPTS[@]}" source -qq pocl; }
    )
    unpacked=$(find "$WORK/src" -maxdepth 1 -mindepth 1 -type d -name 'pocl-*' | head -n 1)
    [ -n "$unpacked" ] || { log "apt-get source did not unpack a pocl directory"; exit 1; }
    rm -rf "$SRC_DIR"
    mv "$unpacked" "$SRC_DIR"
fi

# 3. Configure and build. No -DLLC_HOST_CPU=native: with it every program build fails. Position-independent
#    code everywhere and no link-time optimisation: with GCC 12 the final link of libpocl.so otherwise fails
#    ("relocation R_X86_64_PC32 against __libc_single_threaded ... recompile with -fPIC"); the static parts of
#    libpocl are built without -fPIC when loadable drivers are off. When LLVM 15 does not
#    know the host CPU (e.g. AMD EPYC Zen 4 under a hypervisor: `llc-15 --version` says "Host CPU: (unknown)"),
#    PoCL refuses to configure without a CPU name; x86-64-v3 (AVX2 + FMA) runs on any recent x86-64 machine,
#    and PoCL compiles kernels for it whenever LLVM reports the host CPU as "generic".
BUILD_DIR="$WORK/build"
HOST_CPU_FLAGS=()
if [ -n "${POCL_HOST_CPU:-}" ]; then
    HOST_CPU_FLAGS=(-DLLC_HOST_CPU="$POCL_HOST_CPU")
elif llc-15 --version | grep -q 'Host CPU: (unknown)'; then
    HOST_CPU_FLAGS=(-DLLC_HOST_CPU=x86-64-v3)
fi
log "configuring (LLVM 15${HOST_CPU_FLAGS:+, ${HOST_CPU_FLAGS[*]}}) into $BUILD_DIR"
cd "$WORK" # PoCL's configure checks leave compile_test_* files in the current directory
cmake -S "$SRC_DIR" -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" \
    -DWITH_LLVM_CONFIG=/usr/bin/llvm-config-15 \
    -DENABLE_ICD=ON \
    -DENABLE_HOST_CPU_DEVICES=ON \
    -DENABLE_SPIRV=OFF \
    -DENABLE_LOADABLE_DRIVERS=OFF \
    -DENABLE_TESTS=OFF \
    -DENABLE_IPO=OFF \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DENABLE_EXAMPLES=OFF "${HOST_CPU_FLAGS[@]}" >"$WORK/configure.log" 2>&1 ||
    { tail -n 40 "$WORK/configure.log" >&2; exit 1; }
log "building with $JOBS jobs (about 5 minutes on 2 cores)"
cmake --build "$BUILD_DIR" -j "$JOBS" >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log" >&2; exit 1; }
$SUDO cmake --install "$BUILD_DIR" >"$WORK/install.log" 2>&1 || { tail -n 40 "$WORK/install.log" >&2; exit 1; }

# 4. The ICD file must name the library by absolute path: the prefix is not on the loader's search path.
library=$(find "$PREFIX" -name 'libpocl.so*' -type f | head -n 1)
[ -n "$library" ] || { log "libpocl.so was not installed under $PREFIX"; exit 1; }
$SUDO mkdir -p "$VENDORS"
echo "$library" | $SUDO tee "$VENDORS/pocl.icd" >/dev/null

if ! pocl_works; then
    log "PoCL was installed but clinfo does not show a PoCL 6 device with generic address space support:"
    OCL_ICD_VENDORS="$VENDORS" clinfo -l >&2 || true
    exit 1
fi
OCL_ICD_VENDORS="$VENDORS" clinfo -l >&2
print_env
