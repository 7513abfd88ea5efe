//! From block states to the signal: the number of /24 blocks UP per entity
//! (IODA's `ping-slash24`), written bin by bin to a [`BinSink`]. The
//! per-block state changes of each round ([`crate::RoundReport::changes`])
//! are the caller's to log.

use std::collections::BTreeMap;

use vigie_geo::{Family, GeoDb};
use vigie_model::{
    BinSink, BinSize, Entity, SeriesKey, SignalBin, SignalKind, SinkError, UnixSecs,
};

use crate::belief::BlockState;
use crate::list::ProbeList;

/// The number of UP blocks per country, AS and region for one bin, as
/// `(series, value)` pairs.
///
/// `states` gives, for each block of `list` in order, its state and whether
/// the last round measured it. An entity's value is `None` ("no data") when
/// none of its blocks was measured, e.g. when the vantage point was cut off;
/// otherwise the count of its UP blocks (0 included). Blocks the geo
/// database cannot place are counted for no entity.
pub fn up_counts(
    list: &ProbeList,
    states: impl IntoIterator<Item = (BlockState, bool)>,
    geo: &GeoDb,
) -> Vec<(SeriesKey, Option<f64>)> {
    let mut counts: BTreeMap<Entity, (u64, bool)> = BTreeMap::new();
    for (block, (state, measured)) in list.blocks().iter().zip(states) {
        let unit = block.unit();
        let mut add = |entity: Entity| {
            let entry = counts.entry(entity).or_insert((0, false));
            entry.0 += u64::from(state == BlockState::Up);
            entry.1 |= measured;
        };
        if let Some(country) = geo.country_of_unit(Family::V4, unit) {
            add(Entity::Country(country));
        }
        if let Some(asn) = geo.asn_of_unit(Family::V4, unit) {
            add(Entity::Asn(asn));
        }
        if let Some(region) = geo.region_of_unit(Family::V4, unit) {
            add(Entity::Region(region.clone()));
        }
    }
    counts
        .into_iter()
        .map(|(entity, (up, measured))| {
            let key = SeriesKey {
                entity,
                signal: SignalKind::ProbeUpSlash24s,
            };
            (key, measured.then_some(up as f64))
        })
        .collect()
}

/// Writes each round's values as bins: a round's counts hold until the
/// next round, so every bin from the one after the last written (or the
/// round's first) to the current one gets them, at most an hour of them.
#[derive(Debug)]
pub struct RoundBins {
    bin: BinSize,
    last_bin: Option<UnixSecs>,
}

impl RoundBins {
    /// No bin written yet; bins of width `bin`.
    pub fn new(bin: BinSize) -> Self {
        RoundBins {
            bin,
            last_bin: None,
        }
    }

    /// Writes `values`, the counts of the round that ran from
    /// `round_start` to `now`, to `sink`.
    pub fn write(
        &mut self,
        sink: &mut dyn BinSink,
        round_start: UnixSecs,
        now: UnixSecs,
        values: Vec<(SeriesKey, Option<f64>)>,
    ) -> Result<(), SinkError> {
        let step = i64::from(self.bin.secs());
        let current = self.bin.floor(now);
        let next = match self.last_bin {
            Some(last) => last + step,
            None => self.bin.floor(round_start),
        };
        let mut bin = SignalBin {
            bin: self.bin,
            bin_start: next.max(current - 12 * step),
            values,
        };
        while bin.bin_start <= current {
            sink.write(&bin)?;
            bin.bin_start += step;
        }
        self.last_bin = Some(current);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::list::{Eligibility, ListBuilder};
    use vigie_geo::GeoDbBuilder;
    use vigie_model::CountryCode;

    #[test]
    fn counts_up_blocks_per_country_and_as() {
        let mut geo = GeoDbBuilder::empty();
        geo.load_ip_location_db_country_from(
            "198.18.0.0,198.18.1.255,KZ\n198.18.2.0,198.18.2.255,KG\n".as_bytes(),
            "countries.csv",
        )
        .unwrap();
        geo.load_ip_location_db_asn_from(
            "198.18.0.0,198.18.0.255,9198,Kazakhtelecom\n".as_bytes(),
            "asn.csv",
        )
        .unwrap();
        let geo = geo.build();
        let mut builder = ListBuilder::new();
        for b in 0..4u8 {
            builder.add(Ipv4Addr::new(198, 18, b, 1), 1.0);
        }
        let list = builder.build(&Eligibility {
            min_responsive: 1,
            ..Eligibility::default()
        });
        let states = [
            (BlockState::Up, true),        // 198.18.0 KZ AS9198
            (BlockState::Down, true),      // 198.18.1 KZ
            (BlockState::Up, false),       // 198.18.2 KG, not measured
            (BlockState::Uncertain, true), // 198.18.3 nowhere
        ];
        let values = up_counts(&list, states, &geo);
        let kz = Entity::Country(CountryCode::new("KZ").unwrap());
        let kg = Entity::Country(CountryCode::new("KG").unwrap());
        let get = |e: &Entity| values.iter().find(|(k, _)| &k.entity == e).map(|(_, v)| *v);
        assert_eq!(values.len(), 3);
        assert_eq!(get(&kz), Some(Some(1.0)));
        assert_eq!(get(&kg), Some(None));
        assert_eq!(get(&Entity::Asn(9198)), Some(Some(1.0)));
        assert!(values
            .iter()
            .all(|(k, _)| k.signal == SignalKind::ProbeUpSlash24s));
    }

    #[test]
    fn a_round_fills_the_bins_since_the_last_one_up_to_an_hour() {
        let key = SeriesKey {
            entity: Entity::Country(CountryCode::new("KZ").unwrap()),
            signal: SignalKind::ProbeUpSlash24s,
        };
        let values = vec![(key, Some(3.0))];
        let mut rounds = RoundBins::new(BinSize::FIVE_MINUTES);
        let mut bins: Vec<SignalBin> = Vec::new();
        rounds.write(&mut bins, 590, 610, values.clone()).unwrap();
        rounds
            .write(&mut bins, 1_190, 1_210, values.clone())
            .unwrap();
        let starts: Vec<UnixSecs> = bins.iter().map(|b| b.bin_start).collect();
        assert_eq!(starts, [300, 600, 900, 1_200]);
        bins.clear();
        rounds.write(&mut bins, 9_000, 9_010, values).unwrap();
        assert_eq!(bins.len(), 13, "at most an hour of carried state");
        assert_eq!(bins[0].bin_start, 9_000 - 12 * 300);
        assert!(bins.iter().all(|b| b.values[0].1 == Some(3.0)));
    }
}
