//! A closed lab of network namespaces for tests and benchmarks with real
//! packets (needs root, `ip` from iproute2 and `nft` from nftables).
//!
//! ```text
//!  [vantage netns]                         [country netns]
//!   prober  vb<id> 100.64.0.1/30 ── veth ── vc<id> 100.64.0.2/30
//!   nft: counts echo requests sent          nft "border": cut / drop blocks
//!                                            dummy d<id> (or lo) with `local <blocks>`:
//!                                            every address of the blocks answers
//! ```
//!
//! The country's blocks are a local route on a dummy interface, so the
//! kernel answers pings for every address in them. [`Lab::cut_border`]
//! drops everything from the vantage point at the country's edge (the
//! Kazakhstan-2022 case: routes up, nothing answers); [`Lab::drop_blocks`]
//! drops some blocks only; [`Lab::set_vantage_link`] takes the vantage
//! point's own link down (the prober cannot send at all). Dropping the
//! [`Lab`] removes both namespaces.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::Command;

use ipnet::Ipv4Net;

/// The lab's vantage point address.
pub const VANTAGE_ADDR: &str = "100.64.0.1";
/// The country's border address.
pub const BORDER_ADDR: &str = "100.64.0.2";

/// Why the lab cannot run here.
pub fn unavailable_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not running as root (network namespaces need root)".to_string());
    }
    for tool in ["ip", "nft"] {
        let found = Command::new(tool).arg("-V").output().is_ok();
        if !found {
            return Some(format!(
                "`{tool}` is not installed (scripts/setup.sh installs it)"
            ));
        }
    }
    None
}

/// Runs a command, failing with its output on error.
pub fn run(args: &[&str]) -> Result<String, String> {
    let (program, rest) = args.split_first().ok_or("empty command")?;
    let output = Command::new(program)
        .args(rest)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn run_stdin(args: &[&str], input: &str) -> Result<(), String> {
    use std::io::Write;
    let (program, rest) = args.split_first().ok_or("empty command")?;
    let mut child = Command::new(program)
        .args(rest)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| format!("writing to {program}: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("waiting for {program}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(())
}

/// Two namespaces joined by a veth "border"; see the module doc.
#[derive(Debug)]
pub struct Lab {
    /// The vantage point's namespace name.
    pub vantage_ns: String,
    /// The country's namespace name.
    pub country_ns: String,
    vantage_if: String,
    blocks: Ipv4Net,
}

impl Lab {
    /// Builds the lab; `tag` (a few letters) keeps concurrent labs apart,
    /// `blocks` is the country's address space. Leftovers of an earlier run
    /// with the same names are removed first.
    pub fn create(tag: &str, blocks: Ipv4Net) -> Result<Lab, String> {
        let id = format!("{tag}{}", std::process::id() % 100_000);
        let lab = Lab {
            vantage_ns: format!("vgv{id}"),
            country_ns: format!("vgc{id}"),
            vantage_if: format!("vb{id}"),
            blocks,
        };
        lab.remove();
        let (v, c) = (lab.vantage_ns.as_str(), lab.country_ns.as_str());
        let vc = format!("vc{id}");
        let dummy = format!("d{id}");
        let prefix = blocks.to_string();
        let vantage_cidr = format!("{VANTAGE_ADDR}/30");
        let border_cidr = format!("{BORDER_ADDR}/30");
        run(&["ip", "netns", "add", v])?;
        run(&["ip", "netns", "add", c])?;
        let vb = lab.vantage_if.as_str();
        for step in [
            vec![
                "ip", "link", "add", vb, "netns", v, "type", "veth", "peer", "name", &vc, "netns",
                c,
            ],
            vec!["ip", "-n", v, "link", "set", "lo", "up"],
            vec!["ip", "-n", c, "link", "set", "lo", "up"],
            vec!["ip", "-n", v, "addr", "add", &vantage_cidr, "dev", vb],
            vec!["ip", "-n", c, "addr", "add", &border_cidr, "dev", &vc],
            vec!["ip", "-n", v, "link", "set", vb, "up"],
            vec!["ip", "-n", c, "link", "set", &vc, "up"],
            vec!["ip", "-n", v, "route", "add", "default", "via", BORDER_ADDR],
        ] {
            if let Err(e) = run(&step) {
                lab.remove();
                return Err(e);
            }
        }
        // The blocks live on a dummy interface; kernels without the dummy
        // module (some containers) get them on the loopback instead, which
        // answers the same way.
        let device = match run(&["ip", "-n", c, "link", "add", &dummy, "type", "dummy"])
            .and_then(|_| run(&["ip", "-n", c, "link", "set", &dummy, "up"]))
        {
            Ok(_) => dummy.as_str(),
            Err(_) => "lo",
        };
        if let Err(e) = run(&[
            "ip", "-n", c, "route", "add", "local", &prefix, "dev", device,
        ]) {
            lab.remove();
            return Err(e);
        }
        let vantage_rules = "table ip vigie_lab {
  counter echo_out {}
  chain out { type filter hook output priority 0; policy accept; icmp type echo-request counter name echo_out; }
}\n";
        let border_rules = "table ip border {
  chain pre { type filter hook prerouting priority -300; policy accept; }
}\n";
        let setup = run_stdin(&["ip", "netns", "exec", v, "nft", "-f", "-"], vantage_rules)
            .and_then(|_| run_stdin(&["ip", "netns", "exec", c, "nft", "-f", "-"], border_rules));
        if let Err(e) = setup {
            lab.remove();
            return Err(e);
        }
        Ok(lab)
    }

    /// The country's address space.
    pub fn blocks(&self) -> Ipv4Net {
        self.blocks
    }

    fn remove(&self) {
        let _ = run(&["ip", "netns", "del", &self.vantage_ns]);
        let _ = run(&["ip", "netns", "del", &self.country_ns]);
    }

    fn border(&self, rules: &str) -> Result<(), String> {
        run_stdin(
            &["ip", "netns", "exec", &self.country_ns, "nft", "-f", "-"],
            &format!("flush chain ip border pre\n{rules}"),
        )
    }

    /// Drops every packet from the vantage point at the border.
    pub fn cut_border(&self) -> Result<(), String> {
        self.border(&format!(
            "add rule ip border pre ip saddr {VANTAGE_ADDR} drop\n"
        ))
    }

    /// Drops packets to `blocks` only (an empty list restores the border).
    pub fn drop_blocks(&self, blocks: &[Ipv4Net]) -> Result<(), String> {
        if blocks.is_empty() {
            return self.border("");
        }
        let set: Vec<String> = blocks.iter().map(|b| b.to_string()).collect();
        self.border(&format!(
            "add rule ip border pre ip daddr {{ {} }} drop\n",
            set.join(", ")
        ))
    }

    /// Lets everything through again.
    pub fn restore_border(&self) -> Result<(), String> {
        self.border("")
    }

    /// Sets the vantage point's own link up or down.
    pub fn set_vantage_link(&self, up: bool) -> Result<(), String> {
        let state = if up { "up" } else { "down" };
        run(&[
            "ip",
            "-n",
            &self.vantage_ns,
            "link",
            "set",
            &self.vantage_if,
            state,
        ])?;
        if up {
            // The default route went away with the link.
            let _ = run(&[
                "ip",
                "-n",
                &self.vantage_ns,
                "route",
                "replace",
                "default",
                "via",
                BORDER_ADDR,
            ]);
        }
        Ok(())
    }

    /// Echo requests that left the vantage point so far (nftables counter).
    pub fn echo_requests_sent(&self) -> Result<u64, String> {
        let text = run(&[
            "ip",
            "netns",
            "exec",
            &self.vantage_ns,
            "nft",
            "list",
            "counter",
            "ip",
            "vigie_lab",
            "echo_out",
        ])?;
        let mut words = text.split_whitespace();
        while let Some(word) = words.next() {
            if word == "packets" {
                if let Some(n) = words.next().and_then(|n| n.parse().ok()) {
                    return Ok(n);
                }
            }
        }
        Err(format!("no packet count in nft output: {text}"))
    }

    /// Moves the calling thread into the vantage point's namespace: sockets
    /// it opens afterwards live there. Use a dedicated thread.
    pub fn enter_vantage(&self) -> Result<(), String> {
        enter_netns(&self.vantage_ns)
    }
}

/// Moves the calling thread into the named network namespace.
pub fn enter_netns(name: &str) -> Result<(), String> {
    let path = format!("/run/netns/{name}");
    let file = File::open(&path).map_err(|e| format!("cannot open {path}: {e}"))?;
    // SAFETY: setns on a valid namespace descriptor; it only changes the
    // calling thread's network namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(format!(
            "setns({path}): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.remove();
    }
}
