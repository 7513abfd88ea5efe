//! The scenarios shipped in the binary.

use crate::model::{Scenario, ScenarioError};

/// Built-in scenarios: (name, one-line description, TOML text).
pub const BUILTIN: [(&str, &str, &str); 3] = [
    (
        "kazakhstan-2022",
        "Kazakhstan, 4–10 January 2022: mobile throttling, then a nationwide shutdown with routes still announced and daily restorations",
        include_str!("../scenarios/kazakhstan-2022.toml"),
    ),
    (
        "egypt-2011",
        "Egypt, 27 January – 2 February 2011: the networks' routes withdrawn from BGP",
        include_str!("../scenarios/egypt-2011.toml"),
    ),
    (
        "iraq-exams",
        "Iraq-style exam shutdowns: the Kurdistan Region's networks cut every morning for a week",
        include_str!("../scenarios/iraq-exams.toml"),
    ),
];

/// The built-in scenario `name`, parsed.
pub fn load(name: &str) -> Result<Scenario, ScenarioError> {
    match BUILTIN.iter().find(|(n, _, _)| *n == name) {
        Some((n, _, text)) => Scenario::parse(text, &format!("built-in scenario {n}")),
        None => Err(ScenarioError::Invalid {
            source_name: name.to_string(),
            field: "name".to_string(),
            message: format!(
                "no built-in scenario of that name; choose one of {} (or give --scenario-file)",
                names().join(", ")
            ),
        }),
    }
}

/// The built-in scenarios' names.
pub fn names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _, _)| *n).collect()
}
