//! `wayfarer segments` end to end: the real binary on a temporary store.

use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

mod support;

use support::run as wayfarer;

/// Segment messages: three customers with traits, page views, orders and an NPS answer.
const EVENTS: &str = r#"{"type":"identify","userId":"ann","traits":{"email":" Ann@Example.com ","phone":"+44 20 7946 0958","plan":"pro"},"timestamp":"2026-05-01T09:00:00Z"}
{"type":"page","userId":"ann","name":"Shipping","properties":{"url":"https://shop.example/help/shipping"},"timestamp":"2026-05-01T09:01:00Z"}
{"type":"track","userId":"ann","event":"Order Completed","properties":{"revenue":120},"timestamp":"2026-05-02T10:00:00Z"}
{"type":"track","userId":"ann","event":"Order Completed","properties":{"revenue":80},"timestamp":"2026-06-20T10:00:00Z"}
{"type":"track","userId":"ann","event":"Survey Responded","properties":{"survey":"nps","score":10},"timestamp":"2026-06-21T10:00:00Z"}
{"type":"identify","userId":"bob","traits":{"email":"bob@example.com","plan":"free"},"timestamp":"2026-05-03T09:00:00Z"}
{"type":"page","userId":"bob","name":"Shipping","properties":{"url":"https://shop.example/checkout/shipping"},"timestamp":"2026-05-03T09:01:00Z"}
{"type":"page","userId":"bob","name":"Home","properties":{"url":"https://shop.example/"},"timestamp":"2026-06-25T09:01:00Z"}
{"type":"page","userId":"cid","name":"Home","properties":{"url":"https://shop.example/"},"timestamp":"2026-06-30T09:01:00Z"}
"#;

fn store() -> (tempfile::TempDir, String) {
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("events.ndjson");
    std::fs::write(&file, EVENTS).unwrap();
    wayfarer(t.path(), &["import", "--data", "data", file.to_str().unwrap(), "--quiet"]).ok();
    (t, "data".to_string())
}

fn seg(dir: &Path, args: &[&str]) -> support::Run {
    let mut all = vec!["segments"];
    all.extend(args);
    all.extend(["--data", "data"]);
    wayfarer(dir, &all)
}

fn ids(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|m| m["customer_id"].as_str().unwrap()).collect()
}

fn sha(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn create_list_members_export_and_delete() {
    let (t, _) = store();
    let dir = t.path();
    let made = seg(
        dir,
        &[
            "create",
            "Shipping browsers",
            "--where",
            "did 'Page Viewed'[url ~ '*/shipping*'] and not did 'Order Completed'",
            "--json",
        ],
    )
    .json();
    assert_eq!(made["customers"], 1);
    seg(dir, &["create", "Repeat buyers", "--where", "did 'Order Completed' >= 2 within 30d"]).ok();
    seg(
        dir,
        &["create", "Promoters", "--where", "nps_group = 'promoter' and stage >= 'Purchase' and traits.plan = 'pro'"],
    )
    .ok();
    seg(dir, &["create", "Everyone", "--where", "events >= 1"]).ok();
    // A path pattern: shipping costs, then an order within a day (ann), not merely ever (bob never ordered).
    seg(
        dir,
        &[
            "create",
            "Shipping then order",
            "--where",
            "did 'Page Viewed'[url ~ '*shipping*'] -> Order Completed within 1d",
        ],
    )
    .ok();

    let listed = seg(dir, &["list", "--json"]).json();
    let sizes: Vec<(String, u64)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().to_string(), s["customers"].as_u64().unwrap()))
        .collect();
    // Ann's second order is within 30 days of the data's end (2026-06-30); the first is not.
    assert_eq!(
        sizes,
        [
            ("Shipping browsers".into(), 1),
            ("Repeat buyers".into(), 0),
            ("Promoters".into(), 1),
            ("Everyone".into(), 3),
            ("Shipping then order".into(), 0)
        ]
    );
    // Ann's order came 25 hours after the shipping page: within 2 days, not 1.
    seg(
        dir,
        &[
            "create",
            "Shipping then order soon",
            "--where",
            "did 'Page Viewed'[url ~ '*shipping*'] -> Order Completed within 2d",
        ],
    )
    .ok();
    assert_eq!(ids(&seg(dir, &["members", "Shipping then order soon", "--json"]).json()), ["ann"]);
    assert_eq!(ids(&seg(dir, &["members", "shipping browsers", "--json"]).json()), ["bob"]);
    assert_eq!(ids(&seg(dir, &["members", "Promoters", "--json"]).json()), ["ann"]);
    assert_eq!(ids(&seg(dir, &["members", "Everyone", "--json"]).json()), ["ann", "bob", "cid"]);
    let csv = seg(dir, &["members", "Everyone", "--format", "csv"]).ok().stdout();
    assert!(csv.starts_with("customer_id,stage,events,first_seen,last_seen,email,phone\n"), "{csv}");
    assert!(csv.contains("ann,") && csv.contains("Ann@Example.com"), "{csv}");

    // The audience: hashes of the normalised email and E.164 phone; cid has neither.
    let file = dir.join("everyone.csv");
    seg(dir, &["export", "Everyone", "--audience", file.to_str().unwrap()]).ok();
    let audience = std::fs::read_to_string(&file).unwrap();
    let expected =
        format!("Email,Phone\n{},{}\n{},\n", sha("ann@example.com"), sha("+442079460958"), sha("bob@example.com"));
    assert_eq!(audience, expected);
    seg(dir, &["export", "Everyone", "--audience", file.to_str().unwrap(), "--platform", "meta"]).ok();
    let meta = std::fs::read_to_string(&file).unwrap();
    assert!(meta.starts_with("email,phone\n") && meta.contains(&sha("442079460958")), "{meta}");

    // A segment scopes the analyses: only its members are folded.
    let scoped = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--data", "data", "--json"]);
        wayfarer(dir, &all).json()
    };
    let funnel = scoped(&["funnel", "Page Viewed", "Order Completed", "--segment", "Promoters"]);
    assert_eq!(funnel["customers"], 1, "{funnel}");
    let funnel = scoped(&["funnel", "Page Viewed", "Order Completed", "--segment", "Everyone"]);
    assert_eq!(funnel["customers"], 3, "{funnel}");
    let map = scoped(&["map", "--segment", "shipping browsers"]);
    assert_eq!(map["stages"][0]["customers"], 1, "{map}");
    let sessions = scoped(&["sessions", "--segment", "Promoters"]);
    let all_sessions = scoped(&["sessions"]);
    assert!(sessions["sessions"].as_u64() < all_sessions["sessions"].as_u64(), "{sessions} {all_sessions}");
    let e = wayfarer(dir, &["funnel", "Page Viewed", "--segment", "Promotors", "--data", "data"]).fails().stderr();
    assert!(e.contains("no segment 'Promotors'") && e.contains("did you mean 'Promoters'"), "{e}");

    seg(dir, &["delete", "everyone"]).ok();
    let e = seg(dir, &["members", "Everyone"]).fails().stderr();
    assert!(e.contains("no segment 'Everyone'") && e.contains("Shipping browsers"), "{e}");
}

#[test]
fn a_bad_condition_names_its_column_and_saves_nothing() {
    let (t, _) = store();
    let dir = t.path();
    seg(dir, &["create", "Buyers", "--where", "orders >= 1"]).ok();
    let before = std::fs::read(dir.join("data").join("segments.json")).unwrap();
    for (condition, column, says) in [
        ("orders >= 1 and did 'Order Complete'", 17, "did you mean 'Order Completed'"),
        ("did 'Page Viewed'[url ~ '*/x*' and chanel = 'Email']", 36, "did you mean 'channel'"),
        ("stage >= 'Purchse'", 1, "did you mean 'Purchase'"),
        ("traits.paln = 'pro'", 1, "did you mean 'plan'"),
        ("did 'Order Completed' >= many", 26, "expected a count"),
        ("did 'Page Viewed' -> [^'Order Completd']* -> 'Page Viewed'", 24, "did you mean 'Order Completed'"),
        ("did 'Page Viewed' -> ", 22, "expected an event"),
    ] {
        let e = seg(dir, &["create", "Bad", "--where", condition]).fails().stderr();
        assert!(e.contains(&format!("at column {column}:")) && e.contains(says), "{condition}: {e}");
    }
    let e = seg(dir, &["create", "Buyers", "--where", "orders >= 2"]).fails().stderr();
    assert!(e.contains("exists"), "{e}");
    let e = seg(dir, &["create", "a/b", "--where", "orders >= 2"]).fails().stderr();
    assert!(e.contains("'/'"), "{e}");
    assert_eq!(std::fs::read(dir.join("data").join("segments.json")).unwrap(), before);
    seg(dir, &["create", "buyers", "--where", "orders >= 2", "--replace"]).ok();
    let listed = seg(dir, &["list", "--json"]).json();
    assert_eq!(listed[0]["condition"], "orders >= 2");
    assert_eq!(listed[0]["customers"], 1);
}

/// `/api/segments`: read tokens read, only admin tokens change, write keys
/// do neither; errors are the CLI's, with their codes.
#[test]
fn segments_over_http_by_key_kind() {
    use support::{Server, bearer, http, wayfarer as in_dir};
    let (t, _) = store();
    let dir = t.path().join("data");
    let (write, read) = support::keys(&dir);
    let admin = in_dir(&dir, &["keys", "create", "--admin", "--name", "ops", "--quiet"]).trim().to_string();
    assert!(admin.starts_with("wfa_"), "{admin}");
    let server = Server::start(&dir);
    let call = |method: &str, path: &str, key: &str, body: &Value| {
        let bytes = if body.is_null() { Vec::new() } else { serde_json::to_vec(body).unwrap() };
        let headers = [bearer(key), ("Content-Type", "application/json".to_string())];
        let (status, out) = http(server.addr, method, path, &headers, &bytes).expect("the server answers");
        (status, serde_json::from_slice::<Value>(&out).unwrap_or(Value::Null))
    };
    let promoters = serde_json::json!({"name": "Promoters", "condition": "nps_group = 'promoter'"});
    // Only an admin token creates.
    for key in [&read, &write] {
        let (status, body) = call("POST", "/api/segments", key, &promoters);
        assert!(status == 403 || status == 401, "{status} {body}");
    }
    let (status, body) = call("POST", "/api/segments", &admin, &promoters);
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["name"].as_str(), body["customers"].as_u64()), (Some("Promoters"), Some(1)));
    // A bad condition: 400 naming the column; nothing saved.
    let bad = serde_json::json!({"name": "Bad", "condition": "nps_group = 'promotor'"});
    let (status, body) = call("POST", "/api/segments", &admin, &bad);
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("at column 1")
            && body["message"].as_str().unwrap().contains("promoter"),
        "{body}"
    );
    // Read tokens (and admin tokens) read; write keys do not.
    let (status, list) = call("GET", "/api/segments", &read, &Value::Null);
    assert_eq!(status, 200, "{list}");
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let (status, _) = call("GET", "/api/segments", &write, &Value::Null);
    assert_eq!(status, 403);
    let (status, shown) = call("GET", "/api/segments/promoters", &admin, &Value::Null);
    assert_eq!((status, shown["customers"].as_u64()), (200, Some(1)), "{shown}");
    let (status, members) = call("GET", "/api/segments/Promoters/members", &read, &Value::Null);
    assert_eq!(status, 200, "{members}");
    assert_eq!(ids(&members), ["ann"]);
    // The journey map page offers saved segments and draws one's customers.
    let (status, home) = http(server.addr, "GET", "/", &[bearer(&read)], b"").unwrap();
    let home = String::from_utf8_lossy(&home).to_string();
    assert!(status == 200 && home.contains("value=\"saved:Promoters\""), "{status}: no saved segment in the selector");
    let (status, map) = http(server.addr, "GET", "/?segment=saved%3APromoters", &[bearer(&read)], b"").unwrap();
    let map = String::from_utf8_lossy(&map).to_string();
    assert_eq!(status, 200, "{map}");
    assert!(map.contains("Segment Promoters"), "the map does not say it shows the segment");
    let (status, _) = http(server.addr, "GET", "/?segment=saved%3ANobody", &[bearer(&read)], b"").unwrap();
    assert_eq!(status, 400);
    // A segment scopes the query API like a persona.
    let (status, funnel) = call("GET", "/api/funnel?step=Page%20Viewed&segment=Promoters", &read, &Value::Null);
    assert_eq!((status, funnel["customers"].as_u64()), (200, Some(1)), "{funnel}");
    let (status, body) = call("GET", "/api/segments/Nobody", &read, &Value::Null);
    assert_eq!(status, 404, "{body}");
    // Delete: admin only.
    let (status, _) = call("DELETE", "/api/segments/Promoters", &read, &Value::Null);
    assert_eq!(status, 403);
    let (status, body) = call("DELETE", "/api/segments/Promoters", &admin, &Value::Null);
    assert_eq!((status, body["deleted"].as_str()), (200, Some("Promoters")), "{body}");
    let (_, list) = call("GET", "/api/segments", &read, &Value::Null);
    assert_eq!(list, serde_json::json!([]));
}

/// Live membership: events sent over HTTP move a customer into a segment,
/// and the server records the entry (with its time) after the commit.
#[test]
fn events_over_http_move_a_customer_into_a_segment_and_the_entry_is_recorded() {
    use std::time::{Duration, Instant};
    use support::{Server, basic, bearer, get, http, post, track};
    let (t, _) = store();
    let dir = t.path().join("data");
    let (write, read) = support::keys(&dir);
    let admin = support::wayfarer(&dir, &["keys", "create", "--admin", "--quiet"]).trim().to_string();
    let server = Server::start(&dir);
    let body = serde_json::json!({"name": "Buyers", "condition": "did 'Order Completed'"});
    let (status, made) = post(server.addr, "/api/segments", Some(bearer(&admin)), &body);
    assert_eq!((status, made["customers"].as_u64()), (200, Some(1)), "{made}");
    // The starting members are recorded without entries (wait for the
    // refresh that knows the segment, so cid's order is a change).
    let current = dir.join("membership").join("current.json");
    let knows_buyers = || std::fs::read_to_string(&current).is_ok_and(|t| t.contains("\"Buyers\""));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !knows_buyers() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(knows_buyers(), "the server recorded no membership of Buyers");
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    // cid orders.
    let (status, _) =
        post(server.addr, "/v1/batch", Some(basic(&write)), &serde_json::json!({"batch": [track("live-1", "cid")]}));
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut changes = serde_json::Value::Null;
    while Instant::now() < deadline {
        let (status, c) = get(server.addr, "/api/segments/Buyers/changes", &read);
        assert_eq!(status, 200, "{c}");
        if c.as_array().is_some_and(|a| !a.is_empty()) {
            changes = c;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let list = changes.as_array().unwrap_or_else(|| panic!("no change recorded: {changes}"));
    assert_eq!(list.len(), 1, "{changes}");
    assert_eq!((list[0]["customer"].as_str(), list[0]["change"].as_str()), (Some("cid"), Some("entered")));
    assert!(list[0]["at_us"].as_i64().unwrap() / 1_000_000 >= before as i64 - 1, "{changes}");
    let (_, members) = get(server.addr, "/api/segments/Buyers/members", &read);
    assert_eq!(ids(&members), ["ann", "cid"]);
    // Filters: a customer, a time after the change.
    let (_, mine) = get(server.addr, "/api/segments/Buyers/changes?customer=ann", &read);
    assert_eq!(mine, serde_json::json!([]));
    let (status, _) = get(server.addr, "/api/segments/Buyers/changes?customer=nobody", &read);
    assert_eq!(status, 404, "an unknown customer is named, not an empty history");
    let (_, later) = get(server.addr, "/api/segments/Buyers/changes?since=2099-01-01", &read);
    assert_eq!(later, serde_json::json!([]));
    let (status, bad) =
        http(server.addr, "GET", "/api/segments/Buyers/changes?sinse=2026-01-01", &[bearer(&read)], b"").unwrap();
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&bad));
    // The CLI reads the same history.
    drop(server);
    let cli = support::wayfarer(&dir, &["segments", "changes", "Buyers", "--json"]);
    let cli: serde_json::Value = serde_json::from_str(&cli).unwrap();
    assert_eq!(cli.as_array().map(Vec::len), Some(1), "{cli}");
}

/// `/api/profiles/{id}`: a profile key reads profiles and nothing else; the
/// profile follows new events (stage, segments).
#[test]
fn profiles_over_http_with_a_profile_key() {
    use std::time::{Duration, Instant};
    use support::{Server, basic, bearer, get, http, post, track};
    let (t, _) = store();
    let dir = t.path().join("data");
    let (write, read) = support::keys(&dir);
    let admin = support::wayfarer(&dir, &["keys", "create", "--admin", "--quiet"]).trim().to_string();
    let profile_key =
        support::wayfarer(&dir, &["keys", "create", "--profile", "--name", "web", "--quiet"]).trim().to_string();
    assert!(profile_key.starts_with("wfp_"), "{profile_key}");
    let server = Server::start(&dir);
    let body = serde_json::json!({"name": "Buyers", "condition": "did 'Order Completed'"});
    assert_eq!(post(server.addr, "/api/segments", Some(bearer(&admin)), &body).0, 200);
    // Wait for the index that knows the segment.
    let deadline = Instant::now() + Duration::from_secs(30);
    let ann = loop {
        let (status, p) = get(server.addr, "/api/profiles/ann", &profile_key);
        if status == 200 && p["segments"] == serde_json::json!(["Buyers"]) {
            break p;
        }
        assert!(Instant::now() < deadline, "no profile with the segment: {status} {p}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(ann["customer_id"], "ann");
    assert_eq!(ann["traits"]["plan"], "pro");
    // A second order: Retention, entered at it.
    assert_eq!(ann["stage"], "Retention", "{ann}");
    assert!(ann["stage_entered_at"].as_str().unwrap().starts_with("2026-06-20"), "{ann}");
    assert!(ann["identities"].as_array().unwrap().contains(&serde_json::json!("user:ann")), "{ann}");
    // The profile key reads nothing else; a write key no profiles; a read token may.
    let (status, _) = get(server.addr, "/api/funnel?step=Page%20Viewed", &profile_key);
    assert_eq!(status, 403);
    let (status, _) = get(server.addr, "/api/segments", &profile_key);
    assert_eq!(status, 403);
    let (status, _) = http(server.addr, "GET", "/api/profiles/ann", &[bearer(&write)], b"").unwrap();
    assert_eq!(status, 403);
    assert_eq!(get(server.addr, "/api/profiles/ann", &read).0, 200);
    let (status, body) = get(server.addr, "/api/profiles/nobody", &profile_key);
    assert_eq!(status, 404, "{body}");
    // New events: cid orders, and its profile follows.
    let (status, _) =
        post(server.addr, "/v1/batch", Some(basic(&write)), &serde_json::json!({"batch": [track("p-1", "cid")]}));
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, p) = get(server.addr, "/api/profiles/cid", &profile_key);
        if p["segments"] == serde_json::json!(["Buyers"]) {
            assert_eq!(p["stage"], "Purchase", "{p}");
            break;
        }
        assert!(Instant::now() < deadline, "cid's profile did not follow: {p}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Without a profile key nobody is expected to ask for profiles: the server
/// builds no index (no time, no memory) until a profile is asked for, then
/// answers 503 ("try again shortly") until it is built, and profiles after.
#[test]
fn the_profile_index_is_built_once_profiles_are_wanted() {
    use std::time::{Duration, Instant};
    use support::{Server, get};
    let (t, _) = store();
    let dir = t.path().join("data");
    let (_, read) = support::keys(&dir);
    let server = Server::start(&dir);
    // Long enough for the index of these few customers, had it been built.
    std::thread::sleep(Duration::from_millis(1500));
    let (status, body) = get(server.addr, "/api/profiles/ann", &read);
    assert_eq!(status, 503, "{body}");
    assert!(body.to_string().contains("not built yet"), "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, p) = get(server.addr, "/api/profiles/ann", &read);
        if status == 200 {
            assert_eq!(p["customer_id"], "ann", "{p}");
            break;
        }
        assert!(Instant::now() < deadline, "no profile once asked for: {status} {p}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The map's "save as segment" conditions hold exactly its cells' customers:
/// `stage >= 'S'` those who reached S, `stage = 'S'` those who stopped there.
#[test]
fn the_map_cells_conditions_count_what_the_map_counts() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let args =
        ["demo", "--customers", "400", "--seed", "5", "--quiet", "--out", "r.html", "--data", data.to_str().unwrap()];
    wayfarer(t.path(), &args).ok();
    let map = wayfarer(t.path(), &["map", "--json", "--data", "data"]).json();
    let count = |condition: &str| {
        wayfarer(t.path(), &["segments", "count", "--where", condition, "--json", "--data", "data"]).json()["customers"]
            .as_u64()
            .unwrap()
    };
    // The CLV models' predictions are known for every customer with a purchase.
    let buyers = count("orders >= 1");
    assert!(buyers > 0);
    assert_eq!(count("p_alive >= 0 and p_alive <= 1"), buyers);
    assert_eq!(count("clv >= 0"), buyers);
    let likely_gone = count("orders >= 1 and p_alive < 0.5");
    assert!(likely_gone < buyers, "every buyer has P(alive) below 0.5");
    // Recommendations: the evaluation has popularity beside the models, and
    // a customer gets n products.
    let eval = wayfarer(t.path(), &["recommend", "--evaluate", "--json", "--data", "data"]).json();
    let names: Vec<&str> = eval["models"].as_array().unwrap().iter().map(|m| m["model"].as_str().unwrap()).collect();
    assert_eq!(names, ["popularity", "co-occurrence", "ease"], "{eval}");
    for m in eval["models"].as_array().unwrap() {
        assert!(m["users"].as_u64().unwrap() > 0, "{eval}");
        for k in ["hit_rate", "ndcg", "recall"] {
            assert!((0.0..=1.0).contains(&m[k].as_f64().unwrap()), "{eval}");
        }
    }
    assert_eq!(eval["items"], 48, "the synthetic company's catalogue");
    // "Save as segment" on a funnel's drop-offs and on retention cohorts:
    // each condition counts exactly the customers the analysis counts.
    let funnel = wayfarer(
        t.path(),
        &["funnel", "Product Viewed", "Product Added", "Order Completed[revenue > 100]", "--json", "--data", "data"],
    )
    .json();
    let steps = funnel["steps"].as_array().unwrap();
    for k in 0..steps.len() - 1 {
        let condition = steps[k]["dropped_segment"].as_str().unwrap_or_else(|| panic!("step {k}: {funnel}"));
        let dropped = steps[k]["customers"].as_u64().unwrap() - steps[k + 1]["customers"].as_u64().unwrap();
        assert!(dropped > 0, "{funnel}");
        assert_eq!(count(condition), dropped, "dropped after step {}: {condition}", k + 1);
    }
    assert!(steps.last().unwrap().get("dropped_segment").is_none(), "{funnel}");
    // Exclusions have no condition: no segment is offered.
    let excluded = wayfarer(
        t.path(),
        &["funnel", "Product Viewed", "Order Completed", "--exclude", "Cart Viewed", "--json", "--data", "data"],
    )
    .json();
    assert!(excluded["steps"][0].get("dropped_segment").is_none(), "{excluded}");
    for period in ["week", "month"] {
        let retention = wayfarer(t.path(), &["retention", "--period", period, "--json", "--data", "data"]).json();
        let cohorts = retention["cohorts"].as_array().unwrap();
        assert!(cohorts.len() > 1, "{retention}");
        for c in cohorts {
            let condition = c["segment"].as_str().unwrap_or_else(|| panic!("{c}"));
            assert_eq!(
                count(condition),
                c["size"].as_u64().unwrap(),
                "{period} cohort {}: {condition}",
                c["cohort_start"]
            );
        }
    }
    // Discovered personas: the segment holds the map's customers of each.
    let discovered = wayfarer(t.path(), &["map", "--personas", "discovered", "--json", "--data", "data"]).json();
    let personas = discovered["personas"].as_array().unwrap();
    assert!(personas.len() >= 2, "{discovered}");
    for p in personas {
        let name = p["name"].as_str().unwrap().replace('\'', "\\'");
        assert_eq!(count(&format!("discovered_persona = '{name}'")), p["customers"].as_u64().unwrap(), "{name}");
    }
    let name = personas[0]["name"].as_str().unwrap();
    let e = wayfarer(t.path(), &["segments", "count", "--where", &format!("persona = '{name}'"), "--data", "data"])
        .fails()
        .stderr();
    assert!(e.contains("is a discovered persona") && e.contains("write discovered_persona"), "{e}");
    let stages = map["stages"].as_array().unwrap();
    for (i, s) in stages.iter().enumerate() {
        let name = s["name"].as_str().unwrap();
        assert_eq!(count(&format!("stage >= '{name}'")), s["customers"].as_u64().unwrap(), "reached {name}");
        if i + 1 < stages.len() {
            assert_eq!(count(&format!("stage = '{name}'")), s["dropped"].as_u64().unwrap(), "stopped at {name}");
        }
    }
}

#[test]
fn segments_refresh_records_entries_after_an_import_deciding_only_the_new_rows_customers() {
    let (t, _) = store();
    let dir = t.path();
    seg(dir, &["create", "Repeat buyers", "--where", "did 'Order Completed' >= 2"]).ok();
    let first = seg(dir, &["refresh", "--json"]).json();
    assert_eq!((first["started"].as_u64(), first["incremental"].as_bool()), (Some(1), Some(false)), "{first}");
    // Bob orders twice: he enters; only his timeline is decided again.
    let more = dir.join("more.ndjson");
    std::fs::write(
        &more,
        r#"{"type":"track","userId":"bob","event":"Order Completed","properties":{"revenue":10},"timestamp":"2026-07-01T09:00:00Z"}
{"type":"track","userId":"bob","event":"Order Completed","properties":{"revenue":12},"timestamp":"2026-07-02T09:00:00Z"}
"#,
    )
    .unwrap();
    wayfarer(dir, &["import", "--data", "data", more.to_str().unwrap(), "--quiet"]).ok();
    let second = seg(dir, &["refresh", "--json"]).json();
    assert_eq!(second["incremental"], true, "{second}");
    assert_eq!((second["entered"].as_u64(), second["left"].as_u64()), (Some(1), Some(0)), "{second}");
    assert_eq!(second["decided"], 1, "only bob has new rows: {second}");
    let changes = seg(dir, &["changes", "Repeat buyers", "--json"]).json();
    let who: Vec<(&str, &str)> = changes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["customer"].as_str().unwrap(), c["change"].as_str().unwrap()))
        .collect();
    assert_eq!(who, [("bob", "entered")]);
    // Nothing new: nothing to do.
    let third = seg(dir, &["refresh"]).ok().stdout();
    assert!(third.contains("up to date"), "{third}");
}
