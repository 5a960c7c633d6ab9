//! `wayfarer clv` end to end on the CDNOW transaction log: import the flat
//! CSV, fit, and compare with the published fit and the lifetimes package.

use serde_json::Value;

mod support;

fn run(dir: &std::path::Path, args: &[&str]) -> String {
    support::run(dir, args).ok().stdout()
}

fn close(got: f64, want: f64, rel: f64, what: &str) {
    let err = (got - want).abs() / want.abs().max(1e-9);
    assert!(err <= rel, "{what}: got {got}, expected {want} (relative error {err:.1e})");
}

#[test]
fn cdnow_through_the_cli() {
    let t = tempfile::tempdir().unwrap();
    let csv = concat!(env!("CARGO_MANIFEST_DIR"), "/../wayfarer-models/tests/fixtures/cdnow_transactions.csv");
    let expected: Value =
        serde_json::from_str(include_str!("../../wayfarer-models/tests/fixtures/cdnow_expected.json")).unwrap();
    // CDNOW is from 1997–98: older than the default earliest accepted date.
    run(t.path(), &["config", "init", "--data", "d"]);
    let cfg = t.path().join("d").join("wayfarer.toml");
    let text = std::fs::read_to_string(&cfg).unwrap().replace("earliest = \"2000-01-01\"", "earliest = \"1990-01-01\"");
    std::fs::write(&cfg, text).unwrap();
    let imported: Value =
        serde_json::from_str(&run(t.path(), &["import", "--data", "d", csv, "--json", "--quiet"])).unwrap();
    assert_eq!(imported["accepted"], 6919, "identical rows on one day are separate purchases");
    let r: Value = serde_json::from_str(&run(
        t.path(),
        &[
            "clv",
            "--data",
            "d",
            "--calibration-end",
            "1997-09-30",
            "--unit",
            "week",
            "--horizon",
            "52",
            "--customers",
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(r["customers"], 2357);
    assert_eq!(r["repeat_customers"], 946);
    let published = &expected["published"]["bgnbd"];
    for k in ["r", "alpha", "a", "b"] {
        close(r["bgnbd"][k].as_f64().unwrap(), published[k].as_f64().unwrap(), 2e-3, k);
    }
    for k in ["p", "q", "v"] {
        close(r["gamma_gamma"][k].as_f64().unwrap(), expected["gamma_gamma"][k].as_f64().unwrap(), 1e-3, k);
    }
    let rows = r["customer_values"].as_array().unwrap();
    assert_eq!(rows.len(), 2357);
    for c in expected["customers"].as_array().unwrap() {
        let id = c["customer_id"].to_string();
        let got = rows.iter().find(|x| x["customer_id"] == id).unwrap_or_else(|| panic!("customer {id}"));
        assert_eq!(got["frequency"], c["frequency"]);
        close(got["recency"].as_f64().unwrap(), c["recency"].as_f64().unwrap(), 1e-12, "recency");
        close(got["T"].as_f64().unwrap(), c["T"].as_f64().unwrap(), 1e-12, "T");
        close(got["p_alive"].as_f64().unwrap(), c["p_alive"].as_f64().unwrap(), 2e-3, "P(alive)");
        close(
            got["expected_purchases"].as_f64().unwrap(),
            c["expected_purchases_52"].as_f64().unwrap(),
            2e-3,
            "E[X(52)]",
        );
        close(got["clv"].as_f64().unwrap(), c["clv_12_months"].as_f64().unwrap(), 5e-3, "CLV 12 months");
    }
    let text = run(t.path(), &["clv", "--data", "d", "--calibration-end", "1997-09-30", "--top", "3"]);
    assert!(text.contains("BG/NBD: r=0.24"), "{text}");
}
