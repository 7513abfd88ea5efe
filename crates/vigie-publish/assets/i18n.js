// The dashboard's languages: English (the strings in the code) and French.
// The language is `?lang=fr` in the page's URL, else the one last chosen
// with the switch (kept in localStorage), else the browser's preferred
// languages (what it sends as Accept-Language).

/** Languages the dashboard speaks. */
export const LANGS = { en: "English", fr: "Français" };

function pick() {
  try {
    const asked = new URLSearchParams(location.search).get("lang");
    if (asked && LANGS[asked]) return asked;
    const kept = localStorage.getItem("vigie-lang");
    if (kept && LANGS[kept]) return kept;
  } catch {
    // no storage (a sandboxed frame): fall through
  }
  for (const l of navigator.languages || [navigator.language || "en"]) {
    const base = String(l).toLowerCase().split("-")[0];
    if (LANGS[base]) return base;
  }
  return "en";
}

/** The page's language: `en` or `fr`. */
export const lang = pick();

/** Switches the page to `code` (kept for the next visits) and reloads it. */
export function setLang(code) {
  try {
    localStorage.setItem("vigie-lang", code);
  } catch {
    // not kept: the URL still says it
  }
  const url = new URL(location.href);
  url.searchParams.set("lang", code);
  location.href = url.toString();
}

/**
 * `text` in the page's language, `{name}` placeholders filled from `vars`:
 * `t("Incidents ({n})", { n: 3 })`. Untranslated text stays English.
 */
export function t(text, vars = {}) {
  const s = lang === "fr" ? (FR[text] ?? text) : text;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

/** Translates the static page: `data-i18n` (text), `data-i18n-placeholder`, `data-i18n-label`. */
export function translateStatic(root = document) {
  document.documentElement.lang = lang;
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) node.setAttribute("placeholder", t(node.dataset.i18nPlaceholder));
  for (const node of root.querySelectorAll("[data-i18n-label]")) node.setAttribute("aria-label", t(node.dataset.i18nLabel));
}

const FR = {
  // page
  "vigie: Internet shutdown observatory": "vigie : observatoire des coupures d'Internet",
  "Search a country, region or AS: Iraq, IQ, Gaza, AS9198": "Chercher un pays, une région ou un AS : Irak, IQ, Gaza, AS9198",
  "Search a country, region or AS": "Chercher un pays, une région ou un AS",
  "Loading…": "Chargement…",
  "Times are UTC (ISO 8601), with the country's local time beside them.": "Les heures sont en UTC (ISO 8601), avec l'heure locale du pays à côté.",
  "Data: this server's": "Données : l'",
  "API": "API de ce serveur",
  "Map: Natural Earth through": "Carte : Natural Earth via",
  "plots: ": "graphiques : ",
  "library versions": "versions des bibliothèques",
  "Incidents as an Atom feed": "Les incidents en flux Atom",
  "Language": "Langue",
  "Data {from} → {until} (UTC)": "Données {from} → {until} (UTC)",
  "Could not show this view: {message}": "Impossible d'afficher cette vue : {message}",
  "Back to the map": "Retour à la carte",
  "Nothing matches “{q}”.": "Rien ne correspond à « {q} ».",
  "country": "pays",
  "country (regions only)": "pays (régions seulement)",
  "region": "région",
  "asn": "AS",
  "AS": "AS",
  "entity": "entité",
  // map
  "24 hours": "24 heures",
  "7 days": "7 jours",
  "30 days": "30 jours",
  "1 year": "1 an",
  "All data": "Toutes les données",
  "Legend": "Légende",
  "No data in this store": "Pas de données dans cette base",
  "Monitored, no incident": "Surveillé, aucun incident",
  "Minor: under 25% lost": "Mineur : moins de 25 % perdus",
  "Moderate: 25–50% lost": "Modéré : 25 à 50 % perdus",
  "Severe: 50–80% lost": "Grave : 50 à 80 % perdus",
  "Near-total: 80% or more lost": "Quasi totale : 80 % ou plus perdus",
  "Outlined: incident still going on": "Contour : incident toujours en cours",
  "World map of incidents by country": "Carte du monde des incidents par pays",
  "no data in this store": "pas de données dans cette base",
  "monitored, no incident in this period": "surveillé, aucun incident sur la période",
  "{n} incident(s)": "{n} incident(s)",
  "{n} ongoing": "{n} en cours",
  "deepest {depth} lost, latest {start}": "jusqu'à {depth} perdus, dernier le {start}",
  "in {list}": "dans {list}",
  "Period": "Période",
  "Period: ": "Période : ",
  "From ": "Du ",
  " to ": " au ",
  "All data, up to ": "Toutes les données, jusqu'au ",
  " (UTC; the store's latest data)": " (UTC ; dernières données de la base)",
  "The store holds no data yet: import or ingest some (see the README).": "La base ne contient encore aucune donnée : importez-en ou collectez-en (voir le README).",
  "Incidents in this period ({n})": "Incidents sur la période ({n})",
  "None.": "Aucun.",
  "Where": "Où",
  "Start (UTC, local)": "Début (UTC, local)",
  "End": "Fin",
  "Lost": "Perte",
  "Mechanism": "Mécanisme",
  "Scope": "Portée",
  "ongoing": "en cours",
  "ended": "terminé",
  // entity page
  "Time (UTC)": "Heure (UTC)",
  "no data": "pas de données",
  "{signal} ({unit}; 1× = {base}, {source})": "{signal} ({unit} ; 1× = {base}, {source})",
  "{signal} ({unit}, raw values)": "{signal} ({unit}, valeurs brutes)",
  "the level in the {days} days before {time}": "le niveau des {days} jours avant {time}",
  "the median of this view outside incidents": "la médiane de cette vue hors incidents",
  "the 90th percentile of this view": "le 90e centile de cette vue",
  "Incidents": "Incidents",
  "Incident timeline": "Chronologie des incidents",
  "Restoration window {start} → {end} ({restored} restored)": "Fenêtre de rétablissement {start} → {end} ({restored} rétabli)",
  "{id}: {start} → {end}, {depth} lost, {mechanism}": "{id} : {start} → {end}, {depth} perdus, {mechanism}",
  "Annotations": "Annotations",
  "{signal}: {n} gap(s), {start} → {end}": "{signal} : {n} trou(s), {start} → {end}",
  " of the country's address space": " de l'espace d'adresses du pays",
  "No per-region or per-AS breakdown recorded for this incident.": "Aucune répartition par région ou par AS enregistrée pour cet incident.",
  "{depth} lost": "{depth} perdus",
  "{n} restoration window(s)": "{n} fenêtre(s) de rétablissement",
  "Start": "Début",
  "ongoing (data until ": "en cours (données jusqu'au ",
  "Duration": "Durée",
  "Depth": "Profondeur",
  "{depth} of the baseline lost": "{depth} du niveau de référence perdus",
  "{mechanism} (confidence {confidence})": "{mechanism} (confiance {confidence})",
  "Signals": "Signaux",
  "Restoration windows": "Fenêtres de rétablissement",
  "({duration}, {restored} restored)": "({duration}, {restored} rétabli)",
  "none: no partial return of service before the end": "aucune : pas de retour partiel du service avant la fin",
  "Affected regions and ASes": "Régions et AS touchés",
  "Data gaps": "Trous dans les données",
  "Zoom to this incident": "Zoomer sur cet incident",
  "incident": "incident",
  "restoration window": "fenêtre de rétablissement",
  "signal alert": "alerte sur le signal",
  "annotation": "annotation",
  "bad time in the URL: use ISO 8601 UTC such as 2023-08-20T01:00:00Z (from={from}, until={until})": "heure invalide dans l'URL : utilisez l'ISO 8601 UTC, par exemple 2023-08-20T01:00:00Z (from={from}, until={until})",
  " of {country}, where most of its address space is": " de {country}, où se trouve l'essentiel de son espace d'adresses",
  " · local time{where}: {zone} (IANA zone from the browser's Intl data)": " · heure locale{where} : {zone} (fuseau IANA des données Intl du navigateur)",
  " · local time: unknown for this AS, times in UTC only": " · heure locale : inconnue pour cet AS, heures en UTC seulement",
  "This store holds no series of {entity} as a whole": "Cette base ne contient aucune série de {entity} dans son ensemble",
  ", only of its regions below": ", seulement de ses régions ci-dessous",
  "This store holds no series of {entity}: search for another entity above.": "Cette base ne contient aucune série de {entity} : cherchez une autre entité ci-dessus.",
  "Its regions with data": "Ses régions avec des données",
  " — no incident": " — aucun incident",
  "Zoom out ×3": "Dézoomer ×3",
  "← Earlier": "← Plus tôt",
  "Later →": "Plus tard →",
  "Download PNG": "Télécharger en PNG",
  "Download CSV": "Télécharger en CSV",
  "Atom feed of its incidents": "Flux Atom de ses incidents",
  "From (UTC) ": "Du (UTC) ",
  "Until (UTC) ": "Au (UTC) ",
  "Show": "Afficher",
  "Give two ISO 8601 UTC times, the first before the second.": "Donnez deux heures ISO 8601 UTC, la première avant la seconde.",
  "Scale": "Échelle",
  "Relative to the level before": "Relative au niveau d'avant",
  "Raw values": "Valeurs brutes",
  "Showing ": "Affiché : ",
  " · each signal relative to its level before the incident (1× = normal) · drag on a plot to zoom": " · chaque signal rapporté à son niveau d'avant l'incident (1× = normal) · glissez sur un graphique pour zoomer",
  " · raw values, each signal on its own axis · drag on a plot to zoom": " · valeurs brutes, chaque signal sur son propre axe · glissez sur un graphique pour zoomer",
  "Incidents ({n})": "Incidents ({n})",
  "No incident of this entity in this view.": "Aucun incident de cette entité dans cette vue.",
  "Regions": "Régions",
  " — incident from {start} to {end}, {depth} lost": " — incident du {start} au {end}, {depth} perdus",
  "now (ongoing)": "maintenant (en cours)",
  "No incident in a region of this country in this view.": "Aucun incident dans une région de ce pays dans cette vue.",
  "Regions with data: ": "Régions avec des données : ",
  "Annotations ({n})": "Annotations ({n})",
  "source": "source",
  "None. Add one with `vigie annotate` or POST /api/v1/annotations.": "Aucune. Ajoutez-en avec `vigie annotate` ou POST /api/v1/annotations.",
  "incident ": "incident ",
  "restoration window ": "fenêtre de rétablissement ",
  "alert on this signal ": "alerte sur ce signal ",
  "annotation ": "annotation ",
  "normal level (1×)": "niveau normal (1×)",
  "Timeline": "Chronologie",
  "Open in vigie": "Ouvrir dans vigie",
  "each signal relative to its level before the incident (1× = normal)": "chaque signal rapporté à son niveau d'avant l'incident (1× = normal)",
  "raw values": "valeurs brutes",
  "d": "j",
};
