// Shared helpers: the API, times (UTC ISO 8601 and a country's local time),
// names, and small DOM builders. Plain ES module.

import { t, lang } from "./i18n.js";

/** GET a JSON document of the API; throws an Error carrying the API's message. */
export async function api(path, params = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") query.set(k, String(v));
  }
  const url = query.size ? `${path}?${query}` : path;
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      message = (await response.json()).error || message;
    } catch {
      // not JSON: keep the status line
    }
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

/** A static file of the dashboard (JSON). */
export async function asset(path) {
  const response = await fetch(`/dashboard/${path}`);
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

// ---- times ---------------------------------------------------------------

/** Unix seconds → `2023-08-20T01:00:00Z`. */
export function isoUtc(secs) {
  return new Date(secs * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** `2023-08-20T01:00:00Z`, `2023-08-20T01:00Z`, `2023-08-20` or Unix seconds → Unix seconds (or NaN). */
export function parseUtc(text) {
  if (text === undefined || text === null) return NaN;
  const s = String(text).trim();
  if (/^-?\d+$/.test(s)) return Number(s);
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?Z?$/.test(s)) return NaN;
  let iso = s.replace(" ", "T");
  if (iso.length === 10) iso += "T00:00:00";
  if (!iso.endsWith("Z")) iso += "Z";
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : NaN;
}

/** A duration in seconds as `3 h 40 min` or `2 d 4 h`. */
export function duration(secs) {
  if (!Number.isFinite(secs)) return "?";
  const d = Math.floor(secs / 86400);
  const h = Math.floor((secs % 86400) / 3600);
  const m = Math.round((secs % 3600) / 60);
  if (d > 0) return `${d} ${t("d")}${h ? ` ${h} h` : ""}`;
  if (h > 0) return `${h} h${m ? ` ${m} min` : ""}`;
  return `${m} min`;
}

// The main IANA zone of countries that span several zones (Intl lists a
// country's zones alphabetically, which is not the capital's first). Every
// other country takes the first zone Intl gives for it.
const MAIN_ZONE = {
  AR: "America/Argentina/Buenos_Aires", AU: "Australia/Sydney",
  BR: "America/Sao_Paulo", CA: "America/Toronto", CD: "Africa/Kinshasa",
  CL: "America/Santiago", CN: "Asia/Shanghai", EC: "America/Guayaquil",
  ES: "Europe/Madrid", ID: "Asia/Jakarta", KZ: "Asia/Almaty",
  MN: "Asia/Ulaanbaatar", MX: "America/Mexico_City", MY: "Asia/Kuala_Lumpur",
  NZ: "Pacific/Auckland", PF: "Pacific/Tahiti", PG: "Pacific/Port_Moresby",
  PT: "Europe/Lisbon", RU: "Europe/Moscow", UA: "Europe/Kyiv",
  US: "America/New_York", UZ: "Asia/Tashkent", PS: "Asia/Gaza",
  DE: "Europe/Berlin", CY: "Asia/Nicosia", FM: "Pacific/Pohnpei",
  KI: "Pacific/Tarawa", MH: "Pacific/Majuro",
};

function validZone(zone) {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The zone of an entity's local times: the one the API gives (the zone its
 * reports use: the region's where known, else the country's main zone)
 * when this browser knows it, else the country's from {@link zoneOfCountry}.
 */
export function entityZone(given, cc) {
  return given && validZone(given) ? given : zoneOfCountry(cc);
}

/**
 * The IANA time zone shown beside UTC for a country code (`IQ` →
 * `Asia/Baghdad`): the table above for multi-zone countries, else the first
 * zone of the browser's Intl data for the region; null when unknown.
 */
export function zoneOfCountry(cc) {
  if (!cc || !/^[A-Z]{2}$/.test(cc)) return null;
  const candidates = [];
  if (MAIN_ZONE[cc]) candidates.push(MAIN_ZONE[cc]);
  try {
    const locale = new Intl.Locale(`und-${cc}`);
    const zones = typeof locale.getTimeZones === "function" ? locale.getTimeZones() : locale.timeZones;
    if (zones) candidates.push(...zones);
  } catch {
    // no Intl.Locale time zones in this browser
  }
  // `Europe/Kyiv` is `Europe/Kiev` in older ICU data.
  if (cc === "UA") candidates.push("Europe/Kiev");
  return candidates.find(validZone) ?? null;
}

/** The country of an entity code: `IQ`, `PS/Gaza Strip` → `IQ`, `PS`; ASes → null. */
export function countryOf(entity) {
  const m = /^([A-Z]{2})(\/|$)/.exec(entity || "");
  return m ? m[1] : null;
}

const localFormats = new Map();
/** Unix seconds in a zone: `2023-08-20 04:00 UTC+03:00`. */
export function localTime(secs, zone) {
  if (!zone) return "";
  let format = localFormats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-CA", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "longOffset",
    });
    localFormats.set(zone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(new Date(secs * 1000)).map((p) => [p.type, p.value]));
  const offset = (parts.timeZoneName || "GMT").replace("GMT", "UTC").replace(/^UTC$/, "UTC+00:00");
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${offset}`;
}

/** A `<time>` element: ISO UTC, then the local time in a smaller span. */
export function timeEl(secs, zone) {
  const t = el("time", { datetime: isoUtc(secs), class: "utc" }, isoUtc(secs));
  if (!zone) return t;
  return el("span", { class: "when" }, t, " ", el("span", { class: "local", title: zone }, `(${localTime(secs, zone)} local)`));
}

// ---- names ---------------------------------------------------------------

const regionNames = typeof Intl.DisplayNames === "function" ? new Intl.DisplayNames([lang], { type: "region" }) : null;

/** A country's name in the page's language from the browser's Intl data (`IQ` → `Iraq`). */
export function countryName(cc) {
  try {
    const name = regionNames?.of(cc);
    return name && name !== cc ? name : null;
  } catch {
    return null;
  }
}

/** A display name for an entity: the store's name, else the country's, else the code. */
export function entityName(entity, storeName) {
  if (storeName) return storeName;
  const cc = countryOf(entity);
  if (cc && entity === cc) return countryName(cc) || cc;
  if (cc) return `${entity.slice(3)}, ${countryName(cc) || cc}`;
  return entity;
}

// ---- DOM -----------------------------------------------------------------

/** `el("a", {href: "#"}, "text", child)`: an element with attributes and children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";
/** An SVG element with attributes. */
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    node.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) if (c) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

/**
 * Names of ASes (`AS9198` → its organisation) from the store, where it has
 * them (`vigie ingest` names ASes from the AS-name table it loads); codes
 * with no name are left out.
 */
export async function asNames(entities) {
  const names = new Map();
  const asns = [...new Set(entities)].filter((e) => /^AS\d+$/.test(e)).map((e) => e.slice(2));
  if (!asns.length) return names;
  try {
    const r = await api("/v2/entities/query", { entityType: "asn", entityCode: asns.slice(0, 200).join(","), limit: 200 });
    for (const x of r.data || []) if (x.attrs?.asn && x.attrs.org) names.set(`AS${x.attrs.asn}`, x.attrs.org);
  } catch {
    // leave the codes alone
  }
  return names;
}

/** A link's text for an entity: its name then its code, or the code once when it has no name. */
export function entityLabel(entity, storeName) {
  const name = entityName(entity, storeName);
  return name === entity ? [el("code", {}, entity)] : [name, " ", el("code", {}, entity)];
}

/** The hash link of an entity page. */
export function entityHref(entity, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ""));
  return `#/entity/${encodeURIComponent(entity)}${query.size ? `?${query}` : ""}`;
}

/** Severity class of a depth (fraction of the baseline lost, 0..1). */
export function severityOf(depth) {
  if (!Number.isFinite(depth) || depth <= 0) return 0;
  if (depth < 0.25) return 1;
  if (depth < 0.5) return 2;
  if (depth < 0.8) return 3;
  return 4;
}

/** Labels of the severity classes, for legends. */
export const SEVERITY_LABELS = [
  "No incident",
  "Minor: under 25% lost",
  "Moderate: 25–50% lost",
  "Severe: 50–80% lost",
  "Near-total: 80% or more lost",
].map((label) => t(label));

/** A percentage: 0.8828 → `88%`. */
export function percent(x) {
  return Number.isFinite(x) ? `${Math.round(x * 100)}%` : "?";
}
