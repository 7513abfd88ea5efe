//! From signal events to incidents: one incident per entity and period,
//! combining every signal, with its mechanism and scope.
//!
//! Rules (the accuracy document repeats them):
//! - signal events of one entity that overlap in time form one incident,
//!   dated by its decisive signals (those at least half as decisive,
//!   depth × confidence, as the strongest): it starts when half of them
//!   have fallen and ends when the lower median of them has recovered, so a
//!   less certain signal dipping early does not pull the onset back and a
//!   slow one (Google traffic comes every 30 minutes) does not stretch it;
//!   a signal votes on the end only if it was down for at least half of
//!   the time from the incident's start to its own recovery (one that fell
//!   days into a weeks-long outage saw an episode of it, not its end);
//! - mechanism: *routes withdrawn* when BGP lost at least half as much as
//!   the data plane (probing, telescope, traffic); *data-plane blocking* when
//!   BGP held or lost much less while the data plane fell (Kazakhstan 2022,
//!   Iran 2026-01-08); *throttling* when only traffic fell while
//!   reachability held, on two traffic measures or by at least half on
//!   one; *unknown* when the signals cannot tell (no BGP, a single
//!   family). A single series never gives a mechanism more than 30%
//!   confidence;
//! - one traffic measure dipping by less than half while reachability
//!   (probing or BGP) held is not an incident at all: weekends, holidays
//!   and nights take 20–40% off traffic, and a weekday the baseline has not
//!   learnt yet looks exactly like that; the signal's own event is kept;
//! - scope: from the affected ASes and regions and their share of the
//!   country's address space (an input), nationwide from half the space up;
//!   without a breakdown, an AS is a single network, a region regional, and a
//!   country nationwide when its reachability signals lost at least half.

use serde::{Deserialize, Serialize};
use vigie_model::{Entity, EntityKind, SeriesKey, SignalFamily, UnixSecs};

use crate::config::VigieConfig;
use crate::event::{DataGap, RestorationWindow, SignalDetection, SignalEvent};

/// How the outage was made, as far as the signals tell.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mechanism {
    /// The entity's routes disappeared from BGP.
    RoutesWithdrawn,
    /// Routes stayed up but packets stopped (probing, telescope or traffic fell).
    DataPlaneBlocking,
    /// Traffic fell partly while the entity stayed reachable.
    Throttling,
    /// The signals cannot tell.
    Unknown,
}

impl Mechanism {
    /// Stable name: `routes-withdrawn`, `data-plane-blocking`, `throttling`, `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::RoutesWithdrawn => "routes-withdrawn",
            Mechanism::DataPlaneBlocking => "data-plane-blocking",
            Mechanism::Throttling => "throttling",
            Mechanism::Unknown => "unknown",
        }
    }
}

/// How wide the outage is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Half or more of the country's address space.
    Nationwide,
    /// One or more regions, less than half the country.
    Regional,
    /// One network (AS).
    SingleNetwork,
    /// Several networks, less than half the country, not tied to regions.
    MultipleNetworks,
    /// Not enough information.
    Unknown,
}

impl Scope {
    /// Stable name.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Nationwide => "nationwide",
            Scope::Regional => "regional",
            Scope::SingleNetwork => "single-network",
            Scope::MultipleNetworks => "multiple-networks",
            Scope::Unknown => "unknown",
        }
    }
}

/// A part of a country affected by an incident, with its share of the
/// country's address space (0..1), as computed by the geo tables.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct AffectedShare {
    /// An AS or a region of the country.
    pub entity: Entity,
    /// Its share of the country's address space, 0..1.
    pub address_share: f64,
}

/// One outage of one entity, all signals combined.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct Incident {
    /// Whose outage.
    pub entity: Entity,
    /// First bin of the outage: when half of its signals had fallen (the
    /// lower median of their onsets).
    pub start: UnixSecs,
    /// First bin after it; `None` while ongoing.
    pub end: Option<UnixSecs>,
    /// The last time the signals were seen (the end of an ongoing incident's data).
    pub observed_until: UnixSecs,
    /// The largest fraction of a baseline lost among the signals.
    pub depth: f64,
    /// IODA's overall score: the product of the signals' alert areas.
    pub ioda_overall_score: f64,
    /// The signals' own events.
    pub signals: Vec<SignalEvent>,
    /// Times when service came back before being cut again.
    pub restorations: Vec<RestorationWindow>,
    /// How the outage was made.
    pub mechanism: Mechanism,
    /// 0..1.
    pub mechanism_confidence: f64,
    /// Why that mechanism, in numbers.
    pub mechanism_evidence: String,
    /// How wide.
    pub scope: Scope,
    /// Affected ASes and regions with their address-space share, when known.
    pub affected: Vec<AffectedShare>,
    /// Gaps in any of the entity's feeds during the incident.
    pub data_gaps: Vec<DataGap>,
    /// 0..1: how sure vigie is that this is an outage.
    pub confidence: f64,
}

impl Incident {
    /// Seconds from start to end (or to the last data while ongoing).
    pub fn duration_secs(&self) -> i64 {
        (self.end.unwrap_or(self.observed_until) - self.start).max(0)
    }

    /// `ended`, or, while it goes on, `ongoing` or, when one of its
    /// signals has stayed down past
    /// [`VigieConfig::sustained_after_secs`],
    /// `sustained drop, no recovery yet`.
    pub fn status(&self) -> &'static str {
        if self.end.is_some() {
            "ended"
        } else if self
            .signals
            .iter()
            .any(|e| e.end.is_none() && e.end_reason == crate::event::EndReason::Sustained)
        {
            crate::event::EndReason::Sustained.describe()
        } else {
            "ongoing"
        }
    }

    /// Records the affected parts and recomputes the scope.
    pub fn set_affected(&mut self, affected: Vec<AffectedShare>) {
        self.affected = affected;
        self.scope = classify_scope(&self.entity, self.reachability_depth(), &self.affected);
    }

    /// The depth of the reachability signals (BGP and probing), or of any
    /// signal when they did not fall.
    fn reachability_depth(&self) -> f64 {
        let reach = self
            .signals
            .iter()
            .filter(|e| {
                matches!(
                    e.key.signal.family(),
                    SignalFamily::Bgp | SignalFamily::Probing
                )
            })
            .map(|e| e.depth)
            .fold(f64::NAN, f64::max);
        if reach.is_nan() {
            self.depth
        } else {
            reach
        }
    }
}

/// Decides the scope of an incident of `entity` that lost `depth` of its
/// reachability, from the affected parts and their address-space shares.
pub fn classify_scope(entity: &Entity, depth: f64, affected: &[AffectedShare]) -> Scope {
    match entity {
        Entity::Asn(_) => Scope::SingleNetwork,
        Entity::Region(_) => Scope::Regional,
        Entity::Country(_) => {
            if affected.is_empty() {
                return if depth >= 0.5 {
                    Scope::Nationwide
                } else {
                    Scope::Unknown
                };
            }
            // Regions and ASes are two cuts of the same space: the share is
            // the larger of their sums, never their total.
            let share_of = |kind: EntityKind| {
                affected
                    .iter()
                    .filter(|a| a.entity.kind() == kind)
                    .map(|a| a.address_share.clamp(0.0, 1.0))
                    .sum::<f64>()
                    .min(1.0)
            };
            let share = share_of(EntityKind::Region).max(share_of(EntityKind::Asn));
            if share >= 0.5 {
                Scope::Nationwide
            } else if affected
                .iter()
                .any(|a| matches!(a.entity, Entity::Region(_)))
            {
                Scope::Regional
            } else if affected.len() == 1 {
                Scope::SingleNetwork
            } else {
                Scope::MultipleNetworks
            }
        }
    }
}

/// Fuses the detections of one entity's signals into incidents, oldest first.
///
/// Only the detections of `entity` and of connectivity-level signals count.
pub fn fuse(
    entity: &Entity,
    detections: &[SignalDetection],
    config: &VigieConfig,
) -> Vec<Incident> {
    let own: Vec<&SignalDetection> = detections
        .iter()
        .filter(|d| d.key.entity == *entity && d.key.signal.is_connectivity_level())
        .collect();
    let observed_until = own.iter().map(|d| d.end).max().unwrap_or(0);
    let mut members: Vec<(UnixSecs, UnixSecs, &SignalEvent, UnixSecs)> = Vec::new();
    for detection in &own {
        for event in &detection.events {
            members.push((
                event.start,
                event.end_or(detection.end),
                event,
                detection.end,
            ));
        }
    }
    members.sort_by_key(|m| (m.0, m.1));
    let mut groups: Vec<Vec<(UnixSecs, UnixSecs, &SignalEvent, UnixSecs)>> = Vec::new();
    let mut group_end = i64::MIN;
    for member in members {
        match groups.last_mut() {
            Some(group) if member.0 < group_end => {
                group_end = group_end.max(member.1);
                group.push(member);
            }
            _ => {
                group_end = member.1;
                groups.push(vec![member]);
            }
        }
    }
    groups
        .into_iter()
        .filter_map(|group| build_incident(entity, &group, &own, config, observed_until))
        .collect()
}

fn build_incident(
    entity: &Entity,
    group: &[(UnixSecs, UnixSecs, &SignalEvent, UnixSecs)],
    own: &[&SignalDetection],
    config: &VigieConfig,
    observed_until: UnixSecs,
) -> Option<Incident> {
    // The incident is dated by its decisive signals: those whose drop is
    // at least half as decisive (depth × confidence) as the deepest, most
    // certain one. It starts when half of them have fallen (the lower
    // median of their onsets: with one or two, the first), so a slow signal
    // falling later does not push the onset forward, while a noisy signal
    // that dips early, being less certain or alone, does not pull it back. It ends
    // when the lower median of them has recovered (with two, the first:
    // the fastest signal sees service back first; a signal whose data comes
    // every 30 minutes lags), an ongoing one counting as the latest.
    let strongest = group.iter().map(|m| decisiveness(m.2)).fold(0.0, f64::max);
    let mut decisive: Vec<&SignalEvent> = group
        .iter()
        .map(|m| m.2)
        .filter(|e| decisiveness(e) >= DECISIVE_SHARE * strongest)
        .collect();
    decisive.sort_by(|a, b| {
        decisiveness(b)
            .total_cmp(&decisiveness(a))
            .then(a.start.cmp(&b.start))
    });
    // One vote per signal: a signal whose outage came in several events
    // (a noisy count briefly back) spans from its first fall to its last
    // recovery, and is not counted once per piece.
    let mut spans: Vec<(&SeriesKey, UnixSecs, Option<UnixSecs>)> = Vec::new();
    for event in &decisive {
        match spans.iter_mut().find(|(key, _, _)| **key == event.key) {
            Some((_, start, end)) => {
                *start = (*start).min(event.start);
                *end = match (*end, event.end) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
            }
            None => spans.push((&event.key, event.start, event.end)),
        }
    }
    let mut starts: Vec<UnixSecs> = spans.iter().map(|s| s.1).collect();
    starts.sort_unstable();
    let start = starts
        .get(starts.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(group[0].0);
    // A signal votes on the end only if it was down for at least half of
    // the time from the incident's start to its own recovery: one that fell
    // days into a long outage and came back (a traffic measure catching up
    // with a BGP withdrawal held for weeks) saw an episode within it, not
    // its end.
    let voters: Vec<&(&SeriesKey, UnixSecs, Option<UnixSecs>)> = spans
        .iter()
        .filter(|(_, from, until)| until.is_none_or(|u| 2 * (u - from) >= u - start))
        .collect();
    let voters = if voters.is_empty() {
        spans.iter().collect()
    } else {
        voters
    };
    let mut ends: Vec<Option<UnixSecs>> = voters.iter().map(|s| s.2).collect();
    ends.sort_by_key(|e| e.unwrap_or(i64::MAX));
    let end = ends
        .get(ends.len().saturating_sub(1) / 2)
        .copied()
        .flatten()
        .filter(|e| *e > start);
    // Restoration windows from the decisive signal with the largest alert
    // area (the longest, deepest view of the outage).
    let most_decisive = decisive
        .iter()
        .copied()
        .max_by(|a, b| a.ioda_score.total_cmp(&b.ioda_score))
        .unwrap_or(decisive[0]);
    let span_end = end.unwrap_or(observed_until);
    let signals: Vec<SignalEvent> = group.iter().map(|m| m.2.clone()).collect();
    let depth = signals.iter().map(|e| e.depth).fold(0.0, f64::max);
    let ioda_overall_score = signals.iter().map(|e| e.ioda_score).product();
    let restorations: Vec<RestorationWindow> = most_decisive
        .restorations
        .iter()
        .filter(|w| w.start >= start && w.end <= span_end)
        .cloned()
        .collect();
    let data_gaps: Vec<DataGap> = own
        .iter()
        .flat_map(|d| d.gaps.iter())
        .filter(|g| g.start < span_end && g.end.unwrap_or(i64::MAX) > start)
        .cloned()
        .collect();
    let (mechanism, mut mechanism_confidence, mechanism_evidence) =
        classify_mechanism(&signals, own, start, span_end, config)?;
    // A mechanism needs two signals to tell it (one that fell, one that fell
    // or held); with a single series there is nothing to cross-check.
    if own.len() < 2 {
        mechanism_confidence = mechanism_confidence.min(SINGLE_SIGNAL_CONFIDENCE);
    }
    let evidence = 1.0 - signals.iter().map(|e| 1.0 - e.confidence).product::<f64>();
    let gapped = own
        .iter()
        .filter(|d| {
            d.gaps
                .iter()
                .any(|g| g.start < span_end && g.end.unwrap_or(i64::MAX) > start)
        })
        .count();
    let gap_penalty = if own.is_empty() {
        0.0
    } else {
        0.5 * gapped as f64 / own.len() as f64
    };
    let mut incident = Incident {
        entity: entity.clone(),
        start,
        end,
        observed_until,
        depth,
        ioda_overall_score,
        signals,
        restorations,
        mechanism,
        mechanism_confidence,
        mechanism_evidence,
        scope: Scope::Unknown,
        affected: Vec::new(),
        data_gaps,
        confidence: (evidence * (1.0 - gap_penalty)).clamp(0.0, 1.0),
    };
    incident.scope = classify_scope(entity, incident.reachability_depth(), &[]);
    Some(incident)
}

/// A signal is one of an incident's decisive signals when its drop is at
/// least this share as decisive as the strongest one's.
const DECISIVE_SHARE: f64 = 0.5;

/// How decisive a signal's event is: its depth times its confidence.
fn decisiveness(event: &SignalEvent) -> f64 {
    let value = event.depth.max(0.0) * event.confidence;
    if value.is_finite() {
        value
    } else {
        0.0
    }
}

/// The mechanism rules of the module documentation; `None` when the
/// signals say the drop is a traffic pattern, not an incident (one traffic
/// measure dipping less than half while reachability held).
fn classify_mechanism(
    members: &[SignalEvent],
    own: &[&SignalDetection],
    start: UnixSecs,
    end: UnixSecs,
    config: &VigieConfig,
) -> Option<(Mechanism, f64, String)> {
    let deepest = |family: SignalFamily| {
        members
            .iter()
            .filter(|e| e.key.signal.family() == family)
            .map(|e| e.depth)
            .fold(f64::NAN, f64::max)
    };
    let mean_of = |family: SignalFamily| {
        own.iter()
            .filter(|d| d.key.signal.family() == family)
            .filter_map(|d| d.mean_depth(start, end))
            .fold(f64::NAN, f64::max)
    };
    let bgp_event = deepest(SignalFamily::Bgp);
    let bgp_mean = mean_of(SignalFamily::Bgp);
    let probing = deepest(SignalFamily::Probing);
    let telescope = deepest(SignalFamily::Telescope);
    let traffic = deepest(SignalFamily::Traffic);
    let data_plane = [probing, telescope, traffic]
        .into_iter()
        .filter(|d| !d.is_nan())
        .fold(f64::NAN, f64::max);
    // What each signal family the entity has said, in words: the deepest
    // loss of its alerts, or that it stayed normal; families without data
    // are left out rather than written as zero.
    let has = |family: SignalFamily| own.iter().any(|d| d.key.signal.family() == family);
    let mut said: Vec<String> = Vec::new();
    if has(SignalFamily::Bgp) {
        said.push(if bgp_event.is_nan() {
            format!(
                "BGP routes stayed visible ({:.0}% of the space lost on average)",
                if bgp_mean.is_nan() {
                    0.0
                } else {
                    bgp_mean * 100.0
                }
            )
        } else {
            format!(
                "BGP {:.0}% of the visible space lost ({:.0}% on average)",
                bgp_event * 100.0,
                if bgp_mean.is_nan() {
                    0.0
                } else {
                    bgp_mean * 100.0
                }
            )
        });
    }
    for (family, name) in [
        (SignalFamily::Probing, "probing"),
        (SignalFamily::Telescope, "telescope"),
        (SignalFamily::Traffic, "traffic"),
    ] {
        if has(family) {
            let depth = deepest(family);
            said.push(if depth.is_nan() {
                format!("{name} normal")
            } else {
                format!("{name} {:.0}% lost", depth * 100.0)
            });
        }
    }
    let evidence = said.join("; ");
    if !bgp_event.is_nan() {
        if data_plane.is_nan() || data_plane <= 0.0 {
            let reachability_held = !mean_of(SignalFamily::Probing).is_nan()
                && mean_of(SignalFamily::Probing) < config.min_depth.probing;
            let confidence = if reachability_held { 0.4 } else { 0.7 };
            return Some((Mechanism::RoutesWithdrawn, confidence, evidence));
        }
        let ratio = (bgp_event / data_plane).clamp(0.0, 1.0);
        return Some(if ratio >= 0.5 {
            (Mechanism::RoutesWithdrawn, ratio, evidence)
        } else {
            (Mechanism::DataPlaneBlocking, 1.0 - ratio, evidence)
        });
    }
    let bgp_steady = !bgp_mean.is_nan() && bgp_mean < 0.05;
    let blocked_plane = [probing, telescope]
        .into_iter()
        .filter(|d| !d.is_nan())
        .fold(f64::NAN, f64::max);
    if !blocked_plane.is_nan() {
        if bgp_steady {
            let confidence = (1.0 - bgp_mean.max(0.0) / blocked_plane).clamp(0.0, 1.0);
            return Some((Mechanism::DataPlaneBlocking, confidence, evidence));
        }
        return Some((Mechanism::Unknown, 0.0, evidence));
    }
    if !traffic.is_nan() {
        let probing_mean = mean_of(SignalFamily::Probing);
        let probing_held = !probing_mean.is_nan() && probing_mean < config.min_depth.probing;
        // How many traffic measures fell (bytes, packets, flows, requests,
        // Google…): one measure alone may be a pattern the baseline has not
        // learnt yet (a weekend, a holiday), so it takes depth to claim more.
        let traffic_measures = members
            .iter()
            .filter(|e| e.key.signal.family() == SignalFamily::Traffic)
            .map(|e| e.key.signal)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        if traffic >= 0.8 && bgp_steady {
            return Some((Mechanism::DataPlaneBlocking, 0.6, evidence));
        }
        if probing_held || bgp_steady {
            if traffic_measures >= 2 || traffic >= THROTTLING_SINGLE_MEASURE_DEPTH {
                let mut confidence: f64 = 0.5;
                if traffic_measures >= 2 {
                    confidence += 0.2;
                }
                if probing_held && bgp_steady {
                    confidence += 0.1;
                }
                return Some((Mechanism::Throttling, confidence.min(0.85), evidence));
            }
            return None;
        }
    }
    Some((Mechanism::Unknown, 0.0, evidence))
}

/// One traffic measure alone must lose at least this share to be called
/// throttling: deeper than weekly and daily patterns of traffic go
/// (weekends and nights take 20–40%), so only a cut explains it.
const THROTTLING_SINGLE_MEASURE_DEPTH: f64 = 0.5;

/// The most confidence a mechanism gets when a single signal tells it:
/// one series alone can always be its own artefact.
const SINGLE_SIGNAL_CONFIDENCE: f64 = 0.3;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EndReason;
    use vigie_model::{SeriesKey, SignalKind};

    fn event(signal: SignalKind, start: i64, end: Option<i64>, depth: f64) -> SignalEvent {
        SignalEvent {
            key: SeriesKey {
                entity: "KZ".parse().unwrap(),
                signal,
            },
            start,
            end,
            end_reason: EndReason::Recovered,
            depth,
            max_depth: depth,
            baseline: 100.0,
            ioda_score: depth * 100.0,
            restorations: Vec::new(),
            gap_bins: 0,
            bins: 10,
            evidence: 10.0,
            confidence: 0.8,
        }
    }

    fn detection(signal: SignalKind, events: Vec<SignalEvent>, depth: f32) -> SignalDetection {
        SignalDetection {
            key: SeriesKey {
                entity: "KZ".parse().unwrap(),
                signal,
            },
            bin_secs: 300,
            start: 0,
            end: 30_000,
            events,
            gaps: Vec::new(),
            depths: vec![Some(depth); 100],
        }
    }

    #[test]
    fn bgp_steady_while_probing_falls_is_data_plane_blocking() {
        let kz: Entity = "KZ".parse().unwrap();
        let detections = vec![
            detection(SignalKind::BgpVisibleSlash24s, Vec::new(), 0.0),
            detection(
                SignalKind::ProbeUpSlash24s,
                vec![event(SignalKind::ProbeUpSlash24s, 3000, Some(9000), 0.9)],
                0.3,
            ),
            detection(
                SignalKind::GoogleTraffic,
                vec![event(SignalKind::GoogleTraffic, 3300, Some(9600), 0.7)],
                0.3,
            ),
        ];
        let incidents = fuse(&kz, &detections, &VigieConfig::default());
        assert_eq!(incidents.len(), 1);
        let incident = &incidents[0];
        // Dated by the decisive signal, probing (deepest, as certain).
        assert_eq!(incident.start, 3000);
        assert_eq!(incident.end, Some(9000));
        assert_eq!(incident.mechanism, Mechanism::DataPlaneBlocking);
        assert!(incident.mechanism_confidence > 0.9);
        assert_eq!(incident.scope, Scope::Nationwide);
        assert_eq!(incident.signals.len(), 2);
        // The evidence in words; no telescope series, so no telescope word.
        assert_eq!(
            incident.mechanism_evidence,
            "BGP routes stayed visible (0% of the space lost on average); probing 90% lost; traffic 70% lost"
        );
    }

    #[test]
    fn bgp_falling_as_much_as_the_data_plane_is_routes_withdrawn() {
        let kz: Entity = "KZ".parse().unwrap();
        let detections = vec![
            detection(
                SignalKind::BgpVisibleSlash24s,
                vec![event(SignalKind::BgpVisibleSlash24s, 3000, Some(9000), 0.8)],
                0.8,
            ),
            detection(
                SignalKind::ProbeUpSlash24s,
                vec![event(SignalKind::ProbeUpSlash24s, 3000, Some(9000), 0.9)],
                0.9,
            ),
        ];
        let incidents = fuse(&kz, &detections, &VigieConfig::default());
        assert_eq!(incidents[0].mechanism, Mechanism::RoutesWithdrawn);
    }

    #[test]
    fn partial_traffic_drop_with_reachability_is_throttling() {
        let kz: Entity = "KZ".parse().unwrap();
        let detections = vec![
            detection(SignalKind::BgpVisibleSlash24s, Vec::new(), 0.0),
            detection(SignalKind::ProbeUpSlash24s, Vec::new(), 0.02),
            detection(
                SignalKind::HttpRequests,
                vec![event(SignalKind::HttpRequests, 3000, None, 0.5)],
                0.5,
            ),
        ];
        let incidents = fuse(&kz, &detections, &VigieConfig::default());
        assert_eq!(incidents[0].mechanism, Mechanism::Throttling);
        assert_eq!(incidents[0].end, None);
    }

    #[test]
    fn one_early_noisy_signal_does_not_pull_the_onset_back() {
        let kz: Entity = "KZ".parse().unwrap();
        let noisy = SignalEvent {
            confidence: 0.3,
            ..event(SignalKind::FlowsTo, 2400, Some(9000), 0.3)
        };
        let detections = vec![
            detection(SignalKind::FlowsTo, vec![noisy], 0.3),
            detection(
                SignalKind::FlowBytesTo,
                vec![event(SignalKind::FlowBytesTo, 3000, Some(9000), 0.3)],
                0.3,
            ),
            detection(
                SignalKind::ProbeUpSlash24s,
                vec![event(SignalKind::ProbeUpSlash24s, 3300, Some(9300), 0.3)],
                0.3,
            ),
        ];
        let incidents = fuse(&kz, &detections, &VigieConfig::default());
        assert_eq!(incidents.len(), 1);
        // The early flows are less certain: the incident starts with the
        // first of the two equally decisive signals.
        assert_eq!(incidents[0].start, 3000);
        assert_eq!(incidents[0].end, Some(9000));
    }

    #[test]
    fn a_signal_in_pieces_has_one_vote_on_the_end() {
        let kz: Entity = "KZ".parse().unwrap();
        // The telescope's low counts come briefly back twice; probing and
        // traffic stay down until 20000. Counted per piece, the telescope
        // held two of four votes and ended the incident at 9000.
        let detections = vec![
            detection(
                SignalKind::TelescopeUniqueSources,
                vec![
                    event(SignalKind::TelescopeUniqueSources, 3000, Some(6000), 0.9),
                    event(SignalKind::TelescopeUniqueSources, 6600, Some(9000), 0.9),
                ],
                0.9,
            ),
            detection(
                SignalKind::ProbeUpSlash24s,
                vec![event(SignalKind::ProbeUpSlash24s, 3000, Some(20_000), 0.9)],
                0.9,
            ),
            detection(
                SignalKind::GoogleTraffic,
                vec![event(SignalKind::GoogleTraffic, 3000, Some(20_000), 0.9)],
                0.9,
            ),
        ];
        let incidents = fuse(&kz, &detections, &VigieConfig::default());
        assert_eq!(incidents.len(), 1);
        assert_eq!(incidents[0].start, 3000);
        assert_eq!(incidents[0].end, Some(20_000));
    }

    #[test]
    fn a_signal_that_fell_days_into_a_long_outage_does_not_end_it() {
        let kz: Entity = "KZ".parse().unwrap();
        // BGP withdrawn for 45 days; traffic found its own fall only 12
        // days in, for two days. With two votes the first recovery ended
        // the incident after 14 days.
        let day = 86_400;
        let detections = vec![
            detection(
                SignalKind::BgpVisibleSlash24s,
                vec![event(
                    SignalKind::BgpVisibleSlash24s,
                    0,
                    Some(45 * day),
                    0.5,
                )],
                0.5,
            ),
            detection(
                SignalKind::GoogleTraffic,
                vec![event(
                    SignalKind::GoogleTraffic,
                    12 * day,
                    Some(14 * day),
                    0.4,
                )],
                0.4,
            ),
        ];
        let incidents = fuse(&kz, &detections, &VigieConfig::default());
        assert_eq!(incidents.len(), 1);
        assert_eq!(incidents[0].start, 0);
        assert_eq!(incidents[0].end, Some(45 * day));
    }

    #[test]
    fn the_deepest_surest_fall_dates_the_incident() {
        let kz: Entity = "KZ".parse().unwrap();
        // Probing collapses at 3000; BGP loses a little, later.
        let detections = vec![
            detection(
                SignalKind::BgpVisibleSlash24s,
                vec![event(SignalKind::BgpVisibleSlash24s, 5400, Some(8000), 0.1)],
                0.05,
            ),
            detection(
                SignalKind::ProbeUpSlash24s,
                vec![event(SignalKind::ProbeUpSlash24s, 3000, None, 0.96)],
                0.9,
            ),
        ];
        let incidents = fuse(&kz, &detections, &VigieConfig::default());
        assert_eq!(incidents.len(), 1);
        assert_eq!(incidents[0].start, 3000);
        assert_eq!(incidents[0].end, None);
        assert_eq!(incidents[0].mechanism, Mechanism::DataPlaneBlocking);
    }

    #[test]
    fn one_traffic_measure_alone_is_not_throttling_unless_deep() {
        let kz: Entity = "KZ".parse().unwrap();
        let with = |depth: f64| {
            vec![
                detection(SignalKind::BgpVisibleSlash24s, Vec::new(), 0.0),
                detection(SignalKind::ProbeUpSlash24s, Vec::new(), 0.02),
                detection(
                    SignalKind::GoogleTraffic,
                    vec![event(SignalKind::GoogleTraffic, 3000, Some(6000), depth)],
                    depth as f32,
                ),
            ]
        };
        // A shallow dip of one measure while reachability held is a
        // traffic pattern (an unlearnt weekend), not an incident.
        assert!(fuse(&kz, &with(0.3), &VigieConfig::default()).is_empty());
        let deep = fuse(&kz, &with(0.6), &VigieConfig::default());
        assert_eq!(deep[0].mechanism, Mechanism::Throttling);
        assert!(deep[0].mechanism_confidence <= 0.6);
        // A single series: whatever it says, low confidence.
        let alone = fuse(&kz, &with(0.6)[2..], &VigieConfig::default());
        assert!(alone[0].mechanism_confidence <= 0.3);
    }

    #[test]
    fn scope_from_address_shares() {
        let kz: Entity = "KZ".parse().unwrap();
        let share = |e: &str, s: f64| AffectedShare {
            entity: e.parse().unwrap(),
            address_share: s,
        };
        assert_eq!(
            classify_scope(&kz, 0.9, &[share("AS9198", 0.6)]),
            Scope::Nationwide
        );
        assert_eq!(
            classify_scope(&kz, 0.2, &[share("AS9198", 0.1)]),
            Scope::SingleNetwork
        );
        assert_eq!(
            classify_scope(&kz, 0.2, &[share("AS9198", 0.1), share("AS48503", 0.1)]),
            Scope::MultipleNetworks
        );
        assert_eq!(
            classify_scope(&kz, 0.2, &[share("KZ/Almaty", 0.2)]),
            Scope::Regional
        );
        assert_eq!(classify_scope(&kz, 0.2, &[]), Scope::Unknown);
        // Regions and ASes cut the same space: 0.3 + 0.3 is not 0.6.
        assert_eq!(
            classify_scope(&kz, 0.3, &[share("KZ/Almaty", 0.3), share("AS9198", 0.3)]),
            Scope::Regional
        );
        assert_eq!(
            classify_scope(&kz, 0.3, &[share("KZ/Almaty", 0.3), share("AS9198", 0.6)]),
            Scope::Nationwide
        );
        assert_eq!(
            classify_scope(&"AS9198".parse().unwrap(), 0.9, &[]),
            Scope::SingleNetwork
        );
    }
}
