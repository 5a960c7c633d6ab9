//! A stranger's data: names from another tracking plan are said out loud
//! (the import's hint, `wayfarer doctor`), never lumped silently into the
//! first stage.

use std::path::Path;

mod support;

use support::run as wayfarer;

const SNAKE: &str = "\
user_id,event_time,event_name,acquisition_channel,order_value
u1,2026-03-01T10:00:00Z,landing_page_view,paid_social,
u1,2026-03-01T10:01:00Z,product_view,paid_social,
u1,2026-03-01T10:02:00Z,add_to_cart,paid_social,
u1,2026-03-01T10:05:00Z,purchase,paid_social,40
u2,2026-03-02T09:00:00Z,landing_page_view,email,
u2,2026-03-02T09:01:00Z,product_view,email,
u3,2026-03-03T09:00:00Z,landing_page_view,organic_search,
";

fn import(dir: &Path) -> support::Run {
    std::fs::write(dir.join("events.csv"), SNAKE).unwrap();
    wayfarer(dir, &["import", "--data", "d", "events.csv"]).ok()
}

#[test]
fn import_of_foreign_names_ends_with_the_hint_and_doctor_names_the_gaps() {
    let t = tempfile::tempdir().unwrap();
    let out = import(t.path()).stdout();
    assert!(out.contains("Only 0 of 4 event names match a stage rule"), "{out}");
    assert!(out.contains("wayfarer config init --from-data"), "{out}");

    let r = wayfarer(t.path(), &["doctor", "--data", "d", "--json"]).ok().json();
    let check = |id: &str| r["checks"].as_array().unwrap().iter().find(|c| c["check"] == id).unwrap().clone();
    assert_eq!(check("stage_coverage")["level"], "problem");
    assert_eq!(check("stage_coverage")["items"][0], "landing_page_view (3)");
    assert_eq!(check("purchase_event")["level"], "problem");
    assert!(check("purchase_event")["message"].as_str().unwrap().contains("'Order Completed'"));
    assert!(check("stages_reached")["items"].as_array().unwrap().iter().any(|s| s == "Purchase"));

    // The text form says the same, problems marked.
    let text = wayfarer(t.path(), &["doctor", "--data", "d"]).ok().stdout();
    assert!(text.contains("PROBLEM  0 of 4 event names match a stage rule"), "{text}");
}

#[test]
fn segment_names_import_without_a_hint() {
    let t = tempfile::tempdir().unwrap();
    let csv =
        "customer_id,timestamp,event\na,2026-03-01T10:00:00Z,Product Viewed\na,2026-03-01T10:01:00Z,Order Completed\n";
    std::fs::write(t.path().join("e.csv"), csv).unwrap();
    let out = wayfarer(t.path(), &["import", "--data", "d", "e.csv"]).ok().stdout();
    assert!(!out.contains("config init --from-data"), "{out}");
    let r = wayfarer(t.path(), &["import", "--data", "d", "e.csv", "--json"]).ok().json();
    assert!(r.get("hint").is_none(), "{r}");
}
