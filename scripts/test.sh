#!/usr/bin/env bash
# Run every check and test of vigie: the command the README and CI use.
#
#   1. scripts/setup.sh         Debian packages the tests need (bgpdump, bird2, gobgpd...)
#   2. cargo fmt --check        formatting
#   3. cargo clippy             lints, warnings are errors
#   4. cargo test --workspace   unit, oracle and real-daemon tests
#   5. api-property             schemathesis against the API's OpenAPI document
#                               (scripts/api-property.sh: no 500, valid responses)
#   6. fuzz targets             each crate's fuzz/ workspace must compile,
#                               then every target runs for 30 s (cargo-fuzz
#                               and the nightly toolchain)
#
# With CI=true, tests that need data or daemons fail instead of skipping, and
# so does fuzzing without cargo-fuzz or a nightly toolchain.
# Env: VIGIE_FUZZ_SECS=N   run every fuzz target for N seconds (default 30;
#                          0 only type-checks the targets)
#      VIGIE_SETUP_SKIP=1  do not touch the machine's packages
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# bird and birdc live in /usr/sbin, which a non-root PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"

start_all=$SECONDS
failed=()
# Runs one step; a failing step is reported and the next steps still run,
# so one CI log shows every problem. The script fails at the end.
step() {
    local name=$1
    shift
    local start=$SECONDS
    printf '\n=== %s: %s\n' "$name" "$*"
    if "$@"; then
        printf '=== %s: ok in %ss\n' "$name" "$((SECONDS - start))"
    else
        printf '=== %s: FAILED in %ss\n' "$name" "$((SECONDS - start))"
        failed+=("$name")
    fi
}

step setup bash scripts/setup.sh
if ((${#failed[@]} > 0)); then
    echo "=== machine set-up failed: stopping" >&2
    exit 1
fi
step fmt cargo fmt --all -- --check
step clippy cargo clippy --workspace --all-targets -- -D warnings
# The scaled-out backends (PostgreSQL store, JetStream bus) are cargo
# features, off in the default build: lint them too, and run every test
# with them on, so their tests start the real servers (scripts/setup.sh
# installs postgresql and nats-server; under CI=true a missing one fails).
step clippy-all-features cargo clippy --workspace --all-targets --all-features -- -D warnings
step test cargo test --workspace --all-features --no-fail-fast
step api-property bash scripts/api-property.sh

# Fuzz targets: every `fuzz/Cargo.toml` under crates/ is its own cargo
# workspace (cargo-fuzz layout). Type-checking them is cheap and works on the
# stable toolchain; building and running them needs cargo-fuzz and nightly.
fuzz_secs=${VIGIE_FUZZ_SECS:-30}
fuzz_manifests=()
while IFS= read -r manifest; do
    fuzz_manifests+=("$manifest")
done < <(find crates -path '*/fuzz/Cargo.toml' -not -path '*/target/*' | sort)

if ((${#fuzz_manifests[@]} == 0)); then
    printf '\n=== fuzz: no fuzz targets yet (crates/*/fuzz/Cargo.toml)\n'
fi
for manifest in "${fuzz_manifests[@]}"; do
    # A shared target dir keeps the fuzz crates' dependencies built once.
    step "fuzz-check $(dirname "$manifest")" \
        cargo check --manifest-path "$manifest" --all-targets --target-dir target/fuzz-check
    if ((fuzz_secs == 0)); then
        continue
    fi
    if ! cargo fuzz --version >/dev/null 2>&1 || ! cargo +nightly --version >/dev/null 2>&1; then
        if [[ "${CI:-}" == true ]]; then
            printf '=== fuzz-run: FAILED, needs cargo-fuzz and a nightly toolchain (scripts/setup.sh installs cargo-fuzz)\n'
            failed+=("fuzz-run (no cargo-fuzz or nightly)")
            break
        fi
        printf '=== fuzz-run: skipped, needs cargo-fuzz and a nightly toolchain (scripts/setup.sh installs cargo-fuzz)\n'
        continue
    fi
    fuzz_dir=$(dirname "$(dirname "$manifest")")
    # One target dir for every fuzz workspace: the vigie crates and their
    # dependencies are built once with the sanitizer.
    while IFS= read -r target; do
        step "fuzz-run $target ${fuzz_secs}s" bash -c "cd '$fuzz_dir' && cargo +nightly fuzz run --target-dir '$PWD/target/fuzz' '$target' -- -max_total_time=$fuzz_secs"
    done < <(cd "$fuzz_dir" && cargo +nightly fuzz list)
done

if ((${#failed[@]} > 0)); then
    printf '\n=== FAILED after %ss: %s\n' "$((SECONDS - start_all))" "${failed[*]}"
    exit 1
fi
printf '\n=== all checks passed in %ss\n' "$((SECONDS - start_all))"
