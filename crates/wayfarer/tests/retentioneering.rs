//! Conformance with Retentioneering 3.3 (the journey-analytics package),
//! on the synthetic company's events (`fixtures/retentioneering/`: the
//! events, the script that ran Retentioneering on them, its answers, and
//! its definitions in DEFINITIONS.md): the transition graph's edges
//! (transitions and users), the step matrix from the start, centred on an
//! anchor, and the difference of two groups' matrices.
//!
//! One deliberate difference: centred on an anchor, Retentioneering leaves
//! the steps before a customer's first event empty (those columns add up
//! to less than 1); Wayfarer counts them as `(start)`, so every column adds
//! up to 1. The test compares every other row.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

mod support;

use support::run as wayfarer;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/retentioneering").join(name)
}

fn expected() -> Value {
    serde_json::from_slice(&std::fs::read(fixture("expected.json")).unwrap()).unwrap()
}

fn store() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let events = fixture("events.parquet");
    wayfarer(t.path(), &["import", "--data", "data", events.to_str().unwrap(), "--quiet"]).ok();
    t
}

/// Rows of a matrix as event → shares.
fn rows(v: &Value) -> BTreeMap<String, Vec<f64>> {
    match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, s)| (k.clone(), s.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()))
            .collect(),
        Value::Array(a) => a
            .iter()
            .map(|r| {
                let shares = r["shares"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
                (r["event"].as_str().unwrap().to_string(), shares)
            })
            .collect(),
        other => panic!("not a matrix: {other}"),
    }
}

/// Every row of both (a missing row is all zeros) within 1e-12, but
/// `skip`.
fn same_matrix(what: &str, ours: &BTreeMap<String, Vec<f64>>, theirs: &BTreeMap<String, Vec<f64>>, skip: &[&str]) {
    let names: BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    let width = theirs.values().next().map_or(0, Vec::len);
    let zeros = vec![0.0; width];
    for name in names {
        if skip.contains(&name.as_str()) {
            continue;
        }
        let (a, b) = (ours.get(name).unwrap_or(&zeros), theirs.get(name).unwrap_or(&zeros));
        assert_eq!(a.len(), b.len(), "{what}: {name}: {a:?} vs {b:?}");
        for (k, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() < 1e-12, "{what}: {name} at step index {k}: Wayfarer {x}, Retentioneering {y}");
        }
    }
}

#[test]
fn transitions_equal_retentioneering_edges() {
    let t = store();
    let e = expected();
    let g = wayfarer(t.path(), &["paths", "--data", "data", "--graph", "--json"]).ok().json();
    assert_eq!(g["customers"], e["n_users"]);
    let ours: BTreeMap<(String, String), (u64, u64)> = g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            let key = (x["from"].as_str().unwrap().to_string(), x["to"].as_str().unwrap().to_string());
            (key, (x["count"].as_u64().unwrap(), x["customers"].as_u64().unwrap()))
        })
        .collect();
    let theirs: BTreeMap<(String, String), (u64, u64)> = e["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            let key = (x["from"].as_str().unwrap().to_string(), x["to"].as_str().unwrap().to_string());
            (key, (x["count"].as_u64().unwrap(), x["users"].as_u64().unwrap()))
        })
        .collect();
    assert_eq!(ours.len(), theirs.len());
    assert_eq!(ours, theirs);
}

#[test]
fn step_matrices_equal_retentioneering() {
    let t = store();
    let e = expected();
    let m = wayfarer(t.path(), &["paths", "--data", "data", "--step-matrix", "--steps", "1..10", "--json"]).ok().json();
    assert_eq!(m["customers"], e["step_matrix"]["denominator_users"]);
    same_matrix("step matrix", &rows(&m["rows"]), &rows(&e["step_matrix"]["rows"]), &[]);
    for key in ["step_matrix_centered", "step_matrix_centered_early_anchor"] {
        let want = &e[key];
        let anchor = want["anchor"].as_str().unwrap();
        let steps = want["steps"].as_array().unwrap();
        let range = format!("{}..{}", steps[0], steps[steps.len() - 1]);
        let m = wayfarer(
            t.path(),
            &["paths", "--data", "data", "--step-matrix", "--anchor", anchor, "--steps", &range, "--json"],
        )
        .ok()
        .json();
        assert_eq!(m["customers"], want["denominator_users"], "{key}");
        assert_eq!(&m["steps"], &want["steps"], "{key}");
        same_matrix(key, &rows(&m["rows"]), &rows(&want["rows"]), &["(start)"]);
    }
}

#[test]
fn the_difference_of_two_groups_equals_retentioneering() {
    use wayfarer_engine::paths::NodeBy;
    use wayfarer_engine::step_matrix::{StepSpec, difference, step_matrix};
    let t = store();
    let e = expected();
    let want = &e["group_difference"];
    let store = wayfarer_store::Store::open(&t.path().join("data")).unwrap();
    let model = wayfarer_engine::Model::compile(&wayfarer_core::Config::default(), &store).unwrap();
    let ids = store.identity_shared().unwrap();
    let half = |even: bool| {
        let who = (0..ids.len() as u32)
            .filter(|&c| ids.external_id(c).parse::<u64>().is_ok_and(|n| (n % 2 == 0) == even))
            .collect();
        store.clone().only_customers(std::sync::Arc::new(who))
    };
    let spec = StepSpec { by: NodeBy::Event, anchor: None, first: 1, last: 10 };
    let scope = wayfarer_engine::Scope::default();
    let a = step_matrix(&half(true), &model, &scope, &spec).unwrap();
    let b = step_matrix(&half(false), &model, &scope, &spec).unwrap();
    assert_eq!(
        (Value::from(a.customers), Value::from(b.customers)),
        (want["group_a_users"].clone(), want["group_b_users"].clone())
    );
    let d = difference("even", &a, "odd", &b);
    let ours = rows(&serde_json::to_value(&d.rows).unwrap());
    same_matrix("group difference", &ours, &rows(&want["rows"]), &[]);
}
