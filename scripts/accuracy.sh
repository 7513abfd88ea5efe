#!/usr/bin/env bash
# Reproduce docs/ACCURACY.md: import every real labelled set into a fresh
# store, then score vigie's detector and IODA's method with `vigie eval`,
# one row per method and dataset, the methods of a dataset side by side.
#
#   scripts/accuracy.sh [SHARED_DATA_DIR]     (default: ../shared/data)
#
# Sets: IODA's three labelled exports (Iraq 2023, Gaza Strip 2023, Zhytomyr
# 2022; 5-minute bins, labels in their LABEL column) and the Monash IP
# Observatory's four files (Hurricane Laura 2020, US counties, hourly;
# Venezuela's 2019 blackout, states, hourly; Bago, Myanmar, 2021 nightly
# shutdowns, hourly counts of answering addresses; UA/RU border latency
# 2021-22, 3-hourly, no outage), labelled by docs/labels/*.json, each file
# stating how its labels were derived.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
shared=${1:-../shared/data}
signals="$shared/signals"
ioda=(ioda_country_IQ_iraq.csv ioda_region_1226_gazastrip.csv ioda_region_4369_zhytomyr.csv)
monash=(usa-2020-08-31_HurrLaura.csv ven-2019-07-22_gif.csv mmr-2021-04-09_Bago.csv ukr-2022-01-18_border-regions.csv)
for f in "${ioda[@]}" "${monash[@]/#/monash/}"; do
    [[ -f "$signals/$f" ]] || { echo "missing $signals/$f: give the shared data folder as argument" >&2; exit 1; }
done
cargo build --release --quiet -p vigie
vigie=target/release/vigie
store=$(mktemp -d)
trap 'rm -rf "$store"' EXIT
# Imports are quiet unless they fail (exit 3, some input lost, is reported).
import() {
    local status=0
    "$vigie" --data-dir "$store" import "$@" >"$store/import.log" 2>&1 || status=$?
    if ((status != 0)); then
        echo "vigie import $* exited $status:" >&2
        tail -5 "$store/import.log" >&2
        ((status == 3)) || exit "$status"
    fi
}
import ioda-csv "$signals/ioda_country_IQ_iraq.csv" --entity IQ
import ioda-csv "$signals/ioda_region_1226_gazastrip.csv" --entity "PS/Gaza Strip"
import ioda-csv "$signals/ioda_region_4369_zhytomyr.csv" --entity "UA/Zhytomyr"
for f in "${monash[@]}"; do
    import monash "$signals/monash/$f"
done
labels=(--labels "$shared/truth/ioda_investigated_outages_2018-2022.csv")
for f in docs/labels/*.json; do
    labels+=(--labels "$f")
done
# The investigated-outage list is long and partly unreadable (N/A times):
# its skipped rows go to stderr, not into the table.
"$vigie" --data-dir "$store" eval "${labels[@]}" 2>"$store/eval.log" || {
    cat "$store/eval.log" >&2
    exit 1
}
