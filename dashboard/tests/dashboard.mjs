// Headless-browser test of vigie's dashboard, driven by playwright-core
// with Debian's Chromium. It is run by crates/vigie/tests/dashboard_browser.rs
// against a real `vigie serve --listen` over a store with real incidents,
// and can be run by hand:
//
//   node tests/dashboard.mjs http://127.0.0.1:8080 /tmp/shots
//
// Env: CHROMIUM (default /usr/bin/chromium). It checks, as a user would:
// the map renders and is coloured by severity; the search box finds a
// country by name and a region; an entity page shows an incident with its
// restoration window, local time and annotations; CSV and PNG export
// download real files; the URL holds the view and a reload restores it; a
// long shutdown reads as a drop, normalised or raw; the French dashboard;
// the embeddable chart framed by a page of another origin; the Atom feeds
// the dashboard links (all incidents and one entity's); local times across a
// DST change equal the ones a report printed (given in VIGIE_DST).
// Screenshots are written to the given folder. Prints one line per check
// and `N passed, N failed`; exits 1 on any failure.

import { mkdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = (process.argv[2] || process.env.VIGIE_URL || "").replace(/\/$/, "");
const shots = process.argv[3] || process.env.VIGIE_SCREENSHOTS || "dashboard-screenshots";
if (!base) {
  console.error("usage: node tests/dashboard.mjs BASE_URL [SCREENSHOT_DIR]");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

let passed = 0;
let failed = 0;
function check(name, ok, detail = "") {
  if (ok) passed += 1;
  else failed += 1;
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? `: ${detail}` : ""}`);
}

async function api(path) {
  const response = await fetch(`${base}${path}`);
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true, timezoneId: "America/Los_Angeles" });
const page = await context.newPage();
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
// The address behind a console's "Failed to load resource".
const refused = [];
page.on("response", (r) => { if (r.status() >= 400) refused.push(`${r.status()} ${r.url()}`); });
const outside = [];
page.on("request", (r) => { if (!r.url().startsWith(base) && !r.url().startsWith("blob:") && !r.url().startsWith("data:")) outside.push(r.url()); });

async function ready(p = page) {
  // A hash change renders on the next task: let it start, then wait for
  // the view it draws (a render that starts meanwhile is waited for too).
  for (;;) {
    await p.waitForTimeout(100);
    await p.waitForFunction(() => document.body.dataset.state === "ready" || document.body.dataset.state === "error", null, { timeout: 20000 });
    const state = await p.evaluate(() => document.body.dataset.state);
    if (state === "ready") return;
    if (state === "error") throw new Error(`the view failed: ${await p.locator("#view").innerText()}`);
  }
}

try {
  // ---- the map -------------------------------------------------------------
  await page.goto(`${base}/`);
  await ready();
  check("the page opens on the map", (await page.evaluate(() => location.hash)).startsWith("#/map"));
  const countries = await page.locator("#world-map path.country").count();
  check("the map draws the world's countries", countries > 150, `${countries} country paths`);
  const coverage = await api("/api/v1/coverage");
  const summary = await api(`/api/v1/summary?from=${coverage.untilUnix - 7 * 86400}&until=${coverage.untilUnix}`);
  const expectedColoured = [...new Set(summary.entities.map((s) => s.entity.slice(0, 2)))];
  const coloured = await page.locator("#world-map path.country:is(.sev-1,.sev-2,.sev-3,.sev-4)").evaluateAll((ps) => ps.map((p) => p.dataset.code));
  check("the default period (7 days) colours the countries with incidents", coloured.length >= 1 && expectedColoured.every((c) => coloured.includes(c)), `coloured ${coloured}, expected ${expectedColoured}`);
  const legend = await page.locator(".legend li").count();
  check("the map has a legend", legend >= 6, `${legend} entries`);
  await page.screenshot({ path: join(shots, "map-7d.png"), fullPage: true });

  await page.goto(`${base}/#/map?period=all`);
  await ready();
  const all = await api("/api/v1/summary");
  const deepest = [...all.entities].sort((a, b) => b.maxDepth - a.maxDepth)[0];
  const cc = deepest.entity.slice(0, 2);
  const cls = await page.locator(`#world-map path[data-code="${cc}"]`).getAttribute("class");
  const expectedClass = deepest.maxDepth >= 0.8 ? "sev-4" : deepest.maxDepth >= 0.5 ? "sev-3" : deepest.maxDepth >= 0.25 ? "sev-2" : "sev-1";
  check(`over all data ${cc} (deepest ${Math.round(deepest.maxDepth * 100)}% lost) has its severity colour`, cls.includes(expectedClass), cls);
  const fill = await page.locator(`#world-map path[data-code="${cc}"]`).evaluate((p) => getComputedStyle(p).fill);
  check("a severity class paints a colour", fill !== "none" && fill !== "rgb(230, 230, 233)", fill);
  const noData = await page.locator('#world-map path[data-code="BR"]').getAttribute("class");
  check("a country without data is grey", noData.includes("nodata"), noData);
  await page.screenshot({ path: join(shots, "map-all.png"), fullPage: true });

  await page.locator(`#world-map path[data-code="${cc}"]`).click();
  await page.waitForFunction((c) => location.hash.startsWith(`#/entity/${c}`), cc);
  await ready();
  check("clicking a country opens its page", (await page.locator(".entity-head code").innerText()) === cc);

  // ---- search --------------------------------------------------------------
  await page.goto(`${base}/#/map`);
  await ready();
  await page.fill("#search-input", "iraq");
  await page.waitForSelector("#search-results:not([hidden]) a");
  const iraq = await page.locator("#search-results").innerText();
  check("search finds a country by its name", iraq.includes("IQ"), iraq.replace(/\n/g, " | "));
  await page.fill("#search-input", "gaza");
  await page.waitForFunction(() => document.querySelector("#search-results")?.innerText.includes("PS/Gaza Strip"), null, { timeout: 5000 }).catch(() => {});
  const gaza = await page.locator("#search-results").innerText();
  check("search finds a region", gaza.includes("PS/Gaza Strip"), gaza.replace(/\n/g, " | "));
  await page.screenshot({ path: join(shots, "search.png") });
  await page.press("#search-input", "Enter");
  await page.waitForFunction(() => location.hash.startsWith("#/entity/PS%2FGaza"));
  await ready();
  check("Enter opens the first result", (await page.locator(".entity-head code").innerText()) === "PS/Gaza Strip");
  await page.fill("#search-input", "AS");
  await page.waitForSelector("#search-results:not([hidden]) li");

  // ---- an entity page with an incident and its restoration window ---------
  const incidents = (await api("/api/v1/incidents?limit=10000")).incidents;
  const restored = incidents.find((i) => i.restorations.length > 0);
  check("the store has an incident with a restoration window", Boolean(restored));
  if (restored) {
    const start = Date.parse(restored.start) / 1000;
    const end = Date.parse(restored.end || restored.observedUntil) / 1000;
    const iso = (t) => new Date(t * 1000).toISOString().replace(/\.000Z$/, "Z");
    const url = `${base}/#/entity/${encodeURIComponent(restored.entity)}?from=${iso(start - 12 * 3600)}&until=${iso(end + 12 * 3600)}`;
    await page.goto(url);
    await ready();
    const card = page.locator(`details.incident[data-id="${restored.id}"]`);
    check("the entity page lists the incident", (await card.count()) === 1, restored.id);
    const text = await card.innerText();
    check("the incident shows its start in UTC", text.includes(restored.start), restored.start);
    const windows = await card.locator("ol.restorations li").allInnerTexts();
    check("the incident shows its restoration window(s)", windows.length === restored.restorations.length && windows[0].includes(restored.restorations[0].start), windows.join(" | "));
    const bars = await page.locator(`.timeline g.bar[data-id="${restored.id}"] .restoration-bar`).count();
    check("the timeline draws the restoration window inside the incident", bars === restored.restorations.length, `${bars} bars`);
    check("times carry the country's local time", /UTC[+-]\d\d:\d\d/.test(text) && (await page.locator(".local").count()) > 0, (await page.locator(".local").first().innerText()));
    const annotations = (await api(`/api/v1/annotations?entity=${encodeURIComponent(restored.entity)}`)).annotations;
    check("the entity has an annotation (the Rust test adds one)", annotations.length > 0);
    if (annotations.length) {
      const shown = await page.locator(".annotations li").allInnerTexts();
      check("annotations are listed", shown.some((s) => s.includes(annotations[0].text)), shown.join(" | "));
      const onTimeline = await page.locator(".timeline .annotation-text").evaluateAll((ts) => ts.map((t) => t.textContent));
      check("annotations are on the timeline", onTimeline.some((s) => annotations[0].text.startsWith(s.replace(/…$/, ""))), onTimeline.join(" | "));
    }
    const panels = await page.locator(".plots .panel canvas").count();
    const signals = restored.signals.length;
    check("one plot per signal", panels >= signals, `${panels} plots`);
    await page.screenshot({ path: join(shots, "entity-incident.png"), fullPage: true });

    // CSV export: the link's file, downloaded as a user would.
    const [csvDownload] = await Promise.all([page.waitForEvent("download"), page.click("#export-csv")]);
    const csvPath = join(shots, "export.csv");
    await csvDownload.saveAs(csvPath);
    const csv = readFileSync(csvPath, "utf8").split("\n").filter(Boolean);
    const bins = (end + 12 * 3600 - (start - 12 * 3600)) / 300;
    check("CSV export downloads the series in view at 5-minute resolution", csv[0] === "time,entity,signal,value" && csv.length - 1 === bins * panels && csv[1].startsWith(`${iso(start - 12 * 3600)},${restored.entity},`), `${csv.length - 1} rows for ${panels} signals × ${bins} bins; ${csv[1]}`);
    const href = await page.locator("#export-csv").getAttribute("href");
    const csvResponse = await fetch(`${base}${href}`);
    check("the CSV link answers text/csv", csvResponse.ok && (csvResponse.headers.get("content-type") || "").startsWith("text/csv"), csvResponse.headers.get("content-type"));

    // PNG export.
    const [pngDownload] = await Promise.all([page.waitForEvent("download"), page.click("#export-png")]);
    const pngPath = join(shots, "export.png");
    await pngDownload.saveAs(pngPath);
    const png = readFileSync(pngPath);
    const signature = png.subarray(0, 8).toString("hex");
    const width = png.readUInt32BE(16);
    const height = png.readUInt32BE(20);
    check("PNG export downloads a PNG of the plots", signature === "89504e470d0a1a0a" && width >= 600 && height > panels * 100 && statSync(pngPath).size > 5000, `${width}×${height}, ${png.length} bytes, ${pngDownload.suggestedFilename()}`);
  }

  // ---- affected regions and ASes, with names -------------------------------
  const withAffected = incidents.find((i) => i.affected.length > 0);
  check("the store has an incident naming affected regions or ASes", Boolean(withAffected));
  if (withAffected) {
    const start = Date.parse(withAffected.start) / 1000;
    const iso = (t) => new Date(t * 1000).toISOString().replace(/\.000Z$/, "Z");
    await page.goto(`${base}/#/entity/${encodeURIComponent(withAffected.entity)}?from=${iso(start - 86400)}&until=${iso(start + 2 * 86400)}`);
    await ready();
    const card = page.locator(`details.incident[data-id="${withAffected.id}"]`);
    await card.evaluate((d) => { d.open = true; });
    const text = await card.innerText();
    const a = withAffected.affected[0];
    const name = a.entity.includes("/") ? a.entity.slice(3) : a.entity;
    check("the incident lists its affected parts by name and code", text.includes(name) && text.includes(a.entity) && text.includes(`${Math.round(a.addressShare * 100)}% of the country's address space`), text.split("\n").filter((l) => l.includes(a.entity)).join(" | "));
    await page.screenshot({ path: join(shots, "entity-affected.png"), fullPage: true });
  }

  // ---- drag to zoom --------------------------------------------------------
  await page.goto(`${base}/#/entity/IQ?from=2023-08-23T00:00:00Z&until=2023-08-25T00:00:00Z`);
  await ready();
  const over = await page.locator(".plots .panel").first().locator(".u-over").boundingBox();
  await page.mouse.move(over.x + over.width * 0.25, over.y + over.height / 2);
  await page.mouse.down();
  await page.mouse.move(over.x + over.width * 0.5, over.y + over.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction(() => !location.hash.includes("from=2023-08-23T00%3A00%3A00Z"));
  await ready();
  const zoomed = new URLSearchParams((await page.evaluate(() => location.hash)).split("?")[1]);
  const zf = Date.parse(zoomed.get("from"));
  const zu = Date.parse(zoomed.get("until"));
  check("dragging across a plot zooms to that span (about 12 h of the 48 h)", zf > Date.parse("2023-08-23T06:00:00Z") && zu < Date.parse("2023-08-24T06:00:00Z") && zu - zf > 8 * 3600e3 && zu - zf < 16 * 3600e3, `${zoomed.get("from")} → ${zoomed.get("until")}`);

  // ---- the URL holds the view --------------------------------------------
  await page.goto(`${base}/#/entity/IQ?from=2023-08-23T00:00:00Z&until=2023-08-25T00:00:00Z`);
  await ready();
  const before = await page.locator(".plots .panel").count();
  await page.locator('.signals input[value="merit-nt"]').uncheck();
  await page.waitForFunction(() => location.hash.includes("signals="));
  await ready();
  const hash = await page.evaluate(() => location.hash);
  check("changing the signals writes them into the URL", hash.includes("from=2023-08-23T00%3A00%3A00Z") && hash.includes("until=2023-08-25T00%3A00%3A00Z") && !decodeURIComponent(hash).includes("merit-nt"), hash);
  const after = await page.locator(".plots .panel").count();
  check("one plot fewer", after === before - 1, `${before} → ${after}`);
  await page.reload();
  await ready();
  const reloaded = {
    hash: await page.evaluate(() => location.hash),
    panels: await page.locator(".plots .panel").count(),
    merit: await page.locator('.signals input[value="merit-nt"]').isChecked(),
    from: await page.locator('#range-form input[name="from"]').inputValue(),
  };
  check("a reload restores the same view", reloaded.hash === hash && reloaded.panels === after && !reloaded.merit && reloaded.from === "2023-08-23T00:00:00Z", JSON.stringify(reloaded));
  const shared = await context.newPage();
  await shared.goto(`${base}/${hash}`);
  await ready(shared);
  check("the URL opened in another tab shows the same view", (await shared.locator(".plots .panel").count()) === after && (await shared.locator(".range-line").innerText()) === (await page.locator(".range-line").innerText()));
  await shared.close();
  const local = await page.locator(".range-line .local").first().innerText();
  check("Iraq's local time is UTC+03:00 (Asia/Baghdad)", local.includes("UTC+03:00") && local.includes("2023-08-23 03:00"), local);
  await page.screenshot({ path: join(shots, "entity-url-state.png"), fullPage: true });

  // An entity page with no range in the URL gets the resolved range written in.
  await page.goto(`${base}/#/entity/IQ`);
  await ready();
  const resolved = await page.evaluate(() => location.hash);
  check("a bare entity URL is completed with its range", /from=.*until=/.test(resolved), resolved);

  // ---- a long shutdown reads as a drop, normalised or raw -----------------
  // Kazakhstan-like: cut 2022-01-05 10:30, back 17:30–22:00, cut until
  // 10:30 the next day; this view is four fifths shutdown, so its median is
  // the outage level: the chart must still read the outage as a drop.
  const kzView = "from=2022-01-05T10:00:00Z&until=2022-01-06T10:30:00Z";
  await page.goto(`${base}/#/entity/KZ?${kzView}&signals=ping-slash24`);
  await ready();
  const cutT = (x) => (x >= Date.parse("2022-01-05T11:00:00Z") / 1000 && x < Date.parse("2022-01-05T17:00:00Z") / 1000) || (x >= Date.parse("2022-01-05T22:30:00Z") / 1000 && x < Date.parse("2022-01-06T10:00:00Z") / 1000);
  const backT = (x) => x >= Date.parse("2022-01-05T18:00:00Z") / 1000 && x < Date.parse("2022-01-05T21:30:00Z") / 1000;
  const mid = (v) => { const s = v.filter((x) => x !== null).sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };
  const pick = (c, when) => c.plotted.filter((_, i) => when(c.start + i * c.step));
  const normal = (await page.evaluate(() => window.vigieCharts)).find((c) => c.signal === "ping-slash24");
  const viewMedian = mid(normal.raw);
  check("the view's median is the outage level (what the old chart divided by)", viewMedian < 100, `median ${viewMedian}`);
  check("normalised: the level before the incident is 1×, not the view's median", normal.scale === "normal" && normal.base > 700 && /before/.test(normal.source), `1× = ${normal.base} (${normal.source})`);
  check("normalised: the long shutdown reads as a drop (under 0.2×)", mid(pick(normal, cutT)) < 0.2, `outage at ${mid(pick(normal, cutT)).toFixed(2)}×`);
  check("normalised: the evening's restoration reads as normal (about 1×)", mid(pick(normal, backT)) > 0.7 && mid(pick(normal, backT)) < 1.3, `restored at ${mid(pick(normal, backT)).toFixed(2)}×`);
  const legendText = await page.locator(".plots .panel .u-legend").first().innerText();
  check("the legend says what 1× is", legendText.includes("1×") && legendText.includes("before"), legendText.replace(/\n/g, " "));
  await page.screenshot({ path: join(shots, "entity-long-shutdown.png"), fullPage: true });
  await page.locator("#scale-raw").check();
  await page.waitForFunction(() => location.hash.includes("scale=raw"));
  await ready();
  const rawChart = (await page.evaluate(() => window.vigieCharts)).find((c) => c.signal === "ping-slash24");
  check("the raw switch shows the values themselves on their own axis", rawChart.scale === "raw" && rawChart.plotted.every((v, i) => v === rawChart.raw[i]) && rawChart.yMax >= 800 && mid(pick(rawChart, cutT)) < 100, `axis up to ${rawChart.yMax}, outage at ${mid(pick(rawChart, cutT))}`);
  const rawLegend = await page.locator(".plots .panel .u-legend").first().innerText();
  check("the raw chart says so in its legend", rawLegend.includes("raw values") && !rawLegend.includes("1×"), rawLegend.replace(/\n/g, " "));
  await page.reload();
  await ready();
  check("the raw view survives a reload", (await page.locator("#scale-raw").isChecked()) && (await page.evaluate(() => window.vigieCharts[0].scale)) === "raw");
  await page.screenshot({ path: join(shots, "entity-raw.png"), fullPage: true });

  // ---- French ------------------------------------------------------------------
  const french = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "fr-FR", timezoneId: "Europe/Paris" });
  const fr = await french.newPage();
  fr.on("pageerror", (e) => problems.push(`page error (fr): ${e.message}`));
  await fr.goto(`${base}/#/entity/KZ?${kzView}`);
  await ready(fr);
  const frText = await fr.locator("#view").innerText();
  check("a French browser (Accept-Language: fr) gets the dashboard in French", (await fr.evaluate(() => document.documentElement.lang)) === "fr" && frText.includes("Chronologie") && frText.includes("Télécharger en CSV") && !frText.includes("Download CSV"), frText.slice(0, 200).replace(/\n/g, " "));
  const frLegend = await fr.locator(".plots .panel .u-legend").first().innerText();
  check("the French chart says what 1× is in French", frLegend.includes("avant"), frLegend.replace(/\n/g, " "));
  await fr.screenshot({ path: join(shots, "entity-fr.png"), fullPage: true });
  await french.close();
  await page.goto(`${base}/#/map`);
  await ready();
  await page.selectOption("#lang", "fr");
  await page.waitForURL(/lang=fr/);
  await ready();
  const mapText = await page.locator("#view").innerText();
  check("the language switch turns the map to French", mapText.includes("Incidents sur la période") && (await page.locator("footer").innerText()).includes("Les heures sont en UTC"), mapText.slice(0, 120).replace(/\n/g, " "));
  await page.selectOption("#lang", "en");
  await page.waitForURL(/lang=en/);
  await ready();
  check("and back to English", (await page.locator("#view").innerText()).includes("Incidents in this period"));

  // ---- the embed page, framed by a page of another origin ------------------
  const embedUrl = `${base}/embed/country/KZ?${kzView}`;
  const embedHead = await fetch(embedUrl);
  const embedCsp = embedHead.headers.get("content-security-policy") || "";
  const pageCsp = (await fetch(`${base}/`)).headers.get("content-security-policy") || "";
  check("the embed page may be framed, the dashboard may not", embedHead.ok && embedCsp.includes("frame-ancestors *") && pageCsp.includes("frame-ancestors 'none'"), `${embedCsp} | ${pageCsp}`);
  const gz = await fetch(`${base}/dashboard/entity.js`, { headers: { "accept-encoding": "gzip" } });
  check("the dashboard's files are served gzip-compressed", gz.headers.get("content-encoding") === "gzip", gz.headers.get("content-encoding"));
  const news = await context.newPage();
  news.on("pageerror", (e) => problems.push(`page error (embed): ${e.message}`));
  news.on("console", (m) => { if (m.type() === "error") problems.push(`console (embed): ${m.text()}`); });
  // A news site: another origin (another port), served by a real server.
  const site = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><title>News</title><h1>Kazakhstan cut off</h1><iframe id="chart" src="${embedUrl}" width="900" height="520"></iframe>`);
  });
  await new Promise((resolve) => site.listen(0, "127.0.0.1", resolve));
  await news.goto(`http://127.0.0.1:${site.address().port}/article.html`);
  const frame = news.frameLocator("#chart");
  await frame.locator(".plots .panel canvas").first().waitFor({ timeout: 20000 });
  const framed = news.frames().find((f) => f.url().startsWith(`${base}/embed/`));
  const embedded = framed ? await framed.evaluate(() => ({ state: document.body.dataset.state, charts: window.vigieCharts })) : null;
  const ping = embedded?.charts?.find((c) => c.signal === "ping-slash24");
  check("a page of another origin embeds the chart", embedded?.state === "ready" && embedded.charts.length >= 1, JSON.stringify(embedded?.state));
  check("the embedded chart reads the shutdown as a drop", ping && ping.base > 700 && mid(pick(ping, cutT)) < 0.2, ping ? `1× = ${ping.base}, outage at ${mid(pick(ping, cutT)).toFixed(2)}×` : "no ping-slash24 chart");
  check("the embedded chart links to the full dashboard", (await frame.locator("#open-full").getAttribute("href")).includes("/#/entity/KZ"));
  await news.screenshot({ path: join(shots, "embed-in-news.png"), fullPage: true });
  await news.close();
  site.close();

  // ---- the Atom feeds: linked by the dashboard, read by the browser --------
  await page.goto(`${base}/`);
  await ready();
  const alternate = await page.locator('head link[rel="alternate"][type="application/atom+xml"]').getAttribute("href");
  const footerFeed = await page.locator("footer a#feed").getAttribute("href");
  check("the dashboard links the Atom feed (in its head and its footer)", alternate === "/api/v1/incidents.atom" && footerFeed === alternate, `${alternate} | ${footerFeed}`);
  // A feed read by the page itself: its media type and its entries.
  const readFeed = (href) => page.evaluate(async (href) => {
    const r = await fetch(href);
    const doc = new DOMParser().parseFromString(await r.text(), "application/xml");
    const first = (e, tag) => e.getElementsByTagName(tag)[0];
    return {
      type: r.headers.get("content-type") || "",
      broken: doc.getElementsByTagName("parsererror").length > 0,
      root: doc.documentElement.localName,
      entries: [...doc.getElementsByTagName("entry")].map((e) => ({
        id: first(e, "id")?.textContent,
        title: first(e, "title")?.textContent,
        published: first(e, "published")?.textContent,
        link: [...e.getElementsByTagName("link")].find((l) => l.getAttribute("rel") === "alternate")?.getAttribute("href"),
      })),
    };
  }, href);
  const urnPart = (s) => [...new TextEncoder().encode(s)].map((b) => (b < 128 && /[A-Za-z0-9\-._~@/]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`)).join("");
  const feed = await readFeed(alternate);
  check("the Atom feed is Atom XML with entries", feed.type.startsWith("application/atom+xml") && !feed.broken && feed.root === "feed" && feed.entries.length > 0, `${feed.type}, ${feed.entries.length} entries`);
  const entryOf = (f, incident) => f.entries.find((e) => e.id === `urn:vigie:incident:vigie:${urnPart(incident.id)}`);
  // The feed holds the newest incidents: the newest one is there.
  const newest = [...incidents].sort((a, b) => Date.parse(b.start) - Date.parse(a.start))[0];
  const inAll = newest && entryOf(feed, newest);
  check("the feed has the newest incident's entry (its start, a link to its page)", Boolean(inAll) && Date.parse(inAll.published) === Date.parse(newest.start) && inAll.link.startsWith(`/#/entity/${urnPart(newest.entity)}?`), JSON.stringify(inAll));
  if (restored) {
    const start = Date.parse(restored.start) / 1000;
    const iso = (t) => new Date(t * 1000).toISOString().replace(/\.000Z$/, "Z");
    await page.goto(`${base}/#/entity/${encodeURIComponent(restored.entity)}?from=${iso(start - 12 * 3600)}&until=${iso(start + 36 * 3600)}`);
    await ready();
    const entityFeedHref = await page.locator("a#entity-feed").getAttribute("href");
    check("the entity page links its own feed", entityFeedHref === `/api/v1/incidents.atom?${new URLSearchParams({ entity: restored.entity })}`, entityFeedHref);
    const own = await readFeed(entityFeedHref);
    const ownEntry = entryOf(own, restored);
    check("the entity's feed holds the incident and only that entity's incidents", !own.broken && Boolean(ownEntry) && own.entries.every((e) => e.link.startsWith(`/#/entity/${urnPart(restored.entity)}?`)), `${own.entries.length} entries: ${own.entries.map((e) => e.title).join(" | ")}`);
    await page.locator("a#entity-feed").scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(shots, "entity-feed-link.png") });
  }

  // ---- local times across a DST change: the report's, to the minute -------
  // The Rust test gives the times a report printed (VIGIE_DST): incidents
  // of a US state before and after the change to daylight saving time.
  const dst = process.env.VIGIE_DST ? JSON.parse(process.env.VIGIE_DST) : null;
  check("the report's local times were given (VIGIE_DST)", Boolean(dst) && dst.times.length >= 2);
  if (dst) {
    await page.goto(`${base}/#/entity/${encodeURIComponent(dst.entity)}?from=${dst.from}&until=${dst.until}`);
    await ready();
    const head = await page.locator(".entity-head").innerText();
    check(`${dst.entity}'s local times are in the reports' zone, ${dst.zone}`, head.includes(dst.zone), head.replace(/\n/g, " "));
    for (const { utc, local } of dst.times) {
      const when = page.locator("details.incident .when").filter({ has: page.locator(`time[datetime="${utc}"]`) }).first();
      const shown = ((await when.count()) ? await when.locator(".local").textContent() : "").replace(/^\(/, "").replace(/ local\)$/, "");
      const report = local.replace(/[()]/g, "");
      check(`the incident at ${utc}: the dashboard's local time is the report's`, shown === report, `dashboard "${shown}", report "${local}"`);
    }
    // The incident list (the map's table) names the same zone.
    const listed = (await api(`/api/v1/incidents?entity=${encodeURIComponent(dst.entity)}&limit=100`)).incidents;
    check("the incident list gives the reports' zone, for the map's table", listed.length >= 2 && listed.every((i) => i.zone === dst.zone), listed.map((i) => i.zone).join(", "));
    await page.screenshot({ path: join(shots, "entity-dst.png"), fullPage: true });
  }

  check("the page loads nothing from another origin", outside.length === 0, outside.join(", "));
  check("no script error, CSP violation or failed request", problems.length === 0, [...problems, ...refused].join(" | "));
} catch (e) {
  check("the browser run", false, e.stack || String(e));
  await page.screenshot({ path: join(shots, "failure.png"), fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
console.log(`screenshots in ${shots}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
