//! MCP with the official client (the `mcp` Python SDK, `tests/clients/mcp_client.py`):
//! over stdio (`wayfarer mcp`) and Streamable HTTP (`POST /mcp`, a read
//! token), the client lists the tools (one per analysis, schemas from the
//! flags), calls three and gets exactly the CLI's JSON, and a misspelled
//! argument or an event that does not exist is answered with the reason.

use std::path::Path;

use serde_json::Value;

mod support;

use support::run as wayfarer;

/// The Python with the `mcp` package (set by .ci/run), else `python3` if it has it.
fn python() -> String {
    let candidates = std::env::var("WAYFARER_TEST_PYTHON").into_iter().chain(["python3".to_string()]);
    for p in candidates {
        let ok = std::process::Command::new(&p).args(["-c", "import mcp"]).output().is_ok_and(|o| o.status.success());
        if ok {
            return p;
        }
    }
    panic!(
        "this test needs the MCP Python SDK: python3 -m venv /tmp/wf-py && /tmp/wf-py/bin/pip install -r \
         crates/wayfarer/tests/clients/requirements.txt, then WAYFARER_TEST_PYTHON=/tmp/wf-py/bin/python (.ci/run does this)"
    );
}

fn client(args: &[&str]) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/mcp_client.py");
    std::process::Command::new(python()).arg(script).args(args).output().expect("run the MCP client")
}

fn store() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/retentioneering/events.parquet");
    wayfarer(t.path(), &["import", "--data", "data", events.to_str().unwrap(), "--quiet"]).ok();
    t
}

/// What the client saw, checked against the CLI on the same data.
fn check(report: &Value, t: &Path) {
    let tools: Vec<&str> = report["tools"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    for want in [
        "map",
        "funnel",
        "paths",
        "retention",
        "surveys",
        "clv",
        "attribution",
        "personas",
        "customers",
        "segments_list",
    ] {
        assert!(tools.contains(&want), "no tool {want}: {tools:?}");
    }
    for tool in report["tools"].as_array().unwrap() {
        assert_eq!(tool["input_schema"]["type"], "object", "{tool}");
        assert!(tool["description"].as_str().unwrap().len() > 40, "{tool}");
    }
    let funnel = report["tools"].as_array().unwrap().iter().find(|x| x["name"] == "funnel").unwrap();
    assert_eq!(funnel["input_schema"]["properties"]["step"]["type"], "array");
    let cli = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--data", "data", "--json"]);
        wayfarer(t, &all).ok().json()
    };
    assert_eq!(report["calls"]["funnel"], cli(&["funnel", "Page Viewed", "Order Completed"]));
    assert_eq!(report["calls"]["paths"], cli(&["paths", "--top", "3"]));
    assert_eq!(report["calls"]["retention"], cli(&["retention", "--period", "week", "--periods", "2"]));
    let typo = report["errors"]["typo"].as_str().unwrap();
    assert!(typo.contains("no argument 'stpe'") && typo.contains("did you mean 'step'"), "{typo}");
    let unknown = report["errors"]["unknown_event"].as_str().unwrap();
    assert!(unknown.contains("Prodct Added") && unknown.contains("did you mean 'Product Added'"), "{unknown}");
}

#[test]
fn an_mcp_client_lists_and_calls_the_tools_over_stdio() {
    let t = store();
    let data = t.path().join("data");
    let o = client(&["stdio", env!("CARGO_BIN_EXE_wayfarer"), data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    check(&report, t.path());
}

#[test]
fn an_mcp_client_lists_and_calls_the_tools_over_http_with_a_read_token() {
    let t = store();
    let data = t.path().join("data");
    let (write, read) = support::keys(&data);
    let server = support::Server::start(&data);
    let url = format!("http://127.0.0.1:{}/mcp", server.addr.port());
    let o = client(&["http", &url, &read]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    check(&report, t.path());
    // A write key (or nothing) is refused.
    let o = client(&["http", &url, &write]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stdout));
    drop(server);
}
