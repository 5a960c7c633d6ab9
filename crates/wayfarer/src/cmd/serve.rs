//! `wayfarer serve`, `wayfarer mcp` and `wayfarer keys`.

use std::time::Duration;

use anyhow::{Context, Result};
use wayfarer_server::exec::Executor;
use wayfarer_server::keys::{self, KeyKind};
use wayfarer_server::{ServeOptions, net, serve as run_server};

use crate::cli::{Global, KeysCommand, McpArgs, ServeArgs};

pub fn serve(g: &Global, args: &ServeArgs) -> Result<()> {
    let dir = super::data_dir(g, super::DEFAULT_DATA);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let (config, config_path) = super::load_config(g, &dir)?;
    // Stored channels follow the rules the server derives new ones with.
    super::follow_channel_rules(&dir, &config, false)?;
    let shared = super::api::ServerConfig { config: std::sync::Arc::new(config.clone()), path: config_path };
    let list = keys::list(&dir)?;
    let usable = |k: KeyKind| list.iter().any(|e| e.kind == k && e.revoked_at.is_none());
    let quiet = g.quiet;
    if !quiet && !usable(KeyKind::Write) {
        eprintln!("note: no write key yet, so ingestion refuses every request; create one with");
        eprintln!("      wayfarer keys create --write --data {}", dir.display());
    }
    if !quiet && !usable(KeyKind::Read) {
        eprintln!("note: no read token yet, so the dashboard and the query API let nobody in; create one with");
        eprintln!("      wayfarer keys create --read --data {}", dir.display());
    }
    // Descriptors bound connections: take what the hard limit allows.
    net::raise_descriptor_limit();
    let limits = net::Limits::new(args.max_connections.map(|n| n as usize), args.client_timeout);
    let exec = Executor::new(0, args.max_queries as usize).map_err(anyhow::Error::msg)?;
    let timeout = args.query_timeout;
    let queries = super::api::query_api(dir.clone(), shared.clone(), timeout);
    let live_config = shared.config.clone();
    let shared_config = shared.config.clone();
    let pages = super::pages::pages(dir.clone(), shared, timeout, !args.no_warm, exec.clone());
    let clock = match args.clock_start {
        Some(start) => wayfarer_core::time::Clock::accelerated(start, args.clock_speed),
        None => wayfarer_core::time::Clock::wall(),
    };
    // Live segment membership and the profile index follow each commit.
    let index = super::segments::Profiles::default();
    {
        let (dir, config, index) = (dir.clone(), live_config, index.clone());
        let every = Duration::from_millis(args.fold_ms.max(100));
        std::thread::spawn(move || super::segments::live(&dir, &config, every, &index, clock));
    }
    // A snapshot of each complete month's map, checked every minute from
    // --snapshots-after on.
    if !args.no_snapshots {
        let (dir, config) = (dir.clone(), shared_config);
        let first = args.snapshots_after;
        std::thread::spawn(move || {
            let mut reported = None;
            // Not while the server starts (and warms its pages).
            std::thread::sleep(first);
            loop {
                let made = wayfarer_store::Store::open(&dir).map_err(anyhow::Error::from).and_then(|store| {
                    let model = wayfarer_engine::Model::compile(&config, &store)?;
                    super::map::monthly_snapshots(&store, &model, clock.now_us())
                });
                match made {
                    Ok(names) if !names.is_empty() && !quiet => {
                        eprintln!("wayfarer: saved the monthly snapshots {}", names.join(", "));
                    }
                    Err(e) if reported.as_deref() != Some(e.to_string().as_str()) => {
                        // An empty store is not worth repeating; anything else is said once.
                        if !quiet && !matches!(e.downcast_ref(), Some(wayfarer_store::StoreError::Empty(_))) {
                            eprintln!("wayfarer: monthly snapshots: {e:#}");
                        }
                        reported = Some(e.to_string());
                    }
                    _ => {}
                }
                std::thread::sleep(Duration::from_secs(60));
            }
        });
    }
    let profiles = wayfarer_server::ProfileLookup(std::sync::Arc::new(move |id: &str| index.lookup(id)));
    let opts = ServeOptions {
        data: dir.clone(),
        bind: args.bind,
        config,
        fold_every: Duration::from_millis(args.fold_ms),
        disk_reserve: args.disk_reserve.map(|mb| mb << 20),
        exec,
        queries: Some(queries),
        pages: Some(pages),
        profiles: Some(profiles),
        limits,
        clock,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    let served = runtime.block_on(run_server(opts, |addr| {
        if !quiet {
            eprintln!("wayfarer: serving {} on http://{addr} (Ctrl-C to stop)", dir.display());
            eprintln!("          dashboard: open http://{addr}/ and sign in with a read token");
            if !clock.is_wall() {
                eprintln!(
                    "          clock: {} and running {}x faster than real time",
                    wayfarer_core::time::format_rfc3339(clock.now_us()),
                    clock.speed()
                );
            }
        }
    }));
    // Queries were cancelled and staging folded; a computation that has not
    // noticed yet must not keep the process alive.
    runtime.shutdown_timeout(Duration::from_secs(2));
    served?;
    Ok(())
}

/// `wayfarer mcp`: the query API's commands as MCP tools over stdio
/// (nothing but the protocol on stdout).
pub fn mcp(g: &Global, args: &McpArgs) -> Result<()> {
    let dir = super::data_dir(g, super::DEFAULT_DATA);
    if !dir.join("manifest.json").exists() {
        anyhow::bail!(
            "{} holds no Wayfarer data: import events first (`wayfarer import --data {} FILE`)",
            dir.display(),
            dir.display()
        );
    }
    let (config, config_path) = super::load_config(g, &dir)?;
    let shared = super::api::ServerConfig { config: std::sync::Arc::new(config), path: config_path };
    let exec = Executor::new(0, 16).map_err(anyhow::Error::msg)?;
    let api = super::api::query_api(dir, shared, args.query_timeout);
    let tools = wayfarer_server::mcp::Tools::new(api, exec);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(wayfarer_server::mcp::serve_stdio(tools)).map_err(anyhow::Error::msg)?;
    runtime.shutdown_timeout(Duration::from_secs(2));
    Ok(())
}

pub fn keys(g: &Global, cmd: KeysCommand) -> Result<()> {
    let dir = super::data_dir(g, super::DEFAULT_DATA);
    match cmd {
        KeysCommand::Create { write, read: _, admin, profile, name } => {
            let kind = if write {
                KeyKind::Write
            } else if admin {
                KeyKind::Admin
            } else if profile {
                KeyKind::Profile
            } else {
                KeyKind::Read
            };
            let (key, entry) = keys::create(&dir, kind, name.as_deref())?;
            say!("{key}");
            if !g.quiet {
                eprintln!(
                    "Created {} '{}' (id {}). This is the only time the key is shown; store it now.",
                    match kind {
                        KeyKind::Write => "write key",
                        KeyKind::Read => "read token",
                        KeyKind::Admin => "admin token",
                        KeyKind::Profile => "profile key",
                    },
                    entry.name,
                    entry.id
                );
            }
        }
        KeysCommand::List { json } => {
            let list = keys::list(&dir)?;
            if json {
                say!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                say!(
                    "No keys. Create one with `wayfarer keys create --write` (ingestion), `--read` (queries) or `--admin` (queries and changing segments)."
                );
            } else {
                say!("{:<14} {:<6} {:<24} {:<22} status", "id", "kind", "name", "created");
                for k in list {
                    let kind = match k.kind {
                        KeyKind::Write => "write",
                        KeyKind::Read => "read",
                        KeyKind::Admin => "admin",
                        KeyKind::Profile => "profile",
                    };
                    let status = k.revoked_at.map_or_else(|| "active".to_string(), |t| format!("revoked {t}"));
                    say!("{:<14} {:<6} {:<24} {:<22} {status}", k.id, kind, k.name, k.created_at);
                }
            }
        }
        KeysCommand::Revoke { key } => {
            for k in keys::revoke(&dir, &key)? {
                say!("Revoked {} '{}'.", k.id, k.name);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    #[test]
    fn the_server_listens_on_loopback_unless_told_otherwise() {
        // clap reads WAYFARER_BIND; the default is what this test is about.
        if std::env::var_os("WAYFARER_BIND").is_some() {
            return;
        }
        let Command::Serve(args) = Cli::parse_from(["wayfarer", "serve"]).command else { panic!("not serve") };
        assert!(args.bind.ip().is_loopback(), "{}", args.bind);
        assert_eq!(args.bind.to_string(), "127.0.0.1:8080");
    }
}
