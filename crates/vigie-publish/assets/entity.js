// An entity's page: its signals stacked and normalised (each divided by its
// level before the incident, so 1 is normal and a shutdown reads as a drop),
// or raw on their own axes (`scale=raw`), with incident, restoration, alert
// and annotation bands; the incident timeline; the incidents in detail with
// the affected regions and ASes; CSV and PNG export. The URL holds the view
// (entity, from, until, signals).

import {
  api, el, svg, isoUtc, parseUtc, timeEl, localTime, entityZone, countryOf,
  entityName, entityHref, percent, duration, asNames,
} from "./util.js";
import { t } from "./i18n.js";

/** Values per series asked of the API (about two per pixel of a wide screen). */
const MAX_POINTS = 2000;
const PANEL_HEIGHT = 120;
const AXIS_PX = 84;
const COLORS = {
  bgp: "#1b6ca8", "ping-slash24": "#7b3294", "merit-nt": "#c2571a", gtr: "#2a7f62",
  "gtr-norm": "#4d9221", flows: "#8c510a", "web-logs": "#01665e", telescope: "#c51b7d",
};
const BAND = {
  incident: "rgba(215, 48, 31, 0.13)",
  restoration: "rgba(26, 152, 80, 0.28)",
  alert: "rgba(165, 0, 38, 0.75)",
  annotation: "#2166ac",
};

/** Days before the view (or its first incident) whose level is "normal". */
const BASELINE_DAYS = 14;
/** Fewest values a level is taken from. */
const MIN_BASELINE_VALUES = 24;

function quantile(values, q) {
  const v = values.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const at = (v.length - 1) * q;
  const lo = Math.floor(at);
  const x = v[lo] + (v[Math.min(lo + 1, v.length - 1)] - v[lo]) * (at - lo);
  return x > 0 ? x : (v[v.length - 1] > 0 ? v[v.length - 1] : null);
}

function median(values) {
  const v = values.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  if (m > 0) return m;
  const max = v[v.length - 1];
  return max > 0 ? max : null;
}

const secs = (iso) => (iso ? Date.parse(iso) / 1000 : null);

function fmtNumber(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return t("no data");
  const a = Math.abs(x);
  if (a >= 1e9) return `${(x / 1e9).toFixed(2)} G`;
  if (a >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (a >= 1000) return Math.round(x).toLocaleString("en");
  return a >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** Canvas bands of one panel: incidents, restoration windows, this signal's alerts, annotations, the normal level. */
function bandHook(view, signal, base) {
  return (u) => {
    const { ctx } = u;
    const { left, top, width, height } = u.bbox;
    const x = (t) => Math.min(left + width, Math.max(left, u.valToPos(t, "x", true)));
    ctx.save();
    for (const inc of view.incidents) {
      const a = x(inc.startSecs);
      const b = x(inc.endSecs ?? view.until);
      ctx.fillStyle = BAND.incident;
      ctx.fillRect(a, top, Math.max(1, b - a), height);
      for (const r of inc.restorations) {
        const ra = x(secs(r.start));
        const rb = x(secs(r.end));
        ctx.fillStyle = BAND.restoration;
        ctx.fillRect(ra, top, Math.max(1, rb - ra), height);
      }
    }
    const strip = Math.max(4, Math.round(height * 0.06));
    for (const ev of view.events) {
      if (ev.signal !== signal) continue;
      const a = x(secs(ev.start));
      const b = x(ev.end ? secs(ev.end) : view.until);
      ctx.fillStyle = BAND.alert;
      ctx.fillRect(a, top, Math.max(1, b - a), strip);
      ctx.fillRect(a, top + height - strip, Math.max(1, b - a), strip);
    }
    // The normal level: 1× (or its raw value).
    const y1 = u.valToPos(view.raw ? base ?? 0 : 1, "y", true);
    ctx.strokeStyle = "rgba(0,0,0,0.35)";
    ctx.setLineDash([4, 4]);
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(left, y1);
    ctx.lineTo(left + width, y1);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.strokeStyle = BAND.annotation;
    ctx.lineWidth = Math.max(1, devicePixelRatio);
    for (const an of view.annotations) {
      const a = x(secs(an.time));
      ctx.beginPath();
      ctx.moveTo(a, top);
      ctx.lineTo(a, top + height);
      ctx.stroke();
    }
    ctx.restore();
  };
}

const inside = (time, incidents) => incidents.some((i) => time >= i.startSecs && (i.endSecs === null || time < i.endSecs));

/**
 * The normal level of each series (what 1× means): the median of the
 * BASELINE_DAYS before the view or its first incident, whichever is
 * earlier, leaving out earlier incidents; else the median of the view
 * outside its incidents; else the view's 90th percentile. Never the median
 * of a view that is mostly shutdown, which would read the outage as normal.
 */
export async function baselines(entity, view, series) {
  const firsts = view.incidents.map((i) => i.startSecs).filter(Number.isFinite);
  const ref = Math.min(view.from, ...firsts);
  const from = ref - BASELINE_DAYS * 86400;
  let before = { series: [] };
  let earlier = [];
  try {
    [before, earlier] = await Promise.all([
      api("/api/v1/signals", { entity, from, until: ref, signal: series.map((s) => s.signal).join(","), maxPoints: 2000 }),
      api("/api/v1/incidents", { entity, from, until: ref, limit: 1000 }).then((r) => r.incidents.map(decorate)),
    ]);
  } catch {
    // no data before the view: the fallbacks below
  }
  const out = new Map();
  for (const s of series) {
    const prior = before.series.find((b) => b.signal === s.signal);
    const normal = prior ? prior.values.filter((v, i) => v !== null && !inside(prior.startUnix + i * prior.stepSecs, earlier)) : [];
    let base = normal.length >= MIN_BASELINE_VALUES ? median(normal) : null;
    let source = t("the level in the {days} days before {time}", { days: BASELINE_DAYS, time: isoUtc(ref).slice(0, 16).replace("T", " ") });
    if (base === null) {
      const outside = s.values.filter((v, i) => v !== null && !inside(s.startUnix + i * s.stepSecs, view.incidents));
      base = outside.length >= MIN_BASELINE_VALUES ? median(outside) : null;
      source = t("the median of this view outside incidents");
    }
    if (base === null) {
      base = quantile(s.values, 0.9);
      source = t("the 90th percentile of this view");
    }
    out.set(s.signal, { base, source });
  }
  return out;
}

function panel(view, series, width, isLast, level) {
  const step = series.stepSecs;
  const xs = series.values.map((_, i) => series.startUnix + i * step);
  const { base, source } = level;
  const raw = view.raw;
  const norm = series.values.map((v) => (v === null || (!raw && base === null) ? null : raw ? v : v / base));
  const finite = norm.filter((v) => v !== null && Number.isFinite(v));
  const top = raw ? Math.max(base ?? 0, ...finite, 1) : Math.max(1.5, ...finite.map((v) => Math.min(v, 4)));
  const color = COLORS[series.signal] || "#333";
  // A series with values between bins of no data (an hourly index in
  // 5-minute bins) has no line to draw: show its points.
  const isolated = norm.some((v, i) => v !== null && (norm[i - 1] ?? null) === null && (norm[i + 1] ?? null) === null);
  const span = view.until - view.from;
  // UTC tick labels: the time, with the date where the day changes.
  const xLabels = (u, splits) => splits.map((t, i) => {
    const iso = isoUtc(t);
    const day = iso.slice(5, 10);
    const hm = iso.slice(11, 16);
    if (span > 4 * 86400) return hm === "00:00" ? day : `${day} ${hm}`;
    const newDay = i > 0 && isoUtc(splits[i - 1]).slice(5, 10) !== day;
    return newDay ? `${day} ${hm}` : hm;
  });
  const opts = {
    width,
    height: PANEL_HEIGHT + (isLast ? 30 : 0),
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
    padding: [8, 34, null, null],
    scales: { x: { time: true, range: [view.from, view.until] }, y: { range: [0, top * 1.05] } },
    axes: [
      { show: true, size: isLast ? 28 : 8, space: 70, values: isLast ? xLabels : (u, splits) => splits.map(() => ""), grid: { stroke: "#eee" }, ticks: { show: isLast } },
      { size: AXIS_PX, values: (u, vals) => vals.map((v) => (raw ? fmtNumber(v) : `${v.toFixed(1)}×`)), grid: { stroke: "#eee" } },
    ],
    series: [
      { label: t("Time (UTC)"), value: (u, x) => (x === null || x === undefined ? "—" : `${isoUtc(x)}${view.zone ? ` · ${localTime(x, view.zone)}` : ""}`) },
      {
        label: panelLabel(series, level, raw),
        stroke: color, width: 1.5, spanGaps: false, points: { show: isolated, size: 4, fill: color },
        value: (u, v, si, i) => (i === null || i === undefined ? "—" : v === null ? t("no data") : raw ? fmtNumber(v) : `${v.toFixed(2)}× (${fmtNumber(series.values[i])})`),
      },
    ],
    cursor: { sync: { key: "vigie-entity" }, drag: { x: true, y: false } },
    legend: { live: true },
    hooks: {
      drawClear: [bandHook(view, series.signal, base)],
      setSelect: [(u) => {
        if (u.select.width < 5) return;
        const a = Math.floor(u.posToVal(u.select.left, "x"));
        const b = Math.ceil(u.posToVal(u.select.left + u.select.width, "x"));
        view.go({ from: isoUtc(a), until: isoUtc(b) });
      }],
    },
  };
  const holder = el("div", { class: "panel", "data-signal": series.signal, "data-scale": raw ? "raw" : "normal" });
  // eslint-disable-next-line no-undef, new-cap
  const plot = new uPlot(opts, [xs, norm], holder);
  return { holder, plot, series, base, source };
}

function panelLabel(series, level, raw) {
  return raw
    ? t("{signal} ({unit}, raw values)", { signal: series.signal, unit: series.unit })
    : t("{signal} ({unit}; 1× = {base}, {source})", { signal: series.signal, unit: series.unit, base: fmtNumber(level.base), source: level.source });
}

/** Draws one panel per series into `plots`; for tests, `window.vigieCharts` describes them. */
export function drawPanels(view, data, levels, plots) {
  const width = Math.max(480, plots.clientWidth || 900);
  const panels = data.series.map((s, i) => panel(view, s, width, i === data.series.length - 1, levels.get(s.signal)));
  for (const p of panels) plots.append(p.holder);
  window.vigieCharts = panels.map((p) => ({
    signal: p.series.signal, scale: view.raw ? "raw" : "normal", base: p.base, source: p.source,
    start: p.series.startUnix, step: p.series.stepSecs, raw: p.series.values, plotted: [...p.plot.data[1]],
    get yMax() { return p.plot.scales.y.max; },
  }));
  return { panels, width };
}

function ticks(from, until, width) {
  const steps = [3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400, 365 * 86400];
  const maxTicks = Math.max(2, Math.floor(width / 110));
  const step = steps.find((s) => (until - from) / s <= maxTicks) || steps[steps.length - 1];
  const out = [];
  for (let t = Math.ceil(from / step) * step; t <= until; t += step) out.push(t);
  return { out, step };
}

/** The incident timeline: incidents with restoration windows, regions' incidents, annotations. */
function timeline(view, width, left, right) {
  const rows = [{ label: t("Incidents"), items: view.incidents, kind: "incident" }];
  const regions = [...new Set(view.regionIncidents.map((i) => i.entity))];
  for (const r of regions) rows.push({ label: r.slice(3), items: view.regionIncidents.filter((i) => i.entity === r), kind: "region", entity: r });
  const rowH = 26;
  const annH = view.annotations.length ? 22 + 16 * Math.min(view.annotations.length, 6) : 0;
  const height = 24 + rows.length * rowH + annH + 8;
  const plotW = width - left - right;
  const x = (t) => left + Math.max(0, Math.min(plotW, ((t - view.from) / (view.until - view.from)) * plotW));
  const root = svg("svg", { class: "timeline", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": t("Incident timeline") });
  const { out: tickTimes, step } = ticks(view.from, view.until, plotW);
  for (const t of tickTimes) {
    root.append(svg("line", { x1: x(t), x2: x(t), y1: 16, y2: height, class: "tick" }));
    const label = step >= 86400 ? isoUtc(t).slice(0, 10) : isoUtc(t).slice(5, 16).replace("T", " ");
    const anchor = x(t) > width - 40 ? "end" : x(t) < left + 30 ? "start" : "middle";
    root.append(svg("text", { x: x(t), y: 11, class: "tick-label", "text-anchor": anchor }, label));
  }
  rows.forEach((row, r) => {
    const y = 22 + r * rowH;
    root.append(svg("text", { x: left - 6, y: y + 15, class: "row-label", "text-anchor": "end" }, row.label.length > 14 ? `${row.label.slice(0, 13)}…` : row.label));
    for (const inc of row.items) {
      const a = x(inc.startSecs);
      const b = x(inc.endSecs ?? view.until);
      const g = svg("g", { class: `bar ${row.kind}${inc.ongoing ? " ongoing" : ""}`, "data-id": inc.id, tabindex: 0 });
      g.append(svg("rect", { x: a, y, width: Math.max(2, b - a), height: 18, rx: 2, class: "incident-bar" }));
      for (const rw of inc.restorations) {
        const ra = x(secs(rw.start));
        const rb = x(secs(rw.end));
        g.append(svg("rect", { x: ra, y: y + 3, width: Math.max(2, rb - ra), height: 12, class: "restoration-bar" },
          svg("title", {}, t("Restoration window {start} → {end} ({restored} restored)", { start: rw.start, end: rw.end, restored: percent(rw.restoredFraction) }))));
      }
      g.append(svg("title", {}, t("{id}: {start} → {end}, {depth} lost, {mechanism}", { id: inc.id, start: inc.start, end: inc.end || t("ongoing"), depth: percent(inc.depth), mechanism: inc.mechanism })));
      g.addEventListener("click", () => {
        if (row.kind === "region") location.hash = entityHref(inc.entity, { from: isoUtc(view.from), until: isoUtc(view.until) });
        else {
          const card = document.getElementById(`incident-${inc.id}`);
          if (card) {
            card.open = true;
            card.scrollIntoView({ behavior: "smooth", block: "start" });
          }
        }
      });
      root.append(g);
    }
  });
  if (view.annotations.length) {
    const y0 = 22 + rows.length * rowH + 6;
    root.append(svg("text", { x: left - 6, y: y0 + 12, class: "row-label", "text-anchor": "end" }, t("Annotations")));
    view.annotations.slice(0, 6).forEach((an, i) => {
      const a = x(secs(an.time));
      const y = y0 + 12 + i * 16;
      root.append(svg("line", { x1: a, x2: a, y1: 16, y2: y, class: "annotation-line" }));
      root.append(svg("circle", { cx: a, cy: y - 4, r: 4, class: "annotation-dot" }));
      const anchor = a > left + plotW * 0.7 ? "end" : "start";
      root.append(svg("text", { x: anchor === "end" ? a - 8 : a + 8, y, class: "annotation-text", "text-anchor": anchor }, an.text.length > 60 ? `${an.text.slice(0, 59)}…` : an.text));
    });
  }
  return root;
}

/** Data gaps per signal: `gtr: 9 gaps, 2023-08-23T01:05:00Z → 2023-08-23T05:30:00Z`. */
function gapSummary(gaps) {
  const bySignal = new Map();
  for (const g of gaps) {
    const s = bySignal.get(g.signal) || { count: 0, start: g.start, end: g.end };
    s.count += 1;
    if (g.start < s.start) s.start = g.start;
    if (!g.end || (s.end && g.end > s.end)) s.end = g.end;
    bySignal.set(g.signal, s);
  }
  return [...bySignal].map(([signal, s]) => t("{signal}: {n} gap(s), {start} → {end}", { signal, n: s.count, start: s.start, end: s.end || "…" })).join("; ");
}

function incidentCard(inc, view, names, open) {
  const zone = view.zone;
  const start = inc.startSecs;
  const end = inc.endSecs;
  const margin = Math.max(3600, Math.round(((end ?? secs(inc.observedUntil)) - start) * 0.5));
  const affected = inc.affected.length
    ? el("ul", {}, inc.affected.map((a) => el("li", {}, el("a", { href: entityHref(a.entity, { from: isoUtc(view.from), until: isoUtc(view.until) }) }, entityName(a.entity, names.get(a.entity))), entityName(a.entity, names.get(a.entity)) !== a.entity ? [" ", el("code", {}, a.entity)] : null, ` — ${percent(a.addressShare)}${t(" of the country's address space")}`)))
    : el("span", { class: "dim" }, t("No per-region or per-AS breakdown recorded for this incident."));
  const row = (k, ...v) => [el("dt", {}, k), el("dd", {}, ...v)];
  return el(
    "details",
    { class: `incident${inc.ongoing ? " ongoing" : ""}`, id: `incident-${inc.id}`, "data-id": inc.id, open },
    el("summary", {}, el("strong", {}, inc.start), ` · ${duration((end ?? secs(inc.observedUntil)) - start)} · ${t("{depth} lost", { depth: percent(inc.depth) })} · ${inc.mechanism} · ${inc.scope} `,
      el("span", { class: `badge${inc.ongoing ? " ongoing" : ""}` }, inc.ongoing ? t("ongoing") : t("ended")),
      inc.restorations.length ? el("span", { class: "badge restored" }, t("{n} restoration window(s)", { n: inc.restorations.length })) : null,
      el("span", { class: "dim id" }, ` ${inc.id}`)),
    el(
      "dl",
      {},
      row(t("Start"), timeEl(start, zone)),
      row(t("End"), end ? timeEl(end, zone) : [t("ongoing (data until "), timeEl(secs(inc.observedUntil), zone), ")"]),
      row(t("Duration"), duration((end ?? secs(inc.observedUntil)) - start)),
      row(t("Depth"), t("{depth} of the baseline lost", { depth: percent(inc.depth) })),
      row(t("Mechanism"), t("{mechanism} (confidence {confidence})", { mechanism: inc.mechanism, confidence: percent(inc.mechanismConfidence) }), inc.mechanismEvidence ? el("div", { class: "dim" }, inc.mechanismEvidence) : null),
      row(t("Scope"), inc.scope),
      row(t("Signals"), inc.signals.join(", ")),
      row(
        t("Restoration windows"),
        inc.restorations.length
          ? el("ol", { class: "restorations" }, inc.restorations.map((r) => el("li", {}, timeEl(secs(r.start), zone), " → ", timeEl(secs(r.end), zone), " ", t("({duration}, {restored} restored)", { duration: duration(secs(r.end) - secs(r.start)), restored: percent(r.restoredFraction) }))))
          : el("span", { class: "dim" }, t("none: no partial return of service before the end")),
      ),
      row(t("Affected regions and ASes"), affected),
      inc.dataGaps.length ? row(t("Data gaps"), gapSummary(inc.dataGaps)) : null,
    ),
    el(
      "p",
      { class: "actions" },
      el("a", { href: entityHref(view.entity, { from: isoUtc(start - margin), until: isoUtc((end ?? secs(inc.observedUntil)) + margin), signals: view.signalsParam, scale: view.scaleParam }), class: "button zoom" }, t("Zoom to this incident")),
      " ",
      el("a", { href: `/api/v1/incidents/${encodeURIComponent(inc.id)}`, class: "button" }, "JSON"),
    ),
  );
}

/** Draws every panel (and a title and key) onto one canvas and downloads it as PNG. */
export function exportPng(view, panels) {
  const dpr = devicePixelRatio || 1;
  const canvases = panels.map((p) => p.plot.ctx.canvas);
  const width = Math.max(...canvases.map((c) => c.width), 600 * dpr);
  const titleH = 46 * dpr;
  const labelH = 18 * dpr;
  const keyH = 26 * dpr;
  const height = titleH + canvases.reduce((s, c) => s + c.height + labelH, 0) + keyH;
  const out = document.createElement("canvas");
  out.width = width;
  out.height = height;
  const ctx = out.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = "#111";
  ctx.font = `bold ${16 * dpr}px sans-serif`;
  ctx.fillText(`${view.name} (${view.entity})`, 10 * dpr, 20 * dpr);
  ctx.font = `${12 * dpr}px sans-serif`;
  ctx.fillText(`${isoUtc(view.from)} → ${isoUtc(view.until)} (UTC) · ${view.raw ? t("raw values") : t("each signal relative to its level before the incident (1× = normal)")} · vigie`, 10 * dpr, 38 * dpr);
  let y = titleH;
  panels.forEach((p, i) => {
    ctx.fillStyle = COLORS[p.series.signal] || "#333";
    ctx.font = `bold ${12 * dpr}px sans-serif`;
    ctx.fillText(panelLabel(p.series, p, view.raw), 10 * dpr, y + 13 * dpr);
    y += labelH;
    ctx.drawImage(canvases[i], 0, y);
    y += canvases[i].height;
  });
  const key = [[BAND.incident, t("incident")], [BAND.restoration, t("restoration window")], [BAND.alert, t("signal alert")], [BAND.annotation, t("annotation")]];
  let kx = 10 * dpr;
  ctx.font = `${11 * dpr}px sans-serif`;
  for (const [color, label] of key) {
    ctx.fillStyle = color;
    ctx.fillRect(kx, y + 8 * dpr, 14 * dpr, 10 * dpr);
    ctx.fillStyle = "#333";
    ctx.fillText(label, kx + 18 * dpr, y + 17 * dpr);
    kx += (26 + label.length * 6) * dpr;
  }
  return new Promise((resolve) => {
    out.toBlob((blob) => {
      const a = el("a", { href: URL.createObjectURL(blob), download: `vigie-${view.entity.replace(/[^A-Za-z0-9]+/g, "_")}-${isoUtc(view.from).slice(0, 16).replace(/[:]/g, "")}.png` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
      resolve(blob);
    }, "image/png");
  });
}

export function decorate(inc) {
  return { ...inc, startSecs: secs(inc.start), endSecs: secs(inc.end) };
}

/** The key of the chart's bands and lines. */
export function chartKey() {
  return el("p", { class: "key" },
    el("span", { class: "swatch band-incident" }), t("incident "),
    el("span", { class: "swatch band-restoration" }), t("restoration window "),
    el("span", { class: "swatch band-alert" }), t("alert on this signal "),
    el("span", { class: "swatch band-annotation" }), t("annotation "),
    el("span", { class: "swatch band-baseline" }), t("normal level (1×)"));
}

/** Renders the page of `entity` into `root`; `params` holds from, until and signals. */
export async function renderEntity(root, entity, params, ctx) {
  const cc = countryOf(entity);
  const isCountry = cc && entity === cc;
  const fromParam = params.get("from");
  const untilParam = params.get("until");
  const from = fromParam ? parseUtc(fromParam) : undefined;
  const until = untilParam ? parseUtc(untilParam) : undefined;
  if (Number.isNaN(from) || Number.isNaN(until)) throw new Error(t("bad time in the URL: use ISO 8601 UTC such as 2023-08-20T01:00:00Z (from={from}, until={until})", { from: fromParam, until: untilParam }));
  const wanted = (params.get("signals") || "").split(",").map((s) => s.trim()).filter(Boolean);
  const raw = params.get("scale") === "raw";

  // The entity's name and signals: a one-point read of every series (a
  // search by code could match thousands of entities, such as AS1…).
  let info = null;
  try {
    const probe = await api("/api/v1/signals", { entity, maxPoints: 1 });
    info = { name: probe.name, country: probe.country, zone: probe.zone, signals: probe.series.map((s) => ({ signal: s.signal, unit: s.unit })) };
  } catch (e) {
    if (e.status !== 404) throw e;
  }
  const kind = isCountry ? "country" : cc ? "region" : /^AS\d+$/.test(entity) ? "AS" : "entity";
  const name = entityName(entity, info?.name);
  // An AS has no country in its code: the API names its main country. The
  // API's zone is the reports' (a region's own zone where it has one).
  const zone = entityZone(info?.zone, cc || info?.country);
  const where = !cc && info?.country ? t(" of {country}, where most of its address space is", { country: info.country }) : "";
  const header = el("header", { class: "entity-head" },
    el("h1", {}, name !== entity ? [name, " "] : null, el("code", {}, entity)),
    el("p", { class: "dim" }, t(kind), zone ? t(" · local time{where}: {zone} (IANA zone from the browser's Intl data)", { where, zone }) : t(" · local time: unknown for this AS, times in UTC only")));

  let regionsOfCountry = [];
  if (isCountry) {
    regionsOfCountry = (await api("/api/v1/entities", { search: `${entity}/`, kind: "region", limit: 500 })).entities;
  }
  if (!info) {
    // A country known only through its regions: list them with their incidents.
    const summary = regionsOfCountry.length ? await api("/api/v1/summary", { limit: 10000 }) : { entities: [] };
    const byRegion = new Map(summary.entities.map((s) => [s.entity, s]));
    root.replaceChildren(el("section", { class: "entity-view" }, header,
      el("p", { class: "notice" }, isCountry ? `${t("This store holds no series of {entity} as a whole", { entity })}${regionsOfCountry.length ? t(", only of its regions below") : ""}.` : t("This store holds no series of {entity}: search for another entity above.", { entity })),
      regionsOfCountry.length
        ? [el("h2", {}, t("Its regions with data")), el("ul", { class: "region-list" }, regionsOfCountry.map((r) => {
          const s = byRegion.get(r.entity);
          return el("li", {}, el("a", { href: entityHref(r.entity) }, entityName(r.entity, r.name)), " ", el("code", {}, r.entity),
            s ? ` — ${t("{n} incident(s)", { n: s.incidents })}${s.ongoing ? ` (${t("{n} ongoing", { n: s.ongoing })})` : ""}, ${t("deepest {depth} lost, latest {start}", { depth: percent(s.maxDepth), start: s.latestStart })}` : t(" — no incident"));
        }))]
        : null));
    return { entity };
  }
  const available = info.signals.map((s) => s.signal);
  const signals = wanted.length ? wanted.filter((s) => available.includes(s)) : available;
  const data = await api("/api/v1/signals", {
    entity, from: fromParam ? from : undefined, until: untilParam ? until : undefined,
    signal: wanted.length ? signals.join(",") : undefined, maxPoints: MAX_POINTS,
  });
  const view = {
    entity, name, zone, raw,
    from: secs(data.from), until: secs(data.until),
    signalsParam: wanted.length ? signals.join(",") : undefined,
    scaleParam: raw ? "raw" : undefined,
  };
  const range = { from: view.from, until: view.until };
  const [incidents, events, annotations, allIncidents] = await Promise.all([
    api("/api/v1/incidents", { entity, ...range, limit: 1000 }),
    api("/api/v1/events", { entity, ...range, limit: 10000 }),
    api("/api/v1/annotations", { entity, ...range, limit: 1000 }),
    isCountry ? api("/api/v1/incidents", { ...range, limit: 10000 }) : Promise.resolve({ incidents: [] }),
  ]);
  view.incidents = incidents.incidents.map(decorate);
  view.events = events.events;
  view.annotations = annotations.annotations;
  view.regionIncidents = allIncidents.incidents.filter((i) => i.entity.startsWith(`${entity}/`)).map(decorate);
  view.go = (change) => ctx.go(entityHref(entity, { from: view.fromIso, until: view.untilIso, signals: view.signalsParam, scale: view.scaleParam, ...change }));
  view.fromIso = isoUtc(view.from);
  view.untilIso = isoUtc(view.until);
  // The URL now names the resolved view, so that it can be shared as is.
  ctx.replace(entityHref(entity, { from: view.fromIso, until: view.untilIso, signals: view.signalsParam, scale: view.scaleParam }));
  const levels = await baselines(entity, view, data.series);

  // Names of affected ASes (the store's, in one lookup); regions are named by their code.
  const names = await asNames(view.incidents.flatMap((i) => i.affected.map((a) => a.entity)));

  const span = view.until - view.from;
  const preset = (label, f, u) => el("a", { class: "button", href: entityHref(entity, { from: isoUtc(f), until: isoUtc(u), signals: view.signalsParam, scale: view.scaleParam }) }, label);
  // The CSV holds the series in view at their native resolution (the API's
  // bound, 200,000 values per series, downsamples longer ranges).
  const csvQuery = new URLSearchParams({ entity, from: view.fromIso, until: view.untilIso });
  const nativeStep = data.series[0]?.nativeStepSecs || 300;
  if ((view.until - view.from) / nativeStep > 200000) csvQuery.set("maxPoints", "200000");
  if (view.signalsParam) csvQuery.set("signal", view.signalsParam);
  const pngButton = el("button", { type: "button", id: "export-png" }, t("Download PNG"));
  const form = el("form", { class: "range", id: "range-form" },
    el("label", {}, t("From (UTC) "), el("input", { name: "from", value: view.fromIso, size: 20, pattern: "\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2})?Z?)?" })),
    el("label", {}, t("Until (UTC) "), el("input", { name: "until", value: view.untilIso, size: 20 })),
    el("button", { type: "submit" }, t("Show")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = parseUtc(form.elements.from.value);
    const u = parseUtc(form.elements.until.value);
    if (!Number.isFinite(f) || !Number.isFinite(u) || f >= u) {
      form.querySelector(".form-error")?.remove();
      form.append(el("span", { class: "form-error" }, t("Give two ISO 8601 UTC times, the first before the second.")));
      return;
    }
    view.go({ from: isoUtc(f), until: isoUtc(u) });
  });
  const signalBoxes = el("fieldset", { class: "signals" }, el("legend", {}, t("Signals")),
    available.map((s) => {
      const box = el("input", { type: "checkbox", name: "signal", value: s, checked: signals.includes(s) });
      box.addEventListener("change", () => {
        const chosen = [...signalBoxes.querySelectorAll("input:checked")].map((b) => b.value);
        if (!chosen.length) { box.checked = true; return; }
        view.go({ signals: chosen.length === available.length ? undefined : chosen.join(",") });
      });
      return el("label", { class: "signal-choice" }, box, ` ${s}`);
    }));
  const scaleChoice = (value, label) => {
    const box = el("input", { type: "radio", name: "scale", value, id: `scale-${value}`, checked: (value === "raw") === raw });
    box.addEventListener("change", () => view.go({ scale: value === "raw" ? "raw" : undefined }));
    return el("label", {}, box, ` ${label}`);
  };
  const scaleBoxes = el("fieldset", { class: "scale" }, el("legend", {}, t("Scale")),
    scaleChoice("normal", t("Relative to the level before")), " ", scaleChoice("raw", t("Raw values")));
  const controls = el("div", { class: "controls" }, form,
    el("div", { class: "presets" },
      preset(t("Zoom out ×3"), view.from - span, view.until + span),
      preset(t("← Earlier"), view.from - Math.round(span / 2), view.until - Math.round(span / 2)),
      preset(t("Later →"), view.from + Math.round(span / 2), view.until + Math.round(span / 2))),
    signalBoxes, scaleBoxes,
    el("div", { class: "exports" },
      el("a", { class: "button", id: "export-csv", href: `/api/v1/signals.csv?${csvQuery}`, download: "" }, t("Download CSV")),
      " ", pngButton,
      " ", el("a", { class: "button", id: "entity-feed", type: "application/atom+xml", href: `/api/v1/incidents.atom?${new URLSearchParams({ entity })}` }, t("Atom feed of its incidents"))));

  const rangeLine = el("p", { class: "range-line" }, t("Showing "), timeEl(view.from, zone), " → ", timeEl(view.until, zone),
    el("span", { class: "dim" }, raw ? t(" · raw values, each signal on its own axis · drag on a plot to zoom") : t(" · each signal relative to its level before the incident (1× = normal) · drag on a plot to zoom")));
  const plots = el("div", { class: "plots" });
  const timelineHolder = el("div", { class: "timeline-holder" });
  const incidentsSection = el("section", { class: "incidents" },
    el("h2", {}, t("Incidents ({n})", { n: view.incidents.length })),
    view.incidents.length ? view.incidents.map((i) => incidentCard(i, view, names, view.incidents.length <= 3 || i.ongoing || i.restorations.length > 0)) : el("p", {}, t("No incident of this entity in this view.")));
  const regionSection = isCountry
    ? el("section", { class: "regions" }, el("h2", {}, t("Regions")),
      view.regionIncidents.length
        ? el("ul", {}, view.regionIncidents.map((i) => el("li", {}, el("a", { href: entityHref(i.entity, { from: view.fromIso, until: view.untilIso }) }, entityName(i.entity)), t(" — incident from {start} to {end}, {depth} lost", { start: i.start, end: i.end || t("now (ongoing)"), depth: percent(i.depth) }))))
        : el("p", { class: "dim" }, t("No incident in a region of this country in this view.")),
      regionsOfCountry.length ? el("p", {}, t("Regions with data: "), regionsOfCountry.map((r, k) => [k ? ", " : "", el("a", { href: entityHref(r.entity) }, entityName(r.entity, r.name))])) : null)
    : null;
  const annotationSection = el("section", { class: "annotations" }, el("h2", {}, t("Annotations ({n})", { n: view.annotations.length })),
    view.annotations.length
      ? el("ul", {}, view.annotations.map((a) => el("li", {}, timeEl(secs(a.time), zone), a.until ? [" → ", timeEl(secs(a.until), zone)] : null, ": ", a.text, a.url ? [" ", el("a", { href: a.url, rel: "noopener noreferrer" }, t("source"))] : null)))
      : el("p", { class: "dim" }, t("None. Add one with `vigie annotate` or POST /api/v1/annotations.")));

  root.replaceChildren(el("section", { class: "entity-view" }, header, controls, rangeLine, plots,
    chartKey(),
    el("h2", {}, t("Timeline")), timelineHolder, incidentsSection, regionSection, annotationSection));

  const { panels, width } = drawPanels(view, data, levels, plots);
  const dpr = devicePixelRatio || 1;
  const bbox = panels[0]?.plot.bbox;
  const left = bbox ? bbox.left / dpr : AXIS_PX;
  const right = bbox ? width - (bbox.left + bbox.width) / dpr : 34;
  timelineHolder.append(timeline(view, width, left, right));
  pngButton.addEventListener("click", () => exportPng(view, panels));
  return { entity, panels };
}
