//! Several vantage points: each prober instance writes its block states
//! after a round ([`VantageStates::save`]); [`combine_states`] merges them.
//!
//! One vantage point's own trouble (its uplink, a filter on its path) looks
//! like an outage of everything it probes. So a block counts as **DOWN only
//! when at least `quorum` vantage points see it DOWN**; otherwise it is UP if
//! any vantage point sees it UP, and UNCERTAIN if none does. IODA runs a team
//! of 20 probers; with 3 vantage points a quorum of 2 tolerates one broken
//! vantage point.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::net::Ipv4Addr;

use crate::belief::BlockState;
use crate::engine::Engine;
use crate::list::LineIssue;

/// One vantage point's view after a round: block network -> state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VantageStates {
    /// The vantage point's name.
    pub vantage: String,
    /// State per block, keyed by the block's first address.
    pub states: BTreeMap<u32, BlockState>,
}

impl VantageStates {
    /// The states of `engine`'s blocks after its last round; blocks the
    /// round did not measure are left out (no opinion).
    pub fn from_engine(vantage: &str, engine: &Engine) -> VantageStates {
        let states = engine
            .list()
            .blocks()
            .iter()
            .zip(engine.states())
            .filter(|(_, (_, measured))| *measured)
            .map(|(block, (state, _))| (block.network, state))
            .collect();
        VantageStates {
            vantage: vantage.to_string(),
            states,
        }
    }

    /// Writes `# vigie vantage states v1 <name>` then `a.b.c.0/24 <state>` lines.
    pub fn save(&self, mut out: impl Write) -> std::io::Result<()> {
        writeln!(out, "# vigie vantage states v1 {}", self.vantage)?;
        for (&network, state) in &self.states {
            writeln!(out, "{}/24 {}", Ipv4Addr::from(network), state)?;
        }
        Ok(())
    }

    /// Reads [`VantageStates::save`]'s format; bad lines are returned with
    /// their numbers and skipped.
    pub fn load(
        reader: impl BufRead,
        default_name: &str,
    ) -> std::io::Result<(VantageStates, Vec<LineIssue>)> {
        let mut result = VantageStates {
            vantage: default_name.to_string(),
            states: BTreeMap::new(),
        };
        let mut issues = Vec::new();
        for (index, line) in reader.split(b'\n').enumerate() {
            let line = line?;
            let text = String::from_utf8_lossy(&line);
            let text = text.trim();
            if let Some(name) = text.strip_prefix("# vigie vantage states v1 ") {
                result.vantage = name.trim().to_string();
                continue;
            }
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let mut fields = text.split_whitespace();
            let parsed = match (fields.next(), fields.next(), fields.next()) {
                (Some(block), Some(state), None) => block
                    .strip_suffix("/24")
                    .and_then(|a| a.parse::<Ipv4Addr>().ok())
                    .filter(|a| u32::from(*a) & 0xff == 0)
                    .zip(BlockState::from_name(state)),
                _ => None,
            };
            match parsed {
                Some((addr, state)) => {
                    result.states.insert(u32::from(addr), state);
                }
                None => issues.push(LineIssue {
                    line: index as u64 + 1,
                    reason: format!(
                        "expected `a.b.c.0/24 up|down|uncertain`, got {:?}",
                        text.chars().take(60).collect::<String>()
                    ),
                }),
            }
        }
        Ok((result, issues))
    }
}

/// Combines vantage points: DOWN only when at least `quorum` (at least 1)
/// of them see the block DOWN; else UP if any sees it UP; else UNCERTAIN.
pub fn combine_states(vantages: &[VantageStates], quorum: usize) -> BTreeMap<u32, BlockState> {
    let quorum = quorum.max(1);
    let mut votes: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
    for vantage in vantages {
        for (&network, &state) in &vantage.states {
            let entry = votes.entry(network).or_default();
            match state {
                BlockState::Up => entry.0 += 1,
                BlockState::Down => entry.1 += 1,
                BlockState::Uncertain => {}
            }
        }
    }
    votes
        .into_iter()
        .map(|(network, (up, down))| {
            let state = if down >= quorum {
                BlockState::Down
            } else if up > 0 {
                BlockState::Up
            } else {
                BlockState::Uncertain
            };
            (network, state)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vantage(name: &str, states: &[(u32, BlockState)]) -> VantageStates {
        VantageStates {
            vantage: name.to_string(),
            states: states.iter().copied().collect(),
        }
    }

    #[test]
    fn down_needs_a_quorum() {
        use BlockState::*;
        let a = vantage(
            "a",
            &[
                (0x100, Down),
                (0x200, Down),
                (0x300, Uncertain),
                (0x400, Up),
            ],
        );
        let b = vantage("b", &[(0x100, Down), (0x200, Up), (0x300, Down)]);
        let c = vantage("c", &[(0x100, Up), (0x200, Up), (0x300, Uncertain)]);
        let all = [a, b, c];
        let two = combine_states(&all, 2);
        assert_eq!(two[&0x100], Down);
        assert_eq!(two[&0x200], Up); // one broken vantage point is not enough
        assert_eq!(two[&0x300], Uncertain);
        assert_eq!(two[&0x400], Up);
        let one = combine_states(&all, 1);
        assert_eq!(one[&0x200], Down);
        assert_eq!(one[&0x300], Down);
        let three = combine_states(&all, 3);
        assert_eq!(three[&0x100], Up);
    }

    #[test]
    fn states_file_round_trips_and_reports_bad_lines() {
        let v = vantage(
            "paris-1",
            &[
                (0xc612_0000, BlockState::Up),
                (0xc612_0100, BlockState::Down),
            ],
        );
        let mut text = Vec::new();
        v.save(&mut text).unwrap();
        text.extend_from_slice(b"198.18.2.5/24 up\n198.18.3.0/24 sideways\n");
        let (back, issues) = VantageStates::load(text.as_slice(), "x").unwrap();
        assert_eq!(back, v);
        assert_eq!(issues.iter().map(|i| i.line).collect::<Vec<_>>(), [4, 5]);
    }
}
