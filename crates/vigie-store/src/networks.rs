//! Which ASes originate address space in which country: the link between
//! AS entities and country entities, taken from the routing table.

use rusqlite::params;
use serde::{Deserialize, Serialize};
use vigie_model::{CountryCode, UnixSecs};

use crate::error::sql_error;
use crate::sqlite::SqliteStore;
use crate::StoreError;

/// The address space one AS originates in one country.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsCountrySpace {
    /// The origin AS.
    pub asn: u32,
    /// The country geo places the space in.
    pub country: CountryCode,
    /// Visible IPv4 /24s.
    pub units_v4: u64,
    /// Visible IPv6 /48s.
    pub units_v6: u64,
    /// When the routing table showed it (UTC).
    pub observed_at: UnixSecs,
}

impl SqliteStore {
    pub(crate) fn replace_as_countries(
        &mut self,
        rows: &[AsCountrySpace],
    ) -> Result<(), StoreError> {
        let label = self.label().to_string();
        let tx = self
            .connection()
            .unchecked_transaction()
            .map_err(sql_error(&label, "starting to store AS countries"))?;
        tx.execute("DELETE FROM as_countries", [])
            .map_err(sql_error(&label, "replacing AS countries"))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO as_countries (asn, country, units_v4, units_v6, observed_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (country, asn) DO UPDATE SET
                       units_v4 = units_v4 + excluded.units_v4,
                       units_v6 = units_v6 + excluded.units_v6",
                )
                .map_err(sql_error(&label, "storing AS countries"))?;
            for row in rows {
                stmt.execute(params![
                    row.asn,
                    row.country.as_str(),
                    i64::try_from(row.units_v4).unwrap_or(i64::MAX),
                    i64::try_from(row.units_v6).unwrap_or(i64::MAX),
                    row.observed_at
                ])
                .map_err(sql_error(&label, "storing AS countries"))?;
            }
        }
        tx.commit()
            .map_err(sql_error(&label, "committing AS countries"))
    }

    pub(crate) fn as_countries(
        &self,
        country: Option<CountryCode>,
        asn: Option<u32>,
    ) -> Result<Vec<AsCountrySpace>, StoreError> {
        let label = self.label();
        let context = "reading AS countries";
        let mut stmt = self
            .connection()
            .prepare_cached(
                "SELECT asn, country, units_v4, units_v6, observed_at FROM as_countries
                 WHERE (?1 IS NULL OR country = ?1) AND (?2 IS NULL OR asn = ?2)
                 ORDER BY country, units_v4 DESC, units_v6 DESC, asn",
            )
            .map_err(sql_error(label, context))?;
        let rows = stmt
            .query_map(
                params![country.map(|c| c.as_str().to_string()), asn],
                |row| {
                    let code: String = row.get(1)?;
                    let v4: i64 = row.get(2)?;
                    let v6: i64 = row.get(3)?;
                    Ok(CountryCode::new(&code).ok().map(|country| AsCountrySpace {
                        asn: row.get(0).unwrap_or(0),
                        country,
                        units_v4: u64::try_from(v4).unwrap_or(0),
                        units_v6: u64::try_from(v6).unwrap_or(0),
                        observed_at: row.get(4).unwrap_or(0),
                    }))
                },
            )
            .map_err(sql_error(label, context))?;
        let mut out = Vec::new();
        for row in rows {
            if let Some(space) = row.map_err(sql_error(label, context))? {
                out.push(space);
            }
        }
        Ok(out)
    }
}
