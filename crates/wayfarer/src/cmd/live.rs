//! `wayfarer simulate --live`: the synthetic company played against a
//! running server in accelerated time. The server's clock (from
//! `/healthz`) sets the pace; the customers' events go to `/v1/batch` as
//! an SDK sends them; the triggers' webhooks arrive on a small receiver,
//! and customers react with the known true effects of
//! [`wayfarer_sim::live`]: they answer the hosted survey, a friend clicks
//! the referral link and orders with the code, or they order after a
//! reminder. At the end each trigger's true lift goes to `--truth`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use wayfarer_core::time::{Clock, MICROS_PER_DAY, MICROS_PER_HOUR, format_rfc3339, parse_timestamp};
use wayfarer_sim::live::{self, Offer, Playback, Received};
use wayfarer_sim::{SimConfig, generate};

use crate::cli::SimulateArgs;
use crate::progress::{Progress, done};

/// Messages per batch (well under Segment's 500 KB).
const BATCH: usize = 200;
/// How long the receiver keeps listening after the play stops, for the
/// actions that came due just before.
const GRACE: Duration = Duration::from_secs(6);
/// A survey answer is stamped by the server when it arrives: it counts as
/// in time only if it is due this long before the goal's window closes.
const ANSWER_MARGIN: i64 = 3 * MICROS_PER_HOUR;

/// A reaction waiting for its time.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    /// Answer a hosted survey (its URL and kind).
    Answer { url: String, score: u32 },
    /// A friend clicks a referral link.
    Click { url: String },
    /// A track event (a reminder's order, a referred friend's order).
    Send { message: String },
}

pub fn run(args: &SimulateArgs, customers: usize, progress: Progress) -> Result<()> {
    let server = args.server.as_deref().unwrap_or_default().trim_end_matches('/').to_string();
    let key = args.write_key.clone().unwrap_or_default();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent("Wayfarer-Simulator/1")
        .build()
        .into();
    // The server's clock, mirrored here.
    let text = agent
        .get(format!("{server}/healthz"))
        .call()
        .with_context(|| format!("reaching {server}/healthz"))?
        .body_mut()
        .read_to_string()
        .context("reading /healthz")?;
    let health: Value = serde_json::from_str(&text).context("reading /healthz")?;
    let (Some(now), Some(speed)) = (health["clock"]["now"].as_str(), health["clock"]["speed"].as_f64()) else {
        bail!("{server}/healthz does not tell the server's clock (is it a Wayfarer server of this version?)");
    };
    let clock = Clock::accelerated(parse_timestamp(now).map_err(anyhow::Error::msg)?, speed);
    if speed < 100.0 {
        eprintln!(
            "note: the server's clock runs at {speed}x real time, so {} days take {:.1} hours; start it with \
             `serve --clock-start DATE --clock-speed 21600` for a day in four seconds",
            args.days,
            f64::from(args.days) * 24.0 / speed
        );
    }
    // The company starts a minute of clock time from now.
    let start = (clock.now_us() / 60_000_000 + 1) * 60_000_000;
    let sim = SimConfig { seed: args.seed, customers, days: args.days, start_micros: start, intervention: None };
    let pb = progress.spinner(&format!("Simulating {customers} customers"));
    let company = generate(&sim);
    done(
        &pb,
        &format!("Simulated {} events from {}", wayfarer_render::count(company.len() as u64), format_rfc3339(start)),
    );
    let mut playback = Playback::new(&company);
    let stop = sim.end_micros() + i64::from(args.tail) * MICROS_PER_DAY;

    let (tx, actions) = mpsc::channel::<Vec<u8>>();
    let listener = TcpListener::bind(args.listen).with_context(|| format!("listening on {}", args.listen))?;
    std::thread::spawn(move || receive(&listener, &tx));
    eprintln!(
        "Playing {} days ({} of real time) against {server}; webhooks on http://{}",
        args.days + args.tail,
        wayfarer_core::time::format_duration_seconds((stop - clock.now_us()) as f64 / 1e6 / speed),
        args.listen
    );

    let mut queue: BinaryHeap<Reverse<(i64, u64, Step)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut seen: HashSet<String> = HashSet::new();
    let mut received: Vec<Received> = Vec::new();
    let mut reactions: Vec<(u32, &'static str, i64, String)> = Vec::new();
    let mut sent = 0usize;
    let mut last_report = Instant::now();
    loop {
        let now = clock.now_us();
        loop {
            let batch = playback.due(now.min(stop), BATCH)?;
            if batch.is_empty() {
                break;
            }
            sent += batch.len();
            post_batch(&agent, &server, &key, &batch)?;
        }
        while queue.peek().is_some_and(|Reverse((at, _, _))| *at <= now) {
            let Some(Reverse((_, _, step))) = queue.pop() else { break };
            perform(&agent, &server, &key, step)?;
        }
        while let Ok(body) = actions.try_recv() {
            let Ok(payload) = serde_json::from_slice::<Value>(&body) else { continue };
            let Some(r) = react(args.seed, &payload, &playback, now, stop, &mut seen) else { continue };
            if r.1.is_some() {
                let (customer, event, at) = r.2;
                reactions.push((customer, event, at, r.0.occurrence.clone()));
            }
            for (at, step) in r.1.into_iter().flatten() {
                seq += 1;
                queue.push(Reverse((at, seq, step)));
            }
            received.push(r.0);
        }
        if now >= stop {
            break;
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            eprintln!(
                "  {}: {} events sent, {} actions received",
                format_rfc3339(now),
                wayfarer_render::count(sent as u64),
                received.len()
            );
            last_report = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Actions that came due before the stop may still be on their way.
    let until = Instant::now() + GRACE;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        let Ok(body) = actions.recv_timeout(left) else { break };
        let Ok(payload) = serde_json::from_slice::<Value>(&body) else { continue };
        if let Some(r) = react(args.seed, &payload, &playback, stop, stop, &mut seen) {
            received.push(r.0);
        }
    }
    received.retain(|r| r.due_at_us <= stop);
    let truth = live::truth(&playback, &received, &reactions, stop);
    say!("Played {} events; {} actions received until {}", sent, received.len(), format_rfc3339(stop));
    say!("{:<28} {:>7} {:>8} {:>8} {:>8} {:>10}", "trigger", "acted", "on own", "reacted", "p", "true diff");
    for t in &truth {
        say!(
            "{:<28} {:>7} {:>8} {:>8} {:>8.2} {:>+9.1}{}",
            t.trigger,
            t.acted,
            t.reached_on_their_own,
            t.reacted,
            t.probability,
            t.true_difference * 100.0,
            if t.unmeasured.is_some() { "  (not measurable: see the truth file)" } else { " pt" }
        );
    }
    if let Some(path) = &args.truth {
        let doc = json!({
            "server": server,
            "clock_speed": speed,
            "started_at": format_rfc3339(start),
            "stopped_at": format_rfc3339(stop),
            "events_sent": sent,
            "effects": live::EFFECTS,
            "triggers": truth,
            "actions": received,
            "note": "Compare with `wayfarer triggers report NAME --until STOPPED_AT --json`: \
                     its difference estimates true_difference.",
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        say!("Wrote {}", path.display());
    }
    Ok(())
}

/// What the simulator does about one action: its record, the steps of the
/// reaction (if the customer reacts in time), and the goal event the
/// reaction produces (customer, event, time).
type Reaction = (Received, Option<Vec<(i64, Step)>>, (u32, &'static str, i64));

fn react(
    seed: u64,
    payload: &Value,
    playback: &Playback<'_>,
    now: i64,
    stop: i64,
    seen: &mut HashSet<String>,
) -> Option<Reaction> {
    let occurrence = payload["occurrence_id"].as_str()?.to_string();
    // A re-delivered action (same idempotency key) is the same action.
    if !seen.insert(occurrence.clone()) {
        return None;
    }
    let time = |v: &Value| v.as_str().and_then(|s| parse_timestamp(s).ok());
    let offer = Offer::of(payload);
    let customer_id = payload["customer"]["id"].as_str().unwrap_or_default().to_string();
    let who = playback.customer(&customer_id);
    let goal_by = time(&payload["goal"]["by"]);
    let reacting = live::reacts(seed, &occurrence, offer) && who.is_some();
    let first = now + live::delay(seed, &occurrence, "react");
    let mut steps = Vec::new();
    let goal_at = match offer {
        Offer::Survey => {
            steps.push((
                first,
                Step::Answer {
                    url: payload["survey"]["url"].as_str().unwrap_or_default().to_string(),
                    score: live::score(seed, &occurrence, payload["survey"]["kind"].as_str().unwrap_or("csat")),
                },
            ));
            first + ANSWER_MARGIN
        }
        Offer::Referral => {
            let order_at = first + live::delay(seed, &occurrence, "order");
            let friend = format!("friend-{}", &occurrence[..occurrence.len().min(12)]);
            steps.push((
                first,
                Step::Click { url: payload["referral"]["url"].as_str().unwrap_or_default().to_string() },
            ));
            let message = track(
                &friend,
                true,
                "Order Completed",
                &format!("live-referred-{occurrence}"),
                order_at,
                &json!({
                    "order_id": format!("R-{}", &occurrence[..occurrence.len().min(10)]),
                    "revenue": 60.0,
                    "referral_code": payload["referral"]["code"],
                    "coupon": payload["referral"]["discount_code"],
                }),
            );
            steps.push((order_at, Step::Send { message }));
            order_at
        }
        Offer::Reminder => {
            let (c, user) = who.unwrap_or((0, true));
            let message = track(
                &customer_id,
                user,
                "Order Completed",
                &format!("live-reminded-{occurrence}"),
                first,
                &json!({
                    "order_id": format!("L-{}", &occurrence[..occurrence.len().min(10)]),
                    "revenue": (playback.order_value(c) * 100.0).round() / 100.0,
                    "currency": "USD",
                }),
            );
            steps.push((first, Step::Send { message }));
            first
        }
    };
    let in_time = goal_by.is_some_and(|by| goal_at <= by.min(stop));
    let record = Received {
        trigger: payload["trigger"].as_str().unwrap_or_default().to_string(),
        occurrence,
        customer: customer_id,
        offer,
        occurred_at_us: time(&payload["occurred_at"]).unwrap_or(now),
        due_at_us: time(&payload["due_at"]).unwrap_or(now),
        goal_by_us: goal_by,
        goal: payload["goal"]["what"].as_str().map(str::to_string),
        goal_at_us: goal_at,
        reacts: reacting && in_time,
    };
    let produced = (who.map_or(0, |w| w.0), offer.goal_event(), goal_at);
    let steps = (reacting && in_time).then_some(steps);
    Some((record, steps, produced))
}

fn track(id: &str, user: bool, event: &str, message_id: &str, at: i64, properties: &Value) -> String {
    let who = if user { "userId" } else { "anonymousId" };
    json!({
        "type": "track",
        "event": event,
        who: id,
        "messageId": message_id,
        "timestamp": format_rfc3339(at),
        "properties": properties,
        "context": {"library": {"name": "wayfarer-simulator", "version": env!("CARGO_PKG_VERSION")}},
    })
    .to_string()
}

fn perform(agent: &ureq::Agent, server: &str, key: &str, step: Step) -> Result<()> {
    match step {
        Step::Send { message } => post_batch(agent, server, key, &[message]),
        Step::Click { url } => {
            // The link is followed only to the redirect.
            let status = agent.get(&url).call().map(|r| r.status().as_u16()).unwrap_or(0);
            if status != 302 && status != 303 {
                eprintln!("warning: the referral link {url} answered {status}, not a redirect");
            }
            Ok(())
        }
        Step::Answer { url, score } => {
            let status = agent
                .post(&url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .send(format!("score={score}&comment="))
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            if status != 200 {
                eprintln!("warning: answering the survey at {url} got {status}");
            }
            Ok(())
        }
    }
}

/// Sends messages as one Segment batch, retrying as an SDK does while the
/// server is busy (429, 5xx, no connection).
fn post_batch(agent: &ureq::Agent, server: &str, key: &str, messages: &[String]) -> Result<()> {
    let body = format!("{{\"writeKey\":{},\"batch\":[{}]}}", Value::from(key), messages.join(","));
    let mut wait = Duration::from_millis(50);
    for attempt in 1..=8 {
        match agent.post(format!("{server}/v1/batch")).header("Content-Type", "application/json").send(&body) {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(mut r) if r.status().as_u16() != 429 && r.status().as_u16() < 500 => {
                let status = r.status().as_u16();
                let text = r.body_mut().read_to_string().unwrap_or_default();
                bail!("{server}/v1/batch refused a batch: HTTP {status}: {text}");
            }
            Ok(_) | Err(_) if attempt < 8 => {
                std::thread::sleep(wait);
                wait *= 2;
            }
            Ok(r) => bail!("{server}/v1/batch: HTTP {}", r.status().as_u16()),
            Err(e) => bail!("{server}/v1/batch: {e}"),
        }
    }
    Ok(())
}

/// A minimal HTTP/1.1 receiver for webhooks: every POST's body goes to
/// `tx` and is answered 200 (keep-alive), each connection on its thread.
fn receive(listener: &TcpListener, tx: &mpsc::Sender<Vec<u8>>) {
    for stream in listener.incoming().flatten() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let _ = serve_connection(stream, &tx);
        });
    }
}

fn serve_connection(stream: TcpStream, tx: &mpsc::Sender<Vec<u8>>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length.min(16 << 20)];
        reader.read_exact(&mut body)?;
        writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")?;
        if !body.is_empty() && tx.send(body).is_err() {
            return Ok(());
        }
    }
}
