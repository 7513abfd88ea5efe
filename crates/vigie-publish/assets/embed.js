// The embeddable chart, /embed/{entityType}/{code}?from=…&until=…&scale=raw&lang=fr:
// one entity's signals as its dashboard page draws them (relative to the
// level before the incident, or raw), with its incidents, for a frame in
// another site's page. The server lets the configured origins frame it.

import { api, el, isoUtc, parseUtc, timeEl, entityZone, countryOf, entityName } from "./util.js";
import { t, translateStatic } from "./i18n.js";
import { baselines, decorate, drawPanels, chartKey } from "./entity.js";

/** The entity code of an embed path: `/embed/asn/9198` → `AS9198`. */
function entityOfPath(path) {
  const m = /^\/embed\/(country|region|asn)\/(.+)$/.exec(path);
  if (!m) return null;
  const code = decodeURIComponent(m[2]);
  return m[1] === "asn" ? `AS${code.replace(/^AS/i, "")}` : code;
}

const secs = (iso) => (iso ? Date.parse(iso) / 1000 : null);

async function main(root) {
  translateStatic();
  const entity = entityOfPath(location.pathname);
  if (!entity) throw new Error(`not an embed path: ${location.pathname}`);
  const params = new URLSearchParams(location.search);
  const from = params.get("from") ? parseUtc(params.get("from")) : undefined;
  const until = params.get("until") ? parseUtc(params.get("until")) : undefined;
  const raw = params.get("scale") === "raw";
  const data = await api("/api/v1/signals", { entity, from, until, signal: params.get("signals") || undefined, maxPoints: 1000 });
  const zone = entityZone(data.zone, countryOf(entity) || data.country);
  const name = entityName(entity, data.name);
  const view = { entity, name, zone, raw, from: secs(data.from), until: secs(data.until), annotations: [] };
  const range = { from: view.from, until: view.until };
  const [incidents, events] = await Promise.all([
    api("/api/v1/incidents", { entity, ...range, limit: 1000 }),
    api("/api/v1/events", { entity, ...range, limit: 10000 }),
  ]);
  view.incidents = incidents.incidents.map(decorate);
  view.events = events.events;
  view.go = (change) => {
    const url = new URL(location.href);
    for (const [k, v] of Object.entries(change)) {
      if (v === undefined) url.searchParams.delete(k);
      else url.searchParams.set(k, v);
    }
    location.href = url.toString();
  };
  const levels = await baselines(entity, view, data.series);
  const plots = el("div", { class: "plots" });
  const full = `${location.origin}/#/entity/${encodeURIComponent(entity)}?from=${isoUtc(view.from)}&until=${isoUtc(view.until)}${raw ? "&scale=raw" : ""}`;
  root.replaceChildren(
    el("header", { class: "embed-head" },
      el("strong", {}, name), name !== entity ? [" ", el("code", {}, entity)] : null, " · ",
      timeEl(view.from, zone), " → ", timeEl(view.until, zone), " · ",
      el("a", { href: full, target: "_blank", rel: "noopener", id: "open-full" }, t("Open in vigie"))),
    el("p", { class: "dim" }, raw ? t("raw values") : t("each signal relative to its level before the incident (1× = normal)")),
    plots,
    chartKey(),
  );
  drawPanels(view, data, levels, plots);
  document.title = `${name} · vigie`;
}

const root = document.getElementById("embed");
main(root).then(() => {
  document.body.dataset.state = "ready";
}).catch((e) => {
  root.replaceChildren(el("p", { class: "error" }, e.message));
  document.body.dataset.state = "error";
});
