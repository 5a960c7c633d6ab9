//! Integration tests: the real `wayfarer` binary on temporary directories.

use std::path::{Path, PathBuf};

use serde_json::Value;

mod support;

use support::run as wayfarer;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn manifest(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join("data").join("manifest.json")).ok()
}

const EVENTS: &str = "\
customer_id,timestamp,event,channel,revenue,plan
alice,2026-03-01T10:00:00Z,Page Viewed,,,pro
alice,2026-03-01T10:05:00Z,Product Viewed,,,pro
alice,2026-03-01T10:35:00Z,Product Added,,,pro
alice,2026-03-01T11:05:01Z,Order Completed,,42.50,pro
bob,2026-03-02T09:00:00+01:00,Page Viewed,,,
bob,1772441400,Order Completed,Phone,99,
carol,1772445000000,Page Viewed,,,
";

#[test]
fn import_csv_then_sessions_with_exact_rules() {
    let t = tempfile::tempdir().unwrap();
    let csv = write(t.path(), "events.csv", EVENTS);
    let r = wayfarer(t.path(), &["import", "--data", "data", csv.to_str().unwrap(), "--json"]).ok();
    let s = r.json();
    assert_eq!(s["accepted"], 7);
    assert_eq!(s["rejected"], 0);

    let r = wayfarer(t.path(), &["sessions", "--data", "data", "--json"]).ok();
    let j = r.json();
    // alice: 10:00, 10:05, 10:35 (30 min gap: same session), 11:05:01 (> 30 min: new session).
    // bob: 08:00Z page, then 08:50Z order (epoch seconds 1772441400 = 2026-03-02T08:50:00Z) -> new session.
    // carol: one page view (epoch milliseconds) -> bounce.
    assert_eq!(j["customers"], 3);
    assert_eq!(j["events"], 7);
    assert_eq!(j["sessions"], 5);
    assert_eq!(j["bounce_sessions"], 2, "bob's lone page view and carol's");
    assert_eq!(j["engaged_sessions"], 3, "alice's first (35 min), alice's order, bob's order");
    assert_eq!(j["total_duration_seconds"], 2100.0);
}

#[test]
fn import_timings_show_where_the_time_went() {
    let t = tempfile::tempdir().unwrap();
    let csv = write(t.path(), "events.csv", EVENTS);
    let r = wayfarer(t.path(), &["import", "--data", "data", csv.to_str().unwrap(), "--json"]).ok();
    let s = r.json();
    let phases: Vec<&str> = s["timings"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    for phase in [
        "read and decode (reader thread)",
        "dedupe",
        "identities and codes",
        "sort",
        "encode Parquet",
        "fsync",
        "manifest",
    ] {
        assert!(phases.contains(&phase), "{phase} missing from {phases:?}");
    }
    assert!(s["timings"].as_array().unwrap().iter().all(|p| p["seconds"].as_f64().unwrap() >= 0.0));
    assert!(s["seconds"].as_f64().unwrap() > 0.0);

    // The table, on request only.
    let csv2 = write(t.path(), "more.csv", "customer_id,timestamp,event\ndan,2026-03-03T10:00:00Z,Page Viewed\n");
    let out = wayfarer(t.path(), &["import", "--data", "data", csv2.to_str().unwrap(), "--timings"]).ok().stdout();
    assert!(out.contains("Where the time went:") && out.contains("encode Parquet"), "{out}");
    // Into a store that holds events, reading their keys is a phase.
    assert!(out.contains("stored event keys"), "{out}");
    let csv3 = write(t.path(), "last.csv", "customer_id,timestamp,event\neve,2026-03-04T10:00:00Z,Page Viewed\n");
    let out = wayfarer(t.path(), &["import", "--data", "data", csv3.to_str().unwrap()]).ok().stdout();
    assert!(!out.contains("Where the time went"), "{out}");
}

#[test]
fn reimport_adds_nothing_and_rejects_are_reported() {
    let t = tempfile::tempdir().unwrap();
    let csv = write(
        t.path(),
        "mixed.csv",
        "customer_id,timestamp,event,revenue\nc1,2026-01-01,Page Viewed,\nc1,yesterday,Page Viewed,\nc2,2026-01-02,Order Completed,ten\nc3,2026-01-03\nc4,2026-01-04,Order Completed,5\n",
    );
    let r = wayfarer(t.path(), &["import", "--data", "data", csv.to_str().unwrap()]).ok();
    let err = r.stderr();
    assert!(err.contains("mixed.csv:3: timestamp:"), "{err}");
    assert!(err.contains("mixed.csv:4: revenue: expected a number, found 'ten'"), "{err}");
    assert!(err.contains("mixed.csv:5: (row): expected 4 fields"), "{err}");
    let out = r.stdout();
    assert!(out.contains("2 accepted") && out.contains("3 rejected"), "{out}");
    let rejects_dir = t.path().join("data").join("rejects");
    let rejects: Vec<_> = std::fs::read_dir(&rejects_dir).unwrap().collect();
    assert_eq!(rejects.len(), 1);
    let text = std::fs::read_to_string(rejects[0].as_ref().unwrap().path()).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["field"], "revenue");
    assert_eq!(lines[1]["line"], 4);
    assert!(lines[1]["raw"].as_str().unwrap().contains("ten"));

    let before = manifest(t.path()).unwrap();
    let r = wayfarer(t.path(), &["import", "--data", "data", csv.to_str().unwrap(), "--json"]).ok();
    assert_eq!(r.json()["accepted"], 0);
    assert_eq!(r.json()["duplicates"], 2);
    assert_eq!(r.json()["events_total"], 2);
    let after = manifest(t.path()).unwrap();
    let events = |m: &str| serde_json::from_str::<Value>(m).unwrap()["events_total"].clone();
    assert_eq!(events(&before), events(&after));
}

#[test]
fn every_import_keeps_its_own_rejects_and_out_of_range_records_are_named() {
    let t = tempfile::tempdir().unwrap();
    let csv = write(
        t.path(),
        "odd.csv",
        "customer_id,timestamp,event,revenue\nc1,2026-01-01,Page Viewed,\nc1,2199-12-31,Page Viewed,\nc2,1999-12-31,Order Completed,5\nc3,2026-01-02,Order Completed,1e308\n",
    );
    // Two imports in the same second: two rejects files, neither overwritten.
    for _ in 0..2 {
        let r = wayfarer(t.path(), &["import", "--data", "data", csv.to_str().unwrap(), "--json"]).ok();
        assert_eq!(r.json()["rejected"], 3, "{}", r.stdout());
    }
    let r = wayfarer(t.path(), &["import", "--data", "data", csv.to_str().unwrap()]).ok();
    let err = r.stderr();
    assert!(err.contains("odd.csv:3: timestamp: 2199-12-31T00:00:00.000Z is more than 24 hours after"), "{err}");
    assert!(err.contains("odd.csv:4: timestamp: 1999-12-31T00:00:00.000Z is before 2000-01-01"), "{err}");
    assert!(err.contains("odd.csv:5: revenue: 1e308 is larger than 1000000000"), "{err}");
    let files: Vec<PathBuf> =
        std::fs::read_dir(t.path().join("data").join("rejects")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 3, "{files:?}");
    for f in &files {
        assert_eq!(std::fs::read_to_string(f).unwrap().lines().count(), 3, "{}", f.display());
    }
    // Older data is imported once the bound is moved in the configuration.
    wayfarer(t.path(), &["config", "init", "--data", "data"]).ok();
    let cfg = t.path().join("data").join("wayfarer.toml");
    let text = std::fs::read_to_string(&cfg).unwrap().replace("earliest = \"2000-01-01\"", "earliest = \"1990-01-01\"");
    std::fs::write(&cfg, text).unwrap();
    let r = wayfarer(t.path(), &["import", "--data", "data", csv.to_str().unwrap(), "--json"]).ok();
    assert_eq!((r.json()["accepted"].as_u64(), r.json()["rejected"].as_u64()), (Some(1), Some(2)), "{}", r.stdout());
}

#[test]
fn unreadable_files_fail_and_leave_the_directory_unchanged() {
    let t = tempfile::tempdir().unwrap();
    let good = write(t.path(), "good.csv", EVENTS);
    wayfarer(t.path(), &["import", "--data", "data", good.to_str().unwrap()]).ok();
    let before = manifest(t.path()).unwrap();

    let binary = t.path().join("photo.csv");
    std::fs::write(&binary, [0x89u8, b'P', b'N', b'G', 0, 0, 0x1a, 0xff, 0xfe, 0]).unwrap();
    let r = wayfarer(t.path(), &["import", "--data", "data", good.to_str().unwrap(), binary.to_str().unwrap()]).fails();
    assert!(r.stderr().contains("photo.csv") && r.stderr().contains("binary"), "{}", r.stderr());

    let missing = write(t.path(), "nocol.csv", "customer_id,event\nc1,Page Viewed\n");
    let r = wayfarer(t.path(), &["import", "--data", "data", missing.to_str().unwrap()]).fails();
    assert!(r.stderr().contains("missing required column 'timestamp'"), "{}", r.stderr());

    let pq = write(t.path(), "cut.parquet", "PAR1 not really");
    let r = wayfarer(t.path(), &["import", "--data", "data", pq.to_str().unwrap()]).fails();
    assert!(r.stderr().contains("cut.parquet"), "{}", r.stderr());

    let r = wayfarer(t.path(), &["import", "--data", "data", "does-not-exist.ndjson"]).fails();
    assert!(r.stderr().contains("does-not-exist.ndjson"), "{}", r.stderr());

    assert_eq!(manifest(t.path()).unwrap(), before, "the data directory is unchanged");
    // A failed first import does not even create the directory.
    let r = wayfarer(t.path(), &["import", "--data", "fresh", binary.to_str().unwrap()]).fails();
    drop(r);
    assert!(!t.path().join("fresh").exists());
}

#[test]
fn a_full_disk_is_named_as_such_not_as_a_bug() {
    let Some(fs) = wayfarer_store::testfs::Tmpfs::mount("1m") else {
        eprintln!("SKIP a_full_disk_is_named_as_such_not_as_a_bug: mounting a tmpfs needs root");
        return;
    };
    let t = tempfile::tempdir().unwrap();
    // Distinct ids and texts that do not compress: more than the 1 MB disk holds.
    let mut csv = String::from("event_id,customer_id,timestamp,event,note\n");
    for i in 0..40_000u64 {
        let h = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        csv.push_str(&format!("e{h:x}{i},c{},2026-01-01T00:00:{:02}Z,Viewed,{h:x}{:x}\n", i % 997, i % 60, h >> 7));
    }
    let file = write(t.path(), "big.csv", &csv);
    let data = fs.path().join("data");
    let r = wayfarer(t.path(), &["import", "--data", data.to_str().unwrap(), file.to_str().unwrap()]).fails();
    let err = r.stderr();
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("is the disk full") && !err.contains("bug"), "{err}");
}

#[test]
fn truncated_ndjson_keeps_the_complete_lines() {
    let t = tempfile::tempdir().unwrap();
    let text = concat!(
        r#"{"type":"identify","userId":"u1","anonymousId":"a1","traits":{"plan":"pro"},"timestamp":"2026-02-01T10:00:00Z","messageId":"m0"}"#,
        "\n",
        r#"{"type":"page","anonymousId":"a1","timestamp":"2026-02-01T09:59:00Z","messageId":"m1","properties":{"url":"https://shop.example/?utm_source=google&utm_medium=cpc"}}"#,
        "\n",
        r#"{"type":"track","userId":"u1","event":"Order Completed","properties":{"revenue":12},"timestamp":"2026-02-01T10:01:00Z","messageId":"m2"}"#,
        "\n",
        r#"{"type":"track","userId":"u1","event":"Order Comp"#
    );
    let f = write(t.path(), "cut.ndjson", text);
    let r = wayfarer(t.path(), &["import", "--data", "data", f.to_str().unwrap(), "--json"]).ok();
    assert_eq!(r.json()["accepted"], 3);
    assert_eq!(r.json()["rejected"], 1);
    assert!(r.stderr().contains("cut.ndjson:4: (json): invalid JSON"), "{}", r.stderr());
    // The anonymous page view and the identified order are one customer.
    let r = wayfarer(t.path(), &["sessions", "--data", "data", "--json"]).ok();
    assert_eq!(r.json()["customers"], 1);
    assert_eq!(r.json()["sessions"], 1);
}

#[test]
fn map_in_every_format() {
    let t = tempfile::tempdir().unwrap();
    let csv = write(t.path(), "events.csv", EVENTS);
    wayfarer(t.path(), &["import", "--data", "data", csv.to_str().unwrap()]).ok();
    let j = wayfarer(t.path(), &["map", "--data", "data", "--json"]).ok().json();
    let stages = j["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 6);
    assert_eq!(stages[0]["name"], "Awareness");
    assert_eq!(stages[0]["customers"], 3);
    // alice and bob purchased (bob by phone, skipping stages); carol only looked.
    assert_eq!(stages[3]["customers"], 2);
    assert_eq!(stages[1]["customers"], 2, "bob's phone order counts as having considered");
    let text = wayfarer(t.path(), &["map", "--data", "data"]).ok().stdout();
    assert!(text.contains("Awareness") && text.contains("Customers reached"), "{text}");
    wayfarer(t.path(), &["map", "--data", "data", "--format", "html", "--out", "m.html"]).ok();
    let html = std::fs::read_to_string(t.path().join("m.html")).unwrap();
    assert!(html.contains("Awareness") && !html.contains("<script src"));
    // These events carry no survey scores or texts: the emotion lane says so
    // instead of drawing an empty curve.
    assert!(!html.contains("Emotion curve across stages") && html.contains("No survey scores or texts in the data"));
    let csv = wayfarer(t.path(), &["map", "--data", "data", "--format", "csv"]).ok().stdout();
    assert!(csv.starts_with("stage,lane,item,metric,value"));
    wayfarer(t.path(), &["map", "--data", "data", "--format", "xlsx", "--out", "m.xlsx"]).ok();
    let x = std::fs::read(t.path().join("m.xlsx")).unwrap();
    assert_eq!(&x[..2], b"PK");
    // Date range: only March 2nd onwards.
    let j = wayfarer(t.path(), &["map", "--data", "data", "--json", "--from", "2026-03-02"]).ok().json();
    assert_eq!(j["stages"][0]["customers"], 2);
    let r = wayfarer(t.path(), &["map", "--data", "data", "--persona", "Nobody"]).fails();
    assert!(r.stderr().contains("Nobody"));
}

#[test]
fn config_init_and_bad_config() {
    let t = tempfile::tempdir().unwrap();
    wayfarer(t.path(), &["config", "init"]).ok();
    let text = std::fs::read_to_string(t.path().join("wayfarer.toml")).unwrap();
    assert!(text.contains("timeout_minutes = 30"));
    wayfarer(t.path(), &["config", "init"]).fails();
    let shown = wayfarer(t.path(), &["config", "show", "--config", "wayfarer.toml"]).ok().stdout();
    assert!(shown.contains("Awareness"));
    let bad = text.replace("churn_after_days = 90", "churn_after_days = 90\nchurn_days = 3");
    write(t.path(), "bad.toml", &bad);
    let r = wayfarer(t.path(), &["config", "show", "--config", "bad.toml"]).fails();
    assert!(r.stderr().contains("churn_days"), "{}", r.stderr());
}

#[test]
fn reading_an_empty_directory_is_a_clear_error() {
    let t = tempfile::tempdir().unwrap();
    let r = wayfarer(t.path(), &["map", "--data", "nothing-here"]).fails();
    assert!(r.stderr().contains("holds no Wayfarer data"), "{}", r.stderr());
}

#[test]
fn funnel_paths_and_retention_commands() {
    let t = tempfile::tempdir().unwrap();
    let csv = write(t.path(), "events.csv", EVENTS);
    wayfarer(t.path(), &["import", "--data", "data", csv.to_str().unwrap()]).ok();

    // The journey map's stage numbers come from the funnel engine.
    let map = wayfarer(t.path(), &["map", "--data", "data", "--json"]).ok().json();
    let stages: Vec<String> =
        map["stages"].as_array().unwrap().iter().map(|s| format!("stage:{}", s["name"].as_str().unwrap())).collect();
    let mut args = vec!["funnel", "--data", "data", "--window", "36500d", "--json"];
    args.extend(stages.iter().map(String::as_str));
    let f = wayfarer(t.path(), &args).ok().json();
    for (k, s) in map["stages"].as_array().unwrap().iter().enumerate() {
        assert_eq!(f["steps"][k]["customers"], s["customers"], "stage {}", s["name"]);
    }

    let f = wayfarer(
        t.path(),
        &[
            "funnel",
            "--data",
            "data",
            "Page Viewed",
            "Product Viewed",
            "Order Completed[revenue > 40]",
            "--window",
            "1h",
            "--json",
        ],
    )
    .ok()
    .json();
    // alice: page 10:00, product 10:05, order 11:05:01 (> 1h after the page view): level 2.
    // bob: page, then an order without a product view: level 1. carol: page only: level 1.
    assert_eq!(f["level_counts"], serde_json::json!([0, 2, 1, 0]));
    assert_eq!(f["steps"][1]["median_seconds_from_previous"], 300.0);
    let f = wayfarer(
        t.path(),
        &[
            "funnel",
            "--data",
            "data",
            "Page Viewed",
            "Order Completed",
            "--window",
            "2h",
            "--json",
            "--breakdown",
            "property:plan",
        ],
    )
    .ok()
    .json();
    assert_eq!(f["level_counts"], serde_json::json!([0, 1, 2]));
    assert!(f["breakdown"].as_array().unwrap().iter().any(|g| g["group"] == "pro" && g["customers"] == 1));
    let r = wayfarer(t.path(), &["funnel", "--data", "data", "Page Viewed", "--mode", "sideways"]).fails();
    assert!(r.stderr().contains("sideways"));
    let r = wayfarer(t.path(), &["funnel", "--data", "data", "stage:Nowhere"]).fails();
    assert!(r.stderr().contains("Nowhere"));

    let p = wayfarer(t.path(), &["paths", "--data", "data", "--json"]).ok().json();
    let total: u64 = p["transitions"].as_array().unwrap().iter().map(|t| t["count"].as_u64().unwrap()).sum();
    assert_eq!(total, 4, "alice 3 transitions, bob 1, carol none");

    let r =
        wayfarer(t.path(), &["retention", "--data", "data", "--period", "day", "--periods", "2", "--json"]).ok().json();
    let c = &r["cohorts"];
    assert_eq!(c[0]["cohort_start"], "2026-03-01");
    assert_eq!(c[0]["size"], 1);
    assert_eq!(c[1]["cohort_start"], "2026-03-02");
    assert_eq!(c[1]["active"], serde_json::json!([2, 0, 0]));
    let text = wayfarer(t.path(), &["retention", "--data", "data"]).ok().stdout();
    assert!(text.contains("Lifecycle"));
}

#[test]
fn funnel_options_beyond_clickhouse() {
    let t = tempfile::tempdir().unwrap();
    let csv = write(
        t.path(),
        "f.csv",
        "customer_id,timestamp,event,channel\n\
         a,2026-03-02T10:00:00Z,Page Viewed,Email\n\
         a,2026-03-02T10:10:00Z,Product Viewed,\n\
         a,2026-03-02T12:00:00Z,Order Completed,\n\
         b,2026-03-03T10:00:00Z,Page Viewed,Paid Search\n\
         b,2026-03-03T10:01:00Z,Coupon Denied,\n\
         b,2026-03-03T10:02:00Z,Product Viewed,\n\
         b,2026-03-03T10:03:00Z,Order Completed,\n\
         c,2026-03-10T10:00:00Z,Page Viewed,Email\n\
         c,2026-03-10T10:05:00Z,Product Viewed,\n",
    );
    wayfarer(t.path(), &["import", "--data", "d", csv.to_str().unwrap()]).ok();
    let run = |extra: &[&str]| {
        let mut args = vec!["funnel", "--data", "d", "Page Viewed", "Product Viewed", "Order Completed", "--json"];
        args.extend_from_slice(extra);
        wayfarer(t.path(), &args).ok().json()
    };
    assert_eq!(run(&[])["level_counts"], serde_json::json!([0, 0, 1, 2]));
    // An exclusion between steps breaks b's chain after step 1.
    assert_eq!(run(&["--exclude", "Coupon Denied"])["level_counts"], serde_json::json!([0, 1, 1, 1]));
    // Step 3 within 30 minutes of step 2: a took 1h50m.
    assert_eq!(run(&["--step-window", "3=30m"])["level_counts"], serde_json::json!([0, 0, 2, 1]));
    let by = run(&["--breakdown", "channel"]);
    let email = by["breakdown"].as_array().unwrap().iter().find(|g| g["group"] == "Email").unwrap();
    assert_eq!(email["level_counts"], serde_json::json!([0, 0, 1, 1]));
    let trend = run(&["--trend", "week"]);
    let weeks: Vec<&str> =
        trend["trend"].as_array().unwrap().iter().map(|p| p["period_start"].as_str().unwrap()).collect();
    assert_eq!(weeks, ["2026-03-02", "2026-03-09"]);
    assert_eq!(trend["trend"][0]["conversion"], 1.0);
    let hist = run(&[]);
    assert_eq!(hist["time_to_convert"]["customers"], 2);
    let cmp = run(&["--from", "2026-03-09", "--to", "2026-03-16", "--compare-previous"]);
    assert_eq!(cmp["level_counts"], serde_json::json!([0, 0, 1, 0]));
    assert_eq!(cmp["previous"]["level_counts"], serde_json::json!([0, 0, 0, 2]));
    let r = wayfarer(t.path(), &["funnel", "--data", "d", "Page Viewed", "--compare-previous"]).fails();
    assert!(r.stderr().contains("--from and --to"));
    let text = wayfarer(t.path(), &["funnel", "--data", "d", "Page Viewed", "Order Completed", "--trend", "week"])
        .ok()
        .stdout();
    assert!(text.contains("Conversion by period") && text.contains("Time to convert"), "{text}");
}

#[test]
fn paths_match_finds_who_did_what_a_pattern_says_and_what_came_next() {
    let t = tempfile::tempdir().unwrap();
    let csv = write(
        t.path(),
        "m.csv",
        "customer_id,timestamp,event\n\
         a,2026-03-02T10:00:00Z,Product Added\n\
         a,2026-03-02T10:01:00Z,Shipping Viewed\n\
         a,2026-03-02T10:02:00Z,Help Viewed\n\
         b,2026-03-02T10:00:00Z,Product Added\n\
         b,2026-03-02T10:01:00Z,Shipping Viewed\n\
         b,2026-03-02T10:03:00Z,Order Completed\n\
         c,2026-03-02T10:00:00Z,Home Viewed\n",
    );
    wayfarer(t.path(), &["import", "--data", "data", csv.to_str().unwrap()]).ok();
    let never = "Product Added -> Shipping Viewed -> [^Order Completed]* -> $";
    let m = wayfarer(t.path(), &["paths", "--data", "data", "--match", never, "--json"]).ok().json();
    assert_eq!((m["customers"].as_u64(), m["matched"].as_u64()), (Some(3), Some(1)), "{m}");
    assert_eq!(m["matched_paths"][0]["path"], serde_json::json!(["Product Added", "Shipping Viewed", "Help Viewed"]));
    // What came right after the shipping page, for everyone who saw it.
    let after = wayfarer(t.path(), &["paths", "--data", "data", "--match", "Shipping Viewed", "--json"]).ok().json();
    let next: Vec<&str> = after["next"].as_array().unwrap().iter().map(|n| n["event"].as_str().unwrap()).collect();
    assert_eq!(next, ["Help Viewed", "Order Completed"]);
    // The same customers as a segment.
    let condition = m["segment_condition"].as_str().unwrap();
    wayfarer(t.path(), &["segments", "create", "Lost at shipping", "--data", "data", "--where", condition]).ok();
    let members =
        wayfarer(t.path(), &["segments", "members", "Lost at shipping", "--data", "data", "--json"]).ok().json();
    assert_eq!(members.as_array().map(Vec::len), Some(1), "{members}");
    let text = wayfarer(t.path(), &["paths", "--data", "data", "--match", never]).ok().stdout();
    assert!(text.contains("1 of 3 customers match") && text.contains("segments create"), "{text}");
    // A typo names the column and the closest event.
    let e =
        wayfarer(t.path(), &["paths", "--data", "data", "--match", "Product Added -> Shiping Viewed"]).fails().stderr();
    assert!(e.contains("column 18") && e.contains("did you mean 'Shipping Viewed'"), "{e}");
    let e = wayfarer(t.path(), &["paths", "--data", "data", "--match", "Product Added ->"]).fails().stderr();
    assert!(e.contains("--match") && e.contains("column"), "{e}");
}

#[test]
fn paths_graph_and_its_comparison_of_two_periods() {
    let t = tempfile::tempdir().unwrap();
    let mut csv = String::from("customer_id,timestamp,event\n");
    // March: everyone goes Home -> Product; April: everyone Home -> Search.
    for i in 0..60 {
        csv += &format!("m{i},2026-03-02T10:00:00Z,Home Viewed\nm{i},2026-03-02T10:00:30Z,Product Viewed\n");
        csv += &format!("a{i},2026-04-02T10:00:00Z,Home Viewed\na{i},2026-04-02T10:02:00Z,Search Used\n");
    }
    let f = write(t.path(), "g.csv", &csv);
    wayfarer(t.path(), &["import", "--data", "data", f.to_str().unwrap()]).ok();
    let g = wayfarer(t.path(), &["paths", "--data", "data", "--graph", "--json"]).ok().json();
    assert_eq!(g["customers"], 120);
    let edge = |from: &str, to: &str| {
        g["edges"].as_array().unwrap().iter().find(|e| e["from"] == from && e["to"] == to).cloned().unwrap()
    };
    let hp = edge("Home Viewed", "Product Viewed");
    assert_eq!((hp["count"].as_u64(), hp["customers"].as_u64()), (Some(60), Some(60)));
    assert!(
        (hp["p_next"].as_f64().unwrap() - 0.5).abs() < 1e-12 && (hp["p_prev"].as_f64().unwrap() - 1.0).abs() < 1e-12
    );
    let secs = edge("Home Viewed", "Search Used")["median_seconds"].as_f64().unwrap();
    assert!((secs - 120.0).abs() <= 6.0, "{secs}");
    let c = wayfarer(
        t.path(),
        &[
            "paths",
            "--data",
            "data",
            "--graph",
            "--compare",
            "2026-03-01..2026-04-01",
            "--vs",
            "2026-04-01..",
            "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!(c["significant"], 2, "{c}");
    let first = &c["edges"][0];
    assert!(first["significant"].as_bool().unwrap() && first["q_value"].as_f64().unwrap() < 0.05, "{c}");
    let text = wayfarer(
        t.path(),
        &["paths", "--data", "data", "--graph", "--compare", "2026-03-01..2026-04-01", "--vs", "2026-04-01.."],
    )
    .ok()
    .stdout();
    assert!(text.contains("2 of 2 edges differ significantly"), "{text}");
    let e = wayfarer(t.path(), &["paths", "--data", "data", "--graph", "--compare", "loyal", "--vs", "persona:x"])
        .fails()
        .stderr();
    assert!(e.contains("persona:NAME, segment:NAME or a period"), "{e}");
    let e = wayfarer(
        t.path(),
        &["paths", "--data", "data", "--graph", "--compare", "segment:Nope", "--vs", "2026-04-01.."],
    )
    .fails()
    .stderr();
    assert!(e.contains("Nope"), "{e}");
}

#[test]
fn funnel_paths_before_between_and_after_a_drop() {
    let t = tempfile::tempdir().unwrap();
    let csv = write(
        t.path(),
        "fp.csv",
        "customer_id,timestamp,event\n\
         a,2026-03-02T10:00:00Z,Home Viewed\n\
         a,2026-03-02T10:01:00Z,Product Viewed\n\
         a,2026-03-02T10:02:00Z,Help Viewed\n\
         a,2026-03-02T10:03:00Z,Product Added\n\
         b,2026-03-02T10:00:00Z,Product Viewed\n\
         b,2026-03-02T10:01:00Z,Search Used\n\
         c,2026-03-02T10:00:00Z,Product Viewed\n\
         c,2026-03-02T10:01:00Z,Search Used\n\
         c,2026-03-02T10:02:00Z,Home Viewed\n",
    );
    wayfarer(t.path(), &["import", "--data", "data", csv.to_str().unwrap()]).ok();
    let f = |extra: &[&str]| {
        let mut args = vec!["funnel", "--data", "data", "Product Viewed", "Product Added", "--json"];
        args.extend(extra);
        wayfarer(t.path(), &args).ok().json()
    };
    let r = f(&["--after-drop", "1", "--context", "1"]);
    let dropped = &r["paths"]["dropped"];
    assert_eq!(dropped["customers"], 2, "{r}");
    let paths: Vec<&Value> = dropped["paths"].as_array().unwrap().iter().map(|p| &p["path"]).collect();
    // c went on (one event kept, then "…"); b's events ended.
    assert!(paths.contains(&&serde_json::json!(["Search Used", "…"])), "{r}");
    assert!(paths.contains(&&serde_json::json!(["Search Used", "(end)"])), "{r}");
    let r = f(&["--between", "1"]);
    assert_eq!(r["paths"]["converted"]["paths"][0]["path"], serde_json::json!(["Help Viewed"]), "{r}");
    let r = f(&["--before"]);
    let before: Vec<&Value> = r["paths"]["converted"]["paths"].as_array().unwrap().iter().map(|p| &p["path"]).collect();
    assert!(
        before.contains(&&serde_json::json!(["Home Viewed"])) && before.contains(&&serde_json::json!(["(start)"])),
        "{r}"
    );
    let e = wayfarer(t.path(), &["funnel", "--data", "data", "Product Viewed", "Product Added", "--after-drop", "2"])
        .fails()
        .stderr();
    assert!(e.contains("--after-drop 2") && e.contains("step 1 to 1 of 2"), "{e}");
    let text =
        wayfarer(t.path(), &["funnel", "--data", "data", "Product Viewed", "Product Added", "--after-drop", "1"])
            .ok()
            .stdout();
    assert!(text.contains("what they did instead"), "{text}");
}

#[test]
fn funnel_optional_steps_and_any_order_groups() {
    let t = tempfile::tempdir().unwrap();
    let csv = write(
        t.path(),
        "og.csv",
        "customer_id,timestamp,event\n\
         a,2026-03-02T10:00:00Z,Product Viewed\n\
         a,2026-03-02T10:01:00Z,Coupon Applied\n\
         a,2026-03-02T10:02:00Z,Order Completed\n\
         b,2026-03-02T10:00:00Z,Product Viewed\n\
         b,2026-03-02T10:01:00Z,Order Completed\n\
         c,2026-03-02T10:00:00Z,Product Viewed\n\
         c,2026-03-02T10:01:00Z,Help Viewed\n\
         c,2026-03-02T10:02:00Z,Coupon Applied\n\
         d,2026-03-02T10:00:00Z,Help Viewed\n\
         d,2026-03-02T10:01:00Z,Product Viewed\n",
    );
    wayfarer(t.path(), &["import", "--data", "data", csv.to_str().unwrap()]).ok();
    let funnel = |steps: &[&str]| {
        let mut args = vec!["funnel", "--data", "data", "--json"];
        args.extend(steps);
        wayfarer(t.path(), &args).ok().json()
    };
    let r = funnel(&["Product Viewed", "?Coupon Applied", "Order Completed"]);
    let counts: Vec<u64> = r["steps"].as_array().unwrap().iter().map(|s| s["customers"].as_u64().unwrap()).collect();
    // a took the coupon and ordered, b ordered without it, c stopped at the coupon.
    assert_eq!(counts, [4, 2, 2], "{r}");
    assert_eq!(r["steps"][1]["optional"], true, "{r}");
    assert_eq!(r["steps"][2]["conversion_from_previous"], 0.5, "from Product Viewed: {r}");
    // Help and product in any order, then a coupon: c (help after), d (help before).
    let r = funnel(&["{Help Viewed, Product Viewed}", "Coupon Applied"]);
    let counts: Vec<u64> = r["steps"].as_array().unwrap().iter().map(|s| s["customers"].as_u64().unwrap()).collect();
    assert_eq!(counts, [2, 1], "{r}");
    let e = wayfarer(t.path(), &["funnel", "--data", "data", "Product Viewed", "{Help Viewd, Coupon Applied}"])
        .fails()
        .stderr();
    assert!(e.contains("Help Viewd") && e.contains("did you mean 'Help Viewed'"), "{e}");
}

#[test]
fn discovery_and_loyalty_on_data_of_our_own() {
    let t = tempfile::tempdir().unwrap();
    let mut csv = String::from("customer_id,timestamp,event,campaign,url,revenue\n");
    // 30 customers from the spring campaign, a third of whom buy a day
    // later and review it; 25 from the help pages, who never buy.
    for u in 0..30 {
        csv.push_str(&format!("s{u},2026-03-02T10:00:00Z,Page Viewed,spring,https://x.example/sale?a=1,\n"));
        if u % 3 == 0 {
            csv.push_str(&format!("s{u},2026-03-03T10:00:00Z,Order Completed,,,50\n"));
            csv.push_str(&format!("s{u},2026-03-05T10:00:00Z,Product Reviewed,,,\n"));
        }
    }
    for u in 0..25 {
        csv.push_str(&format!("h{u},2026-03-02T10:00:00Z,Page Viewed,,https://x.example/help,\n"));
    }
    let f = write(t.path(), "d.csv", &csv);
    wayfarer(t.path(), &["import", "--data", "data", f.to_str().unwrap()]).ok();
    let r = wayfarer(t.path(), &["discovery", "--data", "data", "--by", "content", "--json"]).ok().json();
    assert_eq!((r["customers"].as_u64(), r["buyers"].as_u64()), (Some(55), Some(10)), "{r}");
    let sources = r["tables"][0]["sources"].as_array().unwrap();
    assert_eq!(sources[0]["source"], "campaign: spring", "{r}");
    assert_eq!(sources[0]["buyers"], 10);
    assert_eq!(sources[0]["median_days_to_purchase"], 1.0);
    assert_eq!(sources[1]["source"], "page: /help");
    // The map's Discovery lane: the first touches, and how many then bought.
    let map = wayfarer(t.path(), &["map", "--data", "data", "--json"]).ok().json();
    let first: Vec<&Value> = map["discovery"].as_array().unwrap().iter().collect();
    let sum = |k: &str| first.iter().map(|d| d[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!((sum("customers"), sum("buyers")), (55, 10), "{first:?}");
    let html = wayfarer(t.path(), &["map", "--data", "data", "--format", "html", "--out", "m.html"]).ok();
    drop(html);
    assert!(std::fs::read_to_string(t.path().join("m.html")).unwrap().contains(">Discovery<"));
    let e = wayfarer(t.path(), &["discovery", "--data", "data", "--by", "chanel"]).fails().stderr();
    assert!(e.contains("did you mean 'channel'"), "{e}");

    let r = wayfarer(t.path(), &["loyalty", "--data", "data", "--json"]).ok().json();
    let names: Vec<&str> = r["actions"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Review", "Repeat order"], "only the defaults whose events are in the data: {r}");
    assert_eq!((r["actions"][0]["customers"].as_u64(), r["actions"][1]["customers"].as_u64()), (Some(10), Some(0)));
    assert_eq!(r["absent"].as_array().unwrap().len(), 2, "{r}");
    let r = wayfarer(
        t.path(),
        &["loyalty", "--data", "data", "--action", "Buyer=Order Completed[revenue >= 50]", "--json"],
    )
    .ok()
    .json();
    assert_eq!((r["actions"][0]["name"].as_str(), r["actions"][0]["customers"].as_u64()), (Some("Buyer"), Some(10)));
    // They came from a page view the day before (another session).
    assert_eq!(r["actions"][0]["journeys"][0]["path"], serde_json::json!(["Page Viewed"]), "{r}");
    let e = wayfarer(t.path(), &["loyalty", "--data", "data", "--action", "X=Order Complete"]).fails().stderr();
    assert!(e.contains("did you mean 'Order Completed'"), "{e}");
}
