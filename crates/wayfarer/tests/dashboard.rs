//! The dashboard end to end: `wayfarer serve` on a demo data directory.
//! Over plain HTTP: sign-in and the session cookie, every page, exports
//! whose numbers equal the query API's, notes kept across a restart, and
//! the CLI's exports. In headless Chromium (playwright-core driving
//! Debian's chromium, `tests/browser/dashboard.mjs`): sign in, open and
//! screenshot every page, switch persona, build a funnel, add a note and
//! find it after a restart, export PNGs — failing on any console error or
//! failed request. `.ci/run` installs Chromium and playwright-core.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use support::{Server, http, wayfarer};

mod support;

/// One demo data directory for every test here (built once; tests only read it,
/// except notes, which each test keys by its own text).
fn demo() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let t = tempfile::tempdir().unwrap();
        let report = t.path().join("report.html");
        let (report, data) = (report.to_str().unwrap(), t.path().join("data"));
        let args = ["demo", "--customers", "1500", "--seed", "11", "--quiet", "--out", report, "--data"];
        support::run(t.path(), &[&args[..], &[data.to_str().unwrap()]].concat()).ok();
        t
    })
    .path()
}

fn data() -> PathBuf {
    demo().join("data")
}

/// One server at a time on the shared directory (the server holds its lock).
fn one_server() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn token(dir: &Path, kind: &str, name: &str) -> String {
    wayfarer(dir, &["keys", "create", kind, "--name", name, "--quiet"]).trim().to_string()
}

fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    raw.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A request returning (status, head, body), for redirects and cookies.
fn raw(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    support::http_full(addr, method, path, headers, body).unwrap_or_else(|| panic!("{method} {path}: no answer"))
}

fn cookie(t: &str) -> (&'static str, String) {
    ("Cookie", format!("wayfarer_token={t}"))
}

fn form(fields: &[(&str, &str)]) -> Vec<u8> {
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.replace('%', "%25").replace('&', "%26").replace('+', "%2B").replace(' ', "+").replace('|', "%7C")
            )
        })
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

fn form_type() -> (&'static str, String) {
    ("Content-Type", "application/x-www-form-urlencoded".to_string())
}

#[test]
fn signing_in_pages_exports_and_notes_over_http() {
    let dir = data();
    let read = token(&dir, "--read", "http-test");
    let write = token(&dir, "--write", "http-test-write");
    let _one = one_server();
    let server = Server::start(&dir);
    let a = server.addr;

    // Without a session: pages go to the login page, assets are refused,
    // /healthz stays open.
    let (status, head, _) = raw(a, "GET", "/funnels?step=A", &[], b"");
    assert_eq!(status, 303);
    assert_eq!(header(&head, "location"), Some("/login?next=%2Ffunnels%3Fstep%3DA"));
    assert_eq!(raw(a, "GET", "/assets/app.css", &[], b"").0, 401);
    assert_eq!(raw(a, "GET", "/healthz", &[], b"").0, 200);
    let (status, _, body) = raw(a, "GET", "/login", &[], b"");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains(r#"name="token""#));

    // Wrong token, write key, then the read token.
    let login = |t: &str| raw(a, "POST", "/login", &[form_type()], &form(&[("token", t), ("next", "/retention")]));
    let (status, _, body) = login("wfr_nope");
    assert_eq!(status, 401);
    assert!(String::from_utf8_lossy(&body).contains("Unknown token"));
    let (status, _, body) = login(&write);
    assert_eq!(status, 401);
    assert!(String::from_utf8_lossy(&body).contains("write key"));
    let (status, head, _) = login(&read);
    assert_eq!(status, 303);
    assert_eq!(header(&head, "location"), Some("/retention"));
    let set = header(&head, "set-cookie").unwrap();
    assert!(
        set.starts_with(&format!("wayfarer_token={read}"))
            && set.contains("HttpOnly")
            && set.contains("SameSite=Strict"),
        "{set}"
    );
    // Behind a TLS proxy the cookie is Secure too.
    let (_, head, _) = raw(
        a,
        "POST",
        "/login",
        &[form_type(), ("X-Forwarded-Proto", "https".to_string())],
        &form(&[("token", &read), ("next", "/")]),
    );
    assert!(header(&head, "set-cookie").unwrap().ends_with("; Secure"), "{head}");
    // `next` never leaves the server.
    let (_, head, _) =
        raw(a, "POST", "/login", &[form_type()], &form(&[("token", &read), ("next", "https://evil.example/")]));
    assert_eq!(header(&head, "location"), Some("/"));

    // Every page answers with its heading; an unknown one is a 404 page.
    let c = cookie(&read);
    for (path, heading) in [
        ("/", "Customer journey map"),
        ("/funnels", "Funnels"),
        ("/funnels?step=Product+Viewed&step=Order+Completed&trend=week", "Conversion by step"),
        ("/paths?from-event=Product+Viewed", "Where customers go"),
        ("/retention", "Share of each cohort active"),
        ("/attribution", "Share of conversions credited"),
        ("/clv", "Value by first channel"),
        ("/personas", "Customers per persona"),
        ("/surveys", "NPS by period"),
        ("/customers", "Find a customer"),
        ("/settings", "How the configuration fits the data"),
    ] {
        let (status, head, body) = raw(a, "GET", path, std::slice::from_ref(&c), b"");
        let text = String::from_utf8_lossy(&body);
        assert_eq!(status, 200, "{path}: {text}");
        assert!(text.contains(heading), "{path} lacks '{heading}'");
        assert!(header(&head, "server-timing").is_some_and(|t| t.starts_with("render;dur=")), "{path}: {head}");
    }
    // Segments scope the map like personas do.
    let (status, _, body) = raw(a, "GET", "/?segment=purchases%3ARepeat+buyers", std::slice::from_ref(&c), b"");
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("Purchases: Repeat buyers"), "{text}");
    let all: Value =
        serde_json::from_slice(&http(a, "GET", "/api/map", &[support_bearer(&read)], b"").unwrap().1).unwrap();
    let repeat: Value = serde_json::from_slice(
        &raw(a, "GET", "/export?segment=purchases%3ARepeat+buyers&format=json", std::slice::from_ref(&c), b"").2,
    )
    .unwrap();
    let (n_all, n_repeat) =
        (all["scope"]["customers"].as_u64().unwrap(), repeat["scope"]["customers"].as_u64().unwrap());
    assert!(n_repeat > 0 && n_repeat < n_all, "{n_repeat} repeat buyers of {n_all}");
    // Every repeat buyer reached the Retention stage (a second order).
    let retention = |m: &Value| {
        m["stages"].as_array().unwrap().iter().find(|s| s["name"] == "Retention").unwrap()["customers"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(retention(&repeat), n_repeat);
    for bad in ["/?segment=bogus", "/?segment=purchases%3ARepeat+buyers&persona=Deal+hunters"] {
        assert_eq!(raw(a, "GET", bad, std::slice::from_ref(&c), b"").0, 400, "{bad}");
    }
    let (status, _, body) = raw(a, "GET", "/nope", std::slice::from_ref(&c), b"");
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("There is no page /nope"));
    // A query the command refuses is explained on the page, next to the form.
    let (status, _, body) =
        raw(a, "GET", "/funnels?step=Product+Viewed&step=Order+Completed&window=soon", std::slice::from_ref(&c), b"");
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("window"), "{}", String::from_utf8_lossy(&body));
    // A misspelled event is named, with the closest one, not charted as zeros.
    let (status, _, body) =
        raw(a, "GET", "/funnels?step=Product+Viewd&step=Order+Completed", std::slice::from_ref(&c), b"");
    assert_eq!(status, 400);
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("Product Viewd") && body.contains("did you mean"), "{body}");

    // Customers: search by id, then the profile.
    let profile: Value = {
        let (s, body) = http(a, "GET", "/api/clv?customers=true", &[support_bearer(&read)], b"").unwrap();
        assert_eq!(s, 200);
        serde_json::from_slice(&body).unwrap()
    };
    let someone = profile["customer_values"][0]["customer_id"].as_str().unwrap().to_string();
    let (status, _, body) = raw(a, "GET", &format!("/customers?q={someone}"), std::slice::from_ref(&c), b"");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains(&format!("/customers/{someone}")));
    let (status, _, body) = raw(a, "GET", &format!("/customers/{someone}"), std::slice::from_ref(&c), b"");
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, 200);
    assert!(text.contains("Predicted CLV") && text.contains("Touchpoints over time, by channel"), "{text}");

    // Exports: the funnel chart's CSV holds the query API's numbers.
    let q = "step=Product+Viewed&step=Checkout+Started&step=Order+Completed";
    let (status, head, csv) =
        raw(a, "GET", &format!("/funnels/export?{q}&format=csv&chart=funnel"), std::slice::from_ref(&c), b"");
    assert_eq!(status, 200);
    assert!(header(&head, "content-disposition").unwrap().contains("wayfarer-funnel-funnel.csv"));
    let (_, api) = http(a, "GET", &format!("/api/funnel?{q}"), &[support_bearer(&read)], b"").unwrap();
    let api: Value = serde_json::from_slice(&api).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let counts: Vec<u64> = csv.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect();
    let expected: Vec<u64> =
        api["steps"].as_array().unwrap().iter().map(|s| s["customers"].as_u64().unwrap()).collect();
    assert_eq!(counts, expected);
    assert!(csv.starts_with("step,customers,conversion_from_previous"));
    for (path, magic) in [
        (format!("/funnels/export?{q}&format=png&chart=funnel"), &b"\x89PNG"[..]),
        (format!("/funnels/export?{q}&format=svg&chart=funnel"), b"<svg"),
        (format!("/funnels/export?{q}&format=xlsx"), b"PK"),
        (format!("/funnels/export?{q}&format=html"), b"<!DOCTYPE html>"),
        ("/export?format=png".to_string(), b"\x89PNG"),
        ("/export?format=svg".to_string(), b"<svg"),
        ("/export?format=xlsx".to_string(), b"PK"),
        ("/export?format=html".to_string(), b"<!DOCTYPE html>"),
        ("/export?format=csv".to_string(), b"stage,lane,item,metric,value"),
        ("/retention/export?format=csv&chart=cohorts".to_string(), b"cohort,size,week_0"),
    ] {
        let (status, _, body) = raw(a, "GET", &path, std::slice::from_ref(&c), b"");
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        assert!(
            body.starts_with(magic),
            "{path} starts with {:?}",
            String::from_utf8_lossy(&body[..body.len().min(40)])
        );
    }
    // The exported HTML report is self-contained: no scripts, no external files.
    let (_, _, html) = raw(a, "GET", "/export?format=html", std::slice::from_ref(&c), b"");
    let html = String::from_utf8(html).unwrap();
    assert!(!html.contains("<script") && !html.contains("href=\"http") && !html.contains("src=\""));
    let (status, _, body) = raw(
        a,
        "GET",
        "/funnels/export?step=Product%20Viewed&step=Order%20Completed&format=png&chart=nope",
        std::slice::from_ref(&c),
        b"",
    );
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("no chart or table 'nope'"));

    // A note on a cell: added, listed, shown on the cell; kept across a restart.
    let note = "Shipping shock — test the cost on the product page (http)";
    let back = "/?cell=Decision|pain";
    let (status, head, _) = raw(
        a,
        "POST",
        "/notes",
        &[c.clone(), form_type()],
        &form(&[
            ("stage", "Decision"),
            ("lane", "pain"),
            ("hypothesis", note),
            ("owner", "Bo"),
            ("status", "open"),
            ("back", back),
        ]),
    );
    assert_eq!(status, 303);
    assert_eq!(header(&head, "location"), Some("/?cell=Decision|pain"));
    let (s, _, _) = raw(
        a,
        "POST",
        "/notes",
        &[form_type()],
        &form(&[("stage", "Decision"), ("lane", "pain"), ("hypothesis", "x")]),
    );
    assert_eq!(s, 401, "notes need a session");
    let cross = [c.clone(), form_type(), ("Origin", "http://evil.example".to_string())];
    let (s, _, _) =
        raw(a, "POST", "/notes", &cross, &form(&[("stage", "Decision"), ("lane", "pain"), ("hypothesis", "x")]));
    assert_eq!(s, 403, "a form from another site is refused");
    server.stop();
    let server = Server::start(&dir);
    let a = server.addr;
    let (_, body) = http(a, "GET", "/api/notes", &[support_bearer(&read)], b"").unwrap();
    let notes: Vec<Value> = serde_json::from_slice(&body).unwrap();
    let mine = notes.iter().find(|n| n["hypothesis"] == note).expect("the note survived the restart");
    assert_eq!(mine["cell"]["stage"], "Decision");
    assert_eq!(mine["owner"], "Bo");
    let (_, _, page) = raw(a, "GET", "/?cell=Decision%7Cpain", std::slice::from_ref(&c), b"");
    assert!(String::from_utf8_lossy(&page).contains(note));
    let id = mine["id"].as_u64().unwrap();
    let (status, _, _) = raw(
        a,
        "POST",
        &format!("/notes/{id}"),
        &[c.clone(), form_type()],
        &form(&[("action", "status"), ("status", "confirmed"), ("back", "/")]),
    );
    assert_eq!(status, 303);
    let (status, _, _) = raw(
        a,
        "POST",
        &format!("/notes/{id}"),
        &[c.clone(), form_type()],
        &form(&[("action", "delete"), ("back", "/")]),
    );
    assert_eq!(status, 303);
    let (_, body) = http(a, "GET", "/api/notes", &[support_bearer(&read)], b"").unwrap();
    assert!(!String::from_utf8_lossy(&body).contains(note));

    // A revoked token ends the session at the next request.
    wayfarer(&dir, &["keys", "revoke", "http-test"]);
    assert_eq!(raw(a, "GET", "/settings", &[c], b"").0, 303);
    server.stop();
}

fn support_bearer(t: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {t}"))
}

#[test]
fn the_cli_exports_the_same_charts() {
    let dir = data();
    let out = tempfile::tempdir().unwrap();
    let file = |n: &str| out.path().join(n);
    let d = dir.to_str().unwrap();
    let run = |args: &[&str]| {
        let o = support::run(out.path(), &[args, &["--data", d, "--quiet"]].concat());
        (o.out.status.success(), o.stdout() + &o.stderr())
    };
    let png = file("funnel.png");
    let (ok, msg) = run(&["funnel", "Product Viewed", "Order Completed", "--export", png.to_str().unwrap()]);
    assert!(ok, "{msg}");
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    let csv = file("cohorts.csv");
    let (ok, msg) = run(&["retention", "--export", csv.to_str().unwrap(), "--chart", "cohorts"]);
    assert!(ok, "{msg}");
    assert!(std::fs::read_to_string(&csv).unwrap().starts_with("cohort,size,week_0"));
    for (args, name, magic) in [
        (vec!["attribution"], "attribution.xlsx", &b"PK"[..]),
        (vec!["paths", "--from-event", "Product Viewed"], "paths.svg", b"<svg"),
        (vec!["surveys"], "surveys.html", b"<!DOCTYPE html>"),
    ] {
        let f = file(name);
        let mut a = args.clone();
        a.extend(["--export", f.to_str().unwrap()]);
        let (ok, msg) = run(&a);
        assert!(ok, "{a:?}: {msg}");
        assert!(std::fs::read(&f).unwrap().starts_with(magic), "{name}");
    }
    let map = file("map.png");
    let (ok, msg) = run(&["map", "--format", "png", "--out", map.to_str().unwrap()]);
    assert!(ok, "{msg}");
    assert!(std::fs::read(&map).unwrap().starts_with(b"\x89PNG"));
    // Unknown charts and formats are named.
    let (ok, msg) =
        run(&["funnel", "Product Viewed", "Order Completed", "--export", png.to_str().unwrap(), "--chart", "pie"]);
    assert!(!ok && msg.contains("no chart or table 'pie'") && msg.contains("time-to-convert"), "{msg}");
    let (ok, msg) = run(&["retention", "--export", file("x.pdf").to_str().unwrap()]);
    assert!(!ok && msg.contains(".svg, .png, .csv, .xlsx or .html"), "{msg}");
}

fn node_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "the dashboard's browser test needs Node.js and playwright-core: cd {} && npm ci (.ci/run does this)",
        dir.display()
    );
    dir
}

#[test]
fn the_dashboard_in_headless_chromium() {
    let browser = node_dir();
    let dir = data();
    let read = token(&dir, "--read", "browser-test");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    let _one = one_server();
    let _ = std::fs::remove_dir_all(&shots);
    let run = |phase: &str, server: &Server| {
        let o = Command::new("node")
            .current_dir(&browser)
            .arg("dashboard.mjs")
            .arg(phase)
            .arg(format!("http://{}", server.addr))
            .arg(&read)
            .arg(&shots)
            .output()
            .expect("run node (Node.js is needed for the browser tests)");
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(
            o.status.success(),
            "browser phase '{phase}' failed (screenshots in {}):\n{out}\n{}",
            shots.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        out
    };
    // With the background computation of pages, as `wayfarer serve` runs by default.
    let server = Server::start_with(&dir, &[]);
    let first: Value = serde_json::from_str(run("first", &server).trim()).unwrap();
    server.stop();
    let server = Server::start_with(&dir, &[]);
    run("after-restart", &server);
    server.stop();
    assert_eq!(first["pages"].as_array().unwrap().len(), 16, "{first}");
    assert!(first["map_png_bytes"].as_u64().unwrap() > 5000);
    for name in [
        "01-journey-map",
        "02-funnels",
        "09-what-changed",
        "10-opportunities",
        "14-triggers",
        "16-settings",
        "20-map-persona",
        "21-map-cell-note",
        "22-funnel-built",
        "30-note-after-restart",
    ] {
        assert!(shots.join(format!("{name}.png")).is_file(), "no screenshot {name}");
    }
    eprintln!("dashboard screenshots: {}", shots.display());
}

#[test]
fn segments_in_headless_chromium() {
    let browser = node_dir();
    let dir = data();
    let admin = token(&dir, "--admin", "segments-admin");
    let read = token(&dir, "--read", "segments-reader");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("segments-screenshots");
    let _one = one_server();
    let _ = std::fs::remove_dir_all(&shots);
    let server = Server::start_with(&dir, &[]);
    let o = Command::new("node")
        .current_dir(&browser)
        .arg("segments.mjs")
        .arg(format!("http://{}", server.addr))
        .args([&admin, &read])
        .arg(&shots)
        .output()
        .expect("run node (Node.js is needed for the browser tests)");
    server.stop();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "segments in Chromium failed (screenshots in {}):\n{out}\n{}",
        shots.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(report["members"].as_u64().unwrap() > 0 && report["reader_refused"] == true, "{report}");
    assert!(report["funnel_dropped"].as_u64().unwrap() > 0, "{report}");
    // What the browser saved is what the CLI sees.
    let listed: Value = serde_json::from_str(&wayfarer(&dir, &["segments", "list", "--json"])).unwrap();
    let saved =
        listed.as_array().unwrap().iter().find(|s| s["name"] == "Browser buyers").expect("the segment was saved");
    assert_eq!(saved["condition"], "did 'Order Completed' >= 2");
    assert!(!listed.as_array().unwrap().iter().any(|s| s["name"] == "Reader buyers"), "a read token saved a segment");
    wayfarer(&dir, &["segments", "delete", "Browser buyers", "--quiet"]);
}

#[test]
fn the_home_page_follows_new_data() {
    // A small store of its own: this test writes.
    let t = tempfile::tempdir().unwrap();
    let csv = t.path().join("events.csv");
    let mut text = String::from("customer_id,timestamp,event,revenue\n");
    for i in 0..30 {
        text.push_str(&format!("c{i},2026-03-{:02}T10:00:00Z,Page Viewed,\n", 1 + i % 20));
        if i % 3 == 0 {
            text.push_str(&format!("c{i},2026-03-{:02}T10:30:00Z,Order Completed,25\n", 1 + i % 20));
        }
    }
    std::fs::write(&csv, text).unwrap();
    let dir = t.path().join("data");
    wayfarer(&dir, &["import", csv.to_str().unwrap(), "--quiet"]);
    let read = token(&dir, "--read", "follow");
    let write = token(&dir, "--write", "follow-write");
    let server = Server::start_with(&dir, &[]);
    let a = server.addr;
    let home = || String::from_utf8(raw(a, "GET", "/", &[cookie(&read)], b"").2).unwrap();
    assert!(home().contains("30 customers"), "{}", home());
    // The settings page's data check is kept per data generation too.
    let settings = || String::from_utf8(raw(a, "GET", "/settings", &[cookie(&read)], b"").2).unwrap();
    assert!(settings().contains("Checked 30 customers"), "{}", settings());
    assert!(settings().contains("Checked 30 customers"));
    let batch = serde_json::json!({"batch": (0..5).map(|i| serde_json::json!({
        "type": "track", "userId": format!("new{i}"), "event": "Page Viewed", "timestamp": "2026-03-21T09:00:00Z"
    })).collect::<Vec<_>>()});
    let auth = {
        use base64::Engine;
        ("Authorization", format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{write}:"))))
    };
    let (status, _) = http(
        a,
        "POST",
        "/v1/batch",
        &[auth, ("Content-Type", "application/json".into())],
        batch.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(status, 200);
    // The page is recomputed in the background after the commit (every 10 s at most).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !home().contains("35 customers") {
        assert!(std::time::Instant::now() < deadline, "the home page never showed the new customers");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    // A cached check is shown for at most half a minute after new data.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !settings().contains("Checked 35 customers") {
        assert!(std::time::Instant::now() < deadline, "the settings page never checked the new customers");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    server.stop();
}

/// The `href`s inside the map page's cell detail.
fn detail_links(html: &str) -> Vec<String> {
    let Some(start) = html.find(r#"id="detail""#) else { return Vec::new() };
    let detail = &html[start..];
    let end = detail.find("</aside>").or_else(|| detail.find("</section>")).unwrap_or(detail.len());
    detail[..end]
        .split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|h| h.replace("&amp;", "&"))
        .filter(|h| h.starts_with('/') && !h.starts_with("/?"))
        .collect()
}

#[test]
fn every_link_of_the_map_leads_to_its_evidence() {
    let dir = data();
    let read = token(&dir, "--read", "links-test");
    let _one = one_server();
    let server = Server::start(&dir);
    let a = server.addr;
    let c = cookie(&read);
    let (s, map) = http(a, "GET", "/api/map", &[support::bearer(&read)], b"").unwrap();
    assert_eq!(s, 200);
    let map: Value = serde_json::from_slice(&map).unwrap();
    let stages = map["stages"].as_array().unwrap();
    let mut followed = 0;
    let mut agreed = 0;
    for stage in stages {
        let name = stage["name"].as_str().unwrap();
        for lane in [
            "conversion",
            "touchpoints",
            "actions",
            "channels",
            "emotion",
            "value",
            "pain",
            "opportunities",
            "verbatims",
        ] {
            let cell = format!("/?cell={}%7C{lane}", name.replace(' ', "+"));
            let (status, _, body) = raw(a, "GET", &cell, std::slice::from_ref(&c), b"");
            assert_eq!(status, 200, "{cell}");
            for link in detail_links(&String::from_utf8_lossy(&body)) {
                let (status, _, page) = raw(a, "GET", &link, std::slice::from_ref(&c), b"");
                let page = String::from_utf8_lossy(&page);
                assert_eq!(status, 200, "{name}/{lane}: {link} answers {status}: {page}");
                assert!(!page.contains("could not run") && !page.contains("No data"), "{name}/{lane}: {link}: {page}");
                followed += 1;
                // A funnel link reproduces the cell's numbers: the same
                // query through the API.
                let Some(q) = link.strip_prefix("/funnels?") else { continue };
                let (s, f) = http(a, "GET", &format!("/api/funnel?{q}"), &[support::bearer(&read)], b"").unwrap();
                assert_eq!(s, 200, "{link}");
                let f: Value = serde_json::from_slice(&f).unwrap();
                let first = f["steps"][0]["customers"].as_u64().unwrap();
                let second = f["steps"][1]["customers"].as_u64();
                let step = f["steps"][0]["name"].as_str().unwrap().to_string();
                let expected: Option<(u64, Option<u64>)> = if step == format!("stage:{name}") {
                    Some((
                        stage["customers"].as_u64().unwrap(),
                        second.map(|_| stage["customers"].as_u64().unwrap() - stage["dropped"].as_u64().unwrap()),
                    ))
                } else if let Some(t) = stage["touchpoints"].as_array().unwrap().iter().find(|t| {
                    step.contains(&format!("touchpoint = '{}'", t["name"].as_str().unwrap().replace('\'', "\\'")))
                }) {
                    let n = t["customers"].as_u64().unwrap();
                    Some((n, t["conversion_with"].as_f64().map(|r| (r * n as f64).round() as u64)))
                } else {
                    stage["actions"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|x| step == format!("{}[in_stage = '{name}']", x["event"].as_str().unwrap()))
                        .map(|x| (x["customers"].as_u64().unwrap(), None))
                };
                if let Some((n, converted)) = expected {
                    assert_eq!(first, n, "{name}/{lane}: {link}: step 1 against the cell");
                    if let (Some(want), Some(got)) = (converted, second) {
                        assert_eq!(got, want, "{name}/{lane}: {link}: step 2 against the cell");
                    }
                    agreed += 1;
                }
            }
        }
    }
    assert!(followed >= 40 && agreed >= 20, "followed {followed} links, {agreed} checked against their cells");
}
