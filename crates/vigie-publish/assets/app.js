// vigie's dashboard: routing (the URL hash holds the view), the search box,
// and the two views: the world map (#/map?period=7d) and an entity's page
// (#/entity/IQ?from=…&until=…&signals=…).

import { api, el, entityName, entityHref, entityLabel, countryName, isoUtc } from "./util.js";
import { renderMap } from "./map.js";
import { renderEntity } from "./entity.js";
import { t, lang, setLang, translateStatic } from "./i18n.js";

translateStatic();
const langSelect = document.getElementById("lang");
langSelect.value = lang;
langSelect.addEventListener("change", () => setLang(langSelect.value));

const view = document.getElementById("view");
let coveragePromise = null;
const englishNames = typeof Intl.DisplayNames === "function" ? new Intl.DisplayNames(["en"], { type: "region" }) : null;

const ctx = {
  /** The store's coverage (`/api/v1/coverage`), fetched once per page load. */
  coverage() {
    coveragePromise ??= api("/api/v1/coverage");
    return coveragePromise;
  },
  /** Goes to another view (a new history entry). */
  go(hash) {
    if (location.hash !== hash) location.hash = hash;
  },
  /** Rewrites the URL of the current view without reloading it. */
  replace(hash) {
    if (location.hash !== hash) history.replaceState(null, "", hash);
  },
};

function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const q = hash.indexOf("?");
  const path = q < 0 ? hash : hash.slice(0, q);
  const params = new URLSearchParams(q < 0 ? "" : hash.slice(q + 1));
  if (path.startsWith("/entity/")) return { name: "entity", entity: decodeURIComponent(path.slice(8)), params };
  return { name: "map", params };
}

let renderCount = 0;
async function render() {
  const current = ++renderCount;
  const r = route();
  document.body.dataset.state = "loading";
  document.body.dataset.view = r.name;
  try {
    if (r.name === "entity") {
      document.title = `${entityName(r.entity)} · vigie`;
      await renderEntity(view, r.entity, r.params, ctx);
    } else {
      document.title = t("vigie: Internet shutdown observatory");
      await renderMap(view, { period: r.params.get("period") }, ctx);
    }
    if (current === renderCount) document.body.dataset.state = "ready";
  } catch (e) {
    if (current !== renderCount) return;
    view.replaceChildren(el("p", { class: "error" }, t("Could not show this view: {message}", { message: e.message })), el("p", {}, el("a", { href: "#/" }, t("Back to the map"))));
    document.body.dataset.state = "error";
  }
}

// ---- search ----------------------------------------------------------------

const input = document.getElementById("search-input");
const results = document.getElementById("search-results");
let searchSeq = 0;
let timer = null;

async function search(text) {
  const seq = ++searchSeq;
  const q = text.trim();
  if (!q) {
    results.hidden = true;
    return;
  }
  const [found, coverage] = await Promise.all([api("/api/v1/entities", { search: q, limit: 12 }), ctx.coverage()]);
  if (seq !== searchSeq) return;
  const hits = new Map(found.entities.map((e) => [e.entity, { entity: e.entity, kind: e.kind, name: e.name }]));
  // Country names are not in the store: match them with the browser's Intl names.
  const needle = q.toLowerCase();
  for (const c of coverage.countries) {
    const name = countryName(c.country) || "";
    if (name.toLowerCase().includes(needle) && !hits.has(c.country)) hits.set(c.country, { entity: c.country, kind: c.countrySeries ? "country" : "country (regions only)" });
    // English names too, whatever the page's language (Iraq as well as Irak).
    const english = englishNames?.of(c.country) || "";
    if (english.toLowerCase().includes(needle) && !hits.has(c.country)) hits.set(c.country, { entity: c.country, kind: c.countrySeries ? "country" : "country (regions only)" });
    if (name.toLowerCase().includes(needle) && c.regions) {
      const regions = await api("/api/v1/entities", { search: `${c.country}/`, kind: "region", limit: 12 });
      for (const r of regions.entities) if (!hits.has(r.entity)) hits.set(r.entity, { entity: r.entity, kind: r.kind, name: r.name });
    }
  }
  if (seq !== searchSeq) return;
  const list = [...hits.values()].slice(0, 12);
  results.replaceChildren(
    ...(list.length
      ? list.map((h, i) => el("li", { role: "option", "aria-selected": i === 0 ? "true" : "false" },
        el("a", { href: entityHref(h.entity) }, entityLabel(h.entity, h.name), " ", el("span", { class: "dim" }, t(h.kind)))))
      : [el("li", { class: "dim" }, t("Nothing matches “{q}”.", { q }))]),
  );
  results.hidden = false;
}

input.addEventListener("input", () => {
  clearTimeout(timer);
  timer = setTimeout(() => search(input.value).catch((e) => {
    results.replaceChildren(el("li", { class: "error" }, e.message));
    results.hidden = false;
  }), 150);
});
input.addEventListener("keydown", (e) => {
  const options = [...results.querySelectorAll("li[role=option]")];
  const at = options.findIndex((o) => o.getAttribute("aria-selected") === "true");
  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    if (!options.length) return;
    const next = (at + (e.key === "ArrowDown" ? 1 : options.length - 1)) % options.length;
    options.forEach((o, i) => o.setAttribute("aria-selected", i === next ? "true" : "false"));
  } else if (e.key === "Escape") {
    results.hidden = true;
  }
});
document.getElementById("search").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (results.hidden) await search(input.value).catch(() => {});
  const chosen = results.querySelector("li[aria-selected=true] a") || results.querySelector("li a");
  if (chosen) location.hash = chosen.getAttribute("href");
});
results.addEventListener("click", () => { results.hidden = true; });
window.addEventListener("hashchange", () => {
  results.hidden = true;
  render();
});

ctx.coverage().then((c) => {
  if (c.until) document.getElementById("data-span").textContent = t("Data {from} → {until} (UTC)", { from: c.from, until: c.until });
}).catch(() => {});
// A live store moves on: the map refreshes every minute while it is shown.
setInterval(() => {
  if (route().name !== "map" || document.visibilityState !== "visible" || document.body.dataset.state !== "ready") return;
  coveragePromise = null;
  render();
}, 60000);

if (!location.hash) history.replaceState(null, "", "#/map");
render();

// For tests and the curious: the view's state as the URL holds it.
window.vigieDashboard = { route, isoUtc };
