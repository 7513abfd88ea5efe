//! The scenario file reader (`vigie demo --scenario-file`) on arbitrary
//! bytes: no panic; an accepted scenario keeps its invariants, and the
//! world's functions stay finite over its period.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_scenario::clock::reporter_time;
use vigie_scenario::Scenario;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(scenario) = Scenario::parse(text, "fuzz.toml") else {
        return;
    };
    assert!(scenario.period.end > scenario.period.start);
    assert!(!scenario.world.networks.is_empty());
    let shares: f64 = scenario.world.networks.iter().map(|n| n.traffic_share).sum();
    assert!((shares - 1.0).abs() < 1e-9);
    let step = ((scenario.period.end - scenario.period.start) / 64).max(1);
    let mut t = scenario.period.start;
    while t < scenario.period.end {
        let level = scenario.world.traffic_level(t);
        assert!(level.is_finite() && level >= 0.0 && level <= 1.0 + 1e-9);
        for network in &scenario.world.networks {
            let state = scenario.state(network, t);
            assert!(state.volume_factor >= 0.0 && state.volume_factor <= 1.0);
            let _ = scenario.block_reachable(network, 0, t);
        }
        let _ = reporter_time(t, scenario.world.utc_offset_secs, &scenario.world.place);
        t += step;
    }
    let _ = vigie_scenario::labels_json(&scenario);
});
