# Shared by scripts/*.sh (sourced, not run): package installation and build-dir setup.
# Safe to source twice; every function is idempotent.

# Debian packages the build, the tests and the CI steps need. libclang-rt-dev is clang's
# runtime (libFuzzer, sanitizers): only a Recommends of clang, so name it explicitly.
SYNCWS_PACKAGES=(
    meson ninja-build g++ clang libclang-rt-dev pkg-config
    libssl-dev zlib1g-dev libgtest-dev libbenchmark-dev
    gcovr python3 python3-websockets
    # Boost.Beast's synchronous echo: a peer baseline for tests/bench/load (benchmark-only;
    # the build skips it without Boost).
    libboost-dev
)

syncws_have_package() {
    dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

# Installs whichever of SYNCWS_PACKAGES is missing (plus nodejs/npm when `node`/`npm` are
# not on PATH: the machine may have Node.js from elsewhere). Runs `apt-get update` only when
# something has to be installed, and never prompts.
syncws_ensure_packages() {
    local missing=() pkg
    for pkg in "${SYNCWS_PACKAGES[@]}"; do
        syncws_have_package "$pkg" || missing+=("$pkg")
    done
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    echo "==> installing: ${missing[*]}"
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update </dev/null
    "${sudo[@]}" apt-get install -y -q "${missing[@]}" </dev/null
}

# Node's `ws` for the interop tests, pinned by tests/interop/package-lock.json, installed
# into tests/interop/node_modules (git-ignored) from the npm registry; skipped when the
# installed tree is up to date.
syncws_ensure_node_modules() {
    local dir=tests/interop
    if [[ -f $dir/node_modules/ws/package.json &&
        ! $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
        return 0
    fi
    echo "==> npm ci in $dir"
    npm ci --prefix "$dir" --no-audit --no-fund </dev/null
}

# syncws_setup BUILD_DIR [meson options...]: configures BUILD_DIR, or reconfigures it with
# the given options if it was configured before (an interrupted setup is wiped and redone).
syncws_setup() {
    local dir=$1
    shift
    if [[ -f $dir/meson-private/coredata.dat ]]; then
        meson setup --reconfigure "$dir" "$@" || meson setup --wipe "$dir" "$@"
    else
        rm -rf "$dir"
        meson setup "$dir" "$@"
    fi
}
