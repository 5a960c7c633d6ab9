//! `wayfarer triggers` and `wayfarer actions` end to end: the real binary
//! on a temporary store, webhooks to a real HTTP receiver on 127.0.0.1
//! that answers with scripted statuses.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use serde_json::Value;

mod support;

use support::run as wayfarer;

/// Three customers, each with a first order; one also orders again.
const EVENTS: &str = r#"{"type":"identify","userId":"ann","traits":{"email":"ann@example.com"},"timestamp":"2026-05-01T09:00:00Z"}
{"type":"track","userId":"ann","event":"Order Completed","properties":{"revenue":120},"timestamp":"2026-05-02T10:00:00Z"}
{"type":"track","userId":"ann","event":"Survey Responded","properties":{"survey":"csat","score":5},"timestamp":"2026-05-06T10:00:00Z"}
{"type":"track","userId":"bob","event":"Order Completed","properties":{"revenue":80},"timestamp":"2026-05-03T10:00:00Z"}
{"type":"track","userId":"cid","event":"Order Completed","properties":{"revenue":30},"timestamp":"2026-05-04T10:00:00Z"}
{"type":"track","userId":"cid","event":"Order Completed","properties":{"revenue":30},"timestamp":"2026-05-20T10:00:00Z"}
{"type":"page","userId":"dan","name":"Home","properties":{"url":"https://shop.example/"},"timestamp":"2026-06-30T09:01:00Z"}
"#;

const SECRET: &str = "a-long-random-signing-secret";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Got {
    key: String,
    signature: String,
    body: Vec<u8>,
}

/// Reads one HTTP request: its idempotency key, signature and body.
fn read_request(stream: &std::net::TcpStream) -> Option<Got> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let (mut len, mut key, mut signature) = (0, String::new(), String::new());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        let value = value.trim().to_string();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => len = value.parse().unwrap_or(0),
            "idempotency-key" => key = value,
            "wayfarer-signature" => signature = value,
            _ => {}
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Got { key, signature, body })
}

/// A receiver answering each request with the next scripted status (then
/// 200s); records every request.
fn receiver(script: Vec<u16>) -> (String, Arc<Mutex<Vec<Got>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<Got>>> = Arc::default();
    let seen = Arc::clone(&got);
    std::thread::spawn(move || {
        let mut script = script.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Some(got) = read_request(&stream) else { continue };
            seen.lock().unwrap().push(got);
            let status = script.next().unwrap_or(200);
            let _ = write!(stream, "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, got)
}

fn store() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("events.ndjson");
    std::fs::write(&file, EVENTS).unwrap();
    wayfarer(t.path(), &["import", "--data", "data", file.to_str().unwrap(), "--quiet"]).ok();
    t
}

fn cmd(dir: &Path, args: &[&str]) -> support::Run {
    let mut all = args.to_vec();
    all.extend(["--data", "data"]);
    wayfarer(dir, &all)
}

fn write_triggers(dir: &Path, text: &str) {
    std::fs::write(dir.join("data").join("triggers.toml"), text).unwrap();
}

fn valid_signature(g: &Got) -> bool {
    let (t, v1) = g.signature.split_once(',').unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{}.", &t[2..]).as_bytes());
    mac.update(&g.body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    v1 == format!("v1={hex}")
}

#[test]
fn first_orders_become_signed_idempotent_webhooks_retried_until_delivered() {
    let t = store();
    let dir = t.path();
    // The receiver fails the first two requests.
    let (url, got) = receiver(vec![500, 503]);
    write_triggers(
        dir,
        &format!(
            r#"
[[trigger]]
name = "CSAT after first order"
when = "event Order Completed[nth_purchase = 1]"
wait = "3d"
goal = "Survey Responded"
goal_within = "14d"
[trigger.webhook]
url = "{url}"
secret = "{SECRET}"
backoff = "0s"
"#
        ),
    );
    cmd(dir, &["triggers", "check"]).ok();
    let first = cmd(dir, &["triggers", "run", "--since", "2026-01-01", "--json"]).json();
    assert_eq!(first["triggers"][0]["recorded"], 3, "{first}");
    // Evaluating again records nothing new: each occurrence acts once.
    let again = cmd(dir, &["triggers", "run", "--since", "2026-01-01", "--json"]).json();
    assert_eq!(
        (again["triggers"][0]["recorded"].as_u64(), again["triggers"][0]["recorded_before"].as_u64()),
        (Some(0), Some(3))
    );
    // A run without --since decides only what can have changed since the last: here nothing.
    let live = cmd(dir, &["triggers", "run", "--json"]).json();
    assert_eq!(live["triggers"][0]["occurrences"], 0, "{live}");

    let round = cmd(dir, &["actions", "deliver", "--json"]).json();
    assert_eq!((round["delivered"].as_u64(), round["failed"].as_u64()), (Some(1), Some(2)), "{round}");
    let round = cmd(dir, &["actions", "deliver", "--json"]).json();
    assert_eq!((round["delivered"].as_u64(), round["failed"].as_u64()), (Some(2), Some(0)), "{round}");
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 5);
    assert!(got.iter().all(valid_signature), "a signature does not verify");
    // A retried action carries the same idempotency key; three actions in all.
    let mut keys: Vec<&str> = got.iter().map(|g| g.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 3);
    let payload: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(payload["trigger"], "CSAT after first order");
    assert_eq!(payload["event"]["name"], "Order Completed");
    assert_eq!(payload["occurrence_id"].as_str(), Some(got[0].key.as_str()));
    let customers: Vec<&str> = got.iter().map(|g| g.key.as_str()).collect();
    assert!(!customers.is_empty());

    let log = cmd(dir, &["actions", "log", "--json"]).json();
    let states: Vec<&str> = log.as_array().unwrap().iter().map(|a| a["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["delivered", "delivered", "delivered"]);
    let listed = cmd(dir, &["triggers", "list", "--json"]).json();
    assert_eq!((listed[0]["delivered"].as_u64(), listed[0]["pending"].as_u64()), (Some(3), Some(0)), "{listed}");
    // Ann answered a survey within 14 days of hers: the goal, in the acted-on arm.
    let report = cmd(dir, &["triggers", "report", "csat after first order", "--json"]).json();
    assert_eq!(
        (report["effect"]["acted"].as_u64(), report["effect"]["acted_goal"].as_u64()),
        (Some(3), Some(1)),
        "{report}"
    );
    let e = cmd(dir, &["triggers", "report", "CSAT after first ordr"]).fails().stderr();
    assert!(e.contains("did you mean 'CSAT after first order'"), "{e}");

    // The dashboard's Triggers page shows the same.
    let (_, read) = support::keys(&dir.join("data"));
    let server = support::Server::start(&dir.join("data"));
    let login = format!("token={read}&next=%2Ftriggers");
    let form = ("Content-Type", "application/x-www-form-urlencoded".to_string());
    let (_, head, _) = support::http_full(server.addr, "POST", "/login", &[form], login.as_bytes()).unwrap();
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    let (status, page) = support::http(server.addr, "GET", "/triggers", &[("Cookie", cookie)], b"").unwrap();
    let page = String::from_utf8_lossy(&page).to_string();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("CSAT after first order") && page.contains(">Triggers</a>"), "{page}");
    assert!(page.contains("id=\"actions\"") && page.matches("delivered").count() >= 3, "{page}");
    // …and /metrics counts the outbox.
    let (_, metrics) = support::http(server.addr, "GET", "/metrics", &[support::bearer(&read)], b"").unwrap();
    let metrics = String::from_utf8_lossy(&metrics).to_string();
    assert!(
        metrics.contains("wayfarer_actions{trigger=\"CSAT after first order\",kind=\"webhook\",state=\"delivered\"} 3"),
        "{metrics}"
    );
    drop(server);
}

#[test]
fn dead_letters_are_retried_and_holdouts_get_nothing() {
    let t = store();
    let dir = t.path();
    let (url, got) = receiver(vec![500, 500, 500, 500, 500, 500]);
    write_triggers(
        dir,
        &format!(
            r#"
[[trigger]]
name = "Thanks"
when = "event Order Completed"
limit = "once"
[trigger.webhook]
url = "{url}"
secret = "{SECRET}"
backoff = "0s"
max_attempts = 2
"#
        ),
    );
    let ran = cmd(dir, &["triggers", "run", "--since", "2026-01-01", "--json"]).json();
    // Cid ordered twice: once per customer.
    assert_eq!(
        (ran["triggers"][0]["recorded"].as_u64(), ran["triggers"][0]["limited"].as_u64()),
        (Some(3), Some(1)),
        "{ran}"
    );
    cmd(dir, &["actions", "deliver"]).ok();
    let round = cmd(dir, &["actions", "deliver", "--json"]).json();
    assert_eq!(round["dead"], 3, "{round}");
    let dead = cmd(dir, &["actions", "log", "--state", "dead", "--json"]).json();
    assert_eq!(dead.as_array().unwrap().len(), 3);
    assert!(dead[0]["last_error"].as_str().unwrap().contains("HTTP 500"), "{dead}");
    // Nothing more is sent to the dead letters until they are retried.
    assert_eq!(cmd(dir, &["actions", "deliver", "--json"]).json()["delivered"], 0);
    let retried = cmd(dir, &["actions", "retry", "--json"]).json();
    assert_eq!(retried["retried"], 3);
    let round = cmd(dir, &["actions", "deliver", "--json"]).json();
    assert_eq!(round["delivered"], 3, "{round}");
    assert_eq!(got.lock().unwrap().len(), 9);

    // A holdout of (almost) everyone: recorded, never sent.
    write_triggers(
        dir,
        &format!(
            "[[trigger]]\nname = \"Control\"\nwhen = \"event Order Completed\"\nholdout = 0.999999\n[trigger.webhook]\nurl = \"{url}\"\n"
        ),
    );
    let ran = cmd(dir, &["triggers", "run", "--since", "2026-01-01", "--json"]).json();
    assert_eq!(ran["triggers"][0]["held_out"], 3, "{ran}");
    assert_eq!(cmd(dir, &["actions", "deliver", "--json"]).json()["delivered"], 0);
    assert_eq!(got.lock().unwrap().len(), 9);
}

#[test]
fn bad_definitions_name_the_trigger_and_key_and_record_nothing() {
    let t = store();
    let dir = t.path();
    for (text, says) in [
        ("[[trigger]]\nname = \"A\"\nwhen = \"event Order Complete\"", "trigger 'A', key 'when'"),
        ("[[trigger]]\nname = \"A\"\nwhen = \"enters stage 'Purchse'\"", "did you mean 'Purchase'"),
        ("[[trigger]]\nname = \"A\"\nwhen = \"enters segment 'VIPs'\"", "no saved segment 'VIPs'"),
        ("[[trigger]]\nname = \"A\"\nwhen = \"event Order Completed\"\nwiat = \"3d\"", "unknown field `wiat`"),
        ("[[trigger]]\nname = \"A\"\nwhen = \"event Order Completed\"\nholdout = 2", "key 'holdout'"),
        ("[[trigger]]\nname = \"A\"\nwhen = \"event Order Completed\"\nif = \"traits.emial\"", "key 'if'"),
    ] {
        write_triggers(dir, text);
        let e = cmd(dir, &["triggers", "check"]).fails().stderr();
        assert!(e.contains(says), "{text}: {e}");
        cmd(dir, &["triggers", "run", "--since", "2026-01-01"]).fails();
    }
    assert!(!dir.join("data").join("outbox").join("actions.ndjson").exists());
}

/// A receiver that takes `delay` over each request and answers 200.
fn slow_receiver(delay: std::time::Duration) -> (String, Arc<Mutex<Vec<Got>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<Got>>> = Arc::default();
    let seen = Arc::clone(&got);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                let Some(got) = read_request(&stream) else { return };
                std::thread::sleep(delay);
                seen.lock().unwrap().push(got);
                let _ = write!(stream, "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            });
        }
    });
    (url, got)
}

fn now_rfc3339() -> String {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let secs = ms / 1000;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem % 3600 / 60, rem % 60, ms % 1000)
}

fn order(id: &str, user: &str) -> Value {
    serde_json::json!({"type": "track", "messageId": id, "userId": user, "event": "Order Completed",
        "timestamp": now_rfc3339(), "properties": {"revenue": 10}})
}

fn wait_until(limit: std::time::Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    f()
}

#[test]
fn the_server_acts_on_events_as_they_arrive_and_on_segment_entries() {
    use support::{Server, basic, post};
    let t = store();
    let dir = t.path().join("data");
    let (write, _read) = support::keys(&dir);
    cmd(t.path(), &["segments", "create", "Buyers", "--where", "did 'Order Completed'"]).ok();
    let (url, got) = slow_receiver(std::time::Duration::ZERO);
    write_triggers(
        t.path(),
        &format!(
            r#"
[[trigger]]
name = "Thanks"
when = "event Order Completed"
[trigger.webhook]
url = "{url}"
secret = "{SECRET}"

[[trigger]]
name = "Welcome buyers"
when = "enters segment 'Buyers'"
[trigger.webhook]
url = "{url}"
secret = "{SECRET}"
"#
        ),
    );
    let server = Server::start(&dir);
    // Wait for the first evaluation (it records when the triggers started).
    let started = dir.join("outbox").join("triggers.json");
    assert!(wait_until(std::time::Duration::from_secs(30), || started.exists()), "no first evaluation");
    // Eve orders: a new customer who enters Buyers.
    let (status, _) =
        post(server.addr, "/v1/batch", Some(basic(&write)), &serde_json::json!({"batch": [order("live-1", "eve")]}));
    assert_eq!(status, 200);
    let both = || {
        let g = got.lock().unwrap();
        let triggers: Vec<String> = g
            .iter()
            .map(|x| serde_json::from_slice::<Value>(&x.body).unwrap()["trigger"].as_str().unwrap().to_string())
            .collect();
        triggers.contains(&"Thanks".to_string()) && triggers.contains(&"Welcome buyers".to_string())
    };
    assert!(wait_until(std::time::Duration::from_secs(40), both), "webhooks received: {:?}", got.lock().unwrap().len());
    let g = got.lock().unwrap().clone();
    assert!(g.iter().all(valid_signature));
    assert!(g.iter().all(|x| serde_json::from_slice::<Value>(&x.body).unwrap()["customer"]["id"] == "eve"));
    // Nothing from before the triggers started (ann, bob and cid ordered in May).
    assert_eq!(g.len(), 2, "{g:?}");
    drop(server);
}

#[test]
fn kill_9_during_delivery_loses_no_action_and_repeats_only_with_the_same_key() {
    use support::{Server, basic, post};
    let t = store();
    let dir = t.path().join("data");
    let (write, _read) = support::keys(&dir);
    let (url, got) = slow_receiver(std::time::Duration::from_millis(150));
    write_triggers(
        t.path(),
        &format!(
            "[[trigger]]\nname = \"Thanks\"\nwhen = \"event Order Completed\"\n[trigger.webhook]\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n"
        ),
    );
    let server = Server::start(&dir);
    let started = dir.join("outbox").join("triggers.json");
    assert!(wait_until(std::time::Duration::from_secs(30), || started.exists()));
    let batch: Vec<Value> = (0..30).map(|i| order(&format!("k-{i}"), &format!("buyer{i}"))).collect();
    let (status, _) = post(server.addr, "/v1/batch", Some(basic(&write)), &serde_json::json!({ "batch": batch }));
    assert_eq!(status, 200);
    // Mid-delivery (each takes 150 ms): kill -9.
    assert!(
        wait_until(std::time::Duration::from_secs(40), || got.lock().unwrap().len() >= 5),
        "delivery never started"
    );
    server.kill();
    let sent_before = got.lock().unwrap().len();
    assert!(sent_before < 30, "all were delivered before the kill ({sent_before})");
    let server = Server::start(&dir);
    let all_delivered = || {
        let log = cmd(t.path(), &["actions", "log", "--json"]).json();
        let a = log.as_array().unwrap();
        a.len() == 30 && a.iter().all(|x| x["state"] == "delivered")
    };
    assert!(wait_until(std::time::Duration::from_secs(60), all_delivered), "not every action was delivered");
    drop(server);
    let g = got.lock().unwrap().clone();
    let mut keys: Vec<&str> = g.iter().map(|x| x.key.as_str()).collect();
    keys.sort_unstable();
    let received = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), 30, "every action reached the receiver");
    // A repeat (at most the ones in flight at the kill) has the key of the first.
    assert!(received - 30 <= 2, "{} repeats", received - 30);
    eprintln!("faults: kill -9 during delivery: 30 due, 30 delivered, {} repeats with their keys", received - 30);
}

#[test]
fn a_hosted_survey_is_answered_once_and_its_answer_is_stored() {
    use support::{Server, basic, http, post};
    let t = store();
    let dir = t.path().join("data");
    let (write, _read) = support::keys(&dir);
    let (url, got) = slow_receiver(std::time::Duration::ZERO);
    write_triggers(
        t.path(),
        &format!(
            "public_url = \"https://surveys.example.com/\"\n[[trigger]]\nname = \"CSAT after order\"\nwhen = \"event Order Completed\"\n\
             [trigger.survey]\nkind = \"csat\"\nexpires = \"7d\"\n[trigger.webhook]\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n"
        ),
    );
    let server = Server::start(&dir);
    let started = dir.join("outbox").join("triggers.json");
    assert!(wait_until(std::time::Duration::from_secs(30), || started.exists()));
    let (status, _) =
        post(server.addr, "/v1/batch", Some(basic(&write)), &serde_json::json!({"batch": [order("s-1", "eve")]}));
    assert_eq!(status, 200);
    assert!(wait_until(std::time::Duration::from_secs(40), || !got.lock().unwrap().is_empty()), "no invitation");
    let invitation: Value = serde_json::from_slice(&got.lock().unwrap()[0].body).unwrap();
    let link = invitation["survey"]["url"].as_str().unwrap().to_string();
    assert!(link.starts_with("https://surveys.example.com/s/"), "{invitation}");
    let path = &link["https://surveys.example.com".len()..];
    let page = |method: &str, body: &str| {
        let form = ("Content-Type", "application/x-www-form-urlencoded".to_string());
        let (status, body) = http(server.addr, method, path, &[form], body.as_bytes()).unwrap();
        (status, String::from_utf8_lossy(&body).to_string())
    };
    let (status, html) = page("GET", "");
    assert_eq!(status, 200);
    assert!(html.contains("How satisfied are you") && html.matches("type=\"radio\"").count() == 5, "{html}");
    // A score off the scale is asked again, with the reason.
    let (status, html) = page("POST", "score=9&comment=hm");
    assert_eq!(status, 422);
    assert!(html.contains("Choose a score from 1 to 5") && html.contains(">hm</textarea>"), "{html}");
    let (status, html) = page("POST", "score=2&comment=Shipping+took+two+weeks");
    assert_eq!(status, 200);
    assert!(html.contains("Thank you"), "{html}");
    // One answer per token: a second (or a reload) says so.
    let (_, html) = page("POST", "score=5");
    assert!(html.contains("already"), "{html}");
    let (_, html) = page("GET", "");
    assert!(html.contains("already"), "{html}");
    // A forged token (another customer in the payload) is refused.
    let mut parts: Vec<String> = path["/s/".len()..].split('.').map(str::to_string).collect();
    parts[1] = parts[1].chars().rev().collect();
    let forged = format!("/s/{}", parts.join("."));
    let (status, body) = http(server.addr, "GET", &forged, &[], b"").unwrap();
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    // The answer went through ingestion: after the next commit it is Eve's survey answer.
    let stored = || {
        let out = cmd(t.path(), &["customers", "eve", "--json"]);
        out.stdout().contains("Shipping took two weeks")
    };
    assert!(wait_until(std::time::Duration::from_secs(30), stored), "the answer was not stored");
    drop(server);
}

#[test]
fn a_hosted_survey_answered_with_the_keyboard_in_headless_chromium() {
    use support::{Server, basic, post};
    let browser = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser.join("node_modules/playwright-core").is_dir(),
        "the browser tests need Node.js and playwright-core: cd {} && npm ci (.ci/run does this)",
        browser.display()
    );
    let t = store();
    let dir = t.path().join("data");
    let (write, _read) = support::keys(&dir);
    let (url, got) = slow_receiver(std::time::Duration::ZERO);
    let server = Server::start(&dir);
    write_triggers(
        t.path(),
        &format!(
            "public_url = \"http://{}\"\n[[trigger]]\nname = \"CSAT\"\nwhen = \"event Order Completed\"\n\
             [trigger.survey]\nkind = \"csat\"\n[trigger.webhook]\nurl = \"{url}\"\n",
            server.addr
        ),
    );
    let started = dir.join("outbox").join("triggers.json");
    assert!(wait_until(std::time::Duration::from_secs(40), || started.exists()));
    let (status, _) =
        post(server.addr, "/v1/batch", Some(basic(&write)), &serde_json::json!({"batch": [order("b-1", "fay")]}));
    assert_eq!(status, 200);
    assert!(wait_until(std::time::Duration::from_secs(40), || !got.lock().unwrap().is_empty()), "no invitation");
    let invitation: Value = serde_json::from_slice(&got.lock().unwrap()[0].body).unwrap();
    let link = invitation["survey"]["url"].as_str().unwrap().to_string();
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("survey-screenshots");
    let o = std::process::Command::new("node")
        .current_dir(&browser)
        .arg("survey.mjs")
        .arg(&link)
        .arg(&shots)
        .output()
        .expect("run node (Node.js is needed for the browser tests)");
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "the survey in Chromium failed (screenshots in {}):\n{out}", shots.display());
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["score"], 3);
    drop(server);
}

/// A local SMTP sink: accepts every message and keeps its DATA.
fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mail: Arc<Mutex<Vec<String>>> = Arc::default();
    let kept = Arc::clone(&mail);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let kept = Arc::clone(&kept);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let _ = write!(stream, "220 sink ESMTP\r\n");
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let answer = match verb.as_str() {
                        "EHLO" => "250-sink\r\n250 8BITMIME\r\n".to_string(),
                        "DATA" => {
                            let _ = write!(stream, "354 go on\r\n");
                            let mut data = String::new();
                            loop {
                                let mut l = String::new();
                                if reader.read_line(&mut l).unwrap_or(0) == 0 || l == ".\r\n" {
                                    break;
                                }
                                data.push_str(&l);
                            }
                            kept.lock().unwrap().push(data);
                            "250 queued\r\n".to_string()
                        }
                        "QUIT" => {
                            let _ = write!(stream, "221 bye\r\n");
                            return;
                        }
                        _ => "250 ok\r\n".to_string(),
                    };
                    let _ = stream.write_all(answer.as_bytes());
                }
            });
        }
    });
    (port, mail)
}

#[test]
fn emails_are_rendered_sent_over_smtp_and_stop_after_unsubscribing() {
    use support::{Server, http};
    let t = store();
    let dir = t.path().join("data");
    let (port, mail) = smtp_sink();
    let config = |name: &str| {
        format!(
            r#"public_url = "https://wayfarer.example.com"
[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
from = "Northwind <hello@northwind.example>"

[[trigger]]
name = "{name}"
when = "event Order Completed"
[trigger.email]
subject = "Thank you for your order{{% if event.properties.revenue > 100 %}}, a big one{{% endif %}}"
body = """Hi {{{{ customer.id }}}},

Tell a friend and you both save 10 %.

Unsubscribe: {{{{ unsubscribe_url }}}}
"""
"#
        )
    };
    write_triggers(t.path(), &config("Referral offer"));
    cmd(t.path(), &["triggers", "check"]).ok();
    let ran = cmd(t.path(), &["triggers", "run", "--since", "2026-01-01", "--json"]).json();
    let row = &ran["triggers"][0];
    // Only ann has an email address; bob and cid are counted, not mailed.
    assert_eq!((row["recorded"].as_u64(), row["no_address"].as_u64()), (Some(3), Some(2)), "{ran}");
    let round = cmd(t.path(), &["actions", "deliver", "--json"]).json();
    assert_eq!(round["delivered"], 1, "{round}");
    let sent = mail.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let m = &sent[0];
    // A preview shows the same email for a customer without recording it.
    let preview = cmd(t.path(), &["triggers", "preview", "Referral offer", "--customer", "ann", "--json"]).json();
    assert_eq!(preview[0]["action"], "email", "{preview}");
    assert_eq!(preview[0]["payload"]["email"]["subject"], "Thank you for your order, a big one");
    let e = cmd(t.path(), &["triggers", "preview", "Referral offer", "--customer", "nobody"]).fails().stderr();
    assert!(e.contains("no customer with user id or anonymous id 'nobody'"), "{e}");
    assert!(m.contains("To: ann@example.com") && m.contains("Subject: Thank you for your order, a big one"), "{m}");
    assert!(m.contains("Hi ann,") && m.contains("List-Unsubscribe: <https://wayfarer.example.com/u/"), "{m}");
    assert!(m.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), "{m}");
    // The link as the email carries it (the body may be quoted-printable).
    let log = cmd(t.path(), &["actions", "log", "--state", "delivered", "--json"]).json();
    let url = log[0]["payload"]["unsubscribe_url"].as_str().unwrap().to_string();
    let link = &url["https://wayfarer.example.com".len()..];
    let unfolded = m.replace("=\r\n", "").replace("\r\n ", "");
    assert!(unfolded.contains(&url) || unfolded.contains(&url.replace('=', "=3D")), "{m}");

    // Ann unsubscribes through the link (a GET only asks to confirm).
    let server = Server::start(&dir);
    let (status, page) = http(server.addr, "GET", link, &[], b"").unwrap();
    let page = String::from_utf8_lossy(&page).to_string();
    assert!(status == 200 && page.contains("<form method=\"post\">"), "{status} {link}: {page}");
    let (status, page) = http(server.addr, "POST", link, &[], b"List-Unsubscribe=One-Click").unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&page));
    assert!(String::from_utf8_lossy(&page).contains("You are unsubscribed"));
    let (status, _) = http(server.addr, "POST", &format!("{link}x"), &[], b"").unwrap();
    assert_eq!(status, 403, "a forged unsubscribe link");
    let stored = || cmd(t.path(), &["customers", "ann", "--json"]).stdout().contains("Unsubscribed");
    assert!(wait_until(std::time::Duration::from_secs(30), stored), "the unsubscribe was not stored");
    drop(server);
    // A new email trigger no longer mails her.
    write_triggers(t.path(), &config("Second offer"));
    let ran = cmd(t.path(), &["triggers", "run", "--since", "2026-01-01", "--json"]).json();
    assert_eq!(ran["triggers"][0]["unsubscribed"], 1, "{ran}");
    let round = cmd(t.path(), &["actions", "deliver", "--json"]).json();
    assert_eq!(round["delivered"], 0, "{round}");
    assert_eq!(mail.lock().unwrap().len(), 1);
    // A template that does not parse is named with its key.
    std::fs::write(
        dir.join("triggers.toml"),
        config("Bad").replace("Thank you for your order", "Thanks {{ customer.id"),
    )
    .unwrap();
    let e = cmd(t.path(), &["triggers", "check"]).fails().stderr();
    assert!(e.contains("trigger 'Bad', key 'email.subject'"), "{e}");
    // A misspelled address trait is named, not a silent "no address" for everyone.
    std::fs::write(
        dir.join("triggers.toml"),
        config("Typo").replace("[trigger.email]", "[trigger.email]\nto = \"emial\""),
    )
    .unwrap();
    let e = cmd(t.path(), &["triggers", "check"]).fails().stderr();
    assert!(e.contains("key 'email.to'") && e.contains("did you mean 'email'"), "{e}");
}

#[test]
fn a_referral_offer_link_is_clicked_and_converts_for_the_referrer() {
    use support::{Server, basic, http_full, post};
    let t = store();
    let dir = t.path().join("data");
    let (write, _read) = support::keys(&dir);
    let (url, got) = slow_receiver(std::time::Duration::ZERO);
    write_triggers(
        t.path(),
        &format!(
            "public_url = \"https://wayfarer.example.com\"\n[referrals]\nlanding_url = \"https://shop.example/welcome?src=friend\"\n\
             [[trigger]]\nname = \"Refer a friend\"\nwhen = \"event Survey Responded[survey = 'csat' and score >= 5]\"\n\
             [trigger.referral]\ndiscount_code = \"FRIEND10\"\n[trigger.webhook]\nurl = \"{url}\"\n"
        ),
    );
    cmd(t.path(), &["triggers", "run", "--since", "2026-01-01"]).ok();
    cmd(t.path(), &["actions", "deliver"]).ok();
    let offer: Value = serde_json::from_slice(&got.lock().unwrap()[0].body).unwrap();
    assert_eq!(offer["customer"]["id"], "ann", "{offer}");
    let code = offer["referral"]["code"].as_str().unwrap().to_string();
    assert_eq!(offer["referral"]["url"], format!("https://wayfarer.example.com/r/{code}"));
    assert_eq!(offer["referral"]["discount_code"], "FRIEND10");

    let server = Server::start(&dir);
    // A friend clicks: recorded, and sent to the landing page with ref=.
    let (status, head, _) = http_full(server.addr, "GET", &format!("/r/{code}"), &[], b"").unwrap();
    assert_eq!(status, 302, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("location: https://shop.example/welcome?src=friend&ref={code}").to_ascii_lowercase()),
        "{head}"
    );
    let (status, _, _) = http_full(server.addr, "GET", "/r/NOTACODE", &[], b"").unwrap();
    assert_eq!(status, 404);
    // …signs up, orders with the code and redeems the discount.
    let now = now_rfc3339();
    let batch = serde_json::json!({"batch": [
        {"type": "track", "messageId": "f-1", "userId": "gus", "event": "Order Completed", "timestamp": now,
         "properties": {"revenue": 64, "referral_code": code.to_lowercase()}},
        {"type": "track", "messageId": "f-2", "userId": "gus", "event": "Coupon Applied", "timestamp": now,
         "properties": {"coupon_id": "FRIEND10"}},
        // Referring oneself does not count.
        {"type": "track", "messageId": "f-3", "userId": "ann", "event": "Order Completed", "timestamp": now,
         "properties": {"revenue": 10, "referral_code": code}},
    ]});
    let (status, _) = post(server.addr, "/v1/batch", Some(basic(&write)), &batch);
    assert_eq!(status, 200);
    let converted = || {
        let r = cmd(t.path(), &["referrals", "--json"]).json();
        r["referrers"][0]["conversions"] == 1
    };
    assert!(wait_until(std::time::Duration::from_secs(30), converted), "no conversion recorded");
    drop(server);
    let r = cmd(t.path(), &["referrals", "--json"]).json();
    let ann = &r["referrers"][0];
    assert_eq!(
        (ann["customer"].as_str(), ann["clicks"].as_u64(), ann["revenue"].as_f64()),
        (Some("ann"), Some(1), Some(64.0)),
        "{r}"
    );
    assert_eq!(r["discount_redemptions"], serde_json::json!([["FRIEND10", 1]]), "{r}");
    // Referral Converted counts toward Advocacy.
    let map = cmd(t.path(), &["map", "--json"]).json();
    let advocacy = map["stages"].as_array().unwrap().iter().find(|s| s["name"] == "Advocacy").unwrap().clone();
    assert!(advocacy["customers"].as_u64().unwrap() >= 1, "{advocacy}");
}

/// The report recovers a known effect: customers who view a cart order
/// with probability 0.30 when held out and 0.45 when reminded (the arm is
/// the trigger's own hash), so the true difference is 15 points.
#[test]
fn a_trigger_report_recovers_a_known_lift() {
    let t = tempfile::tempdir().unwrap();
    let arm = |id: &str| {
        let h = xxhash_rust::xxh3::xxh3_64(format!("holdout\0Cart reminder\0{id}").as_bytes());
        (h as f64 / u64::MAX as f64) < 0.3
    };
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut uniform = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut lines = String::new();
    let (mut held, mut reminded) = (0, 0);
    for i in 0..4000 {
        let id = format!("c{i}");
        let day = 1 + i % 25;
        lines += &format!(
            "{{\"type\":\"track\",\"userId\":\"{id}\",\"event\":\"Cart Viewed\",\"timestamp\":\"2026-03-{day:02}T10:00:00Z\"}}\n"
        );
        let held_out = arm(&id);
        if held_out {
            held += 1;
        } else {
            reminded += 1;
        }
        if uniform() < if held_out { 0.30 } else { 0.45 } {
            lines += &format!(
                "{{\"type\":\"track\",\"userId\":\"{id}\",\"event\":\"Order Completed\",\"properties\":{{\"revenue\":20}},\"timestamp\":\"2026-03-{day:02}T14:00:00Z\"}}\n"
            );
        }
    }
    assert!(held > 1000 && reminded > 2500, "{held} {reminded}");
    std::fs::write(t.path().join("e.ndjson"), lines).unwrap();
    wayfarer(t.path(), &["import", "--data", "data", "e.ndjson", "--quiet"]).ok();
    write_triggers(
        t.path(),
        "[[trigger]]\nname = \"Cart reminder\"\nwhen = \"event Cart Viewed\"\nwait = \"1h\"\nholdout = 0.3\n\
         goal = \"Order Completed\"\ngoal_within = \"1d\"\n",
    );
    cmd(t.path(), &["triggers", "run", "--since", "2026-01-01"]).ok();
    let r = cmd(t.path(), &["triggers", "report", "Cart reminder", "--json"]).json();
    let e = &r["effect"];
    assert_eq!((e["held_out"].as_u64(), e["acted"].as_u64()), (Some(held), Some(reminded)), "{r}");
    let (lo, hi) = (e["difference_ci"][0].as_f64().unwrap(), e["difference_ci"][1].as_f64().unwrap());
    assert!(lo < 0.15 && 0.15 < hi, "the interval {lo:.3}..{hi:.3} misses the true 0.15: {r}");
    assert!(e["p_value"].as_f64().unwrap() < 0.001, "{r}");
    let (rlo, rhi) = (e["relative_lift_ci"][0].as_f64().unwrap(), e["relative_lift_ci"][1].as_f64().unwrap());
    assert!(rlo < 0.5 && 0.5 < rhi, "relative lift interval {rlo:.3}..{rhi:.3} misses the true 0.5: {r}");

    // The dashboard's Triggers page in headless Chromium shows the same effect.
    let browser = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser.join("node_modules/playwright-core").is_dir(),
        "the browser tests need Node.js and playwright-core: cd {} && npm ci (.ci/run does this)",
        browser.display()
    );
    let (_, read) = support::keys(&t.path().join("data"));
    let admin = wayfarer(t.path(), &["keys", "create", "--admin", "--data", "data", "--quiet"]).ok().stdout();
    // The file's comments survive the dashboard's edits.
    let file = t.path().join("data").join("triggers.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("# Our triggers, reviewed monthly.\n{text}")).unwrap();
    let server = support::Server::start(&t.path().join("data"));
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("triggers-screenshots");
    let o = std::process::Command::new("node")
        .current_dir(&browser)
        .arg("triggers.mjs")
        .arg(format!("http://{}", server.addr))
        .arg(&read)
        .arg(admin.trim())
        .arg("c1")
        .arg(&shots)
        .output()
        .expect("run node (Node.js is needed for the browser tests)");
    drop(server);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "the Triggers page in Chromium failed (screenshots in {}):\n{out}", shots.display());
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# Our triggers, reviewed monthly.") && !text.contains("paused"), "{text}");
    let listed = cmd(t.path(), &["triggers", "check", "--json"]).json();
    let names: Vec<&str> = listed.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Cart reminder", "Browse reminder"]);
}

#[test]
fn triggers_are_paused_resumed_saved_and_deleted_from_the_command_line() {
    let t = store();
    write_triggers(
        t.path(),
        "# kept\n[[trigger]]\nname = \"Thanks\"\nwhen = \"event Order Completed\"\ngoal = \"Order Completed\"\n",
    );
    cmd(t.path(), &["triggers", "pause", "thanks"]).ok();
    let file = t.path().join("data").join("triggers.toml");
    assert!(std::fs::read_to_string(&file).unwrap().contains("paused = true"));
    let listed = cmd(t.path(), &["triggers", "list", "--json"]).json();
    assert_eq!(listed[0]["paused"], true, "{listed}");
    cmd(t.path(), &["triggers", "resume", "Thanks"]).ok();
    assert!(!std::fs::read_to_string(&file).unwrap().contains("paused"));
    // A new one; a typo is refused and nothing is written.
    let bad = "[[trigger]]\nname = \"Welcome\"\nwhen = \"event Order Compleed\"\n";
    let e = cmd(t.path(), &["triggers", "save", "--definition", bad]).fails().stderr();
    assert!(e.contains("trigger 'Welcome', key 'when'") && e.contains("did you mean 'Order Completed'"), "{e}");
    assert!(!std::fs::read_to_string(&file).unwrap().contains("Welcome"));
    let good = bad.replace("Compleed", "Completed");
    cmd(t.path(), &["triggers", "save", "--definition", &good]).ok();
    // Two of one name, and file-level keys, are refused.
    let e = cmd(t.path(), &["triggers", "save", "--definition", &good]).fails().stderr();
    assert!(e.contains("already a trigger 'Welcome'"), "{e}");
    let e =
        cmd(t.path(), &["triggers", "save", "--definition", &format!("public_url = \"x\"\n{good}")]).fails().stderr();
    assert!(e.contains("'public_url' is a key of the file"), "{e}");
    // Replacing (and renaming) one.
    let renamed = good.replace("Welcome", "Welcome back");
    cmd(t.path(), &["triggers", "save", "Welcome", "--definition", &renamed]).ok();
    let e = cmd(t.path(), &["triggers", "delete", "Welcom"]).fails().stderr();
    assert!(e.contains("did you mean 'Welcome back'"), "{e}");
    assert!(std::fs::read_to_string(&file).unwrap().contains("Welcome back"));
    cmd(t.path(), &["triggers", "delete", "Welcome back"]).ok();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# kept") && text.contains("Thanks") && !text.contains("Welcome"), "{text}");
}

/// The synthetic company played live against a server on an accelerated
/// clock, with three triggers whose actions have known true effects (a
/// survey invitation answered, a referral offer passed on, a reminder
/// followed by an order): each trigger's report must recover its true lift.
#[test]
fn a_live_simulation_recovers_each_triggers_true_lift() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    let (write, _read) = support::keys(&dir);
    let hooks = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let server = support::Server::start_with(&dir, &["--clock-start", "2026-05-01", "--clock-speed", "43200"]);
    let hook =
        |extra: &str| format!("[trigger.webhook]\nurl = \"http://{hooks}/hooks\"\nsecret = \"{SECRET}\"\n{extra}");
    let triggers = format!(
        r#"public_url = "http://{addr}"
[referrals]
landing_url = "https://shop.example/welcome"

[[trigger]]
name = "CSAT after an order"
when = "event Order Completed"
wait = "1d"
holdout = 0.5
limit = "once"
goal = "Survey Responded"
goal_within = "5d"
{csat}
[[trigger]]
name = "Referral offer"
when = "event Order Completed"
wait = "2d"
holdout = 0.5
limit = "once"
goal = "Referral Converted"
goal_within = "7d"
{referral}
[[trigger]]
name = "Cart reminder"
when = "event Product Added"
wait = "2h"
unless = "Order Completed"
holdout = 0.5
limit = "7d"
goal = "Order Completed"
goal_within = "3d"
{cart}"#,
        addr = server.addr,
        csat = hook("[trigger.survey]\nkind = \"csat\"\nexpires = \"7d\"\n"),
        referral = hook("[trigger.referral]\ndiscount_code = \"FRIEND10\"\n"),
        cart = hook(""),
    );
    std::fs::write(dir.join("triggers.toml"), triggers).unwrap();
    let truth_file = t.path().join("truth.json");
    let server_url = format!("http://{}", server.addr);
    let listen = hooks.to_string();
    let sim = wayfarer(
        t.path(),
        &[
            "simulate",
            "--live",
            "--server",
            &server_url,
            "--write-key",
            &write,
            "--listen",
            &listen,
            "--customers",
            "3000",
            "--days",
            "21",
            "--truth",
            truth_file.to_str().unwrap(),
        ],
    )
    .ok();
    let truth: Value = serde_json::from_slice(&std::fs::read(&truth_file).unwrap()).unwrap();
    let until = truth["stopped_at"].as_str().unwrap().to_string();
    let mut misses = Vec::new();
    for name in ["CSAT after an order", "Referral offer", "Cart reminder"] {
        let tt = truth["triggers"].as_array().unwrap().iter().find(|x| x["trigger"] == name);
        let tt = tt.unwrap_or_else(|| panic!("no truth for {name}: {}\n{}", sim.stdout(), sim.stderr()));
        let true_diff = tt["true_difference"].as_f64().unwrap();
        let realized = tt["realized_difference"].as_f64().unwrap();
        let r = cmd(t.path(), &["triggers", "report", name, "--until", &until, "--json"]).json();
        let e = &r["effect"];
        let (acted, held) = (e["acted"].as_u64().unwrap(), e["held_out"].as_u64().unwrap());
        // Both sides count the same actions: those due by the stop.
        let received = tt["acted"].as_u64().unwrap();
        assert!(
            acted.abs_diff(received) * 50 <= received,
            "{name}: report acted {acted}, simulator received {received}: {}\n{}",
            sim.stdout(),
            sim.stderr()
        );
        assert!(acted >= 150 && held >= 150, "{name}: too few to measure: {r}");
        assert!(true_diff > 0.1, "{name}: the true effect is {true_diff}");
        let (lo, hi) = (e["difference_ci"][0].as_f64().unwrap(), e["difference_ci"][1].as_f64().unwrap());
        let estimate = e["difference"].as_f64().unwrap();
        eprintln!(
            "{name}: acted {acted} (received {received}), held out {held}, {estimate:.3} in {lo:.3}..{hi:.3}, \
             true {true_diff:.3} (realized {realized:.3})"
        );
        // The 95 % interval contains the effect on the customers acted on
        // (what their reactions gained them: the control arm's sampling is
        // the only chance left)…
        if !(lo <= realized && realized <= hi) {
            misses.push(format!("{name}: 95 % CI {lo:.3}..{hi:.3} misses the realized {realized:.3}"));
        }
        // …and the 99.9 % one the expected effect of the reaction model
        // (whose coins, fixed by the seed, add their own chance).
        let se = (hi - lo) / (2.0 * 1.96);
        assert!(
            (estimate - true_diff).abs() <= 3.29 * se,
            "{name}: {estimate:.3} ± {se:.3} vs true {true_diff:.3}: {r}"
        );
    }
    assert!(misses.is_empty(), "{misses:?}");
    drop(server);
}

/// The README's example for the live simulation is a valid triggers file.
#[test]
fn the_live_simulation_example_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/live-triggers.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let defs = wayfarer_core::triggers::parse(&text, &|_| None).unwrap();
    let names: Vec<&str> = defs.iter().map(|t| t.def.name.as_str()).collect();
    assert_eq!(names, ["CSAT after an order", "Referral offer", "Cart reminder"]);
    assert!(defs.iter().all(|t| t.webhook.as_ref().is_some_and(|w| w.url == "http://127.0.0.1:8788/hooks")));
}
