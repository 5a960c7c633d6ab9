//! The JSON every analysis command prints, on a small fixed company, kept
//! as reviewed snapshots (`tests/snapshots/*.snap`): any change to any
//! command's output fails here with a diff, so it is a decision, not an
//! accident. Ids and times are redacted (keys `id`, `*_id`, `*_at`,
//! `timestamp`), numbers rounded to 9 significant digits (a last-bit
//! difference in a platform's maths library is not a change).
//!
//! After an intended change, review the diffs and accept them with
//! `INSTA_UPDATE=always cargo test -p wayfarer --test snapshots` (or
//! `cargo insta review`), and commit the `.snap` files.

use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;

mod support;

/// The company: 150 simulated customers over 60 days, imported once.
fn company() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let t = tempfile::tempdir().unwrap();
        let input = t.path().join("company.ndjson");
        let input = input.to_str().unwrap();
        support::run(
            t.path(),
            &["simulate", "--customers", "150", "--days", "60", "--seed", "21", "--quiet", "--ndjson", input],
        )
        .ok();
        support::run(t.path(), &["import", "--data", "d", input, "--quiet"]).ok();
        t
    })
    .path()
}

fn redacted(v: Value) -> Value {
    fn secret(key: &str) -> bool {
        key == "id" || key.ends_with("_id") || key.ends_with("_at") || key == "timestamp"
    }
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let v = if secret(&k) && !v.is_null() { Value::String("[redacted]".into()) } else { redacted(v) };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(redacted).collect()),
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            let x = n.as_f64().unwrap_or_default();
            let rounded: f64 = format!("{x:.8e}").parse().unwrap_or(x);
            serde_json::Number::from_f64(rounded).map_or(Value::Null, Value::Number)
        }
        other => other,
    }
}

fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--data", "d", "--json"]);
    redacted(support::run(company(), &all).json())
}

#[test]
fn every_command_prints_the_json_it_printed_before() {
    let cases: [(&str, &[&str]); 14] = [
        ("map", &["map"]),
        ("funnel", &["funnel", "Product Viewed", "Product Added", "Order Completed", "--breakdown", "channel"]),
        ("funnel-trend", &["funnel", "Product Viewed", "Order Completed", "--trend", "week", "--mode", "strict_order"]),
        ("paths", &["paths", "--from-event", "Product Viewed", "--length", "3"]),
        ("retention", &["retention", "--period", "week", "--periods", "6"]),
        ("sessions", &["sessions"]),
        ("rfm", &["rfm"]),
        ("surveys", &["surveys"]),
        ("clv", &["clv", "--top", "3"]),
        ("attribution", &["attribution"]),
        ("personas", &["personas", "--k", "3"]),
        ("personas-chosen-k", &["personas", "--max-k", "4"]),
        ("config", &["config", "show"]),
        ("doctor", &["doctor"]),
    ];
    for (name, args) in cases {
        if name == "config" {
            // Not JSON: the configuration in effect, as TOML.
            let text = support::run(company(), &["config", "show", "--data", "d"]).ok().stdout();
            insta::assert_snapshot!(name, text);
            continue;
        }
        insta::assert_json_snapshot!(name, json(args));
    }
    // A customer's profile (the one with the highest predicted value).
    let clv = support::run(company(), &["clv", "--top", "1", "--data", "d", "--json"]).json();
    let id = clv["customer_values"][0]["customer_id"].as_str().expect("a customer").to_string();
    insta::assert_json_snapshot!("customer", json(&["customers", &id, "--limit", "20"]));
}
