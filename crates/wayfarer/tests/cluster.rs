//! The `distributed` feature end to end: a Ballista scheduler and two
//! executors, each `wayfarer cluster …` as its own process on free loopback
//! ports, and the query commands run with `--cluster` against them. The
//! answers must equal the embedded run's on the same store, byte for byte;
//! both executors must have run tasks; and an executor killed in the middle
//! of a query makes the query either complete with the right answer or fail
//! with an error, never answer wrongly. The same holds for data published to
//! an object store (an S3-compatible server, moto, and a `file://` URL):
//! the executors read the segments from it, and a client reads it without a
//! cluster too. Every process started is killed by its PID when the test
//! ends, also when it fails.
#![cfg(feature = "distributed")]

mod support;

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::{binary, run, wayfarer};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// A scheduler and its executors; dropping it kills them all.
struct Cluster {
    procs: Vec<(String, Child, PathBuf)>,
    url: String,
    work: Vec<PathBuf>,
    /// The environment of every process (an object store's credentials).
    env: Vec<(String, String)>,
    _tmp: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, child, _) in &mut self.procs {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Cluster {
    /// Starts a scheduler and `executors` executors reading under `root`,
    /// and waits until the scheduler says every executor registered.
    fn start(root: &Path, executors: usize) -> Cluster {
        Cluster::start_with(root.to_str().unwrap(), executors, &[])
    }

    /// [`start`](Self::start) with executors reading under `root` (a path
    /// or a URL) and every process given `env`.
    fn start_with(root: &str, executors: usize, env: &[(String, String)]) -> Cluster {
        let tmp = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut c = Cluster {
            procs: Vec::new(),
            url: format!("df://127.0.0.1:{port}"),
            work: Vec::new(),
            env: env.to_vec(),
            _tmp: tmp,
        };
        let bind = format!("127.0.0.1:{port}");
        c.spawn("scheduler", &["cluster", "scheduler", "--bind", &bind, "--executor-timeout", "10s"]);
        wait_until(Duration::from_secs(30), || std::net::TcpStream::connect(&bind).is_ok(), || c.logs());
        let url = c.url.clone();
        for i in 0..executors {
            let work = c._tmp.path().join(format!("work-{i}"));
            std::fs::create_dir_all(&work).unwrap();
            let (p, g) = (free_port().to_string(), free_port().to_string());
            let args = [
                "cluster",
                "executor",
                "--scheduler",
                &url,
                "--port",
                &p,
                "--grpc-port",
                &g,
                "--concurrent-tasks",
                "2",
                "--work-dir",
                work.to_str().unwrap(),
                "--data-root",
                root,
            ];
            c.spawn(&format!("executor {i}"), &args);
            c.work.push(work);
        }
        let want = format!("executors: {executors} registered");
        wait_until(Duration::from_secs(60), || c.log("scheduler").contains(&want), || c.logs());
        c
    }

    fn spawn(&mut self, name: &str, args: &[&str]) {
        let log = self._tmp.path().join(format!("{}.log", name.replace(' ', "-")));
        let file = std::fs::File::create(&log).unwrap();
        // Each process has its own cache (its own copies of object-store data).
        let cache = self._tmp.path().join(format!("cache-{}", name.replace(' ', "-")));
        let child = binary()
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("XDG_CACHE_HOME", cache)
            .current_dir(self._tmp.path())
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        self.procs.push((name.to_string(), child, log));
    }

    fn log(&self, name: &str) -> String {
        let (_, _, path) = self.procs.iter().find(|p| p.0 == name).expect("a process of that name");
        let mut s = String::new();
        let _ = std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut s));
        s
    }

    fn logs(&self) -> String {
        self.procs.iter().map(|(n, _, _)| format!("--- {n}\n{}", self.log(n))).collect::<Vec<_>>().join("\n")
    }

    /// Kills an executor (SIGKILL, by PID).
    fn kill(&mut self, name: &str) {
        let (_, child, _) = self.procs.iter_mut().find(|p| p.0 == name).expect("a process of that name");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

/// The jobs an executor worked on: the directories it keeps per job (its
/// DataFusion scratch directory aside).
fn jobs(work: &Path) -> usize {
    std::fs::read_dir(work)
        .map(|d| d.flatten().filter(|e| !e.file_name().to_string_lossy().starts_with("datafusion-")).count())
        .unwrap_or(0)
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool, diagnosis: impl Fn() -> String) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "not ready after {limit:?}\n{}", diagnosis());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A demo store under a fresh directory: (tempdir, data directory).
fn demo(customers: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    let d = root.join("d");
    let args = ["demo", "--customers", customers, "--seed", "7", "--quiet", "--out", "map.html", "--data"];
    let mut all: Vec<&str> = args.to_vec();
    all.push(d.to_str().unwrap());
    run(&root, &all).ok();
    (tmp, d)
}

const QUERIES: &[&[&str]] = &[
    &["funnel", "Page Viewed", "Product Viewed", "Order Completed", "--json"],
    &["funnel", "Page Viewed", "Order Completed", "--breakdown", "channel", "--trend", "week", "--json"],
    &["paths", "--json"],
    &["paths", "--json", "--match", "'Product Viewed' -> 'Order Completed'"],
    &["retention", "--json"],
    &["retention", "--period", "month", "--json"],
    &["rfm", "--json"],
    &["sessions", "--json"],
    &["map", "--json"],
    &["map", "--json", "--persona", "Deal hunters"],
    &["map", "--json", "--split-by", "first_channel", "--group", "Paid Search"],
    &["funnel", "Page Viewed", "Order Completed", "--segment", "buyers", "--json"],
    &["retention", "--segment", "buyers", "--json"],
];

#[test]
fn a_cluster_of_two_executors_answers_exactly_as_the_embedded_run() {
    let (tmp, d) = demo("1500");
    wayfarer(&d, &["segments", "create", "buyers", "--where", "did 'Order Completed'"]);
    let cluster = Cluster::start(tmp.path(), 2);
    for q in QUERIES {
        let embedded = wayfarer(&d, q);
        let mut args = q.to_vec();
        args.extend(["--cluster", &cluster.url]);
        let clustered = wayfarer(&d, &args);
        assert!(embedded.len() > 100, "{q:?} printed little: {embedded}");
        assert_eq!(clustered, embedded, "{q:?} differs on the cluster\n{}", cluster.logs());
    }
    // A map with personas discovered on the spot: the client fits and saves
    // them during the query, so the executors' replays, which find the
    // saved fit, take another way to the journey fold than the client did.
    let mut args = vec!["map", "--json", "--personas", "discovered", "--cluster", &cluster.url];
    let clustered = wayfarer(&d, &args);
    args.truncate(4);
    assert_eq!(clustered, wayfarer(&d, &args), "the map with discovered personas differs\n{}", cluster.logs());
    // A relative --data (executors run elsewhere): the map's earlier fold's
    // result reaches them at an absolute path.
    let rel = run(tmp.path(), &["map", "--json", "--data", "d", "--cluster", &cluster.url]).ok().stdout();
    assert_eq!(rel, wayfarer(&d, &["map", "--json"]), "a relative --data\n{}", cluster.logs());
    // Snapshots and comparisons are refused, not run partly elsewhere.
    let e = run(tmp.path(), &["map", "--data", "d", "--cluster", &cluster.url, "snapshot"]).fails().stderr();
    assert!(e.contains("--cluster runs the map itself"), "{e}");
    // Both executors ran tasks (each keeps a directory per job it worked on).
    for w in &cluster.work {
        assert!(jobs(w) > 0, "{} ran no task\n{}", w.display(), cluster.logs());
    }
    // A typo is the same error on the cluster as here.
    let mut args = vec!["funnel", "Page Viewd", "Order Completed", "--cluster", &cluster.url, "--data"];
    args.push(d.to_str().unwrap());
    let e = run(tmp.path(), &args).fails().stderr();
    assert!(e.contains("Page Viewd") && e.contains("Page Viewed"), "{e}");
    // The answers came from the cluster: without it, the query fails and says where it went.
    drop(cluster);
    let mut args = vec!["rfm", "--json", "--cluster", "127.0.0.1:9", "--data"];
    args.push(d.to_str().unwrap());
    let e = run(tmp.path(), &args).fails().stderr();
    assert!(e.contains("the cluster at df://127.0.0.1:9"), "{e}");
}

#[test]
fn an_executor_lost_mid_query_never_makes_a_wrong_answer() {
    let (tmp, d) = demo("4000");
    let q = ["map", "--json"];
    let embedded = wayfarer(&d, &q);
    let mut cluster = Cluster::start(tmp.path(), 2);
    let mut query = binary()
        .args(q)
        .args(["--cluster", &cluster.url, "--data", d.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill an executor once the query's job has tasks on it.
    let work = cluster.work[0].clone();
    wait_until(Duration::from_secs(60), || jobs(&work) > 0, || cluster.logs());
    let running = query.try_wait().unwrap().is_none();
    cluster.kill("executor 0");
    let started = Instant::now();
    let out = query.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!(
        "after the loss the query {} in {:?}: {}",
        if out.status.success() { "completed" } else { "failed" },
        started.elapsed(),
        stderr.trim()
    );
    if out.status.success() {
        assert_eq!(stdout, embedded, "the query completed with another answer\n{stderr}\n{}", cluster.logs());
    } else {
        assert!(stdout.is_empty(), "a failed query printed an answer: {stdout}");
        assert!(stderr.contains("cluster"), "the error does not say the cluster failed: {stderr}");
    }
    assert!(running, "the query ended before the executor was killed: make the data larger");
    assert!(started.elapsed() < Duration::from_secs(120), "the query took {:?} after the loss", started.elapsed());
}

/// An S3-compatible server (moto, from tests/clients/requirements.txt) on a
/// free loopback port; dropping it kills it.
struct S3 {
    child: Child,
    endpoint: String,
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3 {
    fn start(log: &Path) -> S3 {
        let candidates = std::env::var("WAYFARER_TEST_PYTHON").into_iter().chain(["python3".to_string()]);
        let python = candidates
            .into_iter()
            .find(|py| {
                std::process::Command::new(py).args(["-c", "import moto.server"]).output().is_ok_and(|o| o.status.success())
            })
            .expect(
                "this test needs moto, an S3-compatible server: python3 -m venv /tmp/wf-py && /tmp/wf-py/bin/pip install \
                 -r crates/wayfarer/tests/clients/requirements.txt, then WAYFARER_TEST_PYTHON=/tmp/wf-py/bin/python \
                 (.ci/run does this)",
            );
        let port = free_port();
        let file = std::fs::File::create(log).unwrap();
        let child = std::process::Command::new(python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("starting moto");
        let s3 = S3 { child, endpoint: format!("http://127.0.0.1:{port}") };
        let addr = format!("127.0.0.1:{port}");
        wait_until(
            Duration::from_secs(60),
            || std::net::TcpStream::connect(&addr).is_ok(),
            || std::fs::read_to_string(log).unwrap_or_default(),
        );
        s3
    }

    /// Creates a bucket.
    fn bucket(&self, name: &str) {
        ureq::put(&format!("{}/{name}", self.endpoint)).send_empty().expect("creating a bucket");
    }

    /// What every Wayfarer process needs to reach it.
    fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", "wayfarer-test"),
            ("AWS_SECRET_ACCESS_KEY", "wayfarer-test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

#[test]
fn data_published_to_an_object_store_gives_the_local_answers_on_a_cluster_and_here() {
    let (tmp, d) = demo("1500");
    let root = d.parent().unwrap().to_path_buf();
    wayfarer(&d, &["segments", "create", "buyers", "--where", "did 'Order Completed'"]);
    let s3 = S3::start(&root.join("moto.log"));
    s3.bucket("journeys");
    let url = "s3://journeys/acme";
    let env = s3.env();
    // A client process: the object store's environment, its own cache.
    let client = |args: &[&str]| {
        let out = binary()
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("XDG_CACHE_HOME", root.join("cache-client"))
            .current_dir(&root)
            .output()
            .expect("run wayfarer");
        support::Run { out, args: args.iter().map(ToString::to_string).collect() }
    };
    let published = client(&["cluster", "publish", "--data", d.to_str().unwrap(), url, "--json"]).json();
    assert!(published["uploaded"].as_u64().unwrap() >= 4 && published["removed"] == 0, "{published}");

    let cluster = Cluster::start_with("s3://journeys", 2, &env);
    let checked: &[&[&str]] = &[QUERIES[0], QUERIES[3], QUERIES[5], QUERIES[8], QUERIES[10], QUERIES[12]];
    for q in checked {
        let embedded = wayfarer(&d, q);
        let mut args = q.to_vec();
        args.extend(["--data", url, "--cluster", &cluster.url]);
        assert_eq!(client(&args).ok().stdout(), embedded, "{q:?} differs on the cluster from S3\n{}", cluster.logs());
        // Without a cluster, the client reads its own copy.
        args.truncate(args.len() - 2);
        assert_eq!(client(&args).ok().stdout(), embedded, "{q:?} differs read from S3 here");
    }
    // The executors read the segments from the bucket, not from a copy.
    for i in 0..2 {
        let copy = cluster._tmp.path().join(format!("cache-executor-{i}"));
        let segments = walk(&copy).into_iter().filter(|p| p.extension().is_some_and(|e| e == "parquet"));
        assert!(
            segments.filter(|p| p.to_string_lossy().contains("segments")).count() == 0,
            "executor {i} copied segments"
        );
    }

    // A change where the data lives reaches the cluster once published.
    wayfarer(&d, &["segments", "create", "browsers", "--where", "not did 'Order Completed'"]);
    let q = ["funnel", "Page Viewed", "Product Viewed", "--segment", "browsers", "--json"];
    let mut args = q.to_vec();
    args.extend(["--data", url, "--cluster", &cluster.url]);
    let e = client(&args).fails().stderr();
    assert!(e.contains("browsers") && e.contains("buyers"), "an unknown segment names the known: {e}");
    client(&["cluster", "publish", "--data", d.to_str().unwrap(), url]).ok();
    assert_eq!(client(&args).ok().stdout(), wayfarer(&d, &q), "after the publish\n{}", cluster.logs());

    // Writes go to the data directory, not to the object store or its copy.
    let e = client(&["segments", "create", "x", "--where", "did 'Order Completed'", "--data", url]).fails().stderr();
    assert!(e.contains("object store") && e.contains("publish"), "{e}");
    let copy = walk(&root.join("cache-client")).into_iter().find(|p| p.ends_with("ORIGIN")).unwrap();
    let copy = copy.parent().unwrap().to_str().unwrap().to_string();
    let one = root.join("one.ndjson");
    std::fs::write(&one, r#"{"type":"track","event":"Page Viewed","userId":"u1","timestamp":"2025-01-01T00:00:00Z"}"#)
        .unwrap();
    let e = client(&["import", "--data", &copy, one.to_str().unwrap()]).fails().stderr();
    assert!(e.contains("read-only copy of s3://journeys/acme"), "{e}");

    // A store out of reach: an error naming the URL, and a hint at the
    // variables that say where the store is.
    let out = binary()
        .args(["rfm", "--json", "--data", url])
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("XDG_CACHE_HOME", root.join("cache-client"))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("s3://journeys/acme/manifest.json") && e.contains("AWS_ENDPOINT_URL"),
        "{e}"
    );

    // A prefix nothing was published to says so and how to publish.
    let e = client(&["rfm", "--json", "--data", "s3://journeys/acmee"]).fails().stderr();
    assert!(e.contains("s3://journeys/acmee holds no published Wayfarer data") && e.contains("cluster publish"), "{e}");

    // A file:// URL, through the same code; the scratch of the map's
    // earlier fold is gone when the query ends.
    let bucket = tmp.path().join("bucket");
    std::fs::create_dir_all(&bucket).unwrap();
    let file_url = format!("file://{}", std::fs::canonicalize(&bucket).unwrap().display());
    client(&["cluster", "publish", "--data", d.to_str().unwrap(), &file_url]).ok();
    let local = Cluster::start_with(&file_url, 1, &env);
    let got = client(&["map", "--json", "--data", &file_url, "--cluster", &local.url]).ok().stdout();
    assert_eq!(got, wayfarer(&d, &["map", "--json"]), "the map from a file:// URL\n{}", local.logs());
    assert!(walk(&bucket.join("cluster")).is_empty(), "scratch left: {:?}", walk(&bucket.join("cluster")));
    // An executor refuses data outside its --data-root.
    let e = client(&["rfm", "--json", "--data", url, "--cluster", &local.url]).fails().stderr();
    assert!(e.contains("outside this executor's data root"), "{e}");
}

/// The files under a directory, recursively.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}
