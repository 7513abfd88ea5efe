//! [`GeoDbBuilder`]: loads geo tables from files into a [`GeoDb`].

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use serde::Deserialize;
use vigie_model::{CountryCode, RegionId};

use crate::db::{CountryTable, GeoDb};
use crate::embedded;
use crate::parse::{self, AddrRange, Row};
use crate::range_map::{UnitRangeMap, UnitRangeMapBuilder};
use crate::registry_country;
use crate::unit::{range_units, range_width, Family};

/// How many error messages a [`LoadReport`] keeps; later ones are only counted.
pub const MAX_REPORTED_ERRORS: usize = 20;

/// The kinds of file [`GeoDbBuilder`] can load.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum SourceKind {
    /// RIR delegated(-extended) statistics: `registry|cc|type|start|value|date|status`.
    RirDelegated,
    /// ip-location-db country CSV (`geo-whois-asn-country` and kin).
    IpLocationDbCountry,
    /// ip-location-db ASN CSV (prefix ranges to AS, with AS names).
    IpLocationDbAsn,
    /// ip-location-db dbip-city CSV, read for regions (country, state1).
    DbipCityRegions,
    /// A MaxMind DB with `country.iso_code` (GeoLite2-Country, City, ...).
    MmdbCountry,
    /// A MaxMind DB with `autonomous_system_number` (GeoLite2-ASN, ...).
    MmdbAsn,
    /// A prefix-to-AS table: pyasn `ipasn_*.dat` or CAIDA RouteViews pfx2as.
    Prefix2As,
    /// AS names: pyasn `asnames.json` or a text list `ASN name`.
    AsNames,
}

impl SourceKind {
    /// A short name for messages, such as `rir-delegated`.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::RirDelegated => "rir-delegated",
            SourceKind::IpLocationDbCountry => "ip-location-db-country",
            SourceKind::IpLocationDbAsn => "ip-location-db-asn",
            SourceKind::DbipCityRegions => "dbip-city-regions",
            SourceKind::MmdbCountry => "mmdb-country",
            SourceKind::MmdbAsn => "mmdb-asn",
            SourceKind::Prefix2As => "prefix2as",
            SourceKind::AsNames => "as-names",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What loading one file did. Bad rows never stop a load: they are counted,
/// and the first few are described as `file:line: what is wrong`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadReport {
    /// The file (or the name given for a reader).
    pub source: String,
    /// What kind of file it was read as.
    pub kind: SourceKind,
    /// Rows that were loaded.
    pub rows_loaded: u64,
    /// Rows not loaded: malformed ones, plus valid rows that carry nothing to
    /// load (no country, an `asn` row in RIR stats, status `available`...).
    /// Headers, comments and summaries are not rows.
    pub rows_skipped: u64,
    /// Of the skipped rows, those that were malformed.
    pub rows_malformed: u64,
    /// The first [`MAX_REPORTED_ERRORS`] problems, as `file:line: what is wrong`.
    pub first_errors: Vec<String>,
}

impl LoadReport {
    fn new(source: &str, kind: SourceKind) -> Self {
        LoadReport {
            source: source.to_string(),
            kind,
            rows_loaded: 0,
            rows_skipped: 0,
            rows_malformed: 0,
            first_errors: Vec::new(),
        }
    }

    /// Counts a malformed row and keeps its description if there is room.
    fn malformed(&mut self, location: impl fmt::Display, why: &str) {
        self.rows_skipped += 1;
        self.rows_malformed += 1;
        if self.first_errors.len() < MAX_REPORTED_ERRORS {
            self.first_errors
                .push(format!("{}:{location}: {why}", self.source));
        }
    }

    fn count<T>(&mut self, line: u64, row: Row<T>) -> Option<T> {
        match row {
            Row::Ignore => None,
            Row::Skip => {
                self.rows_skipped += 1;
                None
            }
            Row::Load(value) => {
                self.rows_loaded += 1;
                Some(value)
            }
            Row::Bad(why) => {
                self.malformed(line, &why);
                None
            }
        }
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {} rows loaded, {} skipped ({} malformed)",
            self.source, self.kind, self.rows_loaded, self.rows_skipped, self.rows_malformed
        )
    }
}

/// Why a whole file could not be loaded. Bad rows are not errors (see
/// [`LoadReport`]); these are problems with the file itself.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The file could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: io::Error,
    },
    /// Reading stopped part way, usually a truncated or corrupt gzip file.
    #[error("{file}:{line}: cannot read further ({source}); the file may be truncated or corrupt: fetch it again")]
    Read {
        /// The file.
        file: String,
        /// The line reached.
        line: u64,
        /// The reader's reason.
        source: io::Error,
    },
    /// The file is not a usable MaxMind DB.
    #[error("{file}: not a usable MaxMind DB file: {message}")]
    Mmdb {
        /// The file.
        file: String,
        /// The reader's reason.
        message: String,
    },
    /// The AS-name JSON is not an object mapping AS numbers to names.
    #[error("{file}: not a JSON object of AS number to name: {message}")]
    Json {
        /// The file.
        file: String,
        /// The parser's reason.
        message: String,
    },
    /// `load_auto` could not tell what the file is.
    #[error("cannot tell what kind of geo table {path} is; name it like the published files (delegated-*, *.mmdb, ipasn_*.dat, pfx2as, asnames.json, *country*.csv, asn*.csv, dbip-city*.csv) or call the loader for its format")]
    UnknownKind {
        /// The file.
        path: PathBuf,
    },
}

/// Builds a [`GeoDb`] from files, over the embedded tables or from nothing.
///
/// Every loaded file becomes a layer: within a file, overlapping ranges
/// resolve to the narrowest; across files, a later file wins wherever it has
/// data and earlier ones (then the embedded tables, if used) show through
/// elsewhere. AS names from later files replace earlier ones.
///
/// Every loader accepts plain or gzip-compressed input (recognised by its
/// magic bytes) and never panics on bad rows.
#[derive(Debug, Default)]
pub struct GeoDbBuilder {
    base_embedded: bool,
    countries: FamilyLayers<CountryCode>,
    regions: FamilyLayers<u32>,
    asns: FamilyLayers<u32>,
    region_ids: Vec<RegionId>,
    region_index: HashMap<CountryCode, HashMap<String, u32>>,
    as_names: HashMap<u32, String>,
    reports: Vec<LoadReport>,
}

/// Per-family stacks of layers, oldest first.
#[derive(Debug)]
struct FamilyLayers<T> {
    v4: Vec<UnitRangeMap<T>>,
    v6: Vec<UnitRangeMap<T>>,
}

impl<T> Default for FamilyLayers<T> {
    fn default() -> Self {
        FamilyLayers {
            v4: Vec::new(),
            v6: Vec::new(),
        }
    }
}

impl<T: Copy + Eq> FamilyLayers<T> {
    fn push(&mut self, builders: RangeBuilders<T>) {
        let (v4, v6) = (builders.v4.build(), builders.v6.build());
        if !v4.is_empty() {
            self.v4.push(v4);
        }
        if !v6.is_empty() {
            self.v6.push(v6);
        }
    }

    fn flatten(layers: Vec<UnitRangeMap<T>>, base: Option<&UnitRangeMap<T>>) -> UnitRangeMap<T> {
        let mut layers = layers.into_iter();
        let mut merged = match base {
            Some(base) => base.clone(),
            None => layers.next().unwrap_or_default(),
        };
        for layer in layers {
            merged = merged.overlay(&layer);
        }
        merged
    }
}

/// One file's ranges, per family, ranked by width in addresses.
struct RangeBuilders<T> {
    v4: UnitRangeMapBuilder<T>,
    v6: UnitRangeMapBuilder<T>,
}

impl<T: Copy + Eq> RangeBuilders<T> {
    fn new() -> Self {
        RangeBuilders {
            v4: UnitRangeMapBuilder::new(),
            v6: UnitRangeMapBuilder::new(),
        }
    }

    /// Adds an address range; a range holding no unit's first address adds nothing.
    fn insert(&mut self, start: IpAddr, end: IpAddr, value: T) {
        if let Some((family, first, last)) = range_units(start, end) {
            let width = range_width(start, end);
            match family {
                Family::V4 => self.v4.insert_ranked(first, last, width, value),
                Family::V6 => self.v6.insert_ranked(first, last, width, value),
            }
        }
    }
}

/// Opens a file, read through gzip when it starts with gzip's magic bytes.
fn open(path: &Path) -> Result<Box<dyn BufRead>, GeoError> {
    let file = File::open(path).map_err(|source| GeoError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    maybe_gunzip(BufReader::new(file)).map_err(|source| GeoError::Open {
        path: path.to_path_buf(),
        source,
    })
}

/// Wraps `reader` in a gzip decoder when its first bytes are gzip's magic.
fn maybe_gunzip<'a, R: BufRead + 'a>(mut reader: R) -> io::Result<Box<dyn BufRead + 'a>> {
    let head = reader.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::new(MultiGzDecoder::new(reader))))
    } else {
        Ok(Box::new(reader))
    }
}

fn read_all(mut reader: impl BufRead, source: &str) -> Result<Vec<u8>, GeoError> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|error| GeoError::Read {
            file: source.to_string(),
            line: 0,
            source: error,
        })?;
    Ok(bytes)
}

fn display_name(path: &Path) -> String {
    path.display().to_string()
}

/// Calls `f(line_number, line)` for every line; a line that is not UTF-8 is
/// reported as malformed and skipped.
fn for_each_line(
    mut reader: impl BufRead,
    report: &mut LoadReport,
    mut f: impl FnMut(u64, &str, &mut LoadReport),
) -> Result<(), GeoError> {
    let mut buffer = Vec::new();
    let mut line_number = 0u64;
    loop {
        buffer.clear();
        line_number += 1;
        let read = reader
            .read_until(b'\n', &mut buffer)
            .map_err(|source| GeoError::Read {
                file: report.source.clone(),
                line: line_number,
                source,
            })?;
        if read == 0 {
            return Ok(());
        }
        match std::str::from_utf8(&buffer) {
            Ok(line) => f(line_number, line.trim_end_matches(['\n', '\r']), report),
            Err(error) => report.malformed(
                line_number,
                &format!(
                    "not UTF-8 text (bad byte at column {})",
                    error.valid_up_to() + 1
                ),
            ),
        }
    }
}

/// Calls `f(line_number, fields)` for every CSV record (quoted fields may
/// hold commas); a record that is not UTF-8 is reported and skipped.
fn for_each_csv_record(
    reader: impl BufRead,
    report: &mut LoadReport,
    mut f: impl FnMut(u64, &[&str], &mut LoadReport),
) -> Result<(), GeoError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut record = csv::ByteRecord::new();
    loop {
        let more = csv.read_byte_record(&mut record).map_err(|error| {
            let line = error.position().map_or(0, |p| p.line());
            GeoError::Read {
                file: report.source.clone(),
                line,
                source: io::Error::other(error),
            }
        })?;
        if !more {
            return Ok(());
        }
        let line = record.position().map_or(0, |p| p.line());
        // The formats read here have at most 10 fields; later ones are unused.
        let mut fields = [""; 12];
        let mut count = 0;
        let mut not_utf8 = false;
        for field in record.iter().take(fields.len()) {
            match (std::str::from_utf8(field), fields.get_mut(count)) {
                (Ok(text), Some(slot)) => *slot = text,
                _ => {
                    not_utf8 = true;
                    break;
                }
            }
            count += 1;
        }
        if not_utf8 {
            report.malformed(line, "not UTF-8 text");
            continue;
        }
        f(line, fields.get(..count).unwrap_or_default(), report);
    }
}

#[derive(Deserialize)]
struct MmdbIso<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
}

/// The country fields of a MaxMind record. GeoIP2 writes `country` and
/// `registered_country`; ip-location-db's MMDBs write `country_code`.
#[derive(Deserialize)]
struct MmdbCountryRecord<'a> {
    #[serde(borrow)]
    country: Option<MmdbIso<'a>>,
    #[serde(borrow)]
    registered_country: Option<MmdbIso<'a>>,
    #[serde(borrow)]
    country_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct MmdbAsnRecord<'a> {
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
}

impl GeoDbBuilder {
    /// A builder over the embedded country tables ([`GeoDb::embedded`]):
    /// loaded country files override them where they have data.
    pub fn embedded() -> Self {
        GeoDbBuilder {
            base_embedded: true,
            ..Self::default()
        }
    }

    /// A builder that starts from nothing.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The reports of every successful load so far, in order.
    pub fn reports(&self) -> &[LoadReport] {
        &self.reports
    }

    fn finish(&mut self, report: LoadReport) -> LoadReport {
        self.reports.push(report.clone());
        report
    }

    /// Loads an RIR delegated(-extended) statistics file (countries).
    ///
    /// Rows of type ipv4/ipv6 with status `allocated` or `assigned` and a
    /// country are loaded; an IPv4 row's value is an address count (not
    /// necessarily a power of two), an IPv6 row's a prefix length.
    pub fn load_rir_delegated(&mut self, path: impl AsRef<Path>) -> Result<LoadReport, GeoError> {
        let path = path.as_ref();
        self.load_rir_delegated_from(open(path)?, &display_name(path))
    }

    /// [`GeoDbBuilder::load_rir_delegated`] from a reader; `source` names it in messages.
    pub fn load_rir_delegated_from(
        &mut self,
        reader: impl Read,
        source: &str,
    ) -> Result<LoadReport, GeoError> {
        let reader = gunzip_reader(reader, source)?;
        let mut report = LoadReport::new(source, SourceKind::RirDelegated);
        let mut ranges = RangeBuilders::new();
        for_each_line(reader, &mut report, |line_number, line, report| {
            if let Some(range) = report.count(line_number, parse::rir_line(line)) {
                ranges.insert(range.start, range.end, range.value);
            }
        })?;
        self.countries.push(ranges);
        Ok(self.finish(report))
    }

    /// Loads an ip-location-db country CSV (`ip_range_start,ip_range_end,country_code`),
    /// such as `geo-whois-asn-country-ipv4.csv`. The `-num` variants (decimal
    /// addresses) are read too.
    pub fn load_ip_location_db_country(
        &mut self,
        path: impl AsRef<Path>,
    ) -> Result<LoadReport, GeoError> {
        let path = path.as_ref();
        self.load_ip_location_db_country_from(open(path)?, &display_name(path))
    }

    /// [`GeoDbBuilder::load_ip_location_db_country`] from a reader.
    pub fn load_ip_location_db_country_from(
        &mut self,
        reader: impl Read,
        source: &str,
    ) -> Result<LoadReport, GeoError> {
        let reader = gunzip_reader(reader, source)?;
        let mut report = LoadReport::new(source, SourceKind::IpLocationDbCountry);
        let mut ranges = RangeBuilders::new();
        for_each_csv_record(reader, &mut report, |line, fields, report| {
            if let Some(range) = report.count(line, parse::country_csv_row(fields)) {
                ranges.insert(range.start, range.end, range.value);
            }
        })?;
        self.countries.push(ranges);
        Ok(self.finish(report))
    }

    /// Loads an ip-location-db ASN CSV (`ip_range_start,ip_range_end,
    /// autonomous_system_number,autonomous_system_organization`): the ranges
    /// become the prefix-to-AS table, the organisations AS names.
    pub fn load_ip_location_db_asn(
        &mut self,
        path: impl AsRef<Path>,
    ) -> Result<LoadReport, GeoError> {
        let path = path.as_ref();
        self.load_ip_location_db_asn_from(open(path)?, &display_name(path))
    }

    /// [`GeoDbBuilder::load_ip_location_db_asn`] from a reader.
    pub fn load_ip_location_db_asn_from(
        &mut self,
        reader: impl Read,
        source: &str,
    ) -> Result<LoadReport, GeoError> {
        let reader = gunzip_reader(reader, source)?;
        let mut report = LoadReport::new(source, SourceKind::IpLocationDbAsn);
        let mut ranges = RangeBuilders::new();
        let mut names: HashMap<u32, String> = HashMap::new();
        for_each_csv_record(reader, &mut report, |line, fields, report| {
            if let Some(AddrRange { start, end, value }) =
                report.count(line, parse::asn_csv_row(fields))
            {
                ranges.insert(start, end, value.asn);
                if let Some(name) = value.name {
                    if names.get(&value.asn).map(String::as_str) != Some(name) {
                        names.insert(value.asn, name.to_string());
                    }
                }
            }
        })?;
        self.asns.push(ranges);
        self.as_names.extend(names);
        Ok(self.finish(report))
    }

    /// Loads an ip-location-db dbip-city CSV (`ip_range_start,ip_range_end,
    /// country_code,state1,state2,city,postcode,latitude,longitude,timezone`)
    /// as the region table: a region is `(country_code, state1)`. Rows
    /// without a state are skipped.
    pub fn load_dbip_city_regions(
        &mut self,
        path: impl AsRef<Path>,
    ) -> Result<LoadReport, GeoError> {
        let path = path.as_ref();
        self.load_dbip_city_regions_from(open(path)?, &display_name(path))
    }

    /// [`GeoDbBuilder::load_dbip_city_regions`] from a reader.
    pub fn load_dbip_city_regions_from(
        &mut self,
        reader: impl Read,
        source: &str,
    ) -> Result<LoadReport, GeoError> {
        let reader = gunzip_reader(reader, source)?;
        let mut report = LoadReport::new(source, SourceKind::DbipCityRegions);
        let mut ranges = RangeBuilders::new();
        let region_ids = &mut self.region_ids;
        let region_index = &mut self.region_index;
        for_each_csv_record(reader, &mut report, |line, fields, report| {
            let Some(AddrRange {
                start,
                end,
                value: (country, name),
            }) = report.count(line, parse::dbip_city_row(fields))
            else {
                return;
            };
            let names = region_index.entry(country).or_default();
            let index = match names.get(name) {
                Some(&index) => index,
                None => {
                    let Ok(index) = u32::try_from(region_ids.len()) else {
                        report.malformed(line, "more than 4294967295 regions");
                        return;
                    };
                    region_ids.push(RegionId {
                        country,
                        name: name.to_string(),
                    });
                    names.insert(name.to_string(), index);
                    index
                }
            };
            ranges.insert(start, end, index);
        })?;
        self.regions.push(ranges);
        Ok(self.finish(report))
    }

    /// Loads a prefix-to-AS table: pyasn `ipasn_*.dat` (`prefix/len<TAB>asn`,
    /// `;` comments) or CAIDA RouteViews pfx2as (`addr<TAB>len<TAB>asn`, where
    /// a multi-origin `a_b` or a set `a,b` gives its first AS). Both families
    /// may be mixed in one file. More specific prefixes win.
    pub fn load_prefix2as(&mut self, path: impl AsRef<Path>) -> Result<LoadReport, GeoError> {
        let path = path.as_ref();
        self.load_prefix2as_from(open(path)?, &display_name(path))
    }

    /// [`GeoDbBuilder::load_prefix2as`] from a reader.
    pub fn load_prefix2as_from(
        &mut self,
        reader: impl Read,
        source: &str,
    ) -> Result<LoadReport, GeoError> {
        let reader = gunzip_reader(reader, source)?;
        let mut report = LoadReport::new(source, SourceKind::Prefix2As);
        let mut ranges = RangeBuilders::new();
        for_each_line(reader, &mut report, |line_number, line, report| {
            if let Some((net, asn)) = report.count(line_number, parse::prefix2as_line(line)) {
                ranges.insert(net.network(), net.broadcast(), asn);
            }
        })?;
        self.asns.push(ranges);
        Ok(self.finish(report))
    }

    /// Loads AS names: pyasn's `asnames.json` (`{"9198": "KAZTELECOM-AS, KZ"}`)
    /// or, when the content does not start with `{`, a text list of
    /// `ASN name` lines.
    pub fn load_as_names(&mut self, path: impl AsRef<Path>) -> Result<LoadReport, GeoError> {
        let path = path.as_ref();
        self.load_as_names_from(open(path)?, &display_name(path))
    }

    /// [`GeoDbBuilder::load_as_names`] from a reader.
    pub fn load_as_names_from(
        &mut self,
        reader: impl Read,
        source: &str,
    ) -> Result<LoadReport, GeoError> {
        let bytes = read_all(gunzip_reader(reader, source)?, source)?;
        let mut report = LoadReport::new(source, SourceKind::AsNames);
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'{') {
            let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes)
                .map_err(|error| GeoError::Json {
                    file: source.to_string(),
                    message: error.to_string(),
                })?;
            for (key, value) in &object {
                let asn = match parse::asn_field(key) {
                    Ok(asn) => asn,
                    Err(why) => {
                        report.malformed(format_args!("key {key:?}"), &why);
                        continue;
                    }
                };
                match value.as_str().map(str::trim) {
                    Some(name) if !name.is_empty() => {
                        self.as_names.insert(asn, name.to_string());
                        report.rows_loaded += 1;
                    }
                    Some(_) => report.rows_skipped += 1,
                    None => {
                        report.malformed(format_args!("key {key:?}"), "the name is not a string")
                    }
                }
            }
        } else {
            let names = &mut self.as_names;
            for_each_line(
                bytes.as_slice(),
                &mut report,
                |line_number, line, report| {
                    if let Some((asn, name)) = report.count(line_number, parse::as_name_line(line))
                    {
                        names.insert(asn, name.to_string());
                    }
                },
            )?;
        }
        Ok(self.finish(report))
    }

    /// Loads a MaxMind DB country database (GeoLite2-Country or -City,
    /// ip-location-db's country MMDBs): every network's `country.iso_code`,
    /// falling back to `registered_country.iso_code` (or ip-location-db's
    /// `country_code`). Plain or gzip-compressed.
    pub fn load_mmdb_country(&mut self, path: impl AsRef<Path>) -> Result<LoadReport, GeoError> {
        let path = path.as_ref();
        let source = display_name(path);
        let bytes = read_all(open(path)?, &source)?;
        self.load_mmdb_country_bytes(bytes, &source)
    }

    /// [`GeoDbBuilder::load_mmdb_country`] from the database's bytes.
    pub fn load_mmdb_country_bytes(
        &mut self,
        bytes: Vec<u8>,
        source: &str,
    ) -> Result<LoadReport, GeoError> {
        let mut ranges = RangeBuilders::new();
        let report = load_mmdb(
            bytes,
            source,
            SourceKind::MmdbCountry,
            |lookup| {
                let record: MmdbCountryRecord = match lookup.decode() {
                    Ok(Some(record)) => record,
                    Ok(None) => return Ok(None),
                    Err(error) => return Err(error.to_string()),
                };
                let code = record
                    .country
                    .and_then(|c| c.iso_code)
                    .or(record.registered_country.and_then(|c| c.iso_code))
                    .or(record.country_code);
                match code {
                    None => Ok(None),
                    Some(code) => match registry_country(code) {
                        Some(country) => Ok(Some(country)),
                        None if code.trim().is_empty() || code.eq_ignore_ascii_case("ZZ") => {
                            Ok(None)
                        }
                        None => Err(format!("'{code}' is not a two-letter country code")),
                    },
                }
            },
            |start, end, country| ranges.insert(start, end, country),
        )?;
        self.countries.push(ranges);
        Ok(self.finish(report))
    }

    /// Loads a MaxMind DB ASN database (GeoLite2-ASN, ip-location-db's ASN
    /// MMDBs): `autonomous_system_number` becomes the prefix-to-AS table and
    /// `autonomous_system_organization` the AS names.
    pub fn load_mmdb_asn(&mut self, path: impl AsRef<Path>) -> Result<LoadReport, GeoError> {
        let path = path.as_ref();
        let source = display_name(path);
        let bytes = read_all(open(path)?, &source)?;
        self.load_mmdb_asn_bytes(bytes, &source)
    }

    /// [`GeoDbBuilder::load_mmdb_asn`] from the database's bytes.
    pub fn load_mmdb_asn_bytes(
        &mut self,
        bytes: Vec<u8>,
        source: &str,
    ) -> Result<LoadReport, GeoError> {
        let mut ranges = RangeBuilders::new();
        let names = &mut self.as_names;
        let report = load_mmdb(
            bytes,
            source,
            SourceKind::MmdbAsn,
            |lookup| {
                let record: MmdbAsnRecord = match lookup.decode() {
                    Ok(Some(record)) => record,
                    Ok(None) => return Ok(None),
                    Err(error) => return Err(error.to_string()),
                };
                let Some(asn) = record.autonomous_system_number.filter(|&asn| asn != 0) else {
                    return Ok(None);
                };
                if let Some(name) = record.autonomous_system_organization.map(str::trim) {
                    if !name.is_empty() && names.get(&asn).map(String::as_str) != Some(name) {
                        names.insert(asn, name.to_string());
                    }
                }
                Ok(Some(asn))
            },
            |start, end, asn| ranges.insert(start, end, asn),
        )?;
        self.asns.push(ranges);
        Ok(self.finish(report))
    }

    /// Loads a file of any supported kind, telling the kind from its name
    /// (the names the tables are published under) or, failing that, from its
    /// content. The report says which kind it was read as.
    pub fn load_auto(&mut self, path: impl AsRef<Path>) -> Result<LoadReport, GeoError> {
        let path = path.as_ref();
        match detect_kind(path)? {
            SourceKind::RirDelegated => self.load_rir_delegated(path),
            SourceKind::IpLocationDbCountry => self.load_ip_location_db_country(path),
            SourceKind::IpLocationDbAsn => self.load_ip_location_db_asn(path),
            SourceKind::DbipCityRegions => self.load_dbip_city_regions(path),
            SourceKind::MmdbCountry => self.load_mmdb_country(path),
            SourceKind::MmdbAsn => self.load_mmdb_asn(path),
            SourceKind::Prefix2As => self.load_prefix2as(path),
            SourceKind::AsNames => self.load_as_names(path),
        }
    }

    /// The database. Country tables the files did not touch stay lazy.
    pub fn build(self) -> GeoDb {
        let GeoDbBuilder {
            base_embedded,
            countries,
            regions,
            asns,
            region_ids,
            as_names,
            ..
        } = self;
        let country_table = |layers: Vec<UnitRangeMap<CountryCode>>, family: Family| match (
            base_embedded,
            layers.is_empty(),
            family,
        ) {
            (true, true, Family::V4) => CountryTable::EmbeddedV4,
            (true, true, Family::V6) => CountryTable::EmbeddedV6,
            (true, false, Family::V4) => {
                CountryTable::Owned(FamilyLayers::flatten(layers, Some(embedded::v4_table())))
            }
            (true, false, Family::V6) => {
                CountryTable::Owned(FamilyLayers::flatten(layers, Some(embedded::v6_table())))
            }
            (false, _, _) => CountryTable::Owned(FamilyLayers::flatten(layers, None)),
        };
        GeoDb {
            countries_v4: country_table(countries.v4, Family::V4),
            countries_v6: country_table(countries.v6, Family::V6),
            regions_v4: FamilyLayers::flatten(regions.v4, None),
            regions_v6: FamilyLayers::flatten(regions.v6, None),
            region_ids,
            asns_v4: FamilyLayers::flatten(asns.v4, None),
            asns_v6: FamilyLayers::flatten(asns.v6, None),
            as_names,
        }
    }
}

fn gunzip_reader<'a>(
    reader: impl Read + 'a,
    source: &str,
) -> Result<Box<dyn BufRead + 'a>, GeoError> {
    maybe_gunzip(BufReader::new(reader)).map_err(|error| GeoError::Read {
        file: source.to_string(),
        line: 0,
        source: error,
    })
}

/// Walks every network of a MaxMind DB. `value_of` decodes a record (its
/// result is cached per record offset: many networks share one record);
/// `insert` receives each network's address range with its value.
fn load_mmdb<T: Copy>(
    bytes: Vec<u8>,
    source: &str,
    kind: SourceKind,
    mut value_of: impl FnMut(&maxminddb::LookupResult<'_, Vec<u8>>) -> Result<Option<T>, String>,
    mut insert: impl FnMut(IpAddr, IpAddr, T),
) -> Result<LoadReport, GeoError> {
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        MultiGzDecoder::new(bytes.as_slice())
            .read_to_end(&mut plain)
            .map_err(|error| GeoError::Read {
                file: source.to_string(),
                line: 0,
                source: error,
            })?;
        plain
    } else {
        bytes
    };
    let mmdb_error = |error: maxminddb::MaxMindDbError| GeoError::Mmdb {
        file: source.to_string(),
        message: error.to_string(),
    };
    let reader = maxminddb::Reader::from_source(bytes).map_err(mmdb_error)?;
    let mut report = LoadReport::new(source, kind);
    let mut cache: HashMap<usize, Result<Option<T>, String>> = HashMap::new();
    let networks = reader
        .networks(maxminddb::WithinOptions::default())
        .map_err(mmdb_error)?;
    for (index, item) in networks.enumerate() {
        let network_number = index + 1;
        let lookup = match item {
            Ok(lookup) => lookup,
            Err(error) => {
                report.malformed(
                    format_args!("network #{network_number}"),
                    &error.to_string(),
                );
                continue;
            }
        };
        let network = match lookup.network() {
            Ok(network) => network,
            Err(error) => {
                report.malformed(
                    format_args!("network #{network_number}"),
                    &error.to_string(),
                );
                continue;
            }
        };
        let value = match lookup.offset() {
            Some(offset) => match cache.get(&offset) {
                Some(value) => value.clone(),
                None => {
                    let value = value_of(&lookup);
                    cache.insert(offset, value.clone());
                    value
                }
            },
            None => Ok(None),
        };
        match value {
            Ok(Some(value)) => {
                report.rows_loaded += 1;
                insert(network.network(), network.broadcast(), value);
            }
            Ok(None) => report.rows_skipped += 1,
            Err(why) => report.malformed(format_args!("network {network}"), &why),
        }
    }
    Ok(report)
}

/// Tells a file's kind from its name, then from its content.
fn detect_kind(path: &Path) -> Result<SourceKind, GeoError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let mmdb_kind = || -> Result<SourceKind, GeoError> {
        let source = display_name(path);
        let bytes = read_all(open(path)?, &source)?;
        let reader = maxminddb::Reader::from_source(bytes).map_err(|error| GeoError::Mmdb {
            file: source,
            message: error.to_string(),
        })?;
        let database_type = reader.metadata().database_type.to_ascii_lowercase();
        Ok(if database_type.contains("asn") {
            SourceKind::MmdbAsn
        } else {
            SourceKind::MmdbCountry
        })
    };
    if name.contains(".mmdb") {
        return mmdb_kind();
    }
    let by_name = if name.contains("delegated") {
        Some(SourceKind::RirDelegated)
    } else if name.contains("asnames") || name.ends_with(".json") || name.ends_with(".json.gz") {
        Some(SourceKind::AsNames)
    } else if name.contains("ipasn") || name.contains("pfx2as") || name.contains("prefix2as") {
        Some(SourceKind::Prefix2As)
    } else if name.contains("city") {
        Some(SourceKind::DbipCityRegions)
    } else if name.contains("country") {
        // Before "asn": `geo-whois-asn-country` is a country table.
        Some(SourceKind::IpLocationDbCountry)
    } else if name.contains("asn") && name.contains(".csv") {
        Some(SourceKind::IpLocationDbAsn)
    } else {
        None
    };
    if let Some(kind) = by_name {
        return Ok(kind);
    }

    // By content: the first 64 KiB (decompressed), first meaningful line.
    let mut head = Vec::new();
    open(path)?
        .take(64 * 1024)
        .read_to_end(&mut head)
        .map_err(|source| GeoError::Read {
            file: display_name(path),
            line: 0,
            source,
        })?;
    if head.contains(&0) {
        return mmdb_kind();
    }
    let unknown = || GeoError::UnknownKind {
        path: path.to_path_buf(),
    };
    let text = String::from_utf8_lossy(&head);
    if text.trim_start().starts_with('{') {
        return Ok(SourceKind::AsNames);
    }
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with(';'))
        .ok_or_else(unknown)?;
    if line.matches('|').count() >= 5 {
        return Ok(SourceKind::RirDelegated);
    }
    if matches!(parse::prefix2as_line(line), Row::Load(_)) {
        return Ok(SourceKind::Prefix2As);
    }
    let fields: Vec<&str> = line.split(',').collect();
    match fields.len() {
        3 => Ok(SourceKind::IpLocationDbCountry),
        4 => Ok(SourceKind::IpLocationDbAsn),
        n if n >= 10 => Ok(SourceKind::DbipCityRegions),
        _ => Err(unknown()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_keeps_only_the_first_errors() {
        let mut report = LoadReport::new("f.csv", SourceKind::IpLocationDbCountry);
        for line in 1..=50 {
            report.malformed(line, "bad");
        }
        assert_eq!(report.rows_malformed, 50);
        assert_eq!(report.rows_skipped, 50);
        assert_eq!(report.first_errors.len(), MAX_REPORTED_ERRORS);
        assert_eq!(report.first_errors[0], "f.csv:1: bad");
    }

    #[test]
    fn later_layers_win_over_earlier_ones() {
        let mut builder = GeoDbBuilder::empty();
        builder
            .load_ip_location_db_country_from("1.0.0.0,1.0.3.255,AU\n".as_bytes(), "a")
            .unwrap();
        builder
            .load_ip_location_db_country_from("1.0.1.0,1.0.1.255,JP\n".as_bytes(), "b")
            .unwrap();
        let db = builder.build();
        let au = CountryCode::new("AU").unwrap();
        let jp = CountryCode::new("JP").unwrap();
        assert_eq!(db.country_of("1.0.0.1".parse().unwrap()), Some(au));
        assert_eq!(db.country_of("1.0.1.1".parse().unwrap()), Some(jp));
        assert_eq!(db.country_of("1.0.2.1".parse().unwrap()), Some(au));
        assert_eq!(db.country_of("1.0.4.1".parse().unwrap()), None);
    }
}
