//! Running the real Fluent Bit: start it on a config, read its counters
//! from `/api/v1/metrics`, stop it with SIGTERM.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long Fluent Bit may take to start (load the module, open its
/// inputs, bind its HTTP port) on a loaded 2-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long it may take to stop after SIGTERM (its own grace period is 5 s).
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(50);

/// A port nobody listens on now (the OS picks it; Fluent Bit binds it next),
/// and never one handed out before in this process: the OS may give a port
/// just closed to the next caller, and two Fluent Bits started side by side
/// would then share one (the second cannot bind it, and its test would read
/// the first one's counters).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    loop {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("bind a local port")
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Fluent Bit's counters: `section` (`input`, `filter`, `output`) →
/// plugin instance (`tail.0`, `wasm.0`, `file.1`, ...) → counter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metrics(BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>);

impl Metrics {
    fn parse(body: &str) -> Result<Metrics, String> {
        serde_json::from_str(body)
            .map(Metrics)
            .map_err(|e| format!("/api/v1/metrics: {e}: {body}"))
    }

    /// A counter, 0 when the plugin has not reported it.
    pub fn get(&self, section: &str, plugin: &str, counter: &str) -> u64 {
        self.0
            .get(section)
            .and_then(|s| s.get(plugin))
            .and_then(|p| p.get(counter))
            .copied()
            .unwrap_or(0)
    }

    /// The plugin instances of a section (`tail.0`, ...), in name order.
    pub fn plugins(&self, section: &str) -> Vec<&str> {
        self.0
            .get(section)
            .map(|s| s.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// A counter summed over every plugin of a section.
    pub fn total(&self, section: &str, counter: &str) -> u64 {
        self.plugins(section)
            .iter()
            .map(|p| self.get(section, p, counter))
            .sum()
    }
}

impl std::fmt::Display for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&serde_json::to_string(&self.0).map_err(|_| std::fmt::Error)?)
    }
}

/// A Fluent Bit process running a config.
pub struct Running {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
    label: String,
}

/// How a run ended.
pub struct Stopped {
    pub status: ExitStatus,
    /// What Fluent Bit printed (stdout and stderr).
    pub log: String,
}

/// `binary -c config`, what it prints going to `log`.
fn spawn(binary: &Path, config: &Path, log: &Path) -> Result<Child, String> {
    let out = File::create(log).map_err(|e| format!("create {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    Command::new(binary)
        .arg("-c")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("start {}: {e}", binary.display()))
}

/// Starts `binary -c config`, its output going to `log`, and waits until its
/// HTTP server answers on `port` (by then every plugin is initialized).
/// On failure, the error holds what Fluent Bit printed.
pub fn start(binary: &Path, config: &Path, port: u16, log: &Path) -> Result<Running, String> {
    let child = spawn(binary, config, log)?;
    let mut running = Running {
        child: Some(child),
        port,
        log: log.to_owned(),
        label: config.display().to_string(),
    };
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        // Counters on the port are ours only if this Fluent Bit bound it.
        if std::fs::read_to_string(log).is_ok_and(|text| text.contains("could not bind address")) {
            let stopped = running.stop();
            return Err(format!(
                "Fluent Bit could not bind its HTTP port {port} ({}):\n{}",
                running_label(config),
                tail(&stopped.log)
            ));
        }
        if running.metrics().is_ok() {
            return Ok(running);
        }
        if let Some(status) = running.exited() {
            return Err(format!(
                "Fluent Bit exited at start ({status}) on {}:\n{}",
                running.label,
                running.log_tail()
            ));
        }
        if Instant::now() > deadline {
            let stopped = running.stop();
            return Err(format!(
                "Fluent Bit did not answer on port {port} within {START_TIMEOUT:?} ({}):\n{}",
                running_label(config),
                tail(&stopped.log)
            ));
        }
        std::thread::sleep(POLL);
    }
}

fn running_label(config: &Path) -> String {
    config.display().to_string()
}

impl Running {
    /// The counters now.
    pub fn metrics(&self) -> Result<Metrics, String> {
        Metrics::parse(&http_get(self.port, "/api/v1/metrics")?)
    }

    /// Polls the counters until `ready` holds for them; returns the last
    /// ones seen, whether it held or `timeout` passed.
    pub fn wait_for(&mut self, ready: impl Fn(&Metrics) -> bool, timeout: Duration) -> Metrics {
        let deadline = Instant::now() + timeout;
        loop {
            let now = self.metrics().unwrap_or_default();
            if ready(&now) || Instant::now() > deadline || self.exited().is_some() {
                return now;
            }
            std::thread::sleep(POLL);
        }
    }

    /// Polls the counters until `done` holds for them, then waits one more
    /// flush and returns them if nothing moved (a record arriving late would
    /// show). Gives up, returning the last counters, when nothing has moved
    /// for `quiet` (records were lost on the way) or at `deadline`.
    pub fn settle(&mut self, done: impl Fn(&Metrics) -> bool, quiet: Duration) -> Metrics {
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut last = Metrics::default();
        let mut last_change = Instant::now();
        loop {
            let now = match self.metrics() {
                Ok(m) => m,
                Err(_) if self.exited().is_some() => return last,
                Err(_) => {
                    std::thread::sleep(POLL);
                    continue;
                }
            };
            if now != last {
                last_change = Instant::now();
            }
            if done(&now) {
                std::thread::sleep(Duration::from_millis(400));
                match self.metrics() {
                    Ok(again) if again == now => return now,
                    Ok(again) => last = again,
                    Err(_) => return now,
                }
                last_change = Instant::now();
                continue;
            }
            if last_change.elapsed() > quiet || Instant::now() > deadline {
                return now;
            }
            last = now;
            std::thread::sleep(POLL);
        }
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGTERM, then wait for it to exit (SIGKILL after [`STOP_TIMEOUT`]).
    pub fn stop(mut self) -> Stopped {
        let mut child = self.child.take().expect("stopped once");
        if child.try_wait().ok().flatten().is_none() {
            // SIGTERM by pid through kill(1): the tests have no libc binding.
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().ok().flatten() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                break child.wait().expect("wait after SIGKILL");
            }
            std::thread::sleep(POLL);
        };
        Stopped {
            status,
            log: std::fs::read_to_string(&self.log).unwrap_or_default(),
        }
    }

    fn log_tail(&self) -> String {
        tail(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A test that panics mid-run must not leave Fluent Bit behind.
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs Fluent Bit on a config that must fail at start; returns its exit
/// status and what it printed, or `Err` if it kept running.
pub fn run_expecting_failure(binary: &Path, config: &Path, log: &Path) -> Result<Stopped, String> {
    let mut child = spawn(binary, config, log)?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(Stopped {
                status,
                log: std::fs::read_to_string(log).unwrap_or_default(),
            });
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "Fluent Bit still running {START_TIMEOUT:?} after start on {}:\n{}",
                config.display(),
                tail(&std::fs::read_to_string(log).unwrap_or_default())
            ));
        }
        std::thread::sleep(POLL);
    }
}

/// The last lines of a log, for failure messages.
pub fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}

/// The lines of a log at `warn` or `error`, minus the shutdown notice.
pub fn warnings(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("[ warn]") || l.contains("[error]"))
        .filter(|l| !l.contains("service will shutdown"))
        .collect()
}

fn http_get(port: u16, path: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect_timeout(
        &(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(500),
    )
    .map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no HTTP header in {response:?}"))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(format!("GET {path}: {head}"));
    }
    Ok(body.to_owned())
}
