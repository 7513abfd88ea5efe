#!/usr/bin/env bash
# Set up a Debian machine to build and test vigie. Safe to run again: when
# everything is already installed it only checks, and takes well under a second.
#
# What it installs, from Debian's own packages:
#   bgpdump  - `bgpdump -m`, the independent MRT decoder the tests and the
#              benchmark compare vigie against
#   bird2    - BIRD 2 (`bird`, `birdc`), a real BGP daemon that writes MRT
#              TABLE_DUMP_V2 RIB dumps and BGP4MP message dumps
#   gobgpd   - GoBGP (`gobgpd` and the `gobgp` CLI), a real BGP daemon that
#              writes MRT BGP4MP update dumps, and the routers of the test lab
#   iproute2 - `ip netns` and veth pairs for the closed test lab
#   procps   - `kill`, to stop the lab's daemons cleanly
#   nftables - `nft`: the probe tests cut a lab "border" and count the
#              packets the prober sends
#   fping    - the tool the probe benchmark compares vigie's prober against
#   tcpdump, softflowd, pmacct - the traffic end-to-end test captures real
#              packets in namespaces and replays them through real NetFlow
#              v5/v9/IPFIX (softflowd) and sFlow (pmacctd) exporters
#   nfdump, gawk - what the traffic benchmark compares against (nfcapd, awk)
#   gzip, bzip2 - compressed MRT files in tests and benchmarks
#   wrk      - the HTTP load tool of the API benchmark (docs/BENCHMARKS.md)
#   postgresql  - PostgreSQL, the scaled-out store (cargo feature `postgres`);
#              its tests start a throwaway cluster with initdb in a temp dir
#   openssl  - makes the certificates of the TLS-only test cluster
#   nats-server - NATS with JetStream (`nats-server -js`), the bus between
#              vantage points, collectors and detectors (cargo feature `nats`)
#   chromium - the headless browser of the dashboard test (driven by the npm
#              package playwright-core, which `npm ci` in dashboard/ installs
#              below with the machine's Node.js)
#
# The Rust toolchain itself (cargo, rustfmt, clippy, and nightly for fuzzing)
# must already be there; it is checked, not installed. cargo-fuzz is installed
# with cargo when missing.
#
# Usage: scripts/setup.sh            (as root, or a user with sudo)
# Env:   VIGIE_SETUP_SKIP=1          do nothing (for machines set up by hand)
set -euo pipefail

log() { printf 'setup: %s\n' "$*"; }

if [[ "${VIGIE_SETUP_SKIP:-}" == 1 ]]; then
    log "VIGIE_SETUP_SKIP=1: skipping machine set-up"
    exit 0
fi

# Debian package -> one command it provides (checked to confirm the install).
packages=(bgpdump bird2 gobgpd iproute2 procps gzip bzip2 nftables fping tcpdump softflowd pmacct nfdump gawk wrk chromium postgresql openssl nats-server)
declare -A probe=(
    [bgpdump]=bgpdump [bird2]=bird [gobgpd]=gobgpd [iproute2]=ip
    [procps]=kill [gzip]=gzip [bzip2]=bzip2 [nftables]=nft [fping]=fping
    [tcpdump]=tcpdump [softflowd]=softflowd [pmacct]=pmacctd [nfdump]=nfcapd [gawk]=gawk [wrk]=wrk [chromium]=chromium
    [postgresql]=psql [openssl]=openssl [nats-server]=nats-server
)

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for pkg in "${packages[@]}"; do
        is_installed "$pkg" || missing+=("$pkg")
    done
else
    log "not a Debian system (no dpkg-query): install by hand: ${packages[*]}"
fi

if ((${#missing[@]} > 0)); then
    if [[ $(id -u) -eq 0 ]]; then
        sudo=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        log "missing Debian packages: ${missing[*]}"
        log "run as root (or with sudo): apt-get update && apt-get install -y ${missing[*]}"
        log "without them the real-daemon test is skipped (and fails when CI=true)"
        if [[ "${CI:-}" == true ]]; then
            exit 1
        fi
        exit 0
    fi
    export DEBIAN_FRONTEND=noninteractive
    log "installing missing Debian packages: ${missing[*]}"
    log "apt-get update"
    "${sudo[@]}" apt-get update -qq
    # The packages ship systemd units; nothing here starts them (the tests
    # start their own daemons in private network namespaces).
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    log "Debian packages already installed: ${packages[*]}"
fi

# bird lives in /usr/sbin, which a non-root PATH may lack.
PATH="$PATH:/usr/sbin:/sbin"
for pkg in "${packages[@]}"; do
    cmd=${probe[$pkg]}
    if ! command -v "$cmd" >/dev/null 2>&1; then
        log "error: package $pkg is installed but command '$cmd' is not on PATH"
        exit 1
    fi
done
log "bird: $(bird --version 2>&1 | head -n1)"
log "gobgpd: $(gobgpd --version 2>&1 | head -n1)"
log "bgpdump: $(dpkg-query -W -f='${Version}' bgpdump 2>/dev/null || echo '?')"

for tool in cargo rustc; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        log "error: '$tool' not found: install the Rust toolchain (https://rustup.rs)"
        exit 1
    fi
done
for sub in fmt clippy; do
    if ! cargo "$sub" --version >/dev/null 2>&1; then
        log "error: 'cargo $sub' not found: rustup component add ${sub/fmt/rustfmt}"
        exit 1
    fi
done
log "rust: $(rustc --version)"

# cargo-fuzz runs every fuzz target in scripts/test.sh; it needs the nightly
# toolchain, which is checked, not installed (rustup toolchain install nightly).
if cargo +nightly --version >/dev/null 2>&1; then
    if ! cargo fuzz --version >/dev/null 2>&1; then
        log "cargo install cargo-fuzz"
        cargo install --locked cargo-fuzz
    fi
    log "cargo-fuzz: $(cargo fuzz --version 2>&1)"
else
    log "no nightly toolchain: fuzz targets are type-checked but not run (a failure when CI=true): rustup toolchain install nightly"
fi

# The dashboard's npm packages (playwright-core for its browser test, and the
# libraries dashboard/vendor.sh copies into the binary's assets): `npm ci`
# only when node_modules is missing or older than package-lock.json.
dashboard="$(dirname "${BASH_SOURCE[0]}")/../dashboard"
if command -v npm >/dev/null 2>&1; then
    if [[ ! -f $dashboard/node_modules/.package-lock.json || $dashboard/package-lock.json -nt $dashboard/node_modules/.package-lock.json ]]; then
        log "npm ci in $dashboard/"
        (cd "$dashboard" && npm ci --no-audit --no-fund --loglevel=error)
    else
        log "dashboard npm packages already installed"
    fi
else
    log "npm not found: the dashboard browser test is skipped (and fails when CI=true)"
    if [[ "${CI:-}" == true ]]; then
        exit 1
    fi
fi
log "done"
