//! The `distributed` feature end to end: a Ballista scheduler and two
//! executors, each `wayfarer cluster …` as its own process on free loopback
//! ports, and the query commands run with `--cluster` against them. The
//! answers must equal the embedded run's on the same store, byte for byte;
//! both executors must have run tasks; and an executor killed in the middle
//! of a query makes the query either complete with the right answer or fail
//! with an error, never answer wrongly. Every process started is killed by
//! its PID when the test ends, also when it fails.
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
        let tmp = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut c = Cluster { procs: Vec::new(), url: format!("df://127.0.0.1:{port}"), work: Vec::new(), _tmp: tmp };
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
                root.to_str().unwrap(),
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
        let child = binary()
            .args(args)
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
