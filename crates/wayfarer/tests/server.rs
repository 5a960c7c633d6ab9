//! `wayfarer serve` end to end: the real binary on a temp data directory,
//! spoken to over loopback with plain HTTP/1.1. Ingestion, limits, bad
//! input, keys, and the crash test (SIGKILL at random moments while several
//! clients send; every acknowledged event must be stored exactly once).

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, http, wayfarer};

mod support;

fn basic(key: &str) -> (&'static str, String) {
    use base64::Engine;
    ("Authorization", format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))))
}

fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

fn post(addr: SocketAddr, path: &str, auth: Option<(&str, String)>, body: &Value) -> (u16, Value) {
    let headers: Vec<(&str, String)> = auth.into_iter().chain([("Content-Type", "application/json".into())]).collect();
    let (status, body) = http(addr, "POST", path, &headers, body.to_string().as_bytes()).expect("request");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn metric(addr: SocketAddr, read: &str, name: &str) -> u64 {
    let (status, body) = http(addr, "GET", "/metrics", &[bearer(read)], b"").unwrap();
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")).map(|v| v.trim().parse::<f64>().unwrap() as u64))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// Waits until the store holds `n` events (what queries see), at most `limit`.
fn wait_for_events(addr: SocketAddr, read: &str, n: u64, limit: Duration) {
    let deadline = Instant::now() + limit;
    while metric(addr, read, "wayfarer_store_events") < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every event id in the store, with how often it occurs.
fn stored_ids(dir: &Path) -> HashMap<String, u32> {
    let store = wayfarer_store::Store::open(dir).unwrap();
    let mut ids = HashMap::new();
    for p in 0..store.partitions() {
        let rows = store.read_partition(p, &[wayfarer_store::segment::Col::EventId]).unwrap();
        for r in 0..rows.len() {
            *ids.entry(rows.str_at(wayfarer_store::segment::Col::EventId, r).unwrap().to_string()).or_insert(0) += 1;
        }
    }
    ids
}

fn keys(dir: &Path) -> (String, String) {
    let w = wayfarer(dir, &["keys", "create", "--write", "--name", "web", "--quiet"]).trim().to_string();
    let r = wayfarer(dir, &["keys", "create", "--read", "--name", "dash", "--quiet"]).trim().to_string();
    (w, r)
}

/// A new data directory with a write key and a read token.
fn fresh() -> (tempfile::TempDir, std::path::PathBuf, String, String) {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("d");
    std::fs::create_dir_all(&dir).unwrap();
    let (write, read) = keys(&dir);
    (t, dir, write, read)
}

fn track(id: &str, user: &str) -> Value {
    json!({"type": "track", "messageId": id, "userId": user, "event": "Order Completed",
           "timestamp": "2026-05-01T10:00:00Z", "properties": {"revenue": 12.5, "sku": "tent"}})
}

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
            "invalid_field",
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
            json!({"batch": (0..4000).map(|i| track(&format!("big{i}"), "u")).collect::<Vec<_>>()})
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
    let mut batch_no = 0u64;
    for round in 0..8 {
        let server = Server::start(&dir);
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..4)
            .map(|c| {
                let (stop, acked, write) = (stop.clone(), acked.clone(), write.clone());
                let addr = server.addr;
                let first = batch_no + c * 1_000_000;
                std::thread::spawn(move || {
                    let mut b = first;
                    while !stop.load(Ordering::Relaxed) {
                        b += 1;
                        let ids: Vec<String> = (0..50).map(|i| format!("r{round}-b{b}-e{i}")).collect();
                        let msgs: Vec<Value> = ids.iter().map(|id| track(id, &format!("u{}", b % 97))).collect();
                        let body = json!({"batch": msgs}).to_string();
                        match http(addr, "POST", "/v1/batch", &[basic(&write)], body.as_bytes()) {
                            Some((200, resp))
                                if serde_json::from_slice::<Value>(&resp).is_ok_and(|v| v["success"] == true) =>
                            {
                                acked.lock().unwrap().extend(ids);
                            }
                            _ => {} // killed mid-request: not acknowledged
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
        batch_no += 10_000_000;
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
    let ids = stored_ids(&dir);
    assert_eq!(ids.values().map(|&n| n as u64).sum::<u64>(), total);
    let dups: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(dups.is_empty(), "duplicates after replay: {dups:?}");
    let missing: Vec<_> = acked.iter().filter(|id| !ids.contains_key(*id)).take(5).collect();
    assert!(missing.is_empty(), "acknowledged events lost: {missing:?} (of {})", acked.len());
    // No partial segment is visible: every file the manifest names is whole, and no staging is left.
    let staging: Vec<_> = std::fs::read_dir(dir.join("staging")).unwrap().collect();
    assert!(staging.len() <= 1, "staging files left: {staging:?}");
}

/// The Python interpreter with Segment's official library: WAYFARER_TEST_PYTHON
/// (set by .ci/run), else `python3` if it has the library.
fn segment_python() -> String {
    let candidates = std::env::var("WAYFARER_TEST_PYTHON").into_iter().chain(["python3".to_string()]);
    for py in candidates {
        let ok = Command::new(&py).args(["-c", "import segment.analytics"]).output().is_ok_and(|o| o.status.success());
        if ok {
            return py;
        }
    }
    panic!(
        "this test needs Segment's official Python library: python3 -m venv /tmp/wf-py && \
         /tmp/wf-py/bin/pip install segment-analytics-python, then WAYFARER_TEST_PYTHON=/tmp/wf-py/bin/python \
         (.ci/run does this)"
    );
}

#[test]
fn the_official_segment_library_delivers_every_event_once() {
    let python = segment_python();
    let (_tmp, dir, write, read) = fresh();
    let server = Server::start(&dir);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/segment_client.py");
    let out = Command::new(&python).args([script, &format!("http://{}", server.addr), &write, "40"]).output().unwrap();
    assert!(out.status.success(), "the client failed: {}", String::from_utf8_lossy(&out.stderr));
    let sent: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sent.len(), 40);
    wait_for_events(server.addr, &read, 160, Duration::from_secs(5));
    server.stop();
    let ids = stored_ids(&dir);
    assert_eq!(ids.len(), 160, "4 messages per customer");
    assert!(ids.values().all(|&n| n == 1), "each exactly once");
    // The properties arrived: revenue and the nested products of every order.
    use wayfarer_store::segment::Col;
    let store = wayfarer_store::Store::open(&dir).unwrap();
    let mut orders = HashMap::new();
    for p in 0..store.partitions() {
        let rows = store.read_partition(p, &[Col::EventId, Col::Revenue, Col::Properties, Col::UserId]).unwrap();
        for r in 0..rows.len() {
            let id = rows.str_at(Col::EventId, r).unwrap();
            if id.ends_with("-order") {
                let props: Value = serde_json::from_str(rows.str_at(Col::Properties, r).unwrap()).unwrap();
                orders.insert(
                    id.to_string(),
                    (rows.f64_at(Col::Revenue, r), props, rows.str_at(Col::UserId, r).map(str::to_string)),
                );
            }
        }
    }
    for s in &sent {
        let (revenue, props, user) = &orders[s["order"].as_str().unwrap()];
        assert_eq!(*revenue, s["revenue"].as_f64());
        assert_eq!(props["currency"], "EUR");
        assert_eq!(props["products"][0]["qty"], s["qty"]);
        assert_eq!(user.as_deref(), s["user"].as_str());
    }
    // And the data answers queries: every customer completed the 2-step funnel.
    let funnel: Value =
        serde_json::from_str(&wayfarer(&dir, &["funnel", "Product Viewed", "Order Completed", "--json"])).unwrap();
    assert_eq!(funnel["level_counts"][2], 40, "{funnel}");
}

fn get(addr: SocketAddr, path: &str, read: &str) -> (u16, Value) {
    let (status, body) = http(addr, "GET", path, &[bearer(read)], b"").expect("request");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[test]
fn the_query_api_answers_exactly_like_the_cli() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("d");
    let input = t.path().join("company.ndjson");
    let out = Command::new(env!("CARGO_BIN_EXE_wayfarer"))
        .args(["simulate", "--customers", "400", "--seed", "5", "--quiet", "--ndjson"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wayfarer(&dir, &["import", input.to_str().unwrap(), "--quiet"]);
    let (write, read) = keys(&dir);
    let server = Server::start(&dir);
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
