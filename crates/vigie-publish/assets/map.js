// The world map: world-atlas's Natural Earth countries (TopoJSON, 1:110m)
// drawn as SVG in the Natural Earth I projection, each country coloured by
// the deepest incident of the country or its regions in the period, with
// ongoing incidents outlined; beside it, the period's incidents.

import {
  api, asset, el, svg, isoUtc, timeEl, entityZone, countryOf, countryName,
  entityHref, severityOf, SEVERITY_LABELS, percent, duration, asNames, entityLabel,
} from "./util.js";
import { t } from "./i18n.js";

/** Periods the map can show, ending at the store's latest data. */
export const PERIODS = [
  ["1d", t("24 hours"), 86400],
  ["7d", t("7 days"), 7 * 86400],
  ["30d", t("30 days"), 30 * 86400],
  ["1y", t("1 year"), 365 * 86400],
  ["all", t("All data"), null],
];
/** The period shown when the URL names none. */
export const DEFAULT_PERIOD = "7d";

// Natural Earth I (Šavrič, Patterson, Jenny, 2011): polynomial in latitude.
function naturalEarth(lonDeg, latDeg) {
  const l = (lonDeg * Math.PI) / 180;
  const p = (latDeg * Math.PI) / 180;
  const p2 = p * p;
  const p4 = p2 * p2;
  const x = l * (0.8707 - 0.131979 * p2 + p4 * (-0.013791 + p4 * (0.003971 * p2 - 0.001529 * p4)));
  const y = p * (1.007226 + p2 * (0.015085 + p4 * (-0.044475 + 0.028874 * p2 - 0.005916 * p4)));
  return [x, y];
}

const SCALE = 170;

function ringPath(ring) {
  let d = "";
  let previous = null;
  ring.forEach(([lon, lat]) => {
    const [x, y] = naturalEarth(lon, lat);
    // A ring that crosses the antimeridian (Fiji, Chukotka) is cut there,
    // rather than drawn across the whole map.
    const jump = previous !== null && Math.abs(lon - previous) > 180;
    d += `${previous === null || jump ? "M" : "L"}${(x * SCALE).toFixed(1)},${(-y * SCALE).toFixed(1)}`;
    previous = lon;
  });
  return `${d}Z`;
}

function geometryPath(geometry) {
  if (!geometry) return "";
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
  return polygons.map((rings) => rings.map(ringPath).join("")).join("");
}

// Atlas features without an ISO numeric id, by name.
const UNNUMBERED = { Kosovo: "XK" };

let atlasPromise = null;
function atlas() {
  atlasPromise ??= Promise.all([asset("vendor/countries-110m.json"), asset("vendor/country-codes.json")]).then(
    ([topology, codes]) => {
      // eslint-disable-next-line no-undef
      const features = topojson.feature(topology, topology.objects.countries).features;
      return features
        .filter((f) => f.id !== "010") // Antarctica: no network to watch, much ink
        .map((f) => ({
          code: codes[f.id] || UNNUMBERED[f.properties?.name] || null,
          atlasName: f.properties?.name || "",
          d: geometryPath(f.geometry),
        }));
    },
  );
  return atlasPromise;
}

/** Per country code: {depth, ongoing, incidents, entities:[…], latestStart}. */
function severityByCountry(summaries) {
  const out = new Map();
  for (const s of summaries) {
    const cc = countryOf(s.entity);
    if (!cc) continue; // ASes carry no country
    const c = out.get(cc) || { depth: 0, ongoing: 0, incidents: 0, entities: [], latestStart: null };
    c.depth = Math.max(c.depth, s.maxDepth || 0);
    c.ongoing += s.ongoing || 0;
    c.incidents += s.incidents || 0;
    c.entities.push(s.entity);
    if (s.latestStart && (!c.latestStart || s.latestStart > c.latestStart)) c.latestStart = s.latestStart;
    out.set(cc, c);
  }
  return out;
}

function legend() {
  const item = (cls, label) => el("li", {}, el("span", { class: `swatch ${cls}` }), label);
  return el(
    "ul",
    { class: "legend", "aria-label": t("Legend") },
    item("nodata", t("No data in this store")),
    ...SEVERITY_LABELS.map((label, i) => item(`sev-${i}`, i === 0 ? t("Monitored, no incident") : label)),
    item("ongoing-swatch", t("Outlined: incident still going on")),
  );
}

/** Renders the map view into `root`; `state` is {period}; `go(params)` changes it. */
export async function renderMap(root, state, ctx) {
  const period = PERIODS.find((p) => p[0] === state.period) ? state.period : DEFAULT_PERIOD;
  const [coverage, features] = await Promise.all([ctx.coverage(), atlas()]);
  const until = coverage.untilUnix;
  const span = PERIODS.find((p) => p[0] === period)[2];
  const from = span && until ? until - span : undefined;
  const range = until ? { from, until: span ? until : undefined } : {};
  const [summary, incidents] = await Promise.all([
    api("/api/v1/summary", { ...range, limit: 10000 }),
    api("/api/v1/incidents", { ...range, limit: 10000 }),
  ]);
  const byCountry = severityByCountry(summary.entities);
  const names = await asNames(incidents.incidents.slice(0, 100).map((i) => i.entity));
  const covered = new Map(coverage.countries.map((c) => [c.country, c]));

  const map = svg("svg", {
    id: "world-map", role: "img", "aria-label": t("World map of incidents by country"),
    preserveAspectRatio: "xMidYMid meet",
  });
  const gCountries = svg("g", { class: "countries" });
  for (const f of features) {
    const cov = f.code ? covered.get(f.code) : null;
    const sev = f.code ? byCountry.get(f.code) : null;
    const name = (f.code && countryName(f.code)) || f.atlasName;
    let cls = "country nodata";
    let status = t("no data in this store");
    if (cov || sev) {
      const level = sev ? severityOf(sev.depth) : 0;
      cls = `country sev-${level}${sev?.ongoing ? " ongoing" : ""}`;
      status = sev
        ? `${t("{n} incident(s)", { n: sev.incidents })}${sev.ongoing ? ` (${t("{n} ongoing", { n: sev.ongoing })})` : ""}, ${t("deepest {depth} lost, latest {start}", { depth: percent(sev.depth), start: sev.latestStart })}` +
          (sev.entities.some((e) => e !== f.code) ? ` (${t("in {list}", { list: sev.entities.join(", ") })})` : "")
        : t("monitored, no incident in this period");
    }
    const path = svg("path", {
      d: f.d, class: cls, "data-code": f.code || "", "data-name": name,
      tabindex: cov ? 0 : undefined, role: cov ? "link" : undefined,
    }, svg("title", {}, `${name}${f.code ? ` (${f.code})` : ""}: ${status}`));
    if (cov && f.code) {
      const open = () => { location.hash = entityHref(f.code); };
      path.addEventListener("click", open);
      path.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
    }
    gCountries.append(path);
  }
  map.append(gCountries);
  // Ongoing ones on top, so their outline is not hidden by neighbours.
  for (const p of [...gCountries.querySelectorAll(".ongoing")]) gCountries.append(p);

  const periodLinks = el(
    "nav",
    { class: "periods", "aria-label": t("Period") },
    t("Period: "),
    PERIODS.map(([key, label]) =>
      el("a", { href: `#/map?period=${key}`, class: key === period ? "active" : "", "aria-current": key === period ? "page" : undefined }, label),
    ),
  );
  const spanText = until
    ? el("span", { class: "span" }, span ? [t("From "), timeEl(from), t(" to ")] : [t("All data, up to ")], timeEl(until), t(" (UTC; the store's latest data)"))
    : el("span", { class: "span" }, t("The store holds no data yet: import or ingest some (see the README)."));

  const rows = [...incidents.incidents].sort(
    (a, b) => (b.ongoing - a.ongoing) || (b.start < a.start ? -1 : b.start > a.start ? 1 : 0),
  );
  const list = el(
    "section",
    { class: "incident-list" },
    el("h2", {}, t("Incidents in this period ({n})", { n: incidents.total })),
    rows.length === 0
      ? el("p", {}, t("None."))
      : el(
        "table",
        {},
        el("thead", {}, el("tr", {}, ["Where", "Start (UTC, local)", "End", "Lost", "Mechanism", "Scope"].map((h) => el("th", {}, t(h))))),
        el(
          "tbody",
          {},
          rows.slice(0, 100).map((i) => {
            const zone = entityZone(i.zone, countryOf(i.entity));
            const start = Date.parse(i.start) / 1000;
            const end = i.end ? Date.parse(i.end) / 1000 : null;
            return el(
              "tr",
              { class: i.ongoing ? "ongoing" : "" },
              el("td", {}, el("a", { href: entityHref(i.entity, { from: isoUtc(start - 6 * 3600), until: isoUtc((end ?? Date.parse(i.observedUntil) / 1000) + 6 * 3600) }) }, entityLabel(i.entity, names.get(i.entity)))),
              el("td", {}, timeEl(start, zone)),
              el("td", {}, end ? [timeEl(end, zone), el("div", { class: "dim" }, duration(end - start))] : el("strong", { class: "badge ongoing" }, t("ongoing"))),
              el("td", {}, percent(i.depth)),
              el("td", {}, i.mechanism),
              el("td", {}, i.scope),
            );
          }),
        ),
      ),
  );

  root.replaceChildren(
    el("section", { class: "map-view" },
      el("div", { class: "toolbar" }, periodLinks, spanText),
      el("div", { class: "map-wrap" }, map, legend()),
      list),
  );
  // Fit the view box to the drawn countries.
  const box = gCountries.getBBox();
  map.setAttribute("viewBox", `${box.x.toFixed(0)} ${box.y.toFixed(0)} ${box.width.toFixed(0)} ${box.height.toFixed(0)}`);
  // Countries too small to see at this scale get a dot of their colour.
  const dots = svg("g", { class: "dots" });
  for (const path of gCountries.querySelectorAll("path.country:not(.nodata)")) {
    const b = path.getBBox();
    if (b.width * b.height > 40) continue;
    const dot = svg("circle", { cx: (b.x + b.width / 2).toFixed(1), cy: (b.y + b.height / 2).toFixed(1), r: 4, class: `${path.getAttribute("class")} dot`, "data-code": path.dataset.code },
      svg("title", {}, path.querySelector("title")?.textContent || ""));
    dot.addEventListener("click", () => path.dispatchEvent(new Event("click")));
    dots.append(dot);
  }
  map.append(dots);
  return { period };
}
