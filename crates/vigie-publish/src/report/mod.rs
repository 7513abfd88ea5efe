//! Incident reports: `vigie report` writes one period of one entity as
//! self-contained HTML (figure inline, CSV appendix embedded) and as
//! Markdown with the figure (SVG) and the CSV appendix beside it, in English
//! or French.
//!
//! A report covers the timeline in UTC and in the country's local time
//! ([`tz`]), each incident's scope, mechanism (with the detector's
//! evidence), restoration windows and affected networks, and a data
//! appendix with every signal's values. [`build`] reads the store;
//! [`Report`]'s methods render; [`Report::write_files`] writes them.

pub mod plot;
pub mod text;
pub mod tz;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use vigie_model::{format_utc, BinSize, Entity, Series, TimeRange, UnixSecs};
use vigie_store::{ResultFilter, Store, StoreError, StoredAnnotation};

use crate::api::csv_field;
use crate::data::{self, PublishedIncident};
pub use text::Lang;

/// What to report on.
#[derive(Clone, Debug)]
pub struct ReportRequest {
    /// Whose signals.
    pub entity: Entity,
    /// Period start, Unix seconds.
    pub from: UnixSecs,
    /// Period end (exclusive).
    pub until: UnixSecs,
    /// Language.
    pub lang: Lang,
    /// Detection method whose incidents are reported (`vigie`).
    pub method: String,
    /// Bin size of the series read (default 300 s).
    pub bin: BinSize,
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The period is empty or too long.
    #[error("bad period: {0}")]
    BadPeriod(String),
    /// The store has no series of the entity in the period.
    #[error("no {bin_secs} s series of {entity} between {from} and {until}: import or ingest data first (see `vigie entities`)")]
    NoData {
        /// The entity.
        entity: String,
        /// Bin size asked for.
        bin_secs: u32,
        /// Period start, ISO 8601.
        from: String,
        /// Period end, ISO 8601.
        until: String,
    },
    /// Writing a file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The figure could not be drawn.
    #[error("cannot draw the figure: {0}")]
    Plot(String),
}

/// Everything a report shows, read from the store.
#[derive(Clone, Debug)]
pub struct Report {
    /// What was asked.
    pub request: ReportRequest,
    /// The entity's display name, if known.
    pub name: Option<String>,
    /// Incidents overlapping the period, in time order.
    pub incidents: Vec<PublishedIncident>,
    /// Every signal of the entity over the period, native bins.
    pub series: Vec<Series>,
    /// External events to show (the caller reads them with
    /// [`crate::annotations::list`]; `build` leaves this empty).
    pub annotations: Vec<StoredAnnotation>,
    /// When the report was made.
    pub generated_at: UnixSecs,
}

/// The files [`Report::write_files`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportFiles {
    /// Self-contained HTML.
    pub html: PathBuf,
    /// Markdown (refers to the SVG and CSV beside it).
    pub markdown: PathBuf,
    /// The figure.
    pub svg: PathBuf,
    /// The data appendix.
    pub csv: PathBuf,
}

/// Longest period a report covers (5 years).
pub const MAX_REPORT_SECS: i64 = 5 * 366 * 86_400;

/// Reads what the report needs from the store.
pub fn build(store: &Store, request: ReportRequest, now: UnixSecs) -> Result<Report, ReportError> {
    if request.from >= request.until {
        return Err(ReportError::BadPeriod(format!(
            "{} is not before {}",
            format_utc(request.from),
            format_utc(request.until)
        )));
    }
    if request.until - request.from > MAX_REPORT_SECS {
        return Err(ReportError::BadPeriod(format!(
            "at most {} days per report",
            MAX_REPORT_SECS / 86_400
        )));
    }
    let range = TimeRange::new(request.from, request.until)
        .map_err(|e| ReportError::BadPeriod(e.to_string()))?;
    let mut series = Vec::new();
    for info in data::series_of(store, &request.entity)? {
        if info.bin != request.bin {
            continue;
        }
        let s = store.read_series(&info.key, request.bin, range)?;
        if s.count_with_data() > 0 {
            series.push(s);
        }
    }
    if series.is_empty() {
        return Err(ReportError::NoData {
            entity: request.entity.to_string(),
            bin_secs: request.bin.secs(),
            from: format_utc(request.from),
            until: format_utc(request.until),
        });
    }
    let filter = ResultFilter {
        entity: Some(request.entity.clone()),
        method: Some(request.method.clone()),
        from: Some(request.from),
        until: Some(request.until),
    };
    let (incidents, _) = data::incidents(store, &filter)?;
    Ok(Report {
        name: store.entity_name(&request.entity)?,
        request,
        incidents,
        series,
        annotations: Vec::new(),
        generated_at: now,
    })
}

/// One piece of a report, rendered to Markdown or HTML.
enum Block {
    Heading(String),
    Para(String),
    Table(Vec<String>, Vec<Vec<String>>),
    List(Vec<String>),
    Figure,
    Appendix,
}

impl Report {
    fn lang(&self) -> Lang {
        self.request.lang
    }

    /// `2023-08-21 04:00 (UTC+03:00)` in the entity's zone (daylight saving
    /// time applied), or `–` when it has none.
    pub fn local(&self, t: UnixSecs) -> String {
        match tz::entity_zone(&self.request.entity) {
            Some((zone, _)) => tz::local_label(zone, t),
            None => "–".to_string(),
        }
    }

    /// `Iraq (IQ)` or `IQ`.
    pub fn title_name(&self) -> String {
        match &self.name {
            Some(name) => format!("{name} ({})", self.request.entity),
            None => self.request.entity.to_string(),
        }
    }

    /// The file name stem: `report-IQ-20230820-20230830-en`.
    pub fn base_name(&self) -> String {
        let day = |t| format_utc(t).get(..10).unwrap_or("").replace('-', "");
        format!(
            "report-{}-{}-{}-{}",
            self.request.entity.to_string().replace(['/', ' '], "_"),
            day(self.request.from),
            day(self.request.until),
            self.lang().code()
        )
    }

    fn blocks(&self) -> Vec<Block> {
        let l = self.lang();
        let mut blocks = Vec::new();
        blocks.push(Block::Heading(format!(
            "{} {}",
            l.pick(
                "Internet disruption report:",
                "Rapport de perturbation d'Internet :"
            ),
            self.title_name()
        )));
        let zone = match tz::entity_zone(&self.request.entity) {
            Some((zone, source)) => format!(
                "{} {} {} ({}{}{}).",
                l.pick("Local time:", "Heure locale :"),
                tz::offset_label(tz::offset_minutes_at(zone, self.request.from)),
                l.pick("at the start", "au début"),
                zone.name(),
                match source {
                    tz::ZoneSource::Region =>
                        l.pick(", the region's zone", ", fuseau de la région"),
                    tz::ZoneSource::Country =>
                        l.pick(", the country's main zone", ", fuseau principal du pays"),
                },
                l.pick(
                    "; IANA time zone database, daylight saving time applied to every time",
                    " ; base IANA des fuseaux horaires, heure d'été appliquée à chaque heure",
                )
            ),
            None => l
                .pick(
                    "Local time: not shown (no country for this entity).",
                    "Heure locale : non indiquée (aucun pays pour cette entité).",
                )
                .to_string(),
        };
        let signals: Vec<&str> = self.series.iter().map(|s| s.key.signal.name()).collect();
        blocks.push(Block::Para(format!(
            "{} {} – {} (UTC). {} {} {}{} {}, {} {}. {}",
            l.pick("Period:", "Période :"),
            format_utc(self.request.from),
            format_utc(self.request.until),
            zone,
            l.pick("Signals:", "Signaux :"),
            signals.join(", "),
            l.pick("; detector", " ; détecteur"),
            self.request.method,
            l.pick("report generated", "rapport généré le"),
            format_utc(self.generated_at),
            l.pick(
                "All times are UTC unless marked local.",
                "Toutes les heures sont en UTC sauf mention « locale »."
            ),
        )));

        // Summary.
        blocks.push(Block::Heading(l.pick("Summary", "Résumé").into()));
        if self.incidents.is_empty() {
            blocks.push(Block::Para(
                l.pick(
                    "No incident was detected in this period.",
                    "Aucun incident n'a été détecté sur cette période.",
                )
                .into(),
            ));
        } else {
            let total: i64 = self
                .incidents
                .iter()
                .map(|p| p.incident.duration_secs())
                .sum();
            let deepest = self
                .incidents
                .iter()
                .map(|p| p.incident.depth)
                .filter(|d| d.is_finite())
                .fold(0.0, f64::max);
            let mut mechanisms: Vec<(String, usize)> = Vec::new();
            for p in &self.incidents {
                let word = l.mechanism(p.incident.mechanism).to_string();
                match mechanisms.iter_mut().find(|(w, _)| *w == word) {
                    Some((_, n)) => *n += 1,
                    None => mechanisms.push((word, 1)),
                }
            }
            let mut scopes: Vec<&str> = self
                .incidents
                .iter()
                .map(|p| l.scope(p.incident.scope))
                .collect();
            scopes.dedup();
            blocks.push(Block::Para(format!(
                "{} {}; {} {}; {} {}. {} {}. {} {}.",
                self.incidents.len(),
                l.pick("incident(s)", "incident(s)"),
                l.pick("total outage time", "durée totale de coupure"),
                l.duration(total),
                l.pick("deepest loss", "perte maximale"),
                l.percent(deepest),
                l.pick("Mechanism:", "Mécanisme :"),
                mechanisms
                    .iter()
                    .map(|(w, n)| format!("{w} ({n})"))
                    .collect::<Vec<_>>()
                    .join(", "),
                l.pick("Scope:", "Portée :"),
                scopes.join(", "),
            )));
        }

        // Timeline.
        blocks.push(Block::Heading(l.pick("Timeline", "Chronologie").into()));
        let head = [
            "#",
            l.pick("Start (UTC)", "Début (UTC)"),
            l.pick("Start (local)", "Début (locale)"),
            l.pick("End (UTC)", "Fin (UTC)"),
            l.pick("End (local)", "Fin (locale)"),
            l.pick("Duration", "Durée"),
            l.pick("Depth", "Profondeur"),
            l.pick("Mechanism", "Mécanisme"),
            l.pick("Scope", "Portée"),
            l.pick("Confidence", "Confiance"),
        ]
        .map(str::to_string)
        .to_vec();
        let rows = self
            .incidents
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let inc = &p.incident;
                let (end_utc, end_local) = match inc.end {
                    Some(end) => (format_utc(end), self.local(end)),
                    None => (l.pick("ongoing", "en cours").to_string(), "–".to_string()),
                };
                vec![
                    (i + 1).to_string(),
                    format_utc(inc.start),
                    self.local(inc.start),
                    end_utc,
                    end_local,
                    l.duration(inc.duration_secs()),
                    l.percent(inc.depth),
                    l.mechanism(inc.mechanism).to_string(),
                    l.scope(inc.scope).to_string(),
                    l.percent(inc.confidence),
                ]
            })
            .collect();
        blocks.push(Block::Table(head, rows));

        // Annotations.
        if !self.annotations.is_empty() {
            blocks.push(Block::Heading(l.pick("Annotations", "Annotations").into()));
            blocks.push(Block::List(
                self.annotations
                    .iter()
                    .map(|a| {
                        let mut item = format!(
                            "{} ({} {}): {}",
                            a.when(),
                            l.pick("local", "locale"),
                            self.local(a.time),
                            a.text
                        );
                        if let Some(url) = &a.url {
                            item.push_str(&format!(" ({url})"));
                        }
                        item
                    })
                    .collect(),
            ));
        }

        // Restoration windows.
        blocks.push(Block::Heading(
            l.pick("Restoration windows", "Fenêtres de rétablissement")
                .into(),
        ));
        let mut items = Vec::new();
        for (i, p) in self.incidents.iter().enumerate() {
            for r in &p.incident.restorations {
                items.push(format!(
                    "{} {}: {} – {} ({} {} – {}), {} {}",
                    l.pick("Incident", "Incident"),
                    i + 1,
                    format_utc(r.start),
                    format_utc(r.end),
                    l.pick("local", "locale"),
                    self.local(r.start),
                    self.local(r.end),
                    l.percent(r.restored_fraction),
                    l.pick("of the usual level back", "du niveau habituel rétabli"),
                ));
            }
        }
        if items.is_empty() {
            blocks.push(Block::Para(
                l.pick(
                    "No partial restoration inside any incident: service came back only at the end.",
                    "Aucun rétablissement partiel pendant les incidents : le service n'est revenu qu'à la fin.",
                )
                .into(),
            ));
        } else {
            blocks.push(Block::List(items));
        }

        // Mechanism.
        blocks.push(Block::Heading(l.pick("Mechanism", "Mécanisme").into()));
        blocks.push(Block::List(
            self.incidents
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    format!(
                        "{} {}: {} ({} {}). {} {}",
                        l.pick("Incident", "Incident"),
                        i + 1,
                        l.mechanism(p.incident.mechanism),
                        l.pick("confidence", "confiance"),
                        l.percent(p.incident.mechanism_confidence),
                        l.pick("Evidence:", "Indices :"),
                        p.incident.mechanism_evidence
                    )
                })
                .collect(),
        ));

        // Scope and affected networks.
        blocks.push(Block::Heading(
            l.pick("Scope and affected networks", "Portée et réseaux touchés")
                .into(),
        ));
        let mut items = Vec::new();
        for (i, p) in self.incidents.iter().enumerate() {
            let affected = if p.incident.affected.is_empty() {
                l.pick(
                    "no AS or region series with an overlapping incident in the store",
                    "aucune série d'AS ou de région avec un incident simultané dans la base",
                )
                .to_string()
            } else {
                p.incident
                    .affected
                    .iter()
                    .map(|a| format!("{} ({})", a.entity, l.percent(a.address_share)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            items.push(format!(
                "{} {}: {}; {} {}",
                l.pick("Incident", "Incident"),
                i + 1,
                l.scope(p.incident.scope),
                l.pick("affected:", "touchés :"),
                affected
            ));
        }
        if !items.is_empty() {
            blocks.push(Block::List(items));
        }

        blocks.push(Block::Heading(l.pick("Signals", "Signaux").into()));
        blocks.push(Block::Figure);
        blocks.push(Block::Heading(
            l.pick("Data appendix", "Annexe de données").into(),
        ));
        blocks.push(Block::Appendix);
        blocks
    }

    /// The data appendix: one row per bin, `time_utc,time_local,<signal>…`;
    /// an empty cell is no data.
    pub fn csv(&self) -> String {
        let mut out = String::from("time_utc,time_local");
        for s in &self.series {
            out.push(',');
            out.push_str(s.key.signal.name());
        }
        out.push('\n');
        let step = i64::from(self.request.bin.secs());
        let start = self
            .series
            .iter()
            .map(|s| s.start)
            .min()
            .unwrap_or(self.request.from);
        let end = self
            .series
            .iter()
            .map(|s| s.end())
            .max()
            .unwrap_or(self.request.until);
        let mut t = start;
        while t < end {
            out.push_str(&format_utc(t));
            out.push(',');
            out.push_str(&csv_field(&self.local(t)));
            for s in &self.series {
                out.push(',');
                if let Some(v) = s.get(t) {
                    let _ = write!(out, "{v}");
                }
            }
            out.push('\n');
            t += step;
        }
        out
    }

    /// The figure as SVG.
    pub fn svg(&self) -> Result<String, ReportError> {
        let mut bands = Vec::new();
        for p in &self.incidents {
            bands.push(plot::Band {
                start: p.incident.start,
                end: p.incident.end.unwrap_or(p.incident.observed_until),
                restoration: false,
            });
            for r in &p.incident.restorations {
                bands.push(plot::Band {
                    start: r.start,
                    end: r.end,
                    restoration: true,
                });
            }
        }
        let marks: Vec<(UnixSecs, String)> = self
            .annotations
            .iter()
            .map(|a| (a.time, a.text.clone()))
            .collect();
        plot::svg(
            &self.series,
            &bands,
            &marks,
            self.request.from,
            self.request.until,
            self.lang(),
        )
        .map_err(ReportError::Plot)
    }

    /// The Markdown report; `svg_file` and `csv_file` are the names of the
    /// figure and appendix written beside it.
    pub fn markdown(&self, svg_file: &str, csv_file: &str) -> String {
        let l = self.lang();
        let mut out = String::new();
        let mut first = true;
        for block in self.blocks() {
            match block {
                Block::Heading(t) => {
                    let level = if first { "#" } else { "##" };
                    first = false;
                    let _ = writeln!(out, "{level} {t}\n");
                }
                Block::Para(t) => {
                    let _ = writeln!(out, "{}\n", md_escape(&t));
                }
                Block::Table(head, rows) => {
                    let _ = writeln!(
                        out,
                        "| {} |",
                        head.iter()
                            .map(|h| md_cell(h))
                            .collect::<Vec<_>>()
                            .join(" | ")
                    );
                    let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
                    for row in rows {
                        let _ = writeln!(
                            out,
                            "| {} |",
                            row.iter()
                                .map(|c| md_cell(c))
                                .collect::<Vec<_>>()
                                .join(" | ")
                        );
                    }
                    out.push('\n');
                }
                Block::List(items) => {
                    for item in items {
                        let _ = writeln!(out, "- {}", md_escape(&item));
                    }
                    out.push('\n');
                }
                Block::Figure => {
                    let _ = writeln!(
                        out,
                        "![{}]({svg_file})\n\n{}\n",
                        l.pick("Signals over the period", "Signaux sur la période"),
                        l.pick(
                            "Red bands: incidents. Green bands: restoration windows. Gaps in a line: no data (never zero).",
                            "Bandes rouges : incidents. Bandes vertes : fenêtres de rétablissement. Trous dans une courbe : pas de données (jamais zéro).",
                        )
                    );
                }
                Block::Appendix => {
                    let rows = self.csv().lines().count().saturating_sub(1);
                    let _ = writeln!(
                        out,
                        "{} [{csv_file}]({csv_file}): {rows} {}\n",
                        l.pick("Every value of every signal, per bin:", "Toutes les valeurs de chaque signal, par intervalle :"),
                        l.pick(
                            "rows (time_utc, time_local, one column per signal; an empty cell is no data).",
                            "lignes (time_utc, time_local, une colonne par signal ; une cellule vide signifie pas de données).",
                        )
                    );
                }
            }
        }
        out
    }

    /// The self-contained HTML report: the figure inline, the appendix
    /// embedded (readable, and downloadable through a `data:` link).
    pub fn html(&self) -> Result<String, ReportError> {
        let l = self.lang();
        let svg = self.svg()?;
        let svg = svg
            .find("<svg")
            .and_then(|i| svg.get(i..))
            .unwrap_or(&svg)
            .to_string();
        let csv = self.csv();
        let mut body = String::new();
        let mut first = true;
        for block in self.blocks() {
            match block {
                Block::Heading(t) => {
                    let tag = if first { "h1" } else { "h2" };
                    first = false;
                    let _ = writeln!(body, "<{tag}>{}</{tag}>", html_escape(&t));
                }
                Block::Para(t) => {
                    let _ = writeln!(body, "<p>{}</p>", html_escape(&t));
                }
                Block::Table(head, rows) => {
                    body.push_str("<table>\n<thead><tr>");
                    for h in head {
                        let _ = write!(body, "<th>{}</th>", html_escape(&h));
                    }
                    body.push_str("</tr></thead>\n<tbody>\n");
                    for row in rows {
                        body.push_str("<tr>");
                        for c in row {
                            let _ = write!(body, "<td>{}</td>", html_escape(&c));
                        }
                        body.push_str("</tr>\n");
                    }
                    body.push_str("</tbody>\n</table>\n");
                }
                Block::List(items) => {
                    body.push_str("<ul>\n");
                    for item in items {
                        let _ = writeln!(body, "<li>{}</li>", html_escape(&item));
                    }
                    body.push_str("</ul>\n");
                }
                Block::Figure => {
                    let _ = writeln!(
                        body,
                        "<figure>{svg}<figcaption>{}</figcaption></figure>",
                        html_escape(l.pick(
                            "Red bands: incidents. Green bands: restoration windows. Gaps in a line: no data (never zero).",
                            "Bandes rouges : incidents. Bandes vertes : fenêtres de rétablissement. Trous dans une courbe : pas de données (jamais zéro).",
                        ))
                    );
                }
                Block::Appendix => {
                    let _ = writeln!(
                        body,
                        "<p><a download=\"{}.csv\" href=\"data:text/csv;charset=utf-8,{}\">{}</a></p>\n<details><summary>CSV</summary><pre id=\"appendix\">{}</pre></details>",
                        self.base_name(),
                        percent_encode(&csv),
                        html_escape(l.pick("Download the data (CSV)", "Télécharger les données (CSV)")),
                        html_escape(&csv)
                    );
                }
            }
        }
        Ok(format!(
            "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\nbody{{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}}\ntable{{border-collapse:collapse;font-size:.9em}}\nth,td{{border:1px solid #bbb;padding:.25em .5em;text-align:left}}\nth{{background:#eee}}\nfigure{{margin:1em 0}}\nsvg{{max-width:100%;height:auto}}\npre{{max-height:30em;overflow:auto;background:#f6f6f6;padding:.5em}}\n</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
            l.code(),
            html_escape(&self.title_name()),
        ))
    }

    /// Writes `<base>.html`, `<base>.md`, `<base>.svg` and `<base>-data.csv`
    /// into `dir` (created if needed).
    pub fn write_files(&self, dir: &Path) -> Result<ReportFiles, ReportError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| ReportError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let base = self.base_name();
        let files = ReportFiles {
            html: dir.join(format!("{base}.html")),
            markdown: dir.join(format!("{base}.md")),
            svg: dir.join(format!("{base}.svg")),
            csv: dir.join(format!("{base}-data.csv")),
        };
        let svg_name = format!("{base}.svg");
        let csv_name = format!("{base}-data.csv");
        std::fs::write(&files.svg, self.svg()?).map_err(io(&files.svg))?;
        std::fs::write(&files.csv, self.csv()).map_err(io(&files.csv))?;
        std::fs::write(&files.markdown, self.markdown(&svg_name, &csv_name))
            .map_err(io(&files.markdown))?;
        std::fs::write(&files.html, self.html()?).map_err(io(&files.html))?;
        Ok(files)
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn md_escape(text: &str) -> String {
    text.replace('<', "&lt;").replace('>', "&gt;")
}

fn md_cell(text: &str) -> String {
    md_escape(text).replace('|', "\\|")
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~:".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(html_escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
        assert_eq!(md_cell("a|b"), "a\\|b");
        assert_eq!(percent_encode("a,b\n"), "a%2Cb%0A");
    }
}
