//! `wayfarer serve` end to end: the real binary on a temp data directory,
//! spoken to over loopback with plain HTTP/1.1. Ingestion, limits, bad
//! input, keys, HTTP hygiene (errors in JSON, security headers, header
//! limits), time and revenue sanity, the query API, SQL, and the official
//! client libraries. Faults (disk full, descriptors, SIGKILL, slow clients,
//! pathological queries) are in `faults.rs`.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use support::*;

mod support;

#[test]
fn ingestion_auth_limits_and_bad_input() {
    let (_tmp, dir, write, read) = fresh();
    let server = Server::start(&dir);
    let a = server.addr;

    // Health needs no key; everything else does.
    assert_eq!(http(a, "GET", "/healthz", &[], b"").unwrap().0, 200);
    assert_eq!(http(a, "GET", "/metrics", &[], b"").unwrap().0, 401);
    assert_eq!(http(a, "GET", "/metrics", &[bearer(&write)], b"").unwrap().0, 403, "a write key cannot read");

    // Each single-message endpoint, key as the Basic user name.
    let (s, b) = post(a, "/v1/track", Some(basic(&write)), &track("m1", "u1"));
    assert_eq!((s, &b), (200, &json!({"success": true})));
    for (path, msg) in [
        ("/v1/identify", json!({"messageId": "m2", "userId": "u1", "traits": {"plan": "pro"}})),
        (
            "/v1/page",
            json!({"messageId": "m3", "anonymousId": "a1", "name": "Home", "properties": {"url": "https://x.test/"}}),
        ),
        ("/v1/screen", json!({"messageId": "m4", "userId": "u1", "name": "Cart"})),
        ("/v1/group", json!({"messageId": "m5", "userId": "u1", "groupId": "g1"})),
        ("/v1/alias", json!({"messageId": "m6", "userId": "u1", "previousId": "a1"})),
    ] {
        let (s, b) = post(a, path, Some(basic(&write)), &msg);
        assert_eq!(s, 200, "{path}: {b}");
    }
    // A batch with the key in the body, gzip-compressed; one bad message is reported, the rest kept.
    let batch = json!({"writeKey": write, "batch": [
        track("m7", "u2"),
        {"type": "track", "messageId": "m8", "event": "Order Completed"},
        track("m9", "u3"),
    ]});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(batch.to_string().as_bytes()).unwrap();
    let (s, body) = http(
        a,
        "POST",
        "/v1/batch",
        &[("Content-Encoding", "gzip".into()), ("Content-Type", "application/json".into())],
        &gz.finish().unwrap(),
    )
    .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["accepted"], 2);
    assert_eq!(body["rejected"][0]["index"], 1);
    assert_eq!(body["rejected"][0]["code"], "missing_identity");
    // /v1/import is the same as /v1/batch.
    let (s, _) = post(a, "/v1/import", Some(basic(&write)), &json!({"batch": [track("m10", "u4")]}));
    assert_eq!(s, 200);

    // Bad input: the right status, a JSON error naming the problem, and the server keeps serving.
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("/v1/track", b"{not json".to_vec(), 400, "invalid_json"),
        ("/v1/track", b"[1,2]".to_vec(), 400, "invalid_json"),
        ("/v1/track", json!({"userId": "u", "event": 5}).to_string().into_bytes(), 400, "invalid_field"),
        ("/v1/track", json!({"event": "X"}).to_string().into_bytes(), 400, "missing_identity"),
        (
            "/v1/track",
            json!({"userId": "u", "event": "X", "timestamp": "yesterday"}).to_string().into_bytes(),
            400,
            "invalid_timestamp",
        ),
        (
            "/v1/track",
            json!({"type": "page", "userId": "u", "event": "X"}).to_string().into_bytes(),
            400,
            "invalid_field",
        ),
        ("/v1/batch", json!({"batch": "nope"}).to_string().into_bytes(), 400, "invalid_field"),
        ("/v1/batch", json!({"messages": []}).to_string().into_bytes(), 400, "missing_field"),
        (
            "/v1/batch",
            json!({"batch": [{"type": "track", "event": "X"}]}).to_string().into_bytes(),
            400,
            "missing_identity",
        ),
        ("/v1/track", format!("{}{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(), 400, "invalid_json"),
        (
            "/v1/track",
            json!({"userId": "u", "event": "X", "properties": {"pad": "x".repeat(40_000)}}).to_string().into_bytes(),
            413,
            "payload_too_large",
        ),
        (
            "/v1/batch",
            json!({"batch": (0..40_000).map(|i| track(&format!("big{i}"), "u")).collect::<Vec<_>>()})
                .to_string()
                .into_bytes(),
            413,
            "payload_too_large",
        ),
    ];
    for (path, body, want, code) in cases {
        let (s, b) = http(a, "POST", path, &[basic(&write)], &body).unwrap();
        let b: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
        assert_eq!(s, want, "{path} {}: {b}", String::from_utf8_lossy(&body[..body.len().min(80)]));
        assert_eq!(b["code"], code, "{b}");
        assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()) && b["hint"].is_string(), "{b}");
    }
    let (s, b) =
        http(a, "POST", "/v1/batch", &[basic(&write), ("Content-Encoding", "gzip".into())], b"not gzip at all")
            .unwrap();
    assert_eq!(s, 400, "{}", String::from_utf8_lossy(&b));
    let (s, b) = http(a, "GET", "/v1/nothing", &[basic(&write)], b"").unwrap();
    assert_eq!(s, 404);
    assert_eq!(serde_json::from_slice::<Value>(&b).unwrap()["code"], "not_found");

    // Auth: no key, a wrong key, a read token on ingestion, a revoked key.
    assert_eq!(post(a, "/v1/track", None, &track("x1", "u")).0, 401);
    assert_eq!(post(a, "/v1/track", Some(basic("wfw_wrong")), &track("x2", "u")).0, 401);
    assert_eq!(post(a, "/v1/track", Some(basic(&read)), &track("x3", "u")).0, 403);
    let mut with_body_key = track("x4", "u");
    with_body_key["writeKey"] = json!("wfw_wrong");
    assert_eq!(post(a, "/v1/track", None, &with_body_key).0, 401);
    wayfarer(&dir, &["keys", "revoke", "web"]);
    let (s, b) = post(a, "/v1/track", Some(basic(&write)), &track("x5", "u"));
    assert_eq!(s, 401, "{b}");
    assert!(b["message"].as_str().unwrap().contains("revoked"));

    // Everything acknowledged becomes visible within 2 seconds.
    wait_for_events(a, &read, 9, Duration::from_secs(2));
    assert_eq!(metric(a, &read, "wayfarer_store_events"), 9, "m1-m10 but the rejected m8");
    assert_eq!(metric(a, &read, "wayfarer_ingested_events_total"), 9);
    server.stop();
    let ids = stored_ids(&dir);
    let want: HashSet<String> = (1..=10).map(|i| format!("m{i}")).filter(|m| m != "m8").collect();
    assert_eq!(ids.keys().cloned().collect::<HashSet<_>>(), want);
    assert!(ids.values().all(|&n| n == 1));
    // The data answers queries like an import.
    let sessions: Value = serde_json::from_str(&wayfarer(&dir, &["sessions", "--json"])).unwrap();
    assert!(sessions["sessions"].as_u64().unwrap() >= 3, "{sessions}");
}

#[test]
fn the_server_runs_with_the_allocator_settings_unless_the_operator_gave_their_own() {
    let environ = |s: &Server| std::fs::read(format!("/proc/{}/environ", s.child.id())).unwrap_or_default();
    let tunables = |env: &[u8]| {
        env.split(|&b| b == 0)
            .find_map(|kv| kv.strip_prefix(b"GLIBC_TUNABLES=".as_slice()))
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    let (_tmp, dir, _write, _read) = fresh();
    // The same process (id) runs again with the settings, and serves.
    let server = Server::start(&dir);
    assert_eq!(http(server.addr, "GET", "/healthz", &[], b"").unwrap().0, 200);
    let t = tunables(&environ(&server));
    server.stop();
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        // (The loader parses the value in place: what remains readable is
        // its first setting.)
        let t = t.expect("GLIBC_TUNABLES set");
        assert!(t.starts_with("glibc.malloc.mmap_threshold="), "{t}");
    }
    // An operator's own settings are kept.
    let server = Server::start_env(&[], &dir, &[], &[("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")]);
    assert_eq!(http(server.addr, "GET", "/healthz", &[], b"").unwrap().0, 200);
    assert_eq!(tunables(&environ(&server)).as_deref(), Some("glibc.malloc.arena_max=2"));
    server.stop();
    // A re-run whose GLIBC_TUNABLES the loader dropped (a binary with file
    // capabilities runs "secure") runs as it is instead of re-running forever.
    let server = Server::start_env(&[], &dir, &[], &[("WAYFARER_MALLOC_RERUN", "1")]);
    assert_eq!(http(server.addr, "GET", "/healthz", &[], b"").unwrap().0, 200);
    assert_eq!(tunables(&environ(&server)), None);
    server.stop();
}

#[test]
fn errors_are_json_headers_are_safe_and_limits_hold() {
    let (_tmp, dir, write, read) = fresh();
    let server = Server::start(&dir);
    let a = server.addr;
    let code = |b: &[u8]| serde_json::from_slice::<Value>(b).map(|v| v["code"].clone()).unwrap_or(Value::Null);

    // Every error is JSON with a code, whoever produced it.
    let (s, b) = http(a, "GET", "/v1/track", &[basic(&write)], b"").unwrap();
    assert_eq!((s, code(&b)), (405, json!("method_not_allowed")));
    let (s, b) = http(a, "POST", "/login", &[("Content-Type", "application/json".into())], b"{}").unwrap();
    assert_eq!((s, code(&b)), (415, json!("unsupported_media_type")), "{}", String::from_utf8_lossy(&b));
    let form = ("Content-Type", "application/x-www-form-urlencoded".to_string());
    let (s, b) = http(a, "POST", "/login", std::slice::from_ref(&form), b"next=%2F").unwrap();
    assert_eq!((s, code(&b)), (422, json!("invalid_form")), "{}", String::from_utf8_lossy(&b));
    let many: Vec<(&str, String)> = (0..150).map(|_| ("X-Many", "1".to_string())).collect();
    let (s, b) = http(a, "GET", "/healthz", &many, b"").unwrap();
    assert_eq!((s, code(&b)), (431, json!("headers_too_large")));
    let (s, b) = http(a, "GET", "/healthz", &[("X-Big", "y".repeat(100_000))], b"").unwrap();
    assert_eq!((s, code(&b)), (431, json!("headers_too_large")));

    // Security headers on API answers and pages alike.
    for path in ["/healthz", "/login", "/api/openapi.json"] {
        let mut s = TcpStream::connect(a).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut head = String::new();
        let _ = std::io::Read::read_to_string(&mut s, &mut head);
        let head = head.to_ascii_lowercase();
        assert!(head.contains("content-security-policy: default-src 'self'"), "{path}: {head}");
        assert!(head.contains("x-frame-options: deny"), "{path}");
        assert!(head.contains("x-content-type-options: nosniff"), "{path}");
    }
    // Signing out from another site is refused; from this one it works.
    let (s, _) = http(a, "POST", "/logout", &[("Origin", "http://evil.example".into()), form.clone()], b"").unwrap();
    assert_eq!(s, 403);
    let (s, _) = http(a, "POST", "/logout", &[("Origin", format!("http://{a}")), form], b"").unwrap();
    assert_eq!(s, 303);

    // Health says what it checks.
    let (s, b) = http(a, "GET", "/healthz", &[], b"").unwrap();
    let h: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!((s, h["status"].as_str()), (200, Some("ok")), "{h}");
    assert_eq!(h["staging"]["fold_failures_in_a_row"], 0);

    // RudderStack-sized batches (over Segment's 500 KB, under 4 MB) are taken;
    // a message over 32 KB is dropped and reported; alone it is a 413.
    let big: Vec<Value> = (0..300)
        .map(|i| {
            let mut m = track(&format!("rs-{i}"), "u-rs");
            m["properties"]["note"] = json!("n".repeat(2000));
            m
        })
        .collect();
    let body = json!({"batch": big}).to_string();
    assert!(body.len() > 600_000);
    let (s, b) = post(a, "/v1/batch", Some(basic(&write)), &serde_json::from_str(&body).unwrap());
    assert_eq!((s, &b), (200, &json!({"success": true})));
    let mut huge = track("rs-huge", "u-rs");
    huge["properties"]["note"] = json!("h".repeat(40_000));
    let (s, b) = post(a, "/v1/batch", Some(basic(&write)), &json!({"batch": [track("rs-ok", "u-rs"), huge.clone()]}));
    assert_eq!(s, 200, "{b}");
    assert_eq!((b["accepted"].as_u64(), b["rejected"][0]["index"].as_u64()), (Some(1), Some(1)), "{b}");
    assert_eq!(b["rejected"][0]["code"], "payload_too_large");
    let (s, b) = post(a, "/v1/batch", Some(basic(&write)), &json!({"batch": [huge]}));
    assert_eq!((s, b["code"].as_str()), (413, Some("payload_too_large")), "{b}");

    // Time and revenue sanity: a sender's clock is corrected with sentAt;
    // what stays out of range is refused with a code.
    let now = chrono::Utc::now();
    let skewed = now + chrono::Duration::days(365 * 170);
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut msg = track("clock", "u-clock");
    msg["timestamp"] = json!(fmt(skewed - chrono::Duration::seconds(60)));
    let (s, b) = post(a, "/v1/batch", Some(basic(&write)), &json!({"batch": [msg], "sentAt": fmt(skewed)}));
    assert_eq!(s, 200, "the skewed clock is corrected: {b}");
    let mut future = track("future", "u-clock");
    future["timestamp"] = json!("2199-12-31T00:00:00Z");
    let (s, b) = post(a, "/v1/track", Some(basic(&write)), &future);
    assert_eq!((s, b["code"].as_str()), (400, Some("timestamp_out_of_range")), "{b}");
    let mut rich = track("rich", "u-clock");
    rich["properties"]["revenue"] = json!(1e308);
    let (s, b) = post(a, "/v1/track", Some(basic(&write)), &rich);
    assert_eq!((s, b["code"].as_str()), (400, Some("value_out_of_range")), "{b}");

    // /api/customers/{id} takes the customers query's parameters.
    let five: Vec<Value> = (0..5).map(|i| track(&format!("c5-{i}"), "u-five")).collect();
    assert_eq!(post(a, "/v1/batch", Some(basic(&write)), &json!({"batch": five})).0, 200);
    wait_for_events(a, &read, 300 + 1 + 1 + 5, Duration::from_secs(5));
    let (s, b) = get(a, "/api/customers/u-five?limit=2", &read);
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["timeline"].as_array().map(Vec::len), Some(2), "{b}");
    let (s, b) = get(a, "/api/customers/u-five?bogus=1", &read);
    assert_eq!((s, b["code"].as_str()), (400, Some("invalid_query")), "{b}");
    assert!(b["message"].as_str().unwrap().contains("bogus"));
    server.stop();
    // The corrected event is stored at about the time it was sent (now), not in 2196.
    let store = wayfarer_store::Store::open(&dir).unwrap();
    let mut found = None;
    for p in 0..store.partitions() {
        use wayfarer_store::segment::Col;
        let rows = store.read_partition(p, &[Col::EventId, Col::Timestamp]).unwrap();
        for r in 0..rows.len() {
            if rows.str_at(Col::EventId, r) == Some("clock") {
                found = Some(rows.ts[r]);
            }
        }
    }
    let at = found.expect("the skewed event is stored");
    let off = (at - now.timestamp_micros() + 60_000_000).abs();
    assert!(off < 10_000_000, "corrected to 60 s before it was received, off by {off} µs");
}

/// The Python interpreter with the official Python libraries (Segment's and
/// RudderStack's, tests/clients/requirements.txt): WAYFARER_TEST_PYTHON
/// (set by .ci/run), else `python3` if it has them.
fn sdk_python() -> String {
    let candidates = std::env::var("WAYFARER_TEST_PYTHON").into_iter().chain(["python3".to_string()]);
    for py in candidates {
        let ok = Command::new(&py)
            .args(["-c", "import segment.analytics, rudderstack.analytics"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return py;
        }
    }
    panic!(
        "this test needs the official Python libraries: python3 -m venv /tmp/wf-py && /tmp/wf-py/bin/pip install \
         -r crates/wayfarer/tests/clients/requirements.txt, then WAYFARER_TEST_PYTHON=/tmp/wf-py/bin/python \
         (.ci/run does this)"
    );
}

/// Node.js with the official Node libraries installed in tests/clients/node.
fn sdk_node() -> &'static str {
    let modules = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/node/node_modules");
    let ok = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(
        ok && Path::new(modules).join("@rudderstack").is_dir() && Path::new(modules).join("@segment").is_dir(),
        "this test needs Node.js 20 and the official Node libraries: cd crates/wayfarer/tests/clients/node && npm ci \
         (.ci/run does this)"
    );
    "node"
}

/// Runs a client script against the server; (what it says it sent, its exit
/// status was success, its stderr).
fn run_client(
    program: &str,
    script: &str,
    addr: SocketAddr,
    write: &str,
    n: &str,
    mode: &[&str],
) -> (Vec<Value>, bool, String) {
    let script = format!("{}/tests/clients/{script}", env!("CARGO_MANIFEST_DIR"));
    let out =
        Command::new(program).arg(&script).args([&format!("http://{addr}"), write, n]).args(mode).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let sent: Vec<Value> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{script} printed no JSON ({e}); stderr: {stderr}"));
    (sent, out.status.success(), stderr)
}

/// Checks that every customer's messages arrived exactly once, with their
/// revenue, nested products and user id, and that nothing else did.
fn check_delivered(dir: &Path, sent: &[Value], extra: &[&str]) {
    use wayfarer_store::segment::Col;
    let ids = stored_ids(dir);
    let mut want: HashSet<String> = extra.iter().map(|s| s.to_string()).collect();
    for s in sent.iter().filter(|s| s["kind"] == "customer") {
        want.extend(s["ids"].as_array().unwrap().iter().map(|i| i.as_str().unwrap().to_string()));
    }
    let got: HashSet<String> = ids.keys().cloned().collect();
    assert_eq!(got.difference(&want).take(5).collect::<Vec<_>>(), Vec::<&String>::new(), "stored but not sent");
    assert_eq!(want.difference(&got).take(5).collect::<Vec<_>>(), Vec::<&String>::new(), "sent but not stored");
    assert!(ids.values().all(|&n| n == 1), "each exactly once");
    let store = wayfarer_store::Store::open(dir).unwrap();
    let mut orders = HashMap::new();
    for p in 0..store.partitions() {
        let rows = store.read_partition(p, &[Col::EventId, Col::Revenue, Col::Properties, Col::UserId]).unwrap();
        for r in 0..rows.len() {
            let id = rows.str_at(Col::EventId, r).unwrap().to_string();
            let props: Value = serde_json::from_str(rows.str_at(Col::Properties, r).unwrap()).unwrap();
            orders.insert(id, (rows.f64_at(Col::Revenue, r), props, rows.str_at(Col::UserId, r).map(str::to_string)));
        }
    }
    for s in sent.iter().filter(|s| s["kind"] == "customer") {
        let (revenue, props, user) = &orders[s["order"].as_str().unwrap()];
        assert_eq!(*revenue, s["revenue"].as_f64(), "{s}");
        assert_eq!(props["currency"], "EUR");
        assert_eq!(props["products"][0]["qty"], s["qty"]);
        assert_eq!(user.as_deref(), s["user"].as_str());
    }
}

#[test]
fn the_official_segment_python_library_delivers_every_event_once() {
    let python = sdk_python();
    let (_tmp, dir, write, read) = fresh();
    let server = Server::start(&dir);
    let (sent, ok, stderr) = run_client(&python, "segment_client.py", server.addr, &write, "40", &[]);
    assert!(ok, "the client failed: {stderr}");
    assert_eq!(sent.len(), 40);
    wait_for_events(server.addr, &read, 160, Duration::from_secs(5));
    server.stop();
    check_delivered(&dir, &sent, &[]);
    // And the data answers queries: every customer completed the 2-step funnel.
    let funnel: Value =
        serde_json::from_str(&wayfarer(&dir, &["funnel", "Product Viewed", "Order Completed", "--json"])).unwrap();
    assert_eq!(funnel["level_counts"][2], 40, "{funnel}");
}

#[test]
fn the_official_rudderstack_python_library_sends_batches_up_to_4_mb() {
    let python = sdk_python();
    let (_tmp, dir, write, read) = fresh();
    let server = Server::start(&dir);
    // `big` makes the library post one batch of about 1 MB (150 events of 6 KB).
    let (sent, ok, stderr) = run_client(&python, "rudder_client.py", server.addr, &write, "20", &["big"]);
    assert!(ok, "the client failed: {stderr}");
    let big: Vec<&str> = sent.iter().filter(|s| s["kind"] == "big").map(|s| s["ids"][0].as_str().unwrap()).collect();
    assert_eq!(big.len(), 150);
    wait_for_events(server.addr, &read, 80 + 150, Duration::from_secs(10));
    server.stop();
    check_delivered(&dir, &sent, &big);
    // Identify traits came in context.traits (this library's way).
    let c: Value = serde_json::from_str(&wayfarer(&dir, &["customers", "rudder-py-user-3", "--json"])).unwrap();
    assert!(c.to_string().contains("rudder-py-user-3@example.com"), "{c}");
}

#[test]
fn the_official_node_libraries_deliver_and_an_oversize_event_is_refused_not_fatal() {
    let node = sdk_node();
    for (script, big_id) in [("rudder_client.mjs", "rnode-big-0"), ("segment_client.mjs", "snode-big-0")] {
        let (_tmp, dir, write, read) = fresh();
        let server = Server::start(&dir);
        let (sent, ok, stderr) = run_client(node, script, server.addr, &write, "30", &["big-event"]);
        // The 40 KB event is over the 32 KB limit: dropped from its batch (and
        // reported in the 200's body) or, alone, answered 413 — which the
        // library reports as a failure of that event only.
        let failed: Vec<&str> =
            sent.iter().flat_map(|s| s["failed"].as_array().unwrap()).map(|f| f.as_str().unwrap()).collect();
        assert!(ok || failed == [big_id], "{script}: failed {failed:?}: {stderr}");
        assert!(sent.iter().filter(|s| s["kind"] == "customer").all(|s| s["failed"] == json!([])), "{script}");
        wait_for_events(server.addr, &read, 120, Duration::from_secs(10));
        assert!(
            metric(server.addr, &read, "wayfarer_rejected_events_total")
                + metric(server.addr, &read, "wayfarer_refused_requests_total")
                >= 1
        );
        server.stop();
        check_delivered(&dir, &sent, &[]);
    }
}

#[test]
fn the_query_api_answers_exactly_like_the_cli() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("d");
    let input = t.path().join("company.ndjson");
    support::run(
        t.path(),
        &["simulate", "--customers", "400", "--seed", "5", "--quiet", "--ndjson", input.to_str().unwrap()],
    )
    .ok();
    wayfarer(&dir, &["import", input.to_str().unwrap(), "--quiet"]);
    let (write, read) = keys(&dir);
    // Variables the CLI reads, set where the server runs: none may change an
    // answer (the CLI runs below have none of them) or write a file.
    let leaked_out = t.path().join("leaked-map.html");
    let env = [
        ("WAYFARER_FROM", "2026-09-01"),
        ("WAYFARER_PERSONA", "Nobody"),
        ("WAYFARER_FUNNEL_WINDOW", "1s"),
        ("WAYFARER_FUNNEL_MODE", "strict_order"),
        ("WAYFARER_MAP_PERSONAS", "configured"),
        ("WAYFARER_MAP_FORMAT", "html"),
        ("WAYFARER_MAP_OUT", leaked_out.to_str().unwrap()),
    ];
    let server = Server::start_env(&[], &dir, &[], &env);
    let a = server.addr;
    let cli = |args: &[&str]| -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&wayfarer(&dir, &all)).unwrap()
    };
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "/api/funnel?step=Product%20Viewed&step=Product%20Added&step=Order%20Completed&window=7d&breakdown=channel",
            vec![
                "funnel",
                "Product Viewed",
                "Product Added",
                "Order Completed",
                "--window",
                "7d",
                "--breakdown",
                "channel",
            ],
        ),
        (
            "/api/funnel?step=Product%20Viewed&step=Order%20Completed&compare_previous=true&from=2026-07-01&to=2026-08-01",
            vec![
                "funnel",
                "Product Viewed",
                "Order Completed",
                "--compare-previous",
                "--from",
                "2026-07-01",
                "--to",
                "2026-08-01",
            ],
        ),
        (
            "/api/paths?from-event=Checkout%20Started&length=3",
            vec!["paths", "--from-event", "Checkout Started", "--length", "3"],
        ),
        ("/api/retention?period=week&periods=6", vec!["retention", "--period", "week", "--periods", "6"]),
        ("/api/sessions", vec!["sessions"]),
        ("/api/rfm", vec!["rfm"]),
        ("/api/surveys?period=month", vec!["surveys", "--period", "month"]),
        ("/api/clv?top=5", vec!["clv", "--top", "5"]),
        ("/api/attribution?model=all", vec!["attribution", "--model", "all"]),
        ("/api/personas?k=3", vec!["personas", "--k", "3"]),
        ("/api/map", vec!["map"]),
    ];
    for (path, args) in &cases {
        let (status, body) = get(a, path, &read);
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body, cli(args), "{path} differs from `wayfarer {}`", args.join(" "));
    }
    assert!(!leaked_out.exists(), "WAYFARER_MAP_OUT reached the server's map query");
    // A customer's profile, by user id.
    let some_user = cli(&["clv", "--top", "1"])["customer_values"][0]["customer_id"].as_str().unwrap().to_string();
    let (status, profile) = get(a, &format!("/api/customers/{some_user}"), &read);
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile, cli(&["customers", &some_user]));
    assert!(profile["purchases"].as_u64().unwrap() >= 1 && !profile["timeline"].as_array().unwrap().is_empty());
    assert_eq!(get(a, "/api/customers/nobody-at-all", &read).0, 404);

    // Bad queries are 400 with the flag named; unknown ones 404; keys are checked.
    let (s, b) = get(a, "/api/funnel?window=7d", &read);
    assert_eq!((s, b["code"].as_str()), (400, Some("invalid_query")), "{b}");
    assert!(b["message"].as_str().unwrap().contains("step"), "the missing parameter is named: {b}");
    let (s, b) = get(a, "/api/funnel?step=A&mode=sideways", &read);
    assert_eq!(s, 400, "{b}");
    assert!(b["message"].as_str().unwrap().contains("sideways"), "{b}");
    let (s, b) = get(a, "/api/retention?bogus=1", &read);
    assert!(s == 400 && b["message"].as_str().unwrap().contains("bogus"), "{b}");
    assert_eq!(get(a, "/api/map?out=/tmp/x.html", &read).0, 400, "output files are not the API's business");
    assert_eq!(get(a, "/api/map?data=/etc", &read).0, 400);
    assert_eq!(get(a, "/api/import", &read).0, 404);
    assert_eq!(get(a, "/api/sessions", &write).0, 403);
    assert_eq!(http(a, "GET", "/api/sessions", &[], b"").unwrap().0, 401);
    assert_eq!(get(a, "/api/sessions", "wfr_unknown").0, 401);

    // The OpenAPI document lists every endpoint, with the flags as parameters.
    let (s, doc) = get(a, "/api/openapi.json", &read);
    assert_eq!(s, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    for p in [
        "/v1/track",
        "/v1/batch",
        "/v1/import",
        "/api/funnel",
        "/api/map",
        "/api/customers/{id}",
        "/metrics",
        "/healthz",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} missing");
    }
    let params = doc["paths"]["/api/funnel"]["get"]["parameters"].as_array().unwrap();
    assert!(params.iter().any(|p| p["name"] == "step" && p["schema"]["type"] == "array" && p["required"] == true));
    assert!(params.iter().any(|p| p["name"] == "mode"));
    assert!(metric(a, &read, "wayfarer_queries_total") >= cases.len() as u64);
    server.stop();
}

#[cfg(feature = "sql")]
#[test]
fn sql_over_the_events_is_read_only_and_limited() {
    let (_tmp, dir, write, read) = fresh();
    let server = Server::start(&dir);
    let a = server.addr;
    let msgs: Vec<Value> = (0..60).map(|i| track(&format!("s{i}"), &format!("u{}", i % 4))).collect();
    assert_eq!(post(a, "/v1/batch", Some(basic(&write)), &json!({ "batch": msgs })).0, 200);
    wait_for_events(a, &read, 60, Duration::from_secs(2));
    let sql = |body: Value, token: &str| post(a, "/api/sql", Some(bearer(token)), &body);
    let (s, r) = sql(
        json!({"sql": "SELECT user_id, count(*) AS n, sum(revenue) AS revenue FROM events GROUP BY user_id ORDER BY user_id"}),
        &read,
    );
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["columns"], json!(["user_id", "n", "revenue"]));
    assert_eq!(r["rows"].as_array().unwrap().len(), 4);
    assert_eq!(r["rows"][0], json!(["u0", 15, 187.5]));
    // The same through the CLI.
    let cli: Value =
        serde_json::from_str(&wayfarer(&dir, &["sql", "SELECT count(*) AS n FROM events", "--json"])).unwrap();
    assert_eq!(cli["rows"][0][0], 60);
    let (s, r) = sql(json!({"sql": "SELECT event_id FROM events", "limit": 5}), &read);
    assert_eq!((s, r["rows"].as_array().unwrap().len(), r["truncated"].as_bool()), (200, 5, Some(true)));
    for refused in
        ["CREATE TABLE x AS SELECT 1", "COPY (SELECT 1) TO '/tmp/wf-sql-api.csv'", "DROP TABLE events", "SELEC 1"]
    {
        let (s, r) = sql(json!({ "sql": refused }), &read);
        assert_eq!((s, r["code"].as_str()), (400, Some("invalid_query")), "{refused}: {r}");
    }
    assert!(!Path::new("/tmp/wf-sql-api.csv").exists());
    assert_eq!(sql(json!({"sql": "SELECT 1", "limit": 0}), &read).0, 400);
    assert_eq!(sql(json!({"nothing": 1}), &read).0, 400);
    let (s, r) = sql(json!({ "sql": format!("SELECT '{}'", "x".repeat(300_000)) }), &read);
    assert_eq!((s, r["code"].as_str()), (413, Some("payload_too_large")), "{r}");
    assert_eq!(sql(json!({"sql": "SELECT 1"}), &write).0, 403);
    assert_eq!(post(a, "/api/sql", None, &json!({"sql": "SELECT 1"})).0, 401);
    server.stop();
}
