//! Browser tests: the HTML journey map opened in headless Chromium, offline.
//! Needs Chromium (`apt-get install chromium`; `.ci/run` installs it); set
//! WAYFARER_CHROMIUM to use another binary.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> PathBuf {
    if let Ok(p) = std::env::var("WAYFARER_CHROMIUM") {
        return PathBuf::from(p);
    }
    for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("headless Chromium is needed for the browser tests: apt-get install chromium (or set WAYFARER_CHROMIUM)");
}

fn headless(profile: &Path, extra: &[&str], url: &str) -> std::process::Output {
    Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium")
}

#[test]
fn html_map_renders_offline_in_chromium() {
    let t = tempfile::tempdir().unwrap();
    let csv = t.path().join("events.csv");
    let mut text = String::from("customer_id,timestamp,event,channel,revenue,score,survey,text\n");
    for i in 0..40 {
        let day = 1 + i % 20;
        text.push_str(&format!("c{i},2026-03-{day:02}T10:00:00Z,Page Viewed,,,,,\n"));
        if i % 2 == 0 {
            text.push_str(&format!("c{i},2026-03-{day:02}T10:05:00Z,Product Viewed,,,,,\n"));
        }
        if i % 4 == 0 {
            text.push_str(&format!("c{i},2026-03-{day:02}T10:09:00Z,Order Completed,,30,,,\n"));
            text.push_str(&format!(
                "c{i},2026-03-{day:02}T12:00:00Z,Survey Responded,,,{},csat,\"{}\"\n",
                if i % 8 == 0 { 5 } else { 1 },
                if i % 8 == 0 { "Great tent, love it" } else { "The delivery was late and support was terrible" }
            ));
        }
    }
    std::fs::write(&csv, text).unwrap();
    let data = t.path().join("data");
    let d = data.to_str().unwrap();
    support::run(t.path(), &["import", "--data", d, csv.to_str().unwrap()]).ok();
    let html = t.path().join("map.html");
    support::run(t.path(), &["map", "--format", "html", "--data", d, "--out", html.to_str().unwrap()]).ok();
    let url = format!("file://{}", html.display());

    // The DOM after rendering holds the map grid, the emotion curve and the lanes.
    let out = headless(&t.path().join("p1"), &["--dump-dom"], &url);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    for needle in [
        "class=\"map\"",
        "Awareness",
        "Purchase",
        "Emotion curve",
        "<circle",
        "Pain points",
        "Verbatims",
        "delivery was late",
    ] {
        assert!(dom.contains(needle), "rendered DOM lacks {needle:?}");
    }

    // A screenshot is a real picture (not a blank page).
    let png = t.path().join("shot.png");
    let out =
        headless(&t.path().join("p2"), &[&format!("--screenshot={}", png.display()), "--window-size=1400,1000"], &url);
    assert!(out.status.success(), "chromium screenshot failed: {}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert_eq!(&bytes[1..4], b"PNG");
    assert!(bytes.len() > 20_000, "screenshot suspiciously small ({} bytes)", bytes.len());
}
