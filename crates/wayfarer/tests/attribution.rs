//! `wayfarer attribution` end to end against the ChannelAttribution package:
//! the fixture's paths become customers in a flat CSV (one event per touch
//! with its channel, then an `Order Completed` carrying the value, or no
//! conversion for a null path), are imported, and the command's numbers
//! must equal the package's (heuristics) and the exact chain (Markov,
//! orders 1–3). Also the JSON shapes and the errors a user can make.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

mod support;

use support::run;

fn ok(dir: &Path, args: &[&str]) -> Value {
    run(dir, args).json()
}

fn fixtures() -> Vec<Value> {
    serde_json::from_str::<Value>(include_str!("../../wayfarer-models/tests/fixtures/channel_attribution.json"))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// The dataset as flat CSV rows: customer_id,timestamp,event,channel,revenue.
fn csv(d: &Value) -> String {
    let mut s = String::from("customer_id,timestamp,event,channel,revenue\n");
    let mut customer = 0;
    let t0 = 1_767_225_600i64; // 2026-01-01
    for p in d["paths"].as_array().unwrap() {
        let conv = p["conversions"].as_u64().unwrap();
        let nulls = p["nulls"].as_u64().unwrap();
        let per = if conv > 0 { p["value"].as_f64().unwrap() / conv as f64 } else { 0.0 };
        for k in 0..conv + nulls {
            customer += 1;
            let mut t = t0 + customer * 60;
            for c in p["path"].as_array().unwrap() {
                let ts = wayfarer_core::time::format_rfc3339(t * 1_000_000);
                writeln!(s, "c{customer},{ts},Ad Clicked,{},", c.as_str().unwrap()).unwrap();
                t += 3600;
            }
            if k < conv {
                let ts = wayfarer_core::time::format_rfc3339(t * 1_000_000);
                writeln!(s, "c{customer},{ts},Order Completed,,{per:?}").unwrap();
            }
        }
    }
    s
}

fn close(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0), "{what}: got {got}, want {want}");
}

fn credit(model: &Value, channel: &str) -> (f64, f64, Option<f64>) {
    let c = model["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == channel)
        .unwrap_or_else(|| panic!("no {channel} in {model}"));
    (c["conversions"].as_f64().unwrap(), c["value"].as_f64().unwrap(), c["removal_effect"].as_f64())
}

#[test]
fn the_cli_matches_channel_attribution() {
    let wanted = ["random_5ch_300", "loops", "names_with_spaces", "value_depends_on_last_touch", "repeated_channels"];
    for d in fixtures().iter().filter(|d| wanted.contains(&d["name"].as_str().unwrap())) {
        let name = d["name"].as_str().unwrap();
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("paths.csv"), csv(d)).unwrap();
        ok(t.path(), &["import", "--data", "d", "paths.csv", "--json", "--quiet"]);
        let channels: Vec<&str> = d["channels"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        for order in ["1", "2", "3"] {
            let m = ok(t.path(), &["attribution", "--data", "d", "--model", "markov", "--order", order, "--json"]);
            let exact = &d["markov_exact"][order];
            close(m["total_conversions"].as_f64().unwrap(), exact["total_conversions"].as_f64().unwrap(), name);
            close(m["total_value"].as_f64().unwrap(), exact["total_value"].as_f64().unwrap(), name);
            for c in &channels {
                let (conv, value, re) = credit(&m, c);
                let e = &exact["channels"][c];
                let what = format!("{name} order {order} {c}");
                close(conv, e["conversions"].as_f64().unwrap(), &what);
                close(value, e["value"].as_f64().unwrap(), &what);
                close(re.unwrap(), e["removal_effect"].as_f64().unwrap(), &what);
            }
        }
        let all = ok(t.path(), &["attribution", "--data", "d", "--json"]);
        for key in ["first", "last", "linear"] {
            let m = all["models"].as_array().unwrap().iter().find(|m| m["model"] == key).unwrap();
            for c in &channels {
                let want = d["heuristic"][key][c].as_f64().unwrap();
                if want == 0.0 && !m["channels"].as_array().unwrap().iter().any(|x| x["channel"] == *c) {
                    continue;
                }
                let (conv, value, _) = credit(m, c);
                close(conv, want, &format!("{name} {key} {c}"));
                close(value, d["heuristic"][format!("{key}_value")][c].as_f64().unwrap(), &format!("{name} {key} {c}"));
            }
        }
    }
}

#[test]
fn json_shapes_text_table_and_errors() {
    let d = fixtures().into_iter().find(|d| d["name"] == "textbook").unwrap();
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("paths.csv"), csv(&d)).unwrap();
    ok(t.path(), &["import", "--data", "d", "paths.csv", "--json", "--quiet"]);
    let all = ok(t.path(), &["attribution", "--data", "d", "--json"]);
    assert_eq!(all["total_conversions"], 1.0);
    assert_eq!(all["null_paths"], 2);
    let names: Vec<&str> = all["models"].as_array().unwrap().iter().map(|m| m["model"].as_str().unwrap()).collect();
    assert_eq!(names, ["first", "last", "linear", "time_decay", "position", "markov", "shapley"]);
    for m in all["models"].as_array().unwrap() {
        let sum: f64 = m["channels"].as_array().unwrap().iter().map(|c| c["conversions"].as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-9, "{}: credits add to {sum}", m["model"]);
    }
    // The textbook removal effects: C1 0.5, C2 and C3 1.
    let markov = ok(t.path(), &["attribution", "--data", "d", "--json", "--model", "markov"]);
    assert_eq!(credit(&markov, "C1").2, Some(0.5));
    close(credit(&markov, "C1").0, 0.2, "C1");
    // Shapley: the one converting journey touched three channels.
    let shapley = ok(t.path(), &["attribution", "--data", "d", "--json", "--model", "shapley"]);
    close(credit(&shapley, "C2").0, 1.0 / 3.0, "C2");
    assert!(shapley["channels"][0].get("removal_effect").is_none());

    let text = run(t.path(), &["attribution", "--data", "d"]).ok().stdout();
    assert!(text.contains("markov (order 1)") && text.contains("C1"), "{text}");

    for (args, needle) in [
        (vec!["--model", "magic"], "unknown attribution model"),
        (vec!["--order", "4"], "4"),
        (vec!["--conversion", "Signed Up"], "Signed Up"),
        (vec!["--lookback", "soon"], "duration"),
    ] {
        let mut a = vec!["attribution", "--data", "d"];
        a.extend(args);
        let err = run(t.path(), &a).fails().stderr();
        assert!(err.contains(needle), "{a:?}: {err}");
    }
}
