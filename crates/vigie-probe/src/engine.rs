//! The probing engine: which probe to send next, what a reply or a timeout
//! means, and the outcome of each round. It does no I/O and reads no clock:
//! the caller passes the time (elapsed since any fixed instant), sends the
//! packets and feeds back what arrives. `crate::prober` drives it over a raw
//! socket; tests and the benchmark drive it directly.
//!
//! A round gives each block one **periodic** probe, paced evenly over the
//! first part of the round in a shuffled order (so neighbouring blocks are
//! not probed back to back); replies and timeouts update the block's
//! [`Belief`], which may ask for **adaptive** probes, sent before any
//! periodic probe. Each probe goes to the block's next responsive address in
//! turn.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::belief::{Belief, BeliefParams, BlockState, NextStep};
use crate::icmp::{parse_echo_reply, EchoProbe, ProbeCookie, ReplyError, ECHO_REQUEST_LEN};
use crate::list::ProbeList;

const OUTSTANDING: u8 = 1;
const MEASURED: u8 = 2;
const QUEUED: u8 = 4;

/// The per-block probing state: 16 bytes.
#[derive(Clone, Copy, Debug)]
struct BlockProbe {
    belief: Belief,
    /// Sequence number of the outstanding probe.
    seq: u16,
    /// Which responsive address gets the next probe.
    next_host: u8,
    flags: u8,
}

/// A probe the engine wants sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutgoingProbe {
    /// Index of the block in the probe list.
    pub block_index: u32,
    /// The address to send to.
    pub target: Ipv4Addr,
    /// The ICMP message to send.
    pub packet: [u8; ECHO_REQUEST_LEN],
    /// ICMP sequence number.
    pub seq: u16,
    /// True for an adaptive (extra) probe.
    pub adaptive: bool,
}

/// What a received packet turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketOutcome {
    /// A reply to an outstanding probe: evidence the block is up.
    Matched,
    /// A valid reply to a probe already timed out or of an earlier round.
    Late,
    /// An echo reply that is not a reply to this prober's probes (spoofed,
    /// forged, another program's ping): ignored.
    Unmatched,
    /// Another ICMP message (unreachable, time exceeded…): ignored.
    OtherIcmp,
    /// Not parseable as ICMP over IPv4: ignored.
    Malformed,
}

/// One block whose state changed at the end of a round.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockChange {
    /// Index of the block in the probe list.
    pub block_index: u32,
    /// The block's first address.
    pub network: Ipv4Addr,
    /// State at the end of the previous round.
    pub from: BlockState,
    /// State now.
    pub to: BlockState,
    /// `B(U)` now.
    pub belief_up: f32,
}

/// What one round did and found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoundReport {
    /// Round number, from 1.
    pub round: u64,
    /// When the round started, as passed to [`Engine::start_round`].
    pub started: Duration,
    /// When it finished, as passed to [`Engine::finish_round`].
    pub finished: Duration,
    /// Periodic probes sent.
    pub periodic_probes: u64,
    /// Adaptive probes sent.
    pub adaptive_probes: u64,
    /// Matched replies (positive evidence).
    pub replies: u64,
    /// Probes that timed out (negative evidence).
    pub timeouts: u64,
    /// Valid replies arriving after their timeout.
    pub late_replies: u64,
    /// Echo replies that matched no probe (spoofed, forged, foreign).
    pub unmatched_replies: u64,
    /// Other ICMP messages received.
    pub other_icmp: u64,
    /// Packets that were not ICMP over IPv4.
    pub malformed_packets: u64,
    /// Times the socket buffer was full (the probe was retried).
    pub send_buffer_full: u64,
    /// Probes that could not be sent (no evidence taken from them).
    pub send_errors: u64,
    /// The first send error's message.
    pub first_send_error: Option<String>,
    /// Blocks UP at the end of the round.
    pub up: u64,
    /// Blocks DOWN.
    pub down: u64,
    /// Blocks UNCERTAIN.
    pub uncertain: u64,
    /// Blocks for which no evidence arrived this round (their state is the
    /// previous round's).
    pub unmeasured: u64,
    /// Blocks whose state changed.
    pub changes: Vec<BlockChange>,
}

impl RoundReport {
    /// Probes sent per second over the round.
    pub fn send_rate_pps(&self) -> f64 {
        let secs = self.finished.saturating_sub(self.started).as_secs_f64();
        if secs > 0.0 {
            (self.periodic_probes + self.adaptive_probes) as f64 / secs
        } else {
            0.0
        }
    }
}

/// The engine: per-block beliefs and the round's schedule.
#[derive(Debug)]
pub struct Engine {
    params: BeliefParams,
    list: ProbeList,
    blocks: Vec<BlockProbe>,
    /// Shuffled block order for periodic probes.
    order: Vec<u32>,
    cookie: ProbeCookie,
    ident: u16,
    next_seq: u16,
    adaptive: VecDeque<u32>,
    /// (deadline, block, seq), in deadline order (timeouts are all equal).
    timeouts: VecDeque<(Duration, u32, u16)>,
    round_start: Duration,
    periodic_spread: Duration,
    periodic_next: usize,
    report: RoundReport,
}

/// A small deterministic generator for shuffling (xorshift64*).
fn xorshift(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

impl Engine {
    /// An engine for `list` with ICMP identifier `ident`, shuffling with `seed`.
    pub fn new(list: ProbeList, params: BeliefParams, ident: u16, seed: u64) -> Engine {
        let mut state = seed | 1;
        let blocks = list
            .blocks()
            .iter()
            .map(|block| BlockProbe {
                belief: Belief::new(&params, block.availability),
                seq: 0,
                next_host: xorshift(&mut state) as u8,
                flags: 0,
            })
            .collect();
        let mut order: Vec<u32> = (0..list.len() as u32).collect();
        for i in (1..order.len()).rev() {
            let j = (xorshift(&mut state) % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        Engine {
            params,
            list,
            blocks,
            order,
            cookie: ProbeCookie::new(),
            ident,
            next_seq: 0,
            adaptive: VecDeque::new(),
            timeouts: VecDeque::new(),
            round_start: Duration::ZERO,
            periodic_spread: Duration::ZERO,
            periodic_next: usize::MAX,
            report: RoundReport::default(),
        }
    }

    /// The probe list.
    pub fn list(&self) -> &ProbeList {
        &self.list
    }

    /// The belief parameters.
    pub fn params(&self) -> &BeliefParams {
        &self.params
    }

    /// Bytes of engine state per block (belief, schedule), list excluded.
    pub fn state_bytes_per_block() -> usize {
        std::mem::size_of::<BlockProbe>() + std::mem::size_of::<u32>()
    }

    /// Starts a round at `now` lasting `round_len`: periodic probes are spread
    /// over the round minus time for adaptive probes to finish (two
    /// timeouts), and at least half of it.
    pub fn start_round(&mut self, now: Duration, round_len: Duration) {
        let tail = Duration::from_millis(u64::from(self.params.timeout_ms) * 2);
        self.periodic_spread = round_len.saturating_sub(tail).max(round_len / 2);
        self.round_start = now;
        self.periodic_next = 0;
        let round = self.report.round + 1;
        self.report = RoundReport {
            round,
            started: now,
            ..RoundReport::default()
        };
        for block in &mut self.blocks {
            block.belief.start_round();
            block.flags &= !MEASURED;
        }
    }

    /// The time the `k`-th periodic probe of the round is due.
    fn periodic_due(&self, k: usize) -> Duration {
        let n = self.order.len().max(1) as u128;
        let offset = self.periodic_spread.as_nanos() * k as u128 / n;
        self.round_start + Duration::from_nanos(offset as u64)
    }

    /// The next probe to send at `now`, if any is due: adaptive probes
    /// first, then periodic ones whose time has come.
    pub fn next_probe(&mut self, now: Duration) -> Option<OutgoingProbe> {
        while let Some(index) = self.adaptive.pop_front() {
            if let Some(block) = self.blocks.get_mut(index as usize) {
                block.flags &= !QUEUED;
                if block.flags & OUTSTANDING == 0 {
                    return self.build(index, true);
                }
            }
        }
        while self.periodic_next < self.order.len() && self.periodic_due(self.periodic_next) <= now
        {
            let index = *self.order.get(self.periodic_next)?;
            self.periodic_next += 1;
            let busy = self
                .blocks
                .get(index as usize)
                .is_none_or(|b| b.flags & (OUTSTANDING | QUEUED) != 0);
            if !busy {
                return self.build(index, false);
            }
        }
        None
    }

    fn build(&mut self, index: u32, adaptive: bool) -> Option<OutgoingProbe> {
        let block = self.blocks.get_mut(index as usize)?;
        let target = self
            .list
            .host(index as usize, usize::from(block.next_host))?;
        block.next_host = block.next_host.wrapping_add(1);
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let probe = EchoProbe {
            ident: self.ident,
            seq,
            block_index: index,
            target,
            cookie: self.cookie.cookie(self.ident, seq, index, target),
        };
        Some(OutgoingProbe {
            block_index: index,
            target,
            packet: probe.to_bytes(),
            seq,
            adaptive,
        })
    }

    /// Records that `probe` left at `now`.
    pub fn probe_sent(&mut self, probe: &OutgoingProbe, now: Duration) {
        let Some(block) = self.blocks.get_mut(probe.block_index as usize) else {
            return;
        };
        block.flags |= OUTSTANDING;
        block.seq = probe.seq;
        block.belief.note_probe_sent();
        let timeout = Duration::from_millis(u64::from(self.params.timeout_ms));
        self.timeouts
            .push_back((now + timeout, probe.block_index, probe.seq));
        if probe.adaptive {
            self.report.adaptive_probes += 1;
        } else {
            self.report.periodic_probes += 1;
        }
    }

    /// The socket buffer was full: `probe` goes back to the front of the
    /// queue, to be sent when there is room.
    pub fn probe_deferred(&mut self, probe: &OutgoingProbe) {
        self.report.send_buffer_full += 1;
        if let Some(block) = self.blocks.get_mut(probe.block_index as usize) {
            block.flags |= QUEUED;
            self.adaptive.push_front(probe.block_index);
        }
    }

    /// `probe` could not be sent (no route, refused): no evidence is taken,
    /// the block keeps its belief.
    pub fn probe_failed(&mut self, _probe: &OutgoingProbe, error: &str) {
        self.report.send_errors += 1;
        if self.report.first_send_error.is_none() {
            self.report.first_send_error = Some(error.to_string());
        }
    }

    /// Handles one packet read from the raw socket at `now`.
    pub fn handle_packet(&mut self, packet: &[u8], _now: Duration) -> PacketOutcome {
        let reply = match parse_echo_reply(packet) {
            Ok(reply) => reply,
            Err(ReplyError::NotEchoReply { .. }) => {
                self.report.other_icmp += 1;
                return PacketOutcome::OtherIcmp;
            }
            Err(ReplyError::ForeignPayload) => {
                self.report.unmatched_replies += 1;
                return PacketOutcome::Unmatched;
            }
            Err(_) => {
                self.report.malformed_packets += 1;
                return PacketOutcome::Malformed;
            }
        };
        let index = reply.probe.block_index;
        let valid = reply.probe.ident == self.ident
            && self.cookie.verify(&reply)
            && (index as usize) < self.blocks.len();
        if !valid {
            self.report.unmatched_replies += 1;
            return PacketOutcome::Unmatched;
        }
        let Some(block) = self.blocks.get_mut(index as usize) else {
            self.report.unmatched_replies += 1;
            return PacketOutcome::Unmatched;
        };
        if block.flags & OUTSTANDING == 0 || block.seq != reply.probe.seq {
            self.report.late_replies += 1;
            return PacketOutcome::Late;
        }
        self.report.replies += 1;
        self.observe(index, true);
        PacketOutcome::Matched
    }

    fn observe(&mut self, index: u32, positive: bool) {
        let Some(block) = self.blocks.get_mut(index as usize) else {
            return;
        };
        block.flags = (block.flags & !OUTSTANDING) | MEASURED;
        if block.belief.observe(&self.params, positive) == NextStep::ProbeAgain
            && block.flags & QUEUED == 0
        {
            block.flags |= QUEUED;
            self.adaptive.push_back(index);
        }
    }

    /// Turns probes unanswered by `now` into negative evidence.
    pub fn expire(&mut self, now: Duration) {
        while let Some(&(deadline, index, seq)) = self.timeouts.front() {
            if deadline > now {
                break;
            }
            self.timeouts.pop_front();
            let pending = self
                .blocks
                .get(index as usize)
                .is_some_and(|b| b.flags & OUTSTANDING != 0 && b.seq == seq);
            if pending {
                self.report.timeouts += 1;
                self.observe(index, false);
            }
        }
    }

    /// When the engine next has something to do, if it waits for time:
    /// the next periodic probe or the next timeout. `None` when only
    /// replies (or nothing) can move it.
    pub fn next_wakeup(&self) -> Option<Duration> {
        if !self.adaptive.is_empty() {
            return Some(Duration::ZERO);
        }
        let periodic =
            (self.periodic_next < self.order.len()).then(|| self.periodic_due(self.periodic_next));
        let timeout = self.timeouts.front().map(|&(deadline, _, _)| deadline);
        match (periodic, timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// True when every periodic probe is sent and no probe is outstanding
    /// or queued: the round's result is final.
    pub fn is_settled(&self) -> bool {
        self.periodic_next >= self.order.len()
            && self.adaptive.is_empty()
            && self.timeouts.is_empty()
    }

    /// Ends the round at `now`: probes still outstanding are abandoned (a
    /// late reply is counted as late), and the report lists the states.
    pub fn finish_round(&mut self, now: Duration) -> RoundReport {
        self.adaptive.clear();
        self.timeouts.clear();
        self.periodic_next = self.order.len();
        let mut report = std::mem::take(&mut self.report);
        report.finished = now;
        for (index, block) in self.blocks.iter_mut().enumerate() {
            block.flags &= !(OUTSTANDING | QUEUED);
            if block.flags & MEASURED == 0 {
                report.unmeasured += 1;
            }
            let from = block.belief.last_state;
            let (state, changed) = block.belief.finish_round(&self.params);
            match state {
                BlockState::Up => report.up += 1,
                BlockState::Down => report.down += 1,
                BlockState::Uncertain => report.uncertain += 1,
            }
            if changed {
                let network = self
                    .list
                    .blocks()
                    .get(index)
                    .map_or(Ipv4Addr::UNSPECIFIED, |b| b.network_addr());
                report.changes.push(BlockChange {
                    block_index: index as u32,
                    network,
                    from,
                    to: state,
                    belief_up: block.belief.belief_up,
                });
            }
        }
        self.report = RoundReport {
            round: report.round,
            ..RoundReport::default()
        };
        report
    }

    /// Each block's state after the last finished round, and whether the
    /// round measured it.
    pub fn states(&self) -> impl Iterator<Item = (BlockState, bool)> + '_ {
        self.blocks
            .iter()
            .map(|b| (b.belief.last_state, b.flags & MEASURED != 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::icmp::internet_checksum;
    use crate::list::{Eligibility, ListBuilder};

    fn list(blocks: u32) -> ProbeList {
        let mut builder = ListBuilder::new();
        for b in 0..blocks {
            for host in 1..=4u8 {
                builder.add(
                    Ipv4Addr::from(0xc612_0000 + (b << 8) + u32::from(host)),
                    0.9,
                );
            }
        }
        builder.build(&Eligibility {
            min_responsive: 1,
            ..Eligibility::default()
        })
    }

    /// The reply a host would send to `probe`, as a raw socket reads it.
    fn reply_to(probe: &OutgoingProbe) -> Vec<u8> {
        let mut icmp = probe.packet.to_vec();
        icmp[0] = 0;
        icmp[2] = 0;
        icmp[3] = 0;
        let sum = internet_checksum(&icmp);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        let mut packet = vec![0x45, 0, 0, 44, 0, 0, 0, 0, 64, 1, 0, 0];
        packet.extend_from_slice(&probe.target.octets());
        packet.extend_from_slice(&[192, 0, 2, 1]);
        packet.extend_from_slice(&icmp);
        packet
    }

    /// Runs one simulated round where blocks for which `answers` is true
    /// reply at once; returns the report.
    fn simulate(
        engine: &mut Engine,
        start: Duration,
        answers: impl Fn(u32) -> bool,
    ) -> RoundReport {
        let round = Duration::from_secs(10);
        engine.start_round(start, round);
        let mut now = start;
        while !engine.is_settled() {
            engine.expire(now);
            while let Some(probe) = engine.next_probe(now) {
                engine.probe_sent(&probe, now);
                if answers(probe.block_index) {
                    assert_eq!(
                        engine.handle_packet(&reply_to(&probe), now),
                        PacketOutcome::Matched
                    );
                }
            }
            now = engine
                .next_wakeup()
                .unwrap_or(now)
                .max(now + Duration::from_millis(1));
        }
        engine.finish_round(now)
    }

    #[test]
    fn every_block_gets_one_periodic_probe_paced_over_the_round() {
        let mut engine = Engine::new(list(100), BeliefParams::default(), 7, 42);
        engine.start_round(Duration::ZERO, Duration::from_secs(10));
        // Spread over max(10 s - 2 * 3 s, 10 s / 2) = 5 s: 20 blocks per second.
        let mut sent = 0;
        while engine.next_probe(Duration::from_millis(999)).is_some() {
            sent += 1;
        }
        assert_eq!(sent, 20);
        let report = simulate(&mut engine, Duration::from_secs(20), |_| true);
        assert_eq!(report.periodic_probes, 100);
        assert_eq!(report.adaptive_probes, 0);
        assert_eq!((report.up, report.down, report.uncertain), (100, 0, 0));
        assert!(report.changes.is_empty());
    }

    #[test]
    fn silent_blocks_turn_down_and_come_back() {
        let mut engine = Engine::new(list(10), BeliefParams::default(), 7, 1);
        simulate(&mut engine, Duration::ZERO, |_| true);
        let report = simulate(&mut engine, Duration::from_secs(20), |b| b % 2 == 0);
        assert_eq!((report.up, report.down, report.uncertain), (5, 5, 0));
        assert_eq!(report.changes.len(), 5);
        assert!(report
            .changes
            .iter()
            .all(|c| c.from == BlockState::Up && c.to == BlockState::Down));
        // A = 0.9: three timeouts take 0.99 to DOWN (0.909, 0.500, 0.091).
        assert_eq!(report.timeouts, 15);
        assert_eq!(report.adaptive_probes, 10);
        let report = simulate(&mut engine, Duration::from_secs(40), |_| true);
        assert_eq!((report.up, report.down), (10, 0));
        assert_eq!(report.changes.len(), 5);
    }

    #[test]
    fn spoofed_late_and_foreign_packets_are_not_evidence() {
        let mut engine = Engine::new(list(2), BeliefParams::default(), 7, 1);
        engine.start_round(Duration::ZERO, Duration::from_secs(10));
        let probe = engine.next_probe(Duration::ZERO).unwrap();
        engine.probe_sent(&probe, Duration::ZERO);
        // A reply from a different source address.
        let mut spoofed = reply_to(&probe);
        spoofed[15] ^= 1;
        assert_eq!(
            engine.handle_packet(&spoofed, Duration::ZERO),
            PacketOutcome::Unmatched
        );
        // Garbage and an unreachable message.
        assert_eq!(
            engine.handle_packet(&[1, 2, 3], Duration::ZERO),
            PacketOutcome::Malformed
        );
        let mut unreachable = reply_to(&probe);
        unreachable[20] = 3;
        assert_eq!(
            engine.handle_packet(&unreachable, Duration::ZERO),
            PacketOutcome::OtherIcmp
        );
        // The real reply, then the same again (duplicate = late).
        assert_eq!(
            engine.handle_packet(&reply_to(&probe), Duration::ZERO),
            PacketOutcome::Matched
        );
        assert_eq!(
            engine.handle_packet(&reply_to(&probe), Duration::ZERO),
            PacketOutcome::Late
        );
        let report = engine.finish_round(Duration::from_secs(1));
        assert_eq!(report.unmatched_replies, 1);
        assert_eq!(report.malformed_packets, 1);
        assert_eq!(report.other_icmp, 1);
        assert_eq!(report.late_replies, 1);
        assert_eq!(report.replies, 1);
        assert_eq!(report.unmeasured, 1);
    }

    #[test]
    fn failed_sends_leave_beliefs_alone_and_deferred_ones_retry() {
        let mut engine = Engine::new(list(3), BeliefParams::default(), 7, 1);
        engine.start_round(Duration::ZERO, Duration::from_secs(1));
        let late = Duration::from_secs(1);
        let first = engine.next_probe(late).unwrap();
        engine.probe_deferred(&first);
        let again = engine.next_probe(late).unwrap();
        assert_eq!(again.block_index, first.block_index);
        assert!(again.adaptive);
        engine.probe_failed(&again, "network unreachable");
        let mut n = 0;
        while let Some(p) = engine.next_probe(late) {
            engine.probe_failed(&p, "network unreachable");
            n += 1;
        }
        assert_eq!(n, 2);
        assert!(engine.is_settled());
        let report = engine.finish_round(late);
        assert_eq!(report.send_errors, 3);
        assert_eq!(report.send_buffer_full, 1);
        assert_eq!(report.unmeasured, 3);
        assert_eq!(report.up, 3); // still the prior
        assert_eq!(
            report.first_send_error.as_deref(),
            Some("network unreachable")
        );
    }

    #[test]
    fn state_is_small() {
        assert!(
            Engine::state_bytes_per_block() <= 24,
            "{}",
            Engine::state_bytes_per_block()
        );
    }
}
