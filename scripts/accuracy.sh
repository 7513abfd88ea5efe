#!/usr/bin/env bash
# Reproduce docs/ACCURACY.md: import IODA's three labelled exports into a
# fresh store, then score vigie's detector and IODA's method with `vigie eval`.
#
#   scripts/accuracy.sh [SHARED_DATA_DIR]     (default: ../shared/data)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
shared=${1:-../shared/data}
signals="$shared/signals"
for f in ioda_country_IQ_iraq.csv ioda_region_1226_gazastrip.csv ioda_region_4369_zhytomyr.csv; do
    [[ -f "$signals/$f" ]] || { echo "missing $signals/$f: give the shared data folder as argument" >&2; exit 1; }
done
cargo build --release --quiet -p vigie
vigie=target/release/vigie
store=$(mktemp -d)
trap 'rm -rf "$store"' EXIT
$vigie --data-dir "$store" import ioda-csv "$signals/ioda_country_IQ_iraq.csv" --entity IQ >/dev/null 2>&1
$vigie --data-dir "$store" import ioda-csv "$signals/ioda_region_1226_gazastrip.csv" --entity "PS/Gaza Strip" >/dev/null 2>&1
$vigie --data-dir "$store" import ioda-csv "$signals/ioda_region_4369_zhytomyr.csv" --entity "UA/Zhytomyr" >/dev/null 2>&1
$vigie --data-dir "$store" eval --labels "$shared/truth/ioda_investigated_outages_2018-2022.csv"
