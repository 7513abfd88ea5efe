//! Trinocular's Bayesian belief that a /24 block is reachable.
//!
//! Each block `b` has a set `E(b)` of addresses that have ever answered, and
//! their mean response rate `A(E(b))`, its *availability*. vigie keeps one
//! number per block, the belief `B(U)` that the block is up, and updates it
//! with Bayes' rule after each probe:
//!
//! ```text
//!            P(r | U) B(U)
//! B'(U) = ---------------------------------      r = positive or negative reply
//!         P(r | U) B(U) + P(r | D) (1 - B(U))
//! ```
//!
//! with the observation model of Trinocular (Quan, Heidemann, Pradkin,
//! SIGCOMM 2013, §3) as IODA's prober (trinarkular) implements it:
//! - `P(positive | up) = A(E(b))`, `P(negative | up) = 1 - A(E(b))`;
//! - `P(positive | down) = (1 - loss) / 256`: a down block answers only by
//!   accident, e.g. a stray reply, with `loss` = 0.01 the expected packet loss;
//!   `P(negative | down) = 1 - P(positive | down)`.
//!
//! Defaults ([`BeliefParams::default`]), from the paper and trinarkular:
//! - a new block starts believed up, `B(U) = 0.99`;
//! - the block is **UP** when `B(U) >= 0.9`, **DOWN** when `B(U) <= 0.1`,
//!   **UNCERTAIN** in between;
//! - after each update the belief is clamped to `[0.01, 0.99]` (paper §4.2),
//!   so one stray reply can always be outweighed by later evidence;
//! - a round starts with one periodic probe per block; further, *adaptive*
//!   probes follow at once while the belief moves towards uncertainty or stays
//!   uncertain, up to 15 probes per block per round; a block still uncertain
//!   when its budget runs out ends the round UNCERTAIN at `B(U) = 0.5`;
//! - a probe with no reply within 3 s is a negative reply.
//!
//! An availability of exactly 1 would make a single lost packet proof of an
//! outage, so availability is kept within `[min_availability, max_availability]`
//! (default `[0.01, 0.99]`).

use std::fmt;

/// What vigie believes about a block after a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum BlockState {
    /// The belief is between the thresholds, or the probe budget ran out.
    Uncertain = 0,
    /// The block answers: `B(U) >= up_threshold`.
    Up = 1,
    /// The block does not answer: `B(U) <= down_threshold`.
    Down = 2,
}

impl BlockState {
    /// The short name written in files and the store: `up`, `down`, `uncertain`.
    pub fn name(self) -> &'static str {
        match self {
            BlockState::Up => "up",
            BlockState::Down => "down",
            BlockState::Uncertain => "uncertain",
        }
    }

    /// Parses [`BlockState::name`].
    pub fn from_name(name: &str) -> Option<BlockState> {
        match name {
            "up" => Some(BlockState::Up),
            "down" => Some(BlockState::Down),
            "uncertain" => Some(BlockState::Uncertain),
            _ => None,
        }
    }

    /// The state as a byte (for compact tables); see [`BlockState::from_u8`].
    pub fn to_u8(self) -> u8 {
        self as u8
    }

    /// Reverses [`BlockState::to_u8`].
    pub fn from_u8(value: u8) -> Option<BlockState> {
        match value {
            0 => Some(BlockState::Uncertain),
            1 => Some(BlockState::Up),
            2 => Some(BlockState::Down),
            _ => None,
        }
    }
}

impl fmt::Display for BlockState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Priors, thresholds and budgets of the belief; see the module doc.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BeliefParams {
    /// `B(U)` of a block never probed (0.99).
    pub initial_belief: f32,
    /// UP when `B(U) >= up_threshold` (0.9).
    pub up_threshold: f32,
    /// DOWN when `B(U) <= down_threshold` (0.1).
    pub down_threshold: f32,
    /// Lower clamp of `B(U)` (0.01).
    pub min_belief: f32,
    /// Upper clamp of `B(U)` (0.99).
    pub max_belief: f32,
    /// Expected packet loss, in `P(positive | down)` (0.01).
    pub loss_rate: f32,
    /// Lower bound applied to a block's availability (0.01).
    pub min_availability: f32,
    /// Upper bound applied to a block's availability (0.99).
    pub max_availability: f32,
    /// Probes per block per round, periodic one included (15).
    pub max_probes_per_round: u8,
    /// A probe unanswered after this many milliseconds is negative (3000).
    pub timeout_ms: u32,
}

impl Default for BeliefParams {
    fn default() -> Self {
        BeliefParams {
            initial_belief: 0.99,
            up_threshold: 0.9,
            down_threshold: 0.1,
            min_belief: 0.01,
            max_belief: 0.99,
            loss_rate: 0.01,
            min_availability: 0.01,
            max_availability: 0.99,
            max_probes_per_round: 15,
            timeout_ms: 3000,
        }
    }
}

impl BeliefParams {
    /// The state a belief value means.
    pub fn state_of(&self, belief_up: f32) -> BlockState {
        if belief_up >= self.up_threshold {
            BlockState::Up
        } else if belief_up <= self.down_threshold {
            BlockState::Down
        } else {
            BlockState::Uncertain
        }
    }

    /// Checks that the parameters make sense; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        let unit = |name: &str, v: f32| {
            if v.is_finite() && (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("{name} must be within [0, 1], got {v}"))
            }
        };
        unit("initial_belief", self.initial_belief)?;
        unit("up_threshold", self.up_threshold)?;
        unit("down_threshold", self.down_threshold)?;
        unit("min_belief", self.min_belief)?;
        unit("max_belief", self.max_belief)?;
        unit("loss_rate", self.loss_rate)?;
        unit("min_availability", self.min_availability)?;
        unit("max_availability", self.max_availability)?;
        if self.down_threshold >= self.up_threshold {
            return Err(format!(
                "down_threshold ({}) must be below up_threshold ({})",
                self.down_threshold, self.up_threshold
            ));
        }
        if self.min_belief > self.max_belief || self.min_availability > self.max_availability {
            return Err("a lower clamp is above its upper clamp".to_string());
        }
        if self.max_probes_per_round == 0 {
            return Err("max_probes_per_round must be at least 1".to_string());
        }
        if self.timeout_ms == 0 {
            return Err("timeout_ms must be at least 1".to_string());
        }
        Ok(())
    }

    /// `P(positive | down)`: `(1 - loss) / 256`.
    pub fn p_positive_if_down(&self) -> f32 {
        (1.0 - self.loss_rate) / 256.0
    }

    /// Bayes' rule for one reply (`positive`) given the block's availability;
    /// returns the clamped new `B(U)`.
    pub fn updated_belief(&self, belief_up: f32, availability: f32, positive: bool) -> f32 {
        let a = availability.clamp(self.min_availability, self.max_availability);
        let b = belief_up.clamp(0.0, 1.0);
        let p_pos_down = self.p_positive_if_down();
        let (p_up, p_down) = if positive {
            (a, p_pos_down)
        } else {
            (1.0 - a, 1.0 - p_pos_down)
        };
        let up = p_up * b;
        let total = up + p_down * (1.0 - b);
        let next = if total > 0.0 { up / total } else { b };
        next.clamp(self.min_belief, self.max_belief)
    }
}

/// What the prober should do after feeding a reply to a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextStep {
    /// The block's state is settled for this round.
    Done,
    /// Send another (adaptive) probe to this block now.
    ProbeAgain,
}

/// The belief of one block: 12 bytes, with its availability and round budget.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Belief {
    /// `B(U)`, the belief that the block is up.
    pub belief_up: f32,
    /// `A(E(b))`, the block's availability from its probe list entry.
    pub availability: f32,
    /// Probes sent to the block in the current round.
    pub probes_this_round: u8,
    /// The state at the end of the last finished round.
    pub last_state: BlockState,
}

impl Belief {
    /// A block never probed, with availability `availability`.
    pub fn new(params: &BeliefParams, availability: f32) -> Belief {
        Belief {
            belief_up: params.initial_belief,
            availability,
            probes_this_round: 0,
            last_state: params.state_of(params.initial_belief),
        }
    }

    /// The state the current belief means.
    pub fn state(&self, params: &BeliefParams) -> BlockState {
        params.state_of(self.belief_up)
    }

    /// Starts a round: the budget is full again.
    pub fn start_round(&mut self) {
        self.probes_this_round = 0;
    }

    /// True while the block may get another probe this round.
    pub fn has_budget(&self, params: &BeliefParams) -> bool {
        self.probes_this_round < params.max_probes_per_round
    }

    /// Counts one probe sent.
    pub fn note_probe_sent(&mut self) {
        self.probes_this_round = self.probes_this_round.saturating_add(1);
    }

    /// Feeds one reply (`true`) or timeout (`false`) and says whether to probe
    /// again, following trinarkular: probe again while an UP block's belief
    /// falls, a DOWN block's belief rises, or the belief stays uncertain; when
    /// the budget is spent in that case the block becomes UNCERTAIN (0.5).
    pub fn observe(&mut self, params: &BeliefParams, positive: bool) -> NextStep {
        let before = self.belief_up;
        let before_state = params.state_of(before);
        let after = params.updated_belief(before, self.availability, positive);
        let after_state = params.state_of(after);
        let unsettled = match before_state {
            BlockState::Up => after < before,
            BlockState::Down => after > before,
            BlockState::Uncertain => after_state == BlockState::Uncertain,
        };
        self.belief_up = after;
        if !unsettled {
            return NextStep::Done;
        }
        if self.has_budget(params) {
            NextStep::ProbeAgain
        } else {
            self.belief_up = 0.5;
            NextStep::Done
        }
    }

    /// Ends the round: records and returns the state and whether it changed.
    pub fn finish_round(&mut self, params: &BeliefParams) -> (BlockState, bool) {
        let state = self.state(params);
        let changed = state != self.last_state;
        self.last_state = state;
        (state, changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> BeliefParams {
        BeliefParams::default()
    }

    #[test]
    fn defaults_are_the_papers() {
        let p = params();
        assert_eq!(p.up_threshold, 0.9);
        assert_eq!(p.down_threshold, 0.1);
        assert_eq!((p.min_belief, p.max_belief), (0.01, 0.99));
        assert_eq!(p.max_probes_per_round, 15);
        assert_eq!(p.timeout_ms, 3000);
        assert!(p.validate().is_ok());
        assert_eq!(p.state_of(p.initial_belief), BlockState::Up);
    }

    #[test]
    fn bayes_rule_values() {
        let p = params();
        // Negative reply, A = 0.5, B = 0.99:
        // up = 0.5 * 0.99 = 0.495; down = (1 - 0.99/256) * 0.01 = 0.0099613
        // B' = 0.495 / 0.5049613 = 0.980273
        let b = p.updated_belief(0.99, 0.5, false);
        assert!((b - 0.980_273).abs() < 1e-5, "{b}");
        // Positive reply from an uncertain block, A = 0.5, B = 0.5:
        // up = 0.25; down = 0.0038672 * 0.5 = 0.0019336; B' = 0.992324 -> clamped 0.99
        assert_eq!(p.updated_belief(0.5, 0.5, true), 0.99);
        // Negative reply when A is high: near-certain evidence, clamped at 0.01.
        assert_eq!(p.updated_belief(0.5, 0.99, false), 0.01);
    }

    #[test]
    fn up_block_going_dark_turns_down_within_budget() {
        let p = params();
        for availability in [0.1_f32, 0.2, 0.5, 0.9, 1.0] {
            let mut belief = Belief::new(&p, availability);
            belief.start_round();
            belief.note_probe_sent();
            let mut step = belief.observe(&p, false);
            while step == NextStep::ProbeAgain {
                belief.note_probe_sent();
                step = belief.observe(&p, false);
            }
            let (state, changed) = belief.finish_round(&p);
            // With a low A fifteen losses are not enough evidence (the odds
            // fall by (1 - A) / (1 - 0.99/256) per loss): UNCERTAIN.
            if availability >= 0.5 {
                assert_eq!(state, BlockState::Down, "A = {availability}");
            } else {
                assert_eq!(state, BlockState::Uncertain, "A = {availability}");
            }
            assert!(changed);
            assert!(belief.probes_this_round <= 15);
        }
    }

    #[test]
    fn replies_bring_a_down_block_back_up() {
        let p = params();
        let mut belief = Belief::new(&p, 0.3);
        belief.belief_up = 0.01;
        belief.last_state = BlockState::Down;
        belief.start_round();
        belief.note_probe_sent();
        // One reply could be a stray: 0.01 -> 0.439, uncertain, probe again.
        assert_eq!(belief.observe(&p, true), NextStep::ProbeAgain);
        assert!(
            (belief.belief_up - 0.4394).abs() < 1e-3,
            "{}",
            belief.belief_up
        );
        belief.note_probe_sent();
        assert_eq!(belief.observe(&p, true), NextStep::Done);
        assert_eq!(belief.finish_round(&p), (BlockState::Up, true));
    }

    #[test]
    fn up_block_answering_needs_one_probe() {
        let p = params();
        let mut belief = Belief::new(&p, 0.4);
        belief.start_round();
        belief.note_probe_sent();
        assert_eq!(belief.observe(&p, true), NextStep::Done);
        assert_eq!(belief.finish_round(&p), (BlockState::Up, false));
    }

    #[test]
    fn belief_stays_clamped_and_finite() {
        let p = params();
        for a in [-1.0_f32, 0.0, 0.01, 0.5, 1.0, 2.0, f32::NAN] {
            for b in [0.0_f32, 0.01, 0.5, 0.99, 1.0] {
                for positive in [true, false] {
                    let next = p.updated_belief(b, a, positive);
                    assert!((0.01..=0.99).contains(&next), "a={a} b={b} -> {next}");
                }
            }
        }
    }

    #[test]
    fn state_names_round_trip() {
        for s in [BlockState::Up, BlockState::Down, BlockState::Uncertain] {
            assert_eq!(BlockState::from_name(s.name()), Some(s));
            assert_eq!(BlockState::from_u8(s.to_u8()), Some(s));
        }
        assert_eq!(BlockState::from_name("UP?"), None);
    }

    #[test]
    fn bad_params_are_refused() {
        let mut p = params();
        p.down_threshold = 0.95;
        assert!(p.validate().unwrap_err().contains("down_threshold"));
        let mut p = params();
        p.max_probes_per_round = 0;
        assert!(p.validate().is_err());
    }
}
