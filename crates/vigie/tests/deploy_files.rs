//! The deployment files (deploy/, docs/DEPLOYMENT.md) stay true: every
//! deploy/*.toml loads with the service's own loader and builds its sources;
//! every systemd unit's ExecStart, expanded with its environment file from
//! deploy/, is a command line the built `vigie` accepts (run with --help);
//! the files the units read exist in deploy/; and `systemd-analyze verify`
//! passes on the units when it is installed (skipped with a message when not:
//! scripts/setup.sh does not install it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use vigie_model::BinSize;
use vigie_pipeline::{Registry, ServiceConfig, SourceContext};

/// Where the units expect the binary.
const INSTALLED_BIN: &str = "/usr/local/bin/vigie";

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == ext))
        .collect();
    found.sort();
    found
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn every_deploy_configuration_loads_and_builds_its_sources() {
    let tomls = files(&deploy_dir(), "toml");
    assert!(tomls.len() >= 3, "deploy/*.toml: {tomls:?}");
    let context = SourceContext {
        geo: Arc::new(vigie_geo::GeoDb::embedded()),
        bin: BinSize::default(),
        block_log: None,
    };
    for path in &tomls {
        // deny_unknown_fields: an unknown key is an error here.
        let config = ServiceConfig::load(path).unwrap_or_else(|e| panic!("{e:#}"));
        config
            .units(&Registry::builtin(), &context)
            .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
        let url = config.store.url.as_deref().unwrap_or_default();
        assert!(
            url.starts_with("postgres://"),
            "{}: every role shares the PostgreSQL store ([store] url)",
            path.display()
        );
    }
}

/// A unit's `key=value` lines of its [Service] section, in order.
fn unit_values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix(key)?.strip_prefix('='))
        .map(|value| value.trim().to_string())
        .collect()
}

/// The deploy/ file that stands for `/etc/vigie/<file>` in a unit.
fn deployed(installed: &str) -> PathBuf {
    let file = installed
        .strip_prefix("/etc/vigie/")
        .unwrap_or_else(|| panic!("{installed}: the units read their files from /etc/vigie/"));
    deploy_dir().join(match file {
        "probe-%i.env" => "vantage-point.env",
        "%i.toml" => "api.toml",
        other => other,
    })
}

fn read_env(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("{}: not KEY=VALUE: {line}", path.display()));
            (key.to_string(), value.to_string())
        })
        .collect()
}

/// systemd's expansion: `${VAR}` is one word, `$VAR` splits on whitespace.
fn expand(exec: &str, env: &BTreeMap<String, String>) -> Vec<String> {
    let lookup = |var: &str| {
        env.get(var)
            .unwrap_or_else(|| panic!("ExecStart uses {var}, set by no environment file"))
            .clone()
    };
    let mut words = Vec::new();
    for word in exec.split_whitespace() {
        if let Some(var) = word.strip_prefix("${").and_then(|w| w.strip_suffix('}')) {
            words.push(lookup(var));
        } else if let Some(var) = word.strip_prefix('$') {
            words.extend(lookup(var).split_whitespace().map(str::to_string));
        } else {
            words.push(word.to_string());
        }
    }
    words
}

#[test]
fn every_unit_runs_a_real_vigie_command_with_files_from_deploy() {
    let units = files(&deploy_dir().join("systemd"), "service");
    assert!(units.len() >= 5, "deploy/systemd/*.service: {units:?}");
    for unit in &units {
        let text = std::fs::read_to_string(unit).unwrap();
        let mut env = BTreeMap::new();
        for file in unit_values(&text, "EnvironmentFile") {
            if let Some(optional) = file.strip_prefix('-') {
                // Secrets (the API token): the operator writes them.
                assert!(optional.starts_with("/etc/vigie/"), "{}", name(unit));
                continue;
            }
            env.extend(read_env(&deployed(&file)));
        }
        for setting in unit_values(&text, "Environment") {
            let (key, value) = setting.split_once('=').unwrap();
            env.insert(key.to_string(), value.to_string());
        }
        let exec = unit_values(&text, "ExecStart");
        assert_eq!(exec.len(), 1, "{}: one ExecStart", name(unit));
        // A template's instance: vigie-bus-detect@1-2 runs share 1/2.
        let words: Vec<String> = expand(&exec[0], &env)
            .into_iter()
            .map(|word| word.replace("%I", "1/2"))
            .collect();
        assert_eq!(words[0], INSTALLED_BIN, "{}", name(unit));
        for (i, word) in words.iter().enumerate() {
            if word == "--config" {
                let config = deployed(&words[i + 1]);
                assert!(
                    config.exists(),
                    "{}: {} missing",
                    name(unit),
                    config.display()
                );
            }
        }
        let on_bus = words[1] == "bus" || words.iter().any(|w| w == "--publish");
        if on_bus && !cfg!(feature = "nats") {
            eprintln!(
                "SKIPPED: {}: the bus needs --features nats (cargo test -p vigie --features nats)",
                name(unit)
            );
            continue;
        }
        // Every subcommand and flag must parse; --help then stops it.
        let output = Command::new(env!("CARGO_BIN_EXE_vigie"))
            .args(&words[1..])
            .arg("--help")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}: `vigie {}` refused: {}",
            name(unit),
            words[1..].join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        for key in [
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "Restart=on-failure",
        ] {
            assert!(text.contains(key), "{}: no {key}", name(unit));
        }
        let raw = text.contains("CAP_NET_RAW");
        assert_eq!(
            raw,
            words[1] == "probe",
            "{}: CAP_NET_RAW is the prober's only",
            name(unit)
        );
    }
}

#[test]
fn systemd_analyze_verify_accepts_the_units() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: systemd-analyze is not installed (apt-get install systemd)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut targets = Vec::new();
    for unit in files(&deploy_dir().join("systemd"), "service") {
        // The built binary stands in for the installed one.
        let text = std::fs::read_to_string(&unit)
            .unwrap()
            .replace(INSTALLED_BIN, env!("CARGO_BIN_EXE_vigie"));
        let file = name(&unit);
        std::fs::write(dir.path().join(&file), text).unwrap();
        let target = match file.strip_suffix("@.service") {
            Some(template) => format!("{template}@test.service"),
            None => file,
        };
        targets.push(dir.path().join(target));
    }
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .args(&targets)
        .env("SYSTEMD_LOG_LEVEL", "notice")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && !stderr.contains(".service:"),
        "systemd-analyze verify: {stderr}"
    );
}
