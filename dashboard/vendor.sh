#!/usr/bin/env bash
# Copies the dashboard's browser libraries from node_modules into
# crates/vigie-publish/assets/vendor/, where the vigie binary embeds them
# (include_bytes!): users need neither npm nor a network at run time.
#
# Usage: cd dashboard && npm ci && npm run vendor   (or: bash vendor.sh)
# Then rebuild vigie and commit the changed files under assets/vendor/.
#
# What is copied (licence files beside them, headers kept as published):
#   uplot            dist/uPlot.iife.min.js, dist/uPlot.min.css   MIT
#   topojson-client  dist/topojson-client.min.js                  ISC
#   world-atlas      countries-110m.json (Natural Earth, public domain) ISC
#   i18n-iso-countries codes.json -> country-codes.json: ISO 3166 numeric
#                    code -> alpha-2, only the countries of the atlas   MIT
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
out=../crates/vigie-publish/assets/vendor
nm=node_modules
for pkg in uplot topojson-client world-atlas i18n-iso-countries; do
    if [[ ! -d $nm/$pkg ]]; then
        echo "vendor.sh: $nm/$pkg is missing: run 'npm ci' in dashboard/ first" >&2
        exit 1
    fi
done
mkdir -p "$out/licenses"
cp "$nm/uplot/dist/uPlot.iife.min.js" "$nm/uplot/dist/uPlot.min.css" "$out/"
cp "$nm/topojson-client/dist/topojson-client.min.js" "$out/"
cp "$nm/world-atlas/countries-110m.json" "$out/"
cp "$nm/uplot/LICENSE" "$out/licenses/uplot-LICENSE"
cp "$nm/topojson-client/LICENSE" "$out/licenses/topojson-client-LICENSE"
cp "$nm/world-atlas/LICENSE" "$out/licenses/world-atlas-LICENSE"
cp "$nm/i18n-iso-countries/LICENSE" "$out/licenses/i18n-iso-countries-LICENSE"
node --input-type=module -e '
import { readFileSync, writeFileSync } from "node:fs";
const atlas = JSON.parse(readFileSync("node_modules/world-atlas/countries-110m.json", "utf8"));
const codes = JSON.parse(readFileSync("node_modules/i18n-iso-countries/codes.json", "utf8"));
const ids = new Set(atlas.objects.countries.geometries.map((g) => g.id).filter(Boolean));
const map = {};
for (const [alpha2, , numeric] of codes) if (ids.has(numeric)) map[numeric] = alpha2;
writeFileSync(process.argv[1], JSON.stringify(map) + "\n");
console.log(`country-codes.json: ${Object.keys(map).length} of ${ids.size} atlas ids`);
' "$out/country-codes.json"
versions=$(node -e 'for (const p of ["uplot","topojson-client","world-atlas","i18n-iso-countries"]) console.log(p + " " + require("./node_modules/" + p + "/package.json").version)')
printf 'Vendored by dashboard/vendor.sh from npm:\n%s\n' "$versions" > "$out/VERSIONS.txt"
echo "vendor.sh: copied into $out:"
ls -l "$out"
