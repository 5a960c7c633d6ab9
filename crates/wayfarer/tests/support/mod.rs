//! The one harness of the integration tests: running the binary ([`run`],
//! whose [`Run`] prints the command, its exit status and everything it
//! printed when an expectation fails), a server on a loopback port
//! (optionally under a command such as `prlimit`; its last log lines are
//! printed when the test fails), plain HTTP/1.1 requests (one per
//! connection, or keep-alive), keys, and reading back what the store holds.
//! The binary never sees the test's own `WAYFARER_*` variables, so a
//! developer's settings cannot change a test.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The binary, without the test's own `WAYFARER_*` variables.
pub fn binary() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wayfarer"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("WAYFARER_") {
            c.env_remove(k);
        }
    }
    c
}

/// One run of the binary: shown whole (command, status, output) when an
/// expectation about it fails.
pub struct Run {
    pub out: Output,
    pub args: Vec<String>,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    fn diagnosis(&self, what: &str) -> String {
        format!(
            "wayfarer {:?} {what} ({})\n--- stdout\n{}\n--- stderr\n{}",
            self.args,
            self.out.status,
            self.stdout(),
            self.stderr()
        )
    }
    /// Expects success.
    pub fn ok(self) -> Run {
        assert!(self.out.status.success(), "{}", self.diagnosis("failed"));
        self
    }
    /// Expects failure.
    pub fn fails(self) -> Run {
        assert!(!self.out.status.success(), "{}", self.diagnosis("should have failed"));
        self
    }
    /// Expects success and JSON on stdout.
    pub fn json(&self) -> Value {
        assert!(self.out.status.success(), "{}", self.diagnosis("failed"));
        serde_json::from_str(&self.stdout())
            .unwrap_or_else(|e| panic!("{}", self.diagnosis(&format!("printed no JSON ({e})"))))
    }
}

/// Runs `wayfarer ARGS` in `cwd`.
pub fn run(cwd: &Path, args: &[&str]) -> Run {
    let out = binary().args(args).current_dir(cwd).output().expect("run wayfarer");
    Run { out, args: args.iter().map(ToString::to_string).collect() }
}

/// Runs `wayfarer ARGS --data DIR`, expects success, returns its stdout.
pub fn wayfarer(dir: &Path, args: &[&str]) -> String {
    let mut all = args.to_vec();
    let d = dir.to_str().expect("a UTF-8 path");
    all.extend(["--data", d]);
    run(dir.parent().unwrap_or(dir), &all).ok().stdout()
}

/// The last lines a server printed, kept for the diagnosis of a failing test.
const LOG_LINES: usize = 200;

pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl Server {
    /// A server without the dashboard's background page computation (tests
    /// that need it use [`Server::start_with`]).
    pub fn start(dir: &Path) -> Server {
        Server::start_with(dir, &[])
    }

    pub fn start_with(dir: &Path, extra: &[&str]) -> Server {
        Server::start_under(&[], dir, extra)
    }

    /// The server run by `wrapper` (e.g. `["prlimit", "--nofile=256:256", "--"]`).
    pub fn start_under(wrapper: &[&str], dir: &Path, extra: &[&str]) -> Server {
        Server::start_env(wrapper, dir, extra, &[])
    }

    /// The server with these environment variables set.
    pub fn start_env(wrapper: &[&str], dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let bin = env!("CARGO_BIN_EXE_wayfarer");
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                for (k, _) in std::env::vars_os() {
                    if k.to_string_lossy().starts_with("WAYFARER_") {
                        c.env_remove(k);
                    }
                }
                c
            }
            None => binary(),
        };
        let mut child = cmd
            .args(["serve", "--bind", "127.0.0.1:0", "--fold-ms", "200", "--no-warm"])
            // Monthly snapshots only where a test asks for them.
            .args(if extra.contains(&"--snapshots-after") { &[][..] } else { &["--no-snapshots"][..] })
            .args(extra)
            .arg("--data")
            .arg(dir)
            .envs(env.iter().copied())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("the server printed its address").unwrap();
            if let Some(rest) = line.split("on http://").nth(1) {
                break rest.split_whitespace().next().unwrap().parse().unwrap();
            }
        };
        // Keep draining stderr so the server never blocks on it; keep its
        // last lines for a failing test (and show them all as they come with
        // WAYFARER_TEST_SERVER_LOG=1).
        let show = std::env::var_os("WAYFARER_TEST_SERVER_LOG").is_some();
        let log: Arc<Mutex<VecDeque<String>>> = Arc::default();
        let keep = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if show {
                    eprintln!("server: {line}");
                }
                let mut l = keep.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if l.len() == LOG_LINES {
                    l.pop_front();
                }
                l.push_back(line);
            }
        });
        Server { child, addr, log }
    }

    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn stop(self) {
        self.stop_within(Duration::from_secs(20));
    }

    /// Sends SIGTERM and waits for the process to exit; returns how long it took.
    pub fn stop_within(mut self, limit: Duration) -> Duration {
        let started = Instant::now();
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "the server exited with {status} after SIGTERM");
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the server did not stop within {limit:?} of SIGTERM");
    }

    /// CPU time the server process has used so far (user + system), from /proc.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may hold spaces) in parentheses.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<u64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0)).collect();
        // utime and stime are fields 14 and 15 (1-based), 12 and 13 after the name.
        let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
        Duration::from_millis(ticks * 10)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let state = match self.child.try_wait() {
                Ok(Some(status)) => format!("exited with {status}"),
                _ => "still running".to_string(),
            };
            eprintln!("--- the server at {} ({state}); its last {} log lines:", self.addr, log.len());
            for line in log.iter() {
                eprintln!("server: {line}");
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request; returns (status, body). `None` if the connection failed.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Option<(u16, Vec<u8>)> {
    http_full(addr, method, path, headers, body).map(|(s, _, b)| (s, b))
}

/// One HTTP/1.1 request; returns (status, head, body), for redirects,
/// cookies and headers. `None` if the connection failed.
pub fn http_full(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Option<(u16, String, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    // A server may answer (413) before the whole body is sent: read its
    // answer even if writing the rest failed.
    let _ = s.write_all(req.as_bytes()).and_then(|()| s.write_all(body));
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let text_end = resp.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&resp[..text_end]).to_string();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let mut body = resp[text_end + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = unchunk(&body);
    }
    Some((status, head, body))
}

pub fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = b.windows(2).position(|w| w == b"\r\n") else { return out };
        let n = usize::from_str_radix(std::str::from_utf8(&b[..nl]).unwrap().trim(), 16).unwrap_or(0);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + n]);
        b = &b[nl + 2 + n + 2..];
    }
}

/// A keep-alive HTTP/1.1 connection (several requests, one socket): a
/// connection that the server has already accepted still works when no new
/// one can be (descriptors exhausted).
pub struct Conn {
    stream: TcpStream,
    addr: SocketAddr,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        Conn { stream, addr }
    }

    /// One request; (status, body). `None` if the connection broke.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Option<(u16, Vec<u8>)> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n", self.addr, body.len());
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        if let Err(e) = self.stream.write_all(req.as_bytes()).and_then(|()| self.stream.write_all(body)) {
            eprintln!("conn: writing the request: {e}");
            return None;
        }
        // Headers, then a Content-Length or chunked body.
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match self.stream.read(&mut byte) {
                Ok(0) => {
                    eprintln!("conn: closed by the server after {} bytes", head.len());
                    return None;
                }
                Err(e) => {
                    eprintln!("conn: reading the answer: {e}");
                    return None;
                }
                Ok(_) => {}
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
        let status = head.split_whitespace().nth(1)?.parse().ok()?;
        let length =
            head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok());
        let body = match length {
            Some(n) => {
                let mut b = vec![0u8; n];
                self.stream.read_exact(&mut b).ok()?;
                b
            }
            None => {
                // Chunked: read until the terminating chunk.
                let mut raw = Vec::new();
                while !raw.ends_with(b"0\r\n\r\n") {
                    if self.stream.read(&mut byte).ok()? == 0 {
                        break;
                    }
                    raw.push(byte[0]);
                }
                unchunk(&raw)
            }
        };
        Some((status, body))
    }
}

pub fn basic(key: &str) -> (&'static str, String) {
    use base64::Engine;
    ("Authorization", format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))))
}

pub fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

/// POSTs JSON; (status, JSON body or null).
pub fn post(addr: SocketAddr, path: &str, auth: Option<(&str, String)>, body: &Value) -> (u16, Value) {
    let headers: Vec<(&str, String)> = auth.into_iter().chain([("Content-Type", "application/json".into())]).collect();
    let (status, body) = http(addr, "POST", path, &headers, body.to_string().as_bytes()).expect("request");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// GETs a query API path with a read token; (status, JSON body or null).
pub fn get(addr: SocketAddr, path: &str, read: &str) -> (u16, Value) {
    let (s, b) = http(addr, "GET", path, &[bearer(read)], b"").expect("request");
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

pub fn metric(addr: SocketAddr, read: &str, name: &str) -> u64 {
    let (status, body) = http(addr, "GET", "/metrics", &[bearer(read)], b"").unwrap();
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")).map(|v| v.trim().parse::<f64>().unwrap() as u64))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// Waits until the store holds `n` events (what queries see), at most `limit`.
pub fn wait_for_events(addr: SocketAddr, read: &str, n: u64, limit: Duration) {
    let deadline = Instant::now() + limit;
    while metric(addr, read, "wayfarer_store_events") < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every event id in the store, with how often it occurs.
pub fn stored_ids(dir: &Path) -> HashMap<String, u32> {
    let Ok(store) = wayfarer_store::Store::open(dir) else { return HashMap::new() };
    let mut ids = HashMap::new();
    for p in 0..store.partitions() {
        let rows = store.read_partition(p, &[wayfarer_store::segment::Col::EventId]).unwrap();
        for r in 0..rows.len() {
            *ids.entry(rows.str_at(wayfarer_store::segment::Col::EventId, r).unwrap().to_string()).or_insert(0) += 1;
        }
    }
    ids
}

/// Checks every acknowledged id is stored exactly once and nothing else is;
/// prints the fault suite's line `faults: NAME: acked N = stored N`.
pub fn assert_acked_stored(name: &str, dir: &Path, acked: &[String]) {
    let ids = stored_ids(dir);
    let dups: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(dups.is_empty(), "{name}: duplicates: {dups:?}");
    let missing: Vec<_> = acked.iter().filter(|id| !ids.contains_key(*id)).take(5).collect();
    let lost = acked.iter().filter(|id| !ids.contains_key(*id)).count();
    assert!(missing.is_empty(), "{name}: {lost} of {} acknowledged events lost, e.g. {missing:?}", acked.len());
    let stored_acked = acked.iter().filter(|id| ids.contains_key(*id)).count();
    // Straight to the process's stderr, past the test harness's capture, so
    // the line shows in every run's output (CI's too), not only on failure.
    let _ = writeln!(
        std::io::stderr(),
        "faults: {name}: acked {} = stored {stored_acked} (store holds {})",
        acked.len(),
        ids.len()
    );
}

/// A write key and a read token for `dir`.
pub fn keys(dir: &Path) -> (String, String) {
    let w = wayfarer(dir, &["keys", "create", "--write", "--name", "web", "--quiet"]).trim().to_string();
    let r = wayfarer(dir, &["keys", "create", "--read", "--name", "dash", "--quiet"]).trim().to_string();
    (w, r)
}

/// A new data directory with a write key and a read token.
pub fn fresh() -> (tempfile::TempDir, PathBuf, String, String) {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("d");
    std::fs::create_dir_all(&dir).unwrap();
    let (write, read) = keys(&dir);
    (t, dir, write, read)
}

pub fn track(id: &str, user: &str) -> Value {
    json!({"type": "track", "messageId": id, "userId": user, "event": "Order Completed",
           "timestamp": "2026-05-01T10:00:00Z", "properties": {"revenue": 12.5, "sku": "tent"}})
}

/// Sends a batch of `ids`; true if it was acknowledged (200 with success).
pub fn send_batch(addr: SocketAddr, write: &str, ids: &[String]) -> bool {
    let msgs: Vec<Value> = ids.iter().map(|id| track(id, &format!("u{}", id.len() % 7))).collect();
    let body = json!({"batch": msgs}).to_string();
    matches!(http(addr, "POST", "/v1/batch", &[basic(write)], body.as_bytes()),
        Some((200, resp)) if serde_json::from_slice::<Value>(&resp).is_ok_and(|v| v["success"] == true))
}
