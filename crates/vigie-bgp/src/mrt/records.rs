//! From bgpkit-parser's MRT records to vigie's route events.
//!
//! Handles TABLE_DUMP (v1, including batched legacy records), TABLE_DUMP_V2
//! (with add-path RIB subtypes), BGP4MP and BGP4MP_ET (AS2/AS4, add-path,
//! MP_REACH/MP_UNREACH), the deprecated MRT type 5, and session state changes.
//! Multicast routes are decoded too (flagged `unicast: false`) so the decoder
//! can be checked against other tools; only unicast routes count.

use std::borrow::Cow;
use std::net::IpAddr;

use bgpkit_parser::models::{
    AsPath, AsPathSegment, AttributeValue, Attributes, Bgp4MpEnum, BgpMessage, BgpState,
    BgpUpdateMessage, LegacyBgp, MrtMessage, MrtRecord, NetworkPrefix, PeerIndexTable, Safi,
    TableDumpMessage, TableDumpV2Message, TableDumpV2Type,
};
use ipnet::IpNet;

/// What a route event says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteAction {
    /// A RIB dump entry: the peer had this route when the dump was taken.
    RibEntry,
    /// An announcement in an update.
    Announce,
    /// A withdrawal in an update.
    Withdraw,
}

/// One route event, borrowed from a decoded record.
#[derive(Clone, Debug)]
pub struct RouteEvent<'a> {
    /// The record's time (UTC seconds).
    pub time: u32,
    /// What happened.
    pub action: RouteAction,
    /// The collector peer's address.
    pub peer_ip: IpAddr,
    /// The collector peer's AS.
    pub peer_asn: u32,
    /// The prefix.
    pub prefix: IpNet,
    /// The add-path path identifier, if any.
    pub path_id: Option<u32>,
    /// The AS path (AS_PATH merged with AS4_PATH); `None` for withdrawals.
    pub as_path: Option<&'a AsPath>,
    /// False for multicast routes, which never count toward visibility.
    pub unicast: bool,
}

/// A session state change of a collector peer.
#[derive(Clone, Debug)]
pub struct PeerStateEvent {
    /// The record's time (UTC seconds).
    pub time: u32,
    /// The collector peer's address.
    pub peer_ip: IpAddr,
    /// The collector peer's AS.
    pub peer_asn: u32,
    /// State before.
    pub old_state: BgpState,
    /// State after.
    pub new_state: BgpState,
}

impl PeerStateEvent {
    /// Whether the session left the Established state, which drops its routes.
    pub fn is_session_down(&self) -> bool {
        self.old_state == BgpState::Established && self.new_state != BgpState::Established
    }
}

/// What kind of data a record carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordClass {
    /// Part of a RIB dump (TABLE_DUMP, TABLE_DUMP_V2).
    RibDump,
    /// An update or state change (BGP4MP, type 5).
    Update,
    /// Nothing vigie uses (OPEN, KEEPALIVE, unsupported subtypes).
    Other,
}

/// Why a record could not be turned into events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeIssue {
    /// A TABLE_DUMP_V2 RIB record came before any PEER_INDEX_TABLE.
    MissingPeerIndexTable,
    /// A RIB entry names a peer index the table does not have.
    UnknownPeerIndex(u16),
}

impl std::fmt::Display for DecodeIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeIssue::MissingPeerIndexTable => {
                write!(f, "TABLE_DUMP_V2 RIB record before any PEER_INDEX_TABLE")
            }
            DecodeIssue::UnknownPeerIndex(i) => write!(f, "RIB entry names unknown peer index {i}"),
        }
    }
}

/// Turns records into events, remembering the PEER_INDEX_TABLE of a RIB dump.
#[derive(Default)]
pub struct RecordDecoder {
    peer_table: Option<PeerIndexTable>,
}

/// The origin AS of a path, with AS_SET handled: the last AS of a final
/// AS_SEQUENCE; for a final AS_SET of one AS, that AS; for a larger AS_SET
/// (an aggregate), the AS that aggregated it, i.e. the last AS before the set,
/// or the lowest AS in the set when nothing precedes it. Confederation
/// segments are skipped.
pub fn origin_asn(path: &AsPath) -> Option<u32> {
    let mut segments = path
        .segments
        .iter()
        .rev()
        .filter(|s| matches!(s, AsPathSegment::AsSequence(_) | AsPathSegment::AsSet(_)));
    match segments.next()? {
        AsPathSegment::AsSequence(asns) => asns.last().map(|a| a.to_u32()),
        AsPathSegment::AsSet(asns) if asns.len() == 1 => Some(asns[0].to_u32()),
        AsPathSegment::AsSet(asns) => {
            let before = segments.find_map(|s| match s {
                AsPathSegment::AsSequence(v) => v.last().map(|a| a.to_u32()),
                _ => None,
            });
            before.or_else(|| asns.iter().map(|a| a.to_u32()).min())
        }
        _ => None,
    }
}

fn merged_path(attributes: &Attributes) -> Option<Cow<'_, AsPath>> {
    let mut as_path = None;
    let mut as4_path = None;
    for value in attributes.iter() {
        match value {
            AttributeValue::AsPath(p) => as_path = Some(p),
            AttributeValue::As4Path(p) => as4_path = Some(p),
            _ => {}
        }
    }
    match (as_path, as4_path) {
        (Some(p), Some(p4)) => Some(Cow::Owned(AsPath::merge_aspath_as4path(p, p4))),
        (Some(p), None) | (None, Some(p)) => Some(Cow::Borrowed(p)),
        (None, None) => None,
    }
}

impl RecordDecoder {
    /// A decoder with no peer table yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls `on_route` for every route in `record` and `on_state` for state
    /// changes, and says what kind of record it was.
    pub fn decode(
        &mut self,
        record: &MrtRecord,
        mut on_route: impl FnMut(&RouteEvent<'_>),
        mut on_state: impl FnMut(&PeerStateEvent),
    ) -> Result<RecordClass, DecodeIssue> {
        let time = record.common_header.timestamp;
        match &record.message {
            MrtMessage::TableDumpMessage(entry) => {
                table_dump_entry(time, entry, &mut on_route);
                Ok(RecordClass::RibDump)
            }
            MrtMessage::TableDumpMessageBatch(entries) => {
                for entry in entries {
                    table_dump_entry(time, entry, &mut on_route);
                }
                Ok(RecordClass::RibDump)
            }
            MrtMessage::TableDumpV2Message(TableDumpV2Message::PeerIndexTable(table)) => {
                self.peer_table = Some(table.clone());
                Ok(RecordClass::RibDump)
            }
            MrtMessage::TableDumpV2Message(TableDumpV2Message::RibAfi(rib)) => {
                let unicast = matches!(
                    rib.rib_type,
                    TableDumpV2Type::RibIpv4Unicast
                        | TableDumpV2Type::RibIpv6Unicast
                        | TableDumpV2Type::RibIpv4UnicastAddPath
                        | TableDumpV2Type::RibIpv6UnicastAddPath
                );
                let table = self
                    .peer_table
                    .as_ref()
                    .ok_or(DecodeIssue::MissingPeerIndexTable)?;
                let mut unknown = None;
                for entry in &rib.rib_entries {
                    let Some(peer) = table.id_peer_map.get(&entry.peer_index) else {
                        unknown = Some(entry.peer_index);
                        continue;
                    };
                    let path = merged_path(&entry.attributes);
                    on_route(&RouteEvent {
                        time,
                        action: RouteAction::RibEntry,
                        peer_ip: peer.peer_ip,
                        peer_asn: peer.peer_asn.to_u32(),
                        prefix: rib.prefix.prefix,
                        path_id: entry.path_id.or(rib.prefix.path_id),
                        as_path: path.as_deref(),
                        unicast,
                    });
                }
                match unknown {
                    Some(index) => Err(DecodeIssue::UnknownPeerIndex(index)),
                    None => Ok(RecordClass::RibDump),
                }
            }
            MrtMessage::TableDumpV2Message(_) => Ok(RecordClass::Other),
            MrtMessage::Bgp4Mp(Bgp4MpEnum::Message(message)) => Ok(bgp_message(
                time,
                message.peer_ip,
                message.peer_asn.to_u32(),
                &message.bgp_message,
                &mut on_route,
            )),
            MrtMessage::Bgp4Mp(Bgp4MpEnum::StateChange(change)) => {
                on_state(&PeerStateEvent {
                    time,
                    peer_ip: change.peer_ip,
                    peer_asn: change.peer_asn.to_u32(),
                    old_state: change.old_state,
                    new_state: change.new_state,
                });
                Ok(RecordClass::Update)
            }
            MrtMessage::LegacyBgp(LegacyBgp::Message(message)) => Ok(bgp_message(
                time,
                message.peer_ip,
                message.peer_asn.to_u32(),
                &message.bgp_message,
                &mut on_route,
            )),
            MrtMessage::LegacyBgp(LegacyBgp::StateChange(change)) => {
                on_state(&PeerStateEvent {
                    time,
                    peer_ip: change.peer_ip,
                    peer_asn: change.peer_asn.to_u32(),
                    old_state: change.old_state,
                    new_state: change.new_state,
                });
                Ok(RecordClass::Update)
            }
        }
    }
}

fn table_dump_entry(
    time: u32,
    entry: &TableDumpMessage,
    on_route: &mut impl FnMut(&RouteEvent<'_>),
) {
    let path = merged_path(&entry.attributes);
    on_route(&RouteEvent {
        time,
        action: RouteAction::RibEntry,
        peer_ip: entry.peer_ip,
        peer_asn: entry.peer_asn.to_u32(),
        prefix: entry.prefix.prefix,
        path_id: entry.prefix.path_id,
        as_path: path.as_deref(),
        unicast: true,
    });
}

fn bgp_message(
    time: u32,
    peer_ip: IpAddr,
    peer_asn: u32,
    message: &BgpMessage,
    on_route: &mut impl FnMut(&RouteEvent<'_>),
) -> RecordClass {
    let BgpMessage::Update(update) = message else {
        return RecordClass::Other;
    };
    update_events(time, peer_ip, peer_asn, update, on_route);
    RecordClass::Update
}

/// Calls `on_route` for every withdrawal and announcement of a BGP UPDATE
/// (withdrawn routes, MP_UNREACH, NLRI, MP_REACH, in that order), as the MRT
/// decoder does; live inputs use it so that every transport yields the same
/// events.
pub fn update_events(
    time: u32,
    peer_ip: IpAddr,
    peer_asn: u32,
    update: &BgpUpdateMessage,
    on_route: &mut impl FnMut(&RouteEvent<'_>),
) {
    let path = merged_path(&update.attributes);
    let mut emit = |action: RouteAction, prefix: &NetworkPrefix, unicast: bool| {
        on_route(&RouteEvent {
            time,
            action,
            peer_ip,
            peer_asn,
            prefix: prefix.prefix,
            path_id: prefix.path_id,
            as_path: match action {
                RouteAction::Withdraw => None,
                _ => path.as_deref(),
            },
            unicast,
        });
    };
    for prefix in &update.withdrawn_prefixes {
        emit(RouteAction::Withdraw, prefix, true);
    }
    for value in update.attributes.iter() {
        if let AttributeValue::MpUnreachNlri(nlri) = value {
            for prefix in &nlri.prefixes {
                emit(RouteAction::Withdraw, prefix, nlri.safi == Safi::Unicast);
            }
        }
    }
    for prefix in &update.announced_prefixes {
        emit(RouteAction::Announce, prefix, true);
    }
    for value in update.attributes.iter() {
        if let AttributeValue::MpReachNlri(nlri) = value {
            for prefix in &nlri.prefixes {
                emit(RouteAction::Announce, prefix, nlri.safi == Safi::Unicast);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgpkit_parser::models::Asn;

    fn path(segments: Vec<AsPathSegment>) -> AsPath {
        AsPath::from_segments(segments)
    }

    fn seq(asns: &[u32]) -> AsPathSegment {
        AsPathSegment::AsSequence(asns.iter().map(|&a| Asn::from(a)).collect())
    }

    fn set(asns: &[u32]) -> AsPathSegment {
        AsPathSegment::AsSet(asns.iter().map(|&a| Asn::from(a)).collect())
    }

    #[test]
    fn origin_handles_as_sets() {
        assert_eq!(origin_asn(&path(vec![seq(&[1, 2, 9198])])), Some(9198));
        assert_eq!(origin_asn(&path(vec![seq(&[1, 2]), set(&[7])])), Some(7));
        assert_eq!(origin_asn(&path(vec![seq(&[1, 2]), set(&[7, 5])])), Some(2));
        assert_eq!(origin_asn(&path(vec![set(&[7, 5])])), Some(5));
        assert_eq!(origin_asn(&path(vec![])), None);
    }
}
