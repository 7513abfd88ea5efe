//! Probe lists: the /24 blocks to probe, the addresses to probe in each, and
//! each block's availability `A(E(b))`.
//!
//! A list comes from a **hitlist** ([`ProbeList::from_hitlist`]: one address
//! per line, optionally followed by its response rate), from a **discovery
//! scan** (`crate::prober::discover`), or from a file saved earlier
//! ([`ProbeList::save`] / [`ProbeList::load`]).
//!
//! A block is probed only when it is **eligible** ([`Eligibility`]): at least
//! `min_responsive` responsive addresses (Trinocular and IODA: 15) and
//! `A(E(b)) >= min_availability` (0.1). Blocks with fewer responsive
//! addresses cannot be told apart from a dark block with any confidence.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, Write};
use std::net::Ipv4Addr;

use crate::safety::TargetPolicy;

/// The most line issues a report keeps verbatim (the rest are only counted).
pub const MAX_REPORTED_ISSUES: usize = 20;

/// The rule deciding which blocks are worth probing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Eligibility {
    /// Fewest responsive addresses in a block (15).
    pub min_responsive: usize,
    /// Lowest availability `A(E(b))` (0.1).
    pub min_availability: f32,
    /// Response rate assumed for a hitlist address given without one (0.5).
    pub default_address_availability: f32,
}

impl Default for Eligibility {
    fn default() -> Self {
        Eligibility {
            min_responsive: 15,
            min_availability: 0.1,
            default_address_availability: 0.5,
        }
    }
}

/// One /24 block of a probe list.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProbeBlock {
    /// The block's first address as a number (`a.b.c.0`).
    pub network: u32,
    /// `A(E(b))`, the mean response rate of the block's responsive addresses.
    pub availability: f32,
    hosts_start: u32,
    hosts_len: u16,
}

impl ProbeBlock {
    /// The block's first address.
    pub fn network_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network)
    }

    /// The block as a geo unit (`address >> 8`).
    pub fn unit(&self) -> u64 {
        u64::from(self.network >> 8)
    }

    /// Number of responsive addresses.
    pub fn host_count(&self) -> usize {
        usize::from(self.hosts_len)
    }
}

impl fmt::Display for ProbeBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/24", self.network_addr())
    }
}

/// The blocks to probe, sorted by address, with their responsive addresses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProbeList {
    blocks: Vec<ProbeBlock>,
    /// Last octets of every block's responsive addresses, block after block.
    host_octets: Vec<u8>,
}

/// A line of a hitlist or list file that was skipped.
#[derive(Clone, Debug, PartialEq)]
pub struct LineIssue {
    /// 1-based line number.
    pub line: u64,
    /// What is wrong.
    pub reason: String,
}

/// What reading a hitlist or list file found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListReport {
    /// The file's name, for messages.
    pub label: String,
    /// Lines read.
    pub lines: u64,
    /// Addresses accepted.
    pub addresses: u64,
    /// Malformed lines skipped.
    pub malformed: u64,
    /// Addresses refused by the target policy.
    pub refused: u64,
    /// Duplicate addresses ignored.
    pub duplicates: u64,
    /// Blocks with at least one address.
    pub blocks_seen: u64,
    /// Blocks kept (eligible).
    pub blocks_eligible: u64,
    /// The first [`MAX_REPORTED_ISSUES`] problems (malformed or refused lines).
    pub issues: Vec<LineIssue>,
}

impl ListReport {
    fn issue(&mut self, line: u64, reason: String) {
        if self.issues.len() < MAX_REPORTED_ISSUES {
            self.issues.push(LineIssue { line, reason });
        }
    }

    /// True when some lines were skipped as malformed.
    pub fn has_bad_input(&self) -> bool {
        self.malformed > 0
    }
}

impl fmt::Display for ListReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} lines, {} addresses in {} /24 blocks, {} blocks eligible; {} malformed lines, {} refused addresses, {} duplicates",
            self.label,
            self.lines,
            self.addresses,
            self.blocks_seen,
            self.blocks_eligible,
            self.malformed,
            self.refused,
            self.duplicates
        )?;
        for issue in &self.issues {
            write!(f, "\n  {}:{}: {}", self.label, issue.line, issue.reason)?;
        }
        let unlisted = (self.malformed + self.refused).saturating_sub(self.issues.len() as u64);
        if unlisted > 0 {
            write!(f, "\n  … and {unlisted} more")?;
        }
        Ok(())
    }
}

/// Per-address observations collected before building a list.
#[derive(Clone, Debug, Default)]
pub struct ListBuilder {
    /// network -> (last octet -> response rate).
    blocks: BTreeMap<u32, BTreeMap<u8, f32>>,
}

impl ListBuilder {
    /// An empty builder.
    pub fn new() -> ListBuilder {
        ListBuilder::default()
    }

    /// Records that `addr` answers with rate `availability`; false if it was
    /// already there (the later rate wins).
    pub fn add(&mut self, addr: Ipv4Addr, availability: f32) -> bool {
        let n = u32::from(addr);
        let octet = (n & 0xff) as u8;
        self.blocks
            .entry(n & !0xff)
            .or_default()
            .insert(octet, availability.clamp(0.0, 1.0))
            .is_none()
    }

    /// Blocks with at least one address.
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// Keeps the eligible blocks; returns the list and how many were eligible.
    pub fn build(self, rule: &Eligibility) -> ProbeList {
        let mut list = ProbeList::default();
        for (network, hosts) in self.blocks {
            let responsive: Vec<(u8, f32)> =
                hosts.into_iter().filter(|&(_, rate)| rate > 0.0).collect();
            if responsive.is_empty() || responsive.len() < rule.min_responsive {
                continue;
            }
            let availability = responsive.iter().map(|&(_, r)| f64::from(r)).sum::<f64>()
                / responsive.len() as f64;
            let availability = availability as f32;
            if availability < rule.min_availability {
                continue;
            }
            list.push_block(network, availability, responsive.iter().map(|&(o, _)| o));
        }
        list
    }
}

impl ProbeList {
    fn push_block(&mut self, network: u32, availability: f32, octets: impl Iterator<Item = u8>) {
        let hosts_start = self.host_octets.len() as u32;
        self.host_octets.extend(octets);
        let hosts_len = (self.host_octets.len() as u32 - hosts_start) as u16;
        self.blocks.push(ProbeBlock {
            network: network & !0xff,
            availability,
            hosts_start,
            hosts_len,
        });
    }

    /// Appends a block (its first address, availability and the last octets
    /// of its responsive addresses); blocks must come in increasing address
    /// order, with 1 to 256 distinct octets. For generated lists.
    pub fn push_sorted(
        &mut self,
        network: Ipv4Addr,
        availability: f32,
        octets: &[u8],
    ) -> Result<(), String> {
        let network = u32::from(network) & !0xff;
        if self.blocks.last().is_some_and(|b| b.network >= network) {
            return Err(format!(
                "{}/24 is not after the previous block",
                Ipv4Addr::from(network)
            ));
        }
        if octets.is_empty() || octets.len() > 256 {
            return Err(format!("{} host octets (1 to 256 expected)", octets.len()));
        }
        if !(0.0..=1.0).contains(&availability) {
            return Err(format!("availability {availability} is not within [0, 1]"));
        }
        self.push_block(network, availability, octets.iter().copied());
        Ok(())
    }

    /// The blocks, sorted by address.
    pub fn blocks(&self) -> &[ProbeBlock] {
        &self.blocks
    }

    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// True when the list has no block.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The `n`-th responsive address of block `index` (wrapping around), if
    /// the block exists and has addresses.
    pub fn host(&self, index: usize, n: usize) -> Option<Ipv4Addr> {
        let block = self.blocks.get(index)?;
        let len = block.host_count();
        if len == 0 {
            return None;
        }
        let at = block.hosts_start as usize + n % len;
        let octet = *self.host_octets.get(at)?;
        Some(Ipv4Addr::from(block.network | u32::from(octet)))
    }

    /// Heap bytes the list holds per block (blocks and host octets).
    pub fn bytes_per_block(&self) -> f64 {
        if self.blocks.is_empty() {
            return 0.0;
        }
        let bytes = self.blocks.capacity() * std::mem::size_of::<ProbeBlock>()
            + self.host_octets.capacity();
        bytes as f64 / self.blocks.len() as f64
    }

    /// Reads a hitlist: one IPv4 address per line, optionally followed (after
    /// spaces, a tab or a comma) by its response rate in `[0, 1]`; `#` starts
    /// a comment. Malformed lines and refused addresses are reported with
    /// their line numbers and skipped; the rest is kept. Fails only on a read
    /// error.
    pub fn from_hitlist(
        reader: impl BufRead,
        label: &str,
        rule: &Eligibility,
        policy: &TargetPolicy,
    ) -> std::io::Result<(ProbeList, ListReport)> {
        let mut report = ListReport {
            label: label.to_string(),
            ..ListReport::default()
        };
        let mut builder = ListBuilder::new();
        for (index, line) in reader.split(b'\n').enumerate() {
            let line_no = index as u64 + 1;
            let line = line?;
            report.lines += 1;
            let text = String::from_utf8_lossy(&line);
            let text = text.split('#').next().unwrap_or("").trim();
            if text.is_empty() {
                continue;
            }
            match parse_hitlist_line(text, rule.default_address_availability) {
                Ok((addr, rate)) => {
                    if let Err(why) = policy.check(addr) {
                        report.refused += 1;
                        report.issue(line_no, why);
                        continue;
                    }
                    if builder.add(addr, rate) {
                        report.addresses += 1;
                    } else {
                        report.duplicates += 1;
                    }
                }
                Err(why) => {
                    report.malformed += 1;
                    report.issue(line_no, why);
                }
            }
        }
        report.blocks_seen = builder.block_count() as u64;
        let list = builder.build(rule);
        report.blocks_eligible = list.len() as u64;
        Ok((list, report))
    }

    /// Writes the list: a header line, then one block per line as
    /// `a.b.c.0/24 <availability> <octet>,<octet>,…`.
    pub fn save(&self, mut out: impl Write) -> std::io::Result<()> {
        writeln!(out, "# vigie probe list v1: block availability host-octets")?;
        for (index, block) in self.blocks.iter().enumerate() {
            write!(out, "{} {:.4} ", block, block.availability)?;
            let start = block.hosts_start as usize;
            let octets = self
                .host_octets
                .get(start..start + block.host_count())
                .unwrap_or(&[]);
            for (i, octet) in octets.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write!(out, "{octet}")?;
            }
            if octets.is_empty() {
                debug_assert!(false, "block {index} has no host");
            }
            out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Reads a list written by [`ProbeList::save`]; bad lines are reported and
    /// skipped, refused blocks dropped. Eligibility is not re-applied.
    pub fn load(
        reader: impl BufRead,
        label: &str,
        policy: &TargetPolicy,
    ) -> std::io::Result<(ProbeList, ListReport)> {
        let mut report = ListReport {
            label: label.to_string(),
            ..ListReport::default()
        };
        let mut blocks: BTreeMap<u32, (f32, Vec<u8>)> = BTreeMap::new();
        for (index, line) in reader.split(b'\n').enumerate() {
            let line_no = index as u64 + 1;
            let line = line?;
            report.lines += 1;
            let text = String::from_utf8_lossy(&line);
            let text = text.split('#').next().unwrap_or("").trim();
            if text.is_empty() {
                continue;
            }
            match parse_list_line(text) {
                Ok((network, availability, octets)) => {
                    if let Err(why) = policy.check(Ipv4Addr::from(network)) {
                        report.refused += 1;
                        report.issue(line_no, why);
                        continue;
                    }
                    report.addresses += octets.len() as u64;
                    if blocks.insert(network, (availability, octets)).is_some() {
                        report.duplicates += 1;
                    }
                }
                Err(why) => {
                    report.malformed += 1;
                    report.issue(line_no, why);
                }
            }
        }
        let mut list = ProbeList::default();
        for (network, (availability, octets)) in blocks {
            list.push_block(network, availability, octets.into_iter());
        }
        report.blocks_seen = list.len() as u64;
        report.blocks_eligible = list.len() as u64;
        Ok((list, report))
    }
}

/// Parses one hitlist line (comment already removed): an address and an
/// optional response rate.
pub fn parse_hitlist_line(text: &str, default_rate: f32) -> Result<(Ipv4Addr, f32), String> {
    let mut fields = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|f| !f.is_empty());
    let addr_text = fields.next().ok_or("empty line")?;
    let addr: Ipv4Addr = addr_text.parse().map_err(|_| {
        if addr_text.parse::<std::net::Ipv6Addr>().is_ok() {
            format!("{} is IPv6: only IPv4 blocks are probed", clip(addr_text))
        } else {
            format!("{:?} is not an IPv4 address", clip(addr_text))
        }
    })?;
    let rate = match fields.next() {
        None => default_rate,
        Some(field) => {
            let rate: f32 = field
                .parse()
                .map_err(|_| format!("response rate {:?} is not a number", clip(field)))?;
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("response rate {rate} is not within [0, 1]"));
            }
            rate
        }
    };
    if let Some(extra) = fields.next() {
        return Err(format!(
            "unexpected field {:?} (expected: address [rate])",
            clip(extra)
        ));
    }
    Ok((addr, rate))
}

fn parse_list_line(text: &str) -> Result<(u32, f32, Vec<u8>), String> {
    let mut fields = text.split_whitespace();
    let (Some(block), Some(rate), Some(hosts), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err("expected three fields: block availability host-octets".to_string());
    };
    let network_text = block
        .strip_suffix("/24")
        .ok_or_else(|| format!("{:?} is not a /24 block", clip(block)))?;
    let network: Ipv4Addr = network_text
        .parse()
        .map_err(|_| format!("{:?} is not a /24 block", clip(block)))?;
    let network = u32::from(network);
    if network & 0xff != 0 {
        return Err(format!("{block} has host bits set"));
    }
    let availability: f32 = rate
        .parse()
        .ok()
        .filter(|a: &f32| (0.0..=1.0).contains(a))
        .ok_or_else(|| format!("availability {:?} is not within [0, 1]", clip(rate)))?;
    let mut octets = Vec::new();
    for part in hosts.split(',') {
        let octet: u8 = part
            .parse()
            .map_err(|_| format!("host octet {:?} is not 0-255", clip(part)))?;
        octets.push(octet);
    }
    octets.sort_unstable();
    octets.dedup();
    Ok((network, availability, octets))
}

fn clip(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab_policy() -> TargetPolicy {
        TargetPolicy {
            allow_private: true,
            allowed: Vec::new(),
        }
    }

    fn small_rule() -> Eligibility {
        Eligibility {
            min_responsive: 3,
            min_availability: 0.1,
            default_address_availability: 0.5,
        }
    }

    #[test]
    fn hitlist_keeps_good_lines_and_names_bad_ones() {
        let text: &[u8] = b"\
# a comment
198.18.0.1
198.18.0.2 0.9
198.18.0.3,0.7   # trailing comment
198.18.0.3
not-an-address
198.18.0.300
198.18.1.1 1.5
198.18.1.2 abc
198.18.1.3 0.5 extra
2001:db8::1
8.8.8.8 0.2
10.0.0.1
224.0.0.1
\xff\xfe binary
";
        let (list, report) =
            ProbeList::from_hitlist(text, "hits.txt", &small_rule(), &lab_policy()).unwrap();
        assert_eq!(report.lines, 15);
        assert_eq!(report.addresses, 5); // .1 .2 .3, 8.8.8.8, 10.0.0.1
        assert_eq!(report.duplicates, 1);
        assert_eq!(report.malformed, 7);
        assert_eq!(report.refused, 1); // multicast
        let lines: Vec<u64> = report.issues.iter().map(|i| i.line).collect();
        assert_eq!(lines, [6, 7, 8, 9, 10, 11, 14, 15]);
        assert!(report.issues[0].reason.contains("not-an-address"));
        assert!(report.issues[2].reason.contains("1.5"));
        assert!(report.issues[5].reason.contains("IPv6"));
        assert!(report.to_string().contains("hits.txt:14: 224.0.0.1"));
        // Only 198.18.0.0/24 has 3 addresses.
        assert_eq!(report.blocks_seen, 3);
        assert_eq!(list.len(), 1);
        let block = list.blocks()[0];
        assert_eq!(block.to_string(), "198.18.0.0/24");
        assert_eq!(block.host_count(), 3);
        // .1 default 0.5, .2 0.9, .3 last value wins: 0.5 -> mean 0.6333.
        assert!(
            (block.availability - 0.633_33).abs() < 1e-4,
            "{}",
            block.availability
        );
        assert_eq!(list.host(0, 0), Some(Ipv4Addr::new(198, 18, 0, 1)));
        assert_eq!(list.host(0, 4), Some(Ipv4Addr::new(198, 18, 0, 2)));
        assert_eq!(list.host(1, 0), None);
    }

    #[test]
    fn eligibility_rule_applies_both_thresholds() {
        let mut builder = ListBuilder::new();
        for host in 1..=15u8 {
            builder.add(Ipv4Addr::new(203, 0, 113, host), 0.5); // 15 hosts, A 0.5
            builder.add(Ipv4Addr::new(203, 0, 114, host), 0.05); // A too low
        }
        for host in 1..=14u8 {
            builder.add(Ipv4Addr::new(203, 0, 115, host), 1.0); // too few
        }
        builder.add(Ipv4Addr::new(203, 0, 113, 99), 0.0); // never answered: not in E(b)
        let list = builder.build(&Eligibility::default());
        let blocks: Vec<String> = list.blocks().iter().map(|b| b.to_string()).collect();
        assert_eq!(blocks, ["203.0.113.0/24"]);
        assert_eq!(list.blocks()[0].host_count(), 15);
    }

    #[test]
    fn generated_lists_must_be_sorted() {
        let mut list = ProbeList::default();
        list.push_sorted(Ipv4Addr::new(192, 0, 2, 0), 0.5, &[1, 2])
            .unwrap();
        assert!(list
            .push_sorted(Ipv4Addr::new(192, 0, 2, 0), 0.5, &[1])
            .is_err());
        assert!(list
            .push_sorted(Ipv4Addr::new(192, 0, 3, 0), 0.5, &[])
            .is_err());
        assert!(list
            .push_sorted(Ipv4Addr::new(192, 0, 3, 0), 1.5, &[1])
            .is_err());
        list.push_sorted(Ipv4Addr::new(192, 0, 3, 7), 0.5, &[9])
            .unwrap();
        assert_eq!(list.host(1, 0), Some(Ipv4Addr::new(192, 0, 3, 9)));
    }

    #[test]
    fn saved_list_loads_back_identical() {
        let mut builder = ListBuilder::new();
        for host in [1u8, 7, 200, 254] {
            builder.add(Ipv4Addr::new(198, 18, 4, host), 0.75);
            builder.add(Ipv4Addr::new(198, 18, 9, host), 0.25);
        }
        let list = builder.build(&small_rule());
        let mut saved = Vec::new();
        list.save(&mut saved).unwrap();
        let text = String::from_utf8(saved.clone()).unwrap();
        assert!(text.contains("198.18.4.0/24 0.7500 1,7,200,254"), "{text}");
        let (loaded, report) = ProbeList::load(saved.as_slice(), "list", &lab_policy()).unwrap();
        assert_eq!(report.malformed, 0);
        assert_eq!(loaded, list);
        // Refused without --allow-private; bad lines named.
        let bad = format!("{text}198.18.5.0/24 2 1,2\n198.18.6.1/24 0.5 1\n1.2.3.0/24 0.5 1,999\n");
        let (strict, report) =
            ProbeList::load(bad.as_bytes(), "list", &TargetPolicy::default()).unwrap();
        assert!(strict.is_empty());
        assert_eq!(report.refused, 2);
        assert_eq!(report.malformed, 3);
    }
}
