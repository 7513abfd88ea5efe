//! `vigie completions` and `vigie man` run as a user runs them: the bash
//! script is valid bash and completes real subcommands; the man page
//! renders (groff or man, when installed) and names every top-level
//! subcommand, and `--out-dir` writes one page per subcommand.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The top-level subcommands every build has (`bus` needs `--features nats`).
const SUBCOMMANDS: &[&str] = &[
    "ingest",
    "collect",
    "import",
    "series",
    "entities",
    "detect",
    "incidents",
    "eval",
    "bench",
    "probe",
    "serve",
    "report",
    "annotate",
    "store",
    "demo",
    "completions",
    "man",
];

fn vigie(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(args)
        .output()
        .expect("run vigie");
    assert!(
        out.status.success(),
        "vigie {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The subcommands `vigie --help` lists (without `help`).
fn listed_subcommands() -> Vec<String> {
    let help = String::from_utf8(vigie(&["--help"]).stdout).unwrap();
    let commands = help
        .split("Commands:")
        .nth(1)
        .and_then(|rest| rest.split("Options:").next())
        .expect("a Commands: section in --help");
    let names: Vec<String> = commands
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect();
    for expected in SUBCOMMANDS {
        assert!(
            names.iter().any(|n| n == expected),
            "--help lacks {expected}"
        );
    }
    names
}

#[test]
fn bash_completion_is_valid_bash_and_knows_the_subcommands() {
    let script = String::from_utf8(vigie(&["completions", "bash"]).stdout).unwrap();
    assert!(script.contains("complete -F _vigie"), "no `complete` line");
    for name in listed_subcommands() {
        assert!(
            script.contains(&format!("vigie,{name})")),
            "the bash script does not complete `vigie {name}`"
        );
    }
    // Flags of a subcommand are completed too.
    assert!(script.contains("--out-dir"));
    assert!(script.contains("--for-secs"));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigie.bash");
    std::fs::write(&path, &script).unwrap();
    let check = Command::new("bash").arg("-n").arg(&path).output();
    match check {
        Ok(out) => assert!(
            out.status.success(),
            "bash -n refuses the script: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("cannot run bash: {e}"),
    }
}

#[test]
fn every_shell_gets_a_script() {
    for (shell, marker) in [
        ("zsh", "#compdef vigie"),
        ("fish", "complete -c vigie"),
        ("elvish", "edit:completion:arg-completer[vigie]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = String::from_utf8(vigie(&["completions", shell]).stdout).unwrap();
        assert!(script.contains(marker), "{shell}: no `{marker}`");
        assert!(script.contains("incidents"), "{shell}: no subcommand");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

/// Plain text of a rendered page: no SGR escapes, overstrikes or Unicode
/// hyphens.
fn plain(rendered: &[u8]) -> String {
    let text = String::from_utf8_lossy(rendered);
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // ESC [ … m
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            '\u{8}' => {
                out.pop();
            }
            '\u{2010}' | '\u{2212}' => out.push('-'),
            c => out.push(c),
        }
    }
    out
}

/// The page rendered by groff, or `man -l`; None when neither is installed.
fn render(page: &Path) -> Option<String> {
    let tries: [(&str, Vec<&str>); 2] = [
        ("groff", vec!["-man", "-Tutf8"]),
        ("man", vec!["-l", "-P", "cat"]),
    ];
    for (program, args) in tries {
        let out = Command::new(program)
            .args(&args)
            .arg(page)
            .env("MANWIDTH", "100")
            .stdin(Stdio::null())
            .output();
        let Ok(out) = out else { continue };
        assert!(
            out.status.success(),
            "{program} cannot render the page: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return Some(plain(&out.stdout));
    }
    None
}

#[test]
fn man_page_renders_and_names_every_subcommand() {
    let roff = String::from_utf8(vigie(&["man"]).stdout).unwrap();
    assert!(roff.contains(".TH vigie 1"), "no .TH title line");
    assert!(roff.contains(".SH SUBCOMMANDS"));
    let subcommands = listed_subcommands();
    for name in &subcommands {
        assert!(
            roff.contains(&format!("vigie\\-{name}(1)")),
            "the roff source does not name `vigie {name}`"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("vigie.1");
    std::fs::write(&page, &roff).unwrap();
    match render(&page) {
        Some(text) => {
            assert!(text.contains("SUBCOMMANDS"), "rendered: {text}");
            assert!(text.contains("--data-dir"), "rendered: {text}");
            for name in &subcommands {
                assert!(
                    text.contains(&format!("vigie-{name}(1)")),
                    "the rendered page does not name `vigie {name}`:\n{text}"
                );
            }
        }
        None => eprintln!("neither groff nor man is installed: rendering not checked"),
    }
}

#[test]
fn man_out_dir_writes_one_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("man1");
    vigie(&["man", "--out-dir", out_dir.to_str().unwrap()]);
    let top = std::fs::read_to_string(out_dir.join("vigie.1")).unwrap();
    assert!(top.contains(".TH vigie 1"));
    for name in listed_subcommands() {
        let page = out_dir.join(format!("vigie-{name}.1"));
        let text =
            std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        assert!(
            text.contains(&format!(".TH vigie-{name} 1")),
            "{name}: {text}"
        );
    }
    // Nested subcommands get their own pages too.
    let mrt = std::fs::read_to_string(out_dir.join("vigie-ingest-mrt.1")).unwrap();
    assert!(mrt.contains("vigie\\-ingest\\-mrt"));
    let serve = std::fs::read_to_string(out_dir.join("vigie-serve.1")).unwrap();
    assert!(serve.contains("\\-\\-for\\-secs"));
}
