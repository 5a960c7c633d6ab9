//! Fault injection against the real server: what a machine does to a
//! server, and what clients do to it. For every fault the promise is the
//! same — every acknowledged event is stored exactly once, and the server
//! keeps answering — and each test prints `faults: NAME: acked N = stored N`.
//!
//! - a full disk (a small tmpfs, filled and freed during ingestion; needs
//!   root to mount, skipped otherwise — CI runs as root),
//! - descriptor exhaustion (`prlimit --nofile`): idle connections cannot
//!   take the store's descriptors, and a failed staging rotation loses nothing,
//! - SIGKILL at random moments under concurrent clients,
//! - slow clients: headers, bodies and readers that stall,
//! - pathological queries: parameters out of range, a query that runs past
//!   its time (stopped, and the CPU goes quiet), SIGTERM during a query.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;
use wayfarer_store::testfs::{Tmpfs, fill};

mod support;

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

fn healthz(addr: SocketAddr) -> (u16, Value) {
    let (s, b) = http(addr, "GET", "/healthz", &[], b"").expect("healthz");
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

/// A batch whose messages carry `pad` bytes of properties each.
fn padded_batch(ids: &[String], pad: usize) -> Vec<u8> {
    let msgs: Vec<Value> = ids
        .iter()
        .map(|id| {
            let mut m = track(id, "u-pad");
            m["properties"]["note"] = json!("x".repeat(pad));
            m
        })
        .collect();
    json!({"batch": msgs}).to_string().into_bytes()
}

#[test]
fn a_full_disk_never_loses_an_acknowledged_event() {
    let Some(fs) = Tmpfs::mount("64m") else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIP a_full_disk_never_loses_an_acknowledged_event: mounting a tmpfs needs root"
        );
        return;
    };
    let dir = fs.path().join("d");
    std::fs::create_dir_all(&dir).unwrap();
    let (write, read) = keys(&dir);
    let filler = fs.path().join("filler");
    let server = Server::start(&dir);
    let a = server.addr;
    let mut acked: Vec<String> = Vec::new();

    // The reproduction: a small batch; the disk fills; a large batch is
    // refused (no room to stage it and fold it; a write that fails half-way
    // is undone, which staging's own test checks on a full disk); space
    // again; the next small batch is acknowledged and must reach the store.
    let first = ids("first", 200);
    assert!(send_batch(a, &write, &first));
    acked.extend(first);
    wait_for_events(a, &read, 200, Duration::from_secs(10));
    fill(&filler, 16 * 1024);
    let large = ids("large", 503);
    let (s, b) = http(a, "POST", "/v1/batch", &[basic(&write)], &padded_batch(&large, 400)).unwrap();
    let b: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
    assert_eq!((s, b["code"].as_str()), (503, Some("unavailable")), "a full disk refuses the batch: {b}");
    let (hs, hb) = healthz(a);
    assert_eq!(hs, 503, "healthz reports the failed staging: {hb}");
    assert!(hb["reasons"][0].as_str().unwrap_or("").contains("staging"), "{hb}");
    std::fs::remove_file(&filler).unwrap();
    let after = ids("after", 200);
    assert!(send_batch(a, &write, &after), "with space again, ingestion works");
    acked.extend(after);
    wait_for_events(a, &read, 400, Duration::from_secs(10));
    assert_eq!(metric(a, &read, "wayfarer_store_events"), 400, "the batch after the failure is visible");
    assert_eq!(healthz(a).0, 200);

    // Then at random: clients keep sending while the disk fills and empties.
    let stop = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Mutex::new(Vec::<String>::new()));
    let refused = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..3)
        .map(|c| {
            let (stop, shared, refused, write) = (stop.clone(), shared.clone(), refused.clone(), write.clone());
            std::thread::spawn(move || {
                let mut b = 0;
                while !stop.load(Ordering::Relaxed) {
                    b += 1;
                    let batch = ids(&format!("rand-{c}-{b}"), 50);
                    let body = padded_batch(&batch, 300);
                    match http(a, "POST", "/v1/batch", &[basic(&write)], &body) {
                        Some((200, r)) if serde_json::from_slice::<Value>(&r).is_ok_and(|v| v["success"] == true) => {
                            shared.lock().unwrap().extend(batch);
                        }
                        _ => {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for round in 0..6 {
        std::thread::sleep(Duration::from_millis(300));
        fill(&filler, (round % 3) * 8 * 1024);
        std::thread::sleep(Duration::from_millis(400));
        std::fs::remove_file(&filler).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    acked.extend(shared.lock().unwrap().drain(..));
    assert!(refused.load(Ordering::Relaxed) > 0, "the disk was never full while clients sent");
    let n = acked.len() as u64;
    wait_for_events(a, &read, n, Duration::from_secs(20));
    assert_eq!(metric(a, &read, "wayfarer_store_events"), n, "everything acknowledged is visible without a restart");
    // Healthy again by itself once there is space (no request needed).
    let deadline = Instant::now() + Duration::from_secs(5);
    while healthz(a).0 != 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(healthz(a).0, 200, "healthy again once there is space: {}", healthz(a).1);
    // No failed write left torn bytes between records: no staging file
    // needed the reader's resync (it would have been kept as damaged).
    assert_eq!(metric(a, &read, "wayfarer_staging_damaged_files"), 0);
    server.stop();
    assert!(!dir.join("staging").join("damaged").exists(), "a staging file held torn bytes between records");
    // A restart replays nothing twice.
    let again = Server::start(&dir);
    again.stop();
    assert_acked_stored("disk full", &dir, &acked);
}

#[test]
fn descriptor_exhaustion_never_loses_or_stalls() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        let _ = writeln!(std::io::stderr(), "SKIP descriptor_exhaustion_never_loses_or_stalls: no prlimit");
        return;
    }
    let limit = ["prlimit", "--nofile=256:256", "--"];

    // 1. By default the connection cap leaves descriptors for the store:
    //    400 idle connections wait in the queue, folding never fails, and
    //    clients are served once the idle ones time out.
    let (_t, dir, write, read) = fresh();
    let server = Server::start_under(&limit, &dir, &["--client-timeout", "2"]);
    let a = server.addr;
    let idle: Vec<TcpStream> =
        (0..400).map_while(|_| TcpStream::connect_timeout(&a, Duration::from_secs(3)).ok()).collect();
    // The cap is 256 − 64 = 192: every slot is taken, and more wait.
    assert!(idle.len() > 192, "only {} connections opened", idle.len());
    let mut acked = Vec::new();
    let started = Instant::now();
    for b in 0..10 {
        let batch = ids(&format!("cap-{b}"), 50);
        assert!(send_batch(a, &write, &batch), "batch {b} refused");
        acked.extend(batch);
    }
    assert!(started.elapsed() < Duration::from_secs(20), "clients waited {:?}", started.elapsed());
    wait_for_events(a, &read, acked.len() as u64, Duration::from_secs(10));
    assert_eq!(metric(a, &read, "wayfarer_fold_errors_total"), 0, "the store never ran out of descriptors");
    assert_eq!(healthz(a).0, 200);
    drop(idle);
    server.stop();
    assert_acked_stored("descriptors (connection cap)", &dir, &acked);

    // 2. With the cap lifted, idle connections take every descriptor: the
    //    staging rotation fails (no descriptor for the next file). Appends go
    //    on in the current file over a connection already open, /healthz says
    //    why, and once descriptors are free again everything is folded.
    let (_t, dir, write, read) = fresh();
    let server = Server::start_under(&limit, &dir, &["--client-timeout", "3", "--max-connections", "5000"]);
    let a = server.addr;
    let mut conn = Conn::open(a);
    let send = |conn: &mut Conn, batch: &[String]| {
        let msgs: Vec<Value> = batch.iter().map(|id| track(id, "u-fd")).collect();
        let body = json!({"batch": msgs}).to_string();
        conn.request("POST", "/v1/batch", &[basic(&write)], body.as_bytes())
    };
    let first = ids("fd-first", 20);
    assert_eq!(send(&mut conn, &first).map(|r| r.0), Some(200));
    acked = first;
    std::thread::sleep(Duration::from_millis(500));
    // More connections than descriptors: the server takes them until it
    // has none left, the kernel queues the rest.
    let idle: Vec<TcpStream> =
        (0..400).map_while(|_| TcpStream::connect_timeout(&a, Duration::from_millis(500)).ok()).collect();
    assert!(idle.len() > 200, "only {} connections opened", idle.len());
    std::thread::sleep(Duration::from_millis(300));
    for b in 0..3 {
        let batch = ids(&format!("fd-during-{b}"), 20);
        let r = send(&mut conn, &batch).expect("the open connection still answers");
        assert_eq!(r.0, 200, "{}", String::from_utf8_lossy(&r.1));
        acked.extend(batch);
        std::thread::sleep(Duration::from_millis(300));
    }
    let (hs, hb) = conn.request("GET", "/healthz", &[], b"").unwrap();
    let hb: Value = serde_json::from_slice(&hb).unwrap();
    assert_eq!(hs, 503, "{hb}");
    assert!(hb.to_string().contains("Too many open files"), "healthz names the cause: {hb}");
    drop(idle);
    drop(conn);
    // The idle connections time out; descriptors are free again.
    std::thread::sleep(Duration::from_secs(4));
    wait_for_events(a, &read, acked.len() as u64, Duration::from_secs(15));
    assert_eq!(metric(a, &read, "wayfarer_store_events"), acked.len() as u64);
    assert_eq!(healthz(a).0, 200);
    server.stop();
    assert_acked_stored("descriptors (failed rotation)", &dir, &acked);
}

#[test]
fn every_acknowledged_event_survives_sigkill_exactly_once() {
    let (_tmp, dir, write, read) = fresh();
    let acked: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for round in 0..8 {
        let server = Server::start(&dir);
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..4)
            .map(|c| {
                let (stop, acked, write) = (stop.clone(), acked.clone(), write.clone());
                let addr = server.addr;
                std::thread::spawn(move || {
                    let mut b = 0;
                    while !stop.load(Ordering::Relaxed) {
                        b += 1;
                        let batch = ids(&format!("r{round}-c{c}-b{b}"), 50);
                        if send_batch(addr, &write, &batch) {
                            acked.lock().unwrap().extend(batch);
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(150 + next() % 600));
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().unwrap();
        }
        // The directory opens cleanly after every crash (once something was committed).
        if dir.join("manifest.json").exists() {
            wayfarer_store::Store::open(&dir).unwrap();
        }
    }
    let acked: Vec<String> = acked.lock().unwrap().clone();
    assert!(acked.len() > 1000, "the clients got few acknowledgements ({})", acked.len());
    // Restart: staging left by the crashes is folded in before serving.
    let server = Server::start(&dir);
    let total = metric(server.addr, &read, "wayfarer_store_events");
    server.stop();
    assert_eq!(stored_ids(&dir).values().map(|&n| n as u64).sum::<u64>(), total);
    assert_acked_stored("SIGKILL", &dir, &acked);
    let staging: Vec<_> = std::fs::read_dir(dir.join("staging")).unwrap().collect();
    assert!(staging.len() <= 1, "staging files left: {staging:?}");
}

/// A company with a few thousand customers, imported once for the tests
/// that need data to query.
fn company() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let t = tempfile::tempdir().unwrap().keep();
        let dir = t.join("d");
        let (map, d) = (t.join("map.html"), dir.to_str().unwrap().to_string());
        support::run(&t, &["demo", "--customers", "3000", "--quiet", "--out", map.to_str().unwrap(), "--data", &d])
            .ok();
        dir
    })
}

/// A copy of the company's data directory with fresh keys.
fn company_copy() -> (tempfile::TempDir, PathBuf, String, String) {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("d");
    let status = Command::new("cp").arg("-r").arg(company()).arg(&dir).status().unwrap();
    assert!(status.success());
    let _ = std::fs::remove_file(dir.join("keys.json"));
    let (write, read) = keys(&dir);
    (t, dir, write, read)
}

#[test]
fn slow_clients_cannot_hold_the_server() {
    let (_t, dir, write, read) = company_copy();
    let server = Server::start_with(&dir, &["--client-timeout", "1", "--max-connections", "8"]);
    let a = server.addr;

    // Eight clients trickle their headers, a byte every 200 ms: they hold every
    // connection slot until the header timeout closes them.
    let slowloris: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let Ok(mut s) = TcpStream::connect(a) else { return Duration::ZERO };
                let started = Instant::now();
                for b in b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nX-Slow: ".iter().cycle().take(200) {
                    if s.write_all(&[*b]).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                started.elapsed()
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    // A real client still gets through, within about the timeout.
    let mut acked = Vec::new();
    for b in 0..5 {
        let batch = ids(&format!("slow-ok-{b}"), 20);
        let started = Instant::now();
        assert!(send_batch(a, &write, &batch));
        assert!(started.elapsed() < Duration::from_secs(4), "a client waited {:?}", started.elapsed());
        acked.extend(batch);
    }
    for s in slowloris {
        let held = s.join().unwrap();
        assert!(held < Duration::from_secs(5), "a slow sender held its connection for {held:?}");
    }

    // A body that stops half-way: 408 in JSON once the client timeout passes.
    let mut s = TcpStream::connect(a).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (user, _) = basic(&write);
    let head = format!(
        "POST /v1/batch HTTP/1.1\r\nHost: x\r\n{user}: {}\r\nContent-Length: 5000\r\n\r\n{{\"batch\": [",
        basic(&write).1
    );
    s.write_all(head.as_bytes()).unwrap();
    let started = Instant::now();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // A reader that stops reading: a thousand pipelined requests whose
    // answers (30+ MB) never get read fill every buffer; the server gives up
    // on the connection after the client timeout instead of holding it.
    let one = get(a, "/api/openapi.json", &read).1.to_string().len();
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(2048).unwrap();
    sock.connect(&a.into()).unwrap();
    let mut s: TcpStream = sock.into();
    let req = format!("GET /api/openapi.json HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {read}\r\n\r\n");
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        for _ in 0..1000 {
            if w.write_all(req.as_bytes()).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_secs(4));
    let mut got = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let started = Instant::now();
    let _ = s.read_to_end(&mut got);
    let _ = writer.join();
    assert!(got.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&got[..got.len().min(200)]));
    assert!(got.len() < 1000 * one, "the stalled connection was dropped ({} of {} bytes)", got.len(), 1000 * one);
    assert!(started.elapsed() < Duration::from_secs(15));

    // Meanwhile nothing was lost and the server answers.
    wait_for_events(a, &read, metric(a, &read, "wayfarer_store_events").max(1), Duration::from_secs(1));
    assert_eq!(healthz(a).0, 200);
    server.stop();
    assert_acked_stored("slow clients", &dir, &acked);
}

#[test]
fn pathological_queries_are_refused_or_stopped() {
    let (_t, dir, write, read) = company_copy();
    let server = Server::start_with(&dir, &["--query-timeout", "1"]);
    let a = server.addr;

    // Out-of-range parameters: 400, naming the parameter.
    for (path, name) in [
        ("/api/clv?horizon=1e308", "horizon"),
        ("/api/clv?horizon=-1", "horizon"),
        ("/api/clv?discount-rate=2", "discount-rate"),
        ("/api/clv?top=0", "top"),
        ("/api/retention?periods=1000000", "periods"),
        ("/api/paths?length=10000", "length"),
        ("/api/paths?top=0", "top"),
        ("/api/personas?k=100000", "k"),
        ("/api/personas?max-k=1000", "max-k"),
        ("/api/funnel?step=Page%20Viewed&step=Order%20Completed&window=1e308d", "window"),
        ("/api/attribution?lookback=1e300w", "lookback"),
        ("/api/customers/c-1?limit=99999999", "limit"),
    ] {
        let (s, b) = get(a, path, &read);
        assert_eq!(s, 400, "{path}: {b}");
        let message = b["message"].as_str().unwrap_or("");
        assert!(message.contains(name), "{path}: the error names {name}: {message}");
    }

    // A query that runs past its time is answered 504 and stopped: the
    // server's CPU goes quiet, ingestion and folding go on, the next query answers.
    let started = Instant::now();
    let (s, b) = get(a, "/api/personas?max-k=20", &read);
    assert_eq!(s, 504, "{b}");
    assert_eq!(b["code"], "query_timeout");
    assert!(started.elapsed() < Duration::from_secs(5), "answered after {:?}", started.elapsed());
    std::thread::sleep(Duration::from_millis(500));
    let cpu = server.cpu_time();
    std::thread::sleep(Duration::from_secs(2));
    let busy = server.cpu_time().saturating_sub(cpu);
    assert!(busy < Duration::from_millis(600), "the stopped query kept the CPU busy: {busy:?} in 2 s");
    let before = metric(a, &read, "wayfarer_store_events");
    let batch = ids("after-query", 30);
    assert!(send_batch(a, &write, &batch));
    wait_for_events(a, &read, before + 30, Duration::from_secs(5));
    assert_eq!(metric(a, &read, "wayfarer_store_events"), before + 30);
    let (s, b) = get(a, "/api/customers/u-after?limit=5", &read);
    assert!(s == 200 || s == 404, "{s} {b}");

    server.stop();

    // With a long query timeout: a query may run longer than the client
    // timeout (that limit is for clients, not for answers being computed)...
    let server = Server::start_with(&dir, &["--query-timeout", "60", "--client-timeout", "1"]);
    let a = server.addr;
    let started = Instant::now();
    let (s, b) = get(a, "/api/personas?max-k=2", &read);
    assert_eq!(s, 200, "{b}");
    let long = started.elapsed();
    // ... a client that hangs up stops its query ...
    let mut s = TcpStream::connect(a).unwrap();
    write!(s, "GET /api/personas?max-k=20 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {read}\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(s);
    std::thread::sleep(Duration::from_millis(700));
    let cpu = server.cpu_time();
    std::thread::sleep(Duration::from_secs(2));
    let busy = server.cpu_time().saturating_sub(cpu);
    assert!(busy < Duration::from_millis(600), "a query whose client left kept the CPU busy: {busy:?} in 2 s");
    // ... and SIGTERM stops a running query: the process exits within seconds.
    let slow = std::thread::spawn(move || http(a, "GET", "/api/personas?max-k=20", &[bearer(&read)], b""));
    std::thread::sleep(Duration::from_millis(300));
    let took = server.stop_within(Duration::from_secs(10));
    assert!(took < Duration::from_secs(5), "shutting down took {took:?}");
    let _ = slow.join();
    let _ = writeln!(
        std::io::stderr(),
        "faults: a {long:?} query answered past a 1 s client timeout; SIGTERM during a query: exit in {took:?}"
    );
    assert_acked_stored("pathological queries", &dir, &batch);
}
