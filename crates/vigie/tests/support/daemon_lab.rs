//! A closed BGP lab of real daemons that write MRT files.
//!
//! Two network namespaces joined by one veth pair (nothing reaches the host's
//! network):
//!
//! ```text
//!  namespace "routers"                     namespace "collectors"
//!  gobgpd R1 AS65001 198.18.0.2 2001:db8::2 ─┐   ┌─ gobgpd AS65100 198.18.0.1 2001:db8::1
//!  gobgpd R2 AS65002 198.18.0.3 2001:db8::3 ─┼───┤    MRT: BGP4MP update dumps, one file a minute
//!  gobgpd R3 AS65003 198.18.0.4 2001:db8::4 ─┘   └─ BIRD 2 AS65200 198.18.0.5 2001:db8::5
//!                                                     MRT: BGP4MP message dump, TABLE_DUMP_V2 on demand
//! ```
//!
//! Each router has one IPv4 and one IPv6 session with each collector. Routes
//! are originated on the routers with the `gobgp` CLI (prefix and AS path of
//! our choosing); the collectors export nothing and the routers import
//! nothing, so every collector sees exactly what the routers announce.
//!
//! Needs root (namespaces, port 179) and the Debian packages `gobgpd`,
//! `bird2`, `bgpdump` and `iproute2` (`scripts/setup.sh` installs them).

use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The gobgpd collector's AS number.
pub const GOBGP_COLLECTOR_ASN: u32 = 65100;
/// The BIRD collector's AS number.
pub const BIRD_COLLECTOR_ASN: u32 = 65200;
const GOBGP_COLLECTOR_V4: &str = "198.18.0.1";
const GOBGP_COLLECTOR_V6: &str = "2001:db8::1";
const BIRD_COLLECTOR_V4: &str = "198.18.0.5";
const BIRD_COLLECTOR_V6: &str = "2001:db8::5";

/// One router of the lab: a gobgpd that originates routes.
#[derive(Clone, Copy, Debug)]
pub struct Router {
    /// Its AS number, the peer AS the collectors record.
    pub asn: u32,
    /// Its IPv4 session address, the peer IP of its IPv4 routes.
    pub ipv4: &'static str,
    /// Its IPv6 session address, the peer IP of its IPv6 routes.
    pub ipv6: &'static str,
}

/// The lab's three routers, R1, R2 and R3 (index 0, 1, 2).
pub const ROUTERS: [Router; 3] = [
    Router {
        asn: 65001,
        ipv4: "198.18.0.2",
        ipv6: "2001:db8::2",
    },
    Router {
        asn: 65002,
        ipv4: "198.18.0.3",
        ipv6: "2001:db8::3",
    },
    Router {
        asn: 65003,
        ipv4: "198.18.0.4",
        ipv6: "2001:db8::4",
    },
];

/// Where the programs the lab runs were found.
pub struct Tools {
    /// iproute2's `ip`.
    pub ip: PathBuf,
    /// The GoBGP daemon.
    pub gobgpd: PathBuf,
    /// The GoBGP CLI.
    pub gobgp: PathBuf,
    /// The BIRD daemon.
    pub bird: PathBuf,
    /// The BIRD CLI.
    pub birdc: PathBuf,
    /// The MRT decoder used as the independent count.
    pub bgpdump: PathBuf,
}

impl Tools {
    /// Finds every program, or says which are missing and which package has them.
    pub fn find() -> Result<Tools, String> {
        let wanted = [
            ("ip", "iproute2"),
            ("gobgpd", "gobgpd"),
            ("gobgp", "gobgpd"),
            ("bird", "bird2"),
            ("birdc", "bird2"),
            ("bgpdump", "bgpdump"),
        ];
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for (name, package) in wanted {
            match find_program(name) {
                Some(path) => found.push(path),
                None => missing.push(format!("{name} (Debian package {package})")),
            }
        }
        if !missing.is_empty() {
            return Err(format!(
                "missing programs: {}; run scripts/setup.sh",
                missing.join(", ")
            ));
        }
        let mut found = found.into_iter();
        let mut next = || found.next().unwrap_or_default();
        Ok(Tools {
            ip: next(),
            gobgpd: next(),
            gobgp: next(),
            bird: next(),
            birdc: next(),
            bgpdump: next(),
        })
    }
}

/// Looks for an executable on PATH, then in the sbin folders a non-root PATH lacks.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// True when the effective user is root (read from `/proc/self/status`).
pub fn is_root() -> bool {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0")
}

/// Seconds since the Unix epoch, with fractions.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Sleeps until the wall clock reaches `unix_secs`.
pub fn sleep_until(unix_secs: f64) {
    let wait = unix_secs - unix_now();
    if wait > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(wait));
    }
}

/// Polls `ready` every 200 ms until it says true, or fails after `timeout`.
pub fn wait_for(
    what: &str,
    timeout: Duration,
    mut ready: impl FnMut() -> Result<bool, String>,
) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if ready()? {
            return Ok(());
        }
        if start.elapsed() > timeout {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs a command to completion; its stdout, or an error with its stderr.
fn run(program: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    if !output.status.success() {
        return Err(format!(
            "`{} {}` failed ({}): {}{}",
            program.display(),
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim(),
            String::from_utf8_lossy(&output.stdout).trim(),
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

struct Daemon {
    name: String,
    child: Child,
    log: PathBuf,
}

/// The running lab. Dropping it stops every daemon and deletes the
/// namespaces; its folder is kept when the test panicked or
/// `VIGIE_KEEP_LAB=1`, and deleted otherwise.
pub struct Lab {
    tools: Tools,
    /// The lab's folder: configs, logs, sockets and MRT output.
    pub dir: PathBuf,
    /// Where gobgpd writes its BGP4MP update files, one per minute.
    pub gobgp_updates_dir: PathBuf,
    /// The BGP4MP message dump BIRD writes (every message its peers send).
    pub bird_messages_file: PathBuf,
    ns_routers: String,
    ns_collectors: String,
    namespaces_made: Vec<String>,
    daemons: Vec<Daemon>,
}

impl Lab {
    /// Creates the namespaces, writes the configs and starts the five
    /// daemons. Does not wait for the sessions; see [`Lab::wait_established`].
    pub fn start(tools: Tools) -> Result<Lab, String> {
        let tag = format!(
            "{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_micros())
                .unwrap_or(0)
        );
        remove_stale_namespaces(&tools.ip);
        let dir = std::env::temp_dir().join(format!("vigie-daemon-lab-{tag}"));
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let gobgp_updates_dir = dir.join("gobgp-updates");
        fs::create_dir_all(&gobgp_updates_dir).map_err(|e| e.to_string())?;
        let mut lab = Lab {
            tools,
            bird_messages_file: dir.join("bird-messages.mrt"),
            gobgp_updates_dir,
            dir,
            ns_routers: format!("vigie-r-{tag}"),
            ns_collectors: format!("vigie-c-{tag}"),
            namespaces_made: Vec::new(),
            daemons: Vec::new(),
        };
        lab.make_network()?;
        lab.write_configs()?;
        lab.start_daemons()?;
        Ok(lab)
    }

    fn ip(&self, args: &[&str]) -> Result<String, String> {
        run(&self.tools.ip, args)
    }

    fn make_network(&mut self) -> Result<(), String> {
        for ns in [self.ns_routers.clone(), self.ns_collectors.clone()] {
            self.ip(&["netns", "add", &ns])?;
            self.namespaces_made.push(ns.clone());
            self.ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        let (r, c) = (self.ns_routers.clone(), self.ns_collectors.clone());
        // Created straight inside the namespaces: no name clash on the host.
        self.ip(&[
            "link", "add", "name", "vc0", "netns", &c, "type", "veth", "peer", "name", "vr0",
            "netns", &r,
        ])?;
        for (ns, dev, v4s, v6s) in [
            (
                &c,
                "vc0",
                vec![GOBGP_COLLECTOR_V4, BIRD_COLLECTOR_V4],
                vec![GOBGP_COLLECTOR_V6, BIRD_COLLECTOR_V6],
            ),
            (
                &r,
                "vr0",
                ROUTERS.iter().map(|r| r.ipv4).collect(),
                ROUTERS.iter().map(|r| r.ipv6).collect(),
            ),
        ] {
            for v4 in v4s {
                self.ip(&["-n", ns, "addr", "add", &format!("{v4}/24"), "dev", dev])?;
            }
            for v6 in v6s {
                // nodad: usable at once, no duplicate address detection delay.
                self.ip(&[
                    "-n",
                    ns,
                    "-6",
                    "addr",
                    "add",
                    &format!("{v6}/64"),
                    "dev",
                    dev,
                    "nodad",
                ])?;
            }
            self.ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        Ok(())
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn write_configs(&self) -> Result<(), String> {
        let write = |name: &str, text: String| {
            fs::write(self.dir.join(name), text).map_err(|e| format!("cannot write {name}: {e}"))
        };
        write("gobgp-collector.toml", self.gobgp_collector_config())?;
        for (index, router) in ROUTERS.iter().enumerate() {
            write(&format!("router{}.toml", index + 1), router_config(router))?;
        }
        write("bird.conf", self.bird_config())
    }

    fn gobgp_collector_config(&self) -> String {
        let mut toml = format!(
            "[global.config]\n  as = {GOBGP_COLLECTOR_ASN}\n  router-id = \"{GOBGP_COLLECTOR_V4}\"\n  \
             port = 179\n  local-address-list = [\"{GOBGP_COLLECTOR_V4}\", \"{GOBGP_COLLECTOR_V6}\"]\n\
             # A collector: it listens and records, and never re-announces.\n\
             [global.apply-policy.config]\n  default-export-policy = \"reject-route\"\n"
        );
        for router in ROUTERS {
            for (address, family) in [(router.ipv4, "ipv4"), (router.ipv6, "ipv6")] {
                let _ = write!(
                    toml,
                    "[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{address}\"\n    \
                     peer-as = {}\n  [neighbors.transport.config]\n    passive-mode = true\n  \
                     [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      \
                     afi-safi-name = \"{family}-unicast\"\n",
                    router.asn
                );
            }
        }
        // A Go time layout: one file a minute, named like RouteViews' updates.
        // gobgpd formats the whole path, so digits or words such as "Jan" in
        // the folder's name would be replaced by the date: the name is
        // relative to gobgpd's working folder, the updates folder.
        toml.push_str(
            "[[mrt-dump]]\n  [mrt-dump.config]\n    dump-type = \"updates\"\n    \
             file-name = \"updates.20060102.1504.mrt\"\n    rotation-interval = 60\n",
        );
        toml
    }

    fn bird_config(&self) -> String {
        let mut conf = format!(
            "router id {BIRD_COLLECTOR_V4};\n\
             log \"{log}\" all;\n\
             mrtdump \"{mrt}\";\n\
             mrtdump protocols {{ messages }};\n\
             protocol device {{ }}\n\
             template bgp from_router4 {{\n  local {BIRD_COLLECTOR_V4} as {BIRD_COLLECTOR_ASN};\n  \
             strict bind yes;\n  passive yes;\n  ipv4 {{ import all; export none; }};\n}}\n\
             template bgp from_router6 {{\n  local {BIRD_COLLECTOR_V6} as {BIRD_COLLECTOR_ASN};\n  \
             strict bind yes;\n  passive yes;\n  ipv6 {{ import all; export none; }};\n}}\n",
            log = self.path("bird.log"),
            mrt = self.bird_messages_file.display(),
        );
        for (index, router) in ROUTERS.iter().enumerate() {
            let n = index + 1;
            let _ = writeln!(
                conf,
                "protocol bgp r{n}v4 from from_router4 {{ neighbor {} as {}; }}\n\
                 protocol bgp r{n}v6 from from_router6 {{ neighbor {} as {}; }}",
                router.ipv4, router.asn, router.ipv6, router.asn
            );
        }
        conf
    }

    fn spawn(
        &mut self,
        name: &str,
        ns: &str,
        program: &Path,
        args: &[String],
        working_dir: &Path,
    ) -> Result<(), String> {
        let log = self.dir.join(format!("{name}.log"));
        let out = File::create(&log).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        // `ip netns exec` execs the daemon, so the child's pid is the daemon's.
        let child = Command::new(&self.tools.ip)
            .args(["netns", "exec", ns])
            .arg(program)
            .args(args)
            .current_dir(working_dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        self.daemons.push(Daemon {
            name: name.to_string(),
            child,
            log,
        });
        Ok(())
    }

    fn gobgpd_args(&self, config: &str, socket: &str) -> Vec<String> {
        vec![
            "-f".into(),
            self.path(config),
            "--api-hosts".into(),
            format!("unix://{}", self.path(socket)),
            "--pprof-disable".into(),
            "--log-plain".into(),
        ]
    }

    fn start_daemons(&mut self) -> Result<(), String> {
        let (c, r) = (self.ns_collectors.clone(), self.ns_routers.clone());
        let bird_args = vec![
            "-f".into(),
            "-c".into(),
            self.path("bird.conf"),
            "-s".into(),
            self.path("bird.ctl"),
            "-P".into(),
            self.path("bird.pid"),
        ];
        let (bird, dir) = (self.tools.bird.clone(), self.dir.clone());
        self.spawn("bird-collector", &c, &bird, &bird_args, &dir)?;
        let gobgpd = self.tools.gobgpd.clone();
        let args = self.gobgpd_args("gobgp-collector.toml", "gobgp-collector.sock");
        let updates_dir = self.gobgp_updates_dir.clone();
        self.spawn("gobgp-collector", &c, &gobgpd, &args, &updates_dir)?;
        for n in 1..=ROUTERS.len() {
            let args = self.gobgpd_args(&format!("router{n}.toml"), &format!("router{n}.sock"));
            self.spawn(&format!("router{n}"), &r, &gobgpd, &args, &dir)?;
        }
        Ok(())
    }

    /// Fails, with the daemon's log, if a daemon has exited.
    fn check_alive(&mut self) -> Result<(), String> {
        for daemon in &mut self.daemons {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                let log = fs::read_to_string(&daemon.log).unwrap_or_default();
                return Err(format!(
                    "{} exited ({status}); its log {}:\n{}",
                    daemon.name,
                    daemon.log.display(),
                    tail(&log, 20)
                ));
            }
        }
        Ok(())
    }

    fn gobgp(&self, socket: &str, args: &[&str]) -> Result<String, String> {
        let target = format!("unix://{}", self.path(socket));
        let mut all = vec!["--target", target.as_str()];
        all.extend_from_slice(args);
        run(&self.tools.gobgp, &all)
    }

    fn birdc(&self, args: &[&str]) -> Result<String, String> {
        let socket = self.path("bird.ctl");
        let mut all = vec!["-s", socket.as_str()];
        all.extend_from_slice(args);
        run(&self.tools.birdc, &all)
    }

    /// Waits until all twelve sessions (3 routers × 2 families × 2
    /// collectors) are established.
    pub fn wait_established(&mut self, timeout: Duration) -> Result<(), String> {
        let want = ROUTERS.len() * 2;
        let start = Instant::now();
        loop {
            self.check_alive()?;
            let gobgp = self
                .gobgp("gobgp-collector.sock", &["neighbor"])
                .map(|text| text.matches("Establ").count())
                .unwrap_or(0);
            let bird = self
                .birdc(&["show", "protocols"])
                .map(|text| text.matches("Established").count())
                .unwrap_or(0);
            if gobgp == want && bird == want {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(format!(
                    "after {timeout:?} only {gobgp}/{want} gobgpd and {bird}/{want} BIRD sessions \
                     are established; logs in {}",
                    self.dir.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Originates `prefix` on router `router` (0-based) with `as_path`, whose
    /// last AS is the origin; the router prepends its own AS when it sends.
    pub fn announce(&self, router: usize, prefix: &str, as_path: &[u32]) -> Result<(), String> {
        let family = family_of(prefix);
        let path = as_path
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let socket = format!("router{}.sock", router + 1);
        self.gobgp(
            &socket,
            &[
                "global", "rib", "add", "-a", family, prefix, "aspath", &path, "origin", "igp",
            ],
        )
        .map(drop)
    }

    /// Withdraws `prefix` from router `router` (0-based).
    pub fn withdraw(&self, router: usize, prefix: &str) -> Result<(), String> {
        let socket = format!("router{}.sock", router + 1);
        self.gobgp(
            &socket,
            &["global", "rib", "del", "-a", family_of(prefix), prefix],
        )
        .map(drop)
    }

    /// How many paths (routes, counting each peer's) each collector holds
    /// for IPv4 and IPv6: `[gobgpd v4, gobgpd v6, BIRD v4, BIRD v6]`.
    pub fn collector_path_counts(&self) -> Result<[usize; 4], String> {
        let mut counts = [0; 4];
        for (slot, family) in [(0, "ipv4"), (1, "ipv6")] {
            let text = self.gobgp(
                "gobgp-collector.sock",
                &["global", "rib", "summary", "-a", family],
            )?;
            counts[slot] = number_after(&text, "Path: ").unwrap_or(0);
        }
        for (slot, table) in [(2, "master4"), (3, "master6")] {
            let text = self.birdc(&["show", "route", "count", "table", table])?;
            // "17 of 17 routes for 7 networks in table master4"
            counts[slot] = text
                .split_whitespace()
                .find_map(|word| word.parse::<usize>().ok())
                .unwrap_or(0);
        }
        Ok(counts)
    }

    /// Asks BIRD for a TABLE_DUMP_V2 dump of both its tables, now, into
    /// `<name>.mrt`: BIRD writes one PEER_INDEX_TABLE and the RIB entries
    /// of `master4`, then the same for `master6`. Returns once written.
    pub fn bird_rib_dump(&self, name: &str) -> Result<PathBuf, String> {
        let file = self.dir.join(format!("{name}.mrt"));
        let quoted_file = format!("\"{}\"", file.display());
        self.birdc(&["mrt", "dump", "table", "\"master*\"", "to", &quoted_file])?;
        // BIRD writes the dump from its event loop: wait for a steady size.
        let mut last_size = 0;
        wait_for(
            &format!("BIRD to write {}", file.display()),
            Duration::from_secs(10),
            || {
                let size = fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
                let steady = size > 0 && size == last_size;
                last_size = size;
                Ok(steady)
            },
        )?;
        Ok(file)
    }

    /// Stops the collectors first (so no session teardown reaches their
    /// MRT files), then the routers; waits for every daemon to exit.
    pub fn stop(&mut self) -> Result<(), String> {
        self.check_alive()?;
        let _ = self.birdc(&["down"]);
        for daemon in &mut self.daemons {
            if daemon.name == "bird-collector" {
                continue;
            }
            let _ = Command::new("kill")
                .args(["-TERM", &daemon.child.id().to_string()])
                .status();
            if daemon.name == "gobgp-collector" {
                wait_exit(daemon, Duration::from_secs(10));
            }
        }
        for daemon in &mut self.daemons {
            wait_exit(daemon, Duration::from_secs(10));
        }
        Ok(())
    }
}

/// Deletes the namespaces (and ends the daemons in them) that an earlier
/// run left behind when it was killed before it could clean up: those named
/// `vigie-r-<pid>-…`/`vigie-c-<pid>-…` whose test process is gone.
fn remove_stale_namespaces(ip: &Path) {
    let Ok(list) = run(ip, &["netns", "list"]) else {
        return;
    };
    for name in list
        .lines()
        .filter_map(|line| line.split_whitespace().next())
    {
        let Some(rest) = name
            .strip_prefix("vigie-r-")
            .or_else(|| name.strip_prefix("vigie-c-"))
        else {
            continue;
        };
        let owner = rest.split('-').next().unwrap_or_default();
        if owner.is_empty() || Path::new("/proc").join(owner).exists() {
            continue;
        }
        if let Ok(pids) = run(ip, &["netns", "pids", name]) {
            for pid in pids.split_whitespace() {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
        let _ = run(ip, &["netns", "del", name]);
        eprintln!("removed the stale lab namespace {name} of a killed run");
    }
}

fn wait_exit(daemon: &mut Daemon, timeout: Duration) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Ok(Some(_)) = daemon.child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = daemon.child.kill();
    let _ = daemon.child.wait();
}

impl Drop for Lab {
    fn drop(&mut self) {
        for daemon in &mut self.daemons {
            if let Ok(None) = daemon.child.try_wait() {
                let _ = daemon.child.kill();
                let _ = daemon.child.wait();
            }
        }
        for ns in &self.namespaces_made {
            let _ = run(&self.tools.ip, &["netns", "del", ns]);
        }
        let keep =
            std::thread::panicking() || std::env::var("VIGIE_KEEP_LAB").as_deref() == Ok("1");
        if keep {
            eprintln!("daemon lab kept for inspection: {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn router_config(router: &Router) -> String {
    let mut toml = format!(
        // No import policy here: gobgpd would apply it to the routes added
        // with the CLI too. The collectors export nothing instead.
        "[global.config]\n  as = {}\n  router-id = \"{}\"\n  port = -1\n",
        router.asn, router.ipv4
    );
    for (collector, asn, local, family) in [
        (GOBGP_COLLECTOR_V4, GOBGP_COLLECTOR_ASN, router.ipv4, "ipv4"),
        (GOBGP_COLLECTOR_V6, GOBGP_COLLECTOR_ASN, router.ipv6, "ipv6"),
        (BIRD_COLLECTOR_V4, BIRD_COLLECTOR_ASN, router.ipv4, "ipv4"),
        (BIRD_COLLECTOR_V6, BIRD_COLLECTOR_ASN, router.ipv6, "ipv6"),
    ] {
        let _ = write!(
            toml,
            "[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{collector}\"\n    \
             peer-as = {asn}\n  [neighbors.transport.config]\n    local-address = \"{local}\"\n  \
             [neighbors.timers.config]\n    connect-retry = 1\n  [[neighbors.afi-safis]]\n    \
             [neighbors.afi-safis.config]\n      afi-safi-name = \"{family}-unicast\"\n"
        );
    }
    toml
}

fn family_of(prefix: &str) -> &'static str {
    if prefix.contains(':') {
        "ipv6"
    } else {
        "ipv4"
    }
}

fn number_after(text: &str, label: &str) -> Option<usize> {
    let rest = &text[text.find(label)? + label.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
