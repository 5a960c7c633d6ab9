//! Tests of the whole simulation: determinism, stages in the data versus the
//! truth, identities, the file formats, the demo configuration, and the
//! injected pain points.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::PathBuf;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

use crate::{Company, DEMO_CONFIG, SimConfig, generate};

fn small(seed: u64, customers: usize) -> SimConfig {
    SimConfig { seed, customers, ..SimConfig::default() }
}

/// A fresh directory under the system temp dir; removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("wayfarer-sim-{name}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn ndjson(company: &Company, dir: &TempDir, name: &str) -> (Vec<u8>, Vec<Value>) {
    let path = dir.file(name);
    let n = company.write_ndjson(&path).expect("write ndjson");
    assert_eq!(n as usize, company.len());
    let bytes = fs::read(&path).expect("read ndjson");
    let text = String::from_utf8(bytes.clone()).expect("utf-8");
    let msgs: Vec<Value> = text
        .lines()
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("line {}: {e}: {l}", i + 1)))
        .collect();
    (bytes, msgs)
}

fn micros(ts: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(ts).unwrap_or_else(|e| panic!("timestamp {ts}: {e}")).timestamp_micros()
}

#[test]
fn same_config_same_bytes_and_seeds_differ() {
    let dir = TempDir::new("det");
    let a = generate(&small(11, 300));
    let b = generate(&small(11, 300));
    let c = generate(&small(12, 300));
    assert!(!a.is_empty());
    let (ba, _) = ndjson(&a, &dir, "a.ndjson");
    let (bb, _) = ndjson(&b, &dir, "b.ndjson");
    let (bc, _) = ndjson(&c, &dir, "c.ndjson");
    assert!(ba == bb, "the same configuration gave different NDJSON");
    assert!(ba != bc, "different seeds gave the same NDJSON");
    let ta = serde_json::to_string(&a.truth).expect("truth json");
    let tb = serde_json::to_string(&b.truth).expect("truth json");
    assert_eq!(ta, tb);
}

#[test]
fn every_line_is_a_segment_message_in_time_order() {
    let dir = TempDir::new("lines");
    let co = generate(&small(3, 300));
    let (_, msgs) = ndjson(&co, &dir, "e.ndjson");
    let mut ids = HashSet::new();
    let mut last = i64::MIN;
    let mut kinds: HashMap<String, usize> = HashMap::new();
    let mut offsets = 0;
    for m in &msgs {
        let kind = m["type"].as_str().expect("type");
        *kinds.entry(kind.to_string()).or_default() += 1;
        let id = m["messageId"].as_str().expect("messageId");
        assert!(ids.insert(id.to_string()), "duplicate messageId {id}");
        let ts = m["timestamp"].as_str().expect("timestamp");
        if !ts.ends_with('Z') {
            offsets += 1;
        }
        let t = micros(ts);
        assert!(t >= last, "out of order at {id}");
        last = t;
        assert!(m.get("userId").is_some() || m.get("anonymousId").is_some(), "no identity: {m}");
        assert!(m["context"]["library"]["name"].is_string(), "{m}");
        match kind {
            "track" => assert!(m["event"].is_string() && m["properties"].is_object(), "{m}"),
            "page" | "screen" => {
                assert!(m["name"].is_string() && m["properties"].is_object(), "{m}");
            }
            "identify" => assert!(m["userId"].is_string() && m["traits"].is_object(), "{m}"),
            "alias" => assert!(m["userId"].is_string() && m["previousId"].is_string(), "{m}"),
            other => panic!("unexpected type {other}"),
        }
        if kind == "page" {
            let url = m["context"]["page"]["url"].as_str().expect("page url");
            assert!(url.starts_with("https://shop.northwind.example/"), "{url}");
            assert_eq!(m["properties"]["url"].as_str(), Some(url));
        }
        if let Some(s) = m["properties"]["survey"].as_str() {
            let score = m["properties"]["score"].as_f64().expect("score");
            let (lo, hi) = match s {
                "nps" => (0.0, 10.0),
                "csat" => (1.0, 5.0),
                _ => (1.0, 7.0),
            };
            assert!((lo..=hi).contains(&score), "{m}");
        }
    }
    for k in ["track", "page", "identify"] {
        assert!(kinds.get(k).copied().unwrap_or(0) > 0, "no {k} calls: {kinds:?}");
    }
    assert!(offsets > 0, "no local-offset timestamps");
    // The shipping costs page is a page call.
    assert!(msgs.iter().any(|m| {
        m["type"] == "page" && m["context"]["page"]["url"].as_str().is_some_and(|u| u.contains("/checkout/shipping"))
    }));
}

/// Stage of a message by the default stage rules (None for identity calls).
fn message_stage(m: &Value, purchases: &mut u32) -> Option<usize> {
    match m["type"].as_str()? {
        "page" | "screen" => return Some(0),
        "track" => {}
        _ => return None,
    }
    let name = m["event"].as_str()?;
    Some(match name {
        "Product Viewed"
        | "Product List Viewed"
        | "Product List Filtered"
        | "Products Searched"
        | "Product Clicked"
        | "Promotion Clicked"
        | "Product Added to Wishlist"
        | "Email Link Clicked"
        | "Signed Up"
        | "Live Chat Conversation Started"
        | "Video Playback Started" => 1,
        "Product Added"
        | "Wishlist Product Added to Cart"
        | "Cart Viewed"
        | "Checkout Started"
        | "Checkout Step Viewed"
        | "Checkout Step Completed"
        | "Payment Info Entered"
        | "Coupon Entered" => 2,
        "Order Completed" => {
            *purchases += 1;
            if *purchases >= 2 { 4 } else { 3 }
        }
        "Referral Sent" | "Product Shared" | "Cart Shared" => 5,
        "Product Reviewed" if m["properties"]["rating"].as_f64().is_some_and(|r| r >= 4.0) => 5,
        _ => 0,
    })
}

/// Maps every message to its customer (by user id first, then anonymous id).
fn customer_of(m: &Value, by_user: &HashMap<&str, usize>, by_anon: &HashMap<&str, usize>) -> usize {
    if let Some(u) = m["userId"].as_str() {
        return *by_user.get(u).unwrap_or_else(|| panic!("unknown user id: {m}"));
    }
    let a = m["anonymousId"].as_str().unwrap_or_else(|| panic!("no identity: {m}"));
    *by_anon.get(a).unwrap_or_else(|| panic!("unknown anonymous id: {m}"))
}

#[test]
fn stages_in_the_data_match_the_truth() {
    let dir = TempDir::new("stages");
    let co = generate(&small(5, 400));
    let (_, msgs) = ndjson(&co, &dir, "e.ndjson");
    let truth = &co.truth;
    let mut by_user = HashMap::new();
    let mut by_anon = HashMap::new();
    for (i, c) in truth.customer_list.iter().enumerate() {
        for u in &c.user_ids {
            assert!(by_user.insert(u.as_str(), i).is_none(), "user id {u} twice");
        }
        for a in &c.anonymous_ids {
            assert!(by_anon.insert(a.as_str(), i).is_none(), "anonymous id {a} twice");
        }
    }
    let n = truth.customer_list.len();
    let mut purchases = vec![0u32; n];
    let mut seen = vec![[false; 6]; n];
    let mut phone_order = vec![false; n];
    for m in &msgs {
        let c = customer_of(m, &by_user, &by_anon);
        if let Some(s) = message_stage(m, &mut purchases[c]) {
            seen[c][s] = true;
            if m["event"] == "Order Completed" && m["properties"]["channel"] == "Phone" {
                phone_order[c] = true;
            }
        }
    }
    let mut reached_count = [0u64; 6];
    for (i, c) in truth.customer_list.iter().enumerate() {
        let data_max = (0..6).rev().find(|&k| seen[i][k]).unwrap_or(0);
        assert!(seen[i][0], "customer {i} has no interaction");
        assert_eq!(data_max, c.stage_reached, "customer {i} ({})", c.persona);
        for (k, &has) in seen[i].iter().enumerate().skip(1) {
            if c.stage_reached >= k && !has {
                assert!(
                    k <= 2 && phone_order[i],
                    "customer {i} ({}) reached stage {} without a stage-{k} event",
                    c.persona,
                    c.stage_reached
                );
            }
        }
        for (k, r) in reached_count.iter_mut().enumerate() {
            if c.stage_reached >= k {
                *r += 1;
            }
        }
    }
    assert_eq!(reached_count, truth.realized.overall.reached);
    assert_eq!(truth.realized.overall.reached[0], n as u64);
}

/// Union-find over identities, as DESIGN §4.1 resolves them.
#[derive(Default)]
struct Ids {
    index: HashMap<String, usize>,
    parent: Vec<usize>,
}

impl Ids {
    fn id(&mut self, key: String) -> usize {
        let next = self.parent.len();
        let i = *self.index.entry(key).or_insert(next);
        if i == next {
            self.parent.push(next);
        }
        i
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[ra] = rb;
        }
    }
}

#[test]
fn identities_resolve_to_the_true_customers() {
    let dir = TempDir::new("ids");
    let co = generate(&small(9, 3000));
    let (_, msgs) = ndjson(&co, &dir, "e.ndjson");
    let mut ids = Ids::default();
    let mut anon_user: HashMap<String, String> = HashMap::new();
    let mut shared = 0;
    for m in &msgs {
        let user = m["userId"].as_str();
        let anon = m["anonymousId"].as_str();
        if let Some(u) = user {
            ids.id(format!("u:{u}"));
        }
        if let Some(a) = anon {
            ids.id(format!("a:{a}"));
        }
        if m["type"] == "alias" {
            let prev = m["previousId"].as_str().expect("previousId");
            let u = user.expect("alias userId");
            let (p, q) = (ids.id(format!("u:{prev}")), ids.id(format!("u:{u}")));
            ids.union(p, q);
        } else if let (Some(u), Some(a)) = (user, anon) {
            let owner = anon_user.entry(a.to_string()).or_insert_with(|| u.to_string());
            if *owner == u {
                let (p, q) = (ids.id(format!("a:{a}")), ids.id(format!("u:{u}")));
                ids.union(p, q);
            } else {
                shared += 1;
            }
        }
    }
    let mut roots = HashMap::new();
    let mut crm_customers = 0;
    for (i, c) in co.truth.customer_list.iter().enumerate() {
        let keys: Vec<String> = c
            .user_ids
            .iter()
            .map(|u| format!("u:{u}"))
            .chain(c.anonymous_ids.iter().map(|a| format!("a:{a}")))
            .collect();
        assert!(!keys.is_empty(), "customer {i} has no identity");
        assert_eq!(c.identified, !c.user_ids.is_empty());
        let first = ids.id(keys[0].clone());
        let root = ids.find(first);
        for k in &keys[1..] {
            let x = ids.id(k.clone());
            assert_eq!(ids.find(x), root, "customer {i}: {keys:?} are not linked");
        }
        if let Some(other) = roots.insert(root, i) {
            panic!("customers {other} and {i} resolve to one identity");
        }
        if c.user_ids.iter().any(|u| u.starts_with("crm-")) {
            crm_customers += 1;
        }
    }
    assert!(shared > 0, "no shared laptop in 3000 customers");
    assert!(crm_customers > 0, "no CRM ids in 3000 customers");
}

#[test]
fn parquet_has_the_documented_columns_and_the_same_events() {
    let dir = TempDir::new("pq");
    let co = generate(&small(4, 200));
    let (_, msgs) = ndjson(&co, &dir, "e.ndjson");
    let path = dir.file("e.parquet");
    let rows = co.write_parquet(&path).expect("write parquet");
    assert_eq!(rows as usize, co.len());
    let file = fs::File::open(&path).expect("open parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).expect("parquet").build().expect("reader");
    let mut i = 0usize;
    for batch in reader {
        let batch = batch.expect("batch");
        let names: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, crate::output::PARQUET_COLUMNS);
        let ids = batch.column(0).as_string::<i32>();
        let events = batch.column(2).as_string::<i32>();
        let users = batch.column(3).as_string::<i32>();
        let ts = batch.column(6).as_primitive::<TimestampMicrosecondType>();
        let channel = batch.column(7).as_string::<i32>();
        let revenue = batch.column(13).as_primitive::<arrow_array::types::Float64Type>();
        let props = batch.column(17).as_string::<i32>();
        for r in 0..batch.num_rows() {
            let m = &msgs[i];
            assert_eq!(ids.value(r), m["messageId"].as_str().expect("id"));
            assert_eq!(ts.value(r), micros(m["timestamp"].as_str().expect("ts")));
            let user = (!users.is_null(r)).then(|| users.value(r));
            assert_eq!(user, m["userId"].as_str());
            let name = match m["type"].as_str().expect("type") {
                "page" => "Page Viewed",
                "screen" => "Screen Viewed",
                "identify" => "Identify",
                "alias" => "Alias",
                _ => m["event"].as_str().expect("event"),
            };
            assert_eq!(events.value(r), name);
            let ch = (!channel.is_null(r)).then(|| channel.value(r));
            assert_eq!(ch, m["properties"]["channel"].as_str());
            let rev = (!revenue.is_null(r)).then(|| revenue.value(r));
            assert_eq!(rev, m["properties"]["revenue"].as_f64());
            let p: Value = serde_json::from_str(props.value(r)).expect("properties json");
            assert!(p.is_object());
            i += 1;
        }
    }
    assert_eq!(i, msgs.len());
}

#[test]
fn demo_config_parses() {
    let c = wayfarer_core::Config::from_toml(DEMO_CONFIG, "demo").expect("demo config");
    assert_eq!(c.channels.own_domains, ["shop.northwind.example"]);
    assert_eq!(c.touchpoints[0].name, "Shipping costs page");
    let personas: Vec<&str> = c.personas.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(personas, ["Deal hunters", "Loyal regulars", "Social browsers", "Business buyers", "Gift shoppers"]);
    assert_eq!(c.stages, wayfarer_core::Config::default().stages);
}

#[test]
fn truth_shows_the_injected_pain_points_and_a_sensible_volume() {
    let dir = TempDir::new("truth");
    let co = generate(&small(7, 2500));
    let t = &co.truth;
    let per_customer = co.len() as f64 / 2500.0;
    assert!((35.0..70.0).contains(&per_customer), "{per_customer:.1} events per customer (target ≈ 50)");
    let shipping = t.pain_points.iter().find(|p| p.kind == "exit_touchpoint").expect("exit pain point");
    let persona = shipping.metrics["exit_rate_persona"];
    let others = shipping.metrics["exit_rate_others"];
    assert!(persona > 0.7 && others < 0.2, "shipping exits {persona} vs {others}");
    let late = t.pain_points.iter().find(|p| p.kind == "negative_emotion").expect("emotion pain point");
    let ret = late.metrics["late_share_retention"];
    let first = late.metrics["late_share_purchase"];
    assert!(ret > 0.3 && first < 0.15, "late shares {ret} vs {first}");
    assert!(late.metrics["csat_mean_late"] < late.metrics["csat_mean_on_time"]);
    // Stages are reached in decreasing numbers, and someone reached each.
    let r = t.realized.overall.reached;
    assert!(r.windows(2).all(|w| w[0] >= w[1]), "{r:?}");
    assert!(r[5] > 0, "nobody reached Advocacy: {r:?}");
    // Business buyers buy big, deal hunters small.
    let bb = t.realized.by_persona["business_buyer"].mean_order_value;
    let dh = t.realized.by_persona["deal_hunter"].mean_order_value;
    assert!(bb > 4.0 * dh, "order values {bb} vs {dh}");
    assert_eq!(t.channel_ranking[0], "Phone");
    let path = dir.file("truth.json");
    co.write_truth(&path).expect("write truth");
    let back: crate::truth::GroundTruth =
        serde_json::from_slice(&fs::read(&path).expect("read truth")).expect("parse truth");
    assert_eq!(back.customer_list.len(), 2500);
}
