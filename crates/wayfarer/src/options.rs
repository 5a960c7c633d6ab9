//! One configuration model for the command line: every option of every
//! command is a flag, a `WAYFARER_*` environment variable and a key of
//! `wayfarer.toml` (`[options.COMMAND]`, nested commands nested:
//! `[options.keys.create]`; global options in `[options]`), with the
//! precedence flag > environment > file > built-in default.
//!
//! The flags are defined once, in `cli.rs`. [`command`] gives every option
//! its variable (the one `cli.rs` names, else `WAYFARER_<COMMAND>_<FLAG>`);
//! [`parse`] reads the configuration file that `--data`/`--config` point
//! at and makes its `[options]` the flags' defaults — each value checked by
//! the flag's own parser, an unknown command or key an error naming it and
//! the closest one. [`reference`] prints the table of all of them
//! (docs/configuration.md, checked by a test to be current).
//!
//! The server's query parser uses none of this: a query's parameters come
//! only from its request (see `cmd/api.rs`).

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::builder::Resettable;
use clap::{Arg, ArgAction, Command, CommandFactory, FromArgMatches};

use crate::cli::Cli;

/// Arguments that are not options: clap's own, and where the configuration is.
const NOT_OPTIONS: [&str; 4] = ["help", "version", "data", "config"];

/// Whether an argument is an option (a flag with a long name that is not
/// help, version, --data or --config).
fn is_option(a: &Arg) -> bool {
    a.get_long().is_some() && !NOT_OPTIONS.contains(&a.get_id().as_str())
}

/// The environment variable of an option of the command at `path`.
fn env_name(path: &[String], a: &Arg) -> String {
    let mut parts: Vec<String> = vec!["WAYFARER".into()];
    if !a.is_global_set() {
        parts.extend(path.iter().cloned());
    }
    parts.push(a.get_long().unwrap_or_default().to_string());
    parts.join("_").replace('-', "_").to_uppercase()
}

/// The CLI's definitions with every option's environment variable.
pub fn command() -> Command {
    with_env(Cli::command(), &[])
}

fn with_env(cmd: Command, path: &[String]) -> Command {
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
    let cmd = cmd.mut_args(|a| {
        if a.get_env().is_none() && (is_option(&a) || matches!(a.get_id().as_str(), "data" | "config")) {
            let name = env_name(path, &a);
            a.env(name)
        } else {
            a
        }
    });
    names.iter().fold(cmd, |c, n| {
        let mut sub = path.to_vec();
        sub.push(n.clone());
        c.mut_subcommand(n, |s| with_env(s, &sub))
    })
}

/// Parses the command line: flags, then the environment, then the
/// configuration file's `[options]`, then the built-in defaults.
pub fn parse() -> Result<Cli, clap::Error> {
    parse_from(std::env::args_os().collect(), command())
}

/// Parses a command line a cluster executor replays: its flags (the client
/// made every option it took from its environment a flag), then the
/// configuration file's `[options]`, then the defaults; never the
/// executor's own environment.
#[cfg_attr(not(feature = "distributed"), allow(dead_code))]
pub fn parse_replayed(argv: &[String]) -> Result<Cli, clap::Error> {
    parse_from(argv.iter().map(OsString::from).collect(), crate::cmd::api::without_env(Cli::command()))
}

/// This process's command line as a cluster executor replays it: options
/// taken from `WAYFARER_*` variables written as flags, `--data` and
/// `--config` absolute (`data`: the data directory in effect), `--cluster`
/// left out.
#[cfg_attr(not(feature = "distributed"), allow(dead_code))]
pub fn explicit_argv(data: &std::path::Path) -> Result<Vec<String>> {
    let args: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    let matches = command().ignore_errors(true).try_get_matches_from(&args)?;
    let absolute = |p: &str| -> String {
        if wayfarer_store::objects::is_url(p) {
            return p.to_string();
        }
        let p = std::path::Path::new(p);
        std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()).display().to_string()
    };
    // The command line without --data, --config and --cluster (and their values).
    let mut out: Vec<String> = Vec::new();
    let mut config = matches.get_one::<PathBuf>("config").map(|p| absolute(&p.display().to_string()));
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        let name = a.split('=').next().unwrap_or(a);
        if matches!(name, "--data" | "--config" | "--cluster") {
            if !a.contains('=') {
                let v = it.next();
                if name == "--config" {
                    config = v.map(|v| absolute(v));
                }
            } else if name == "--config" {
                config = a.split_once('=').map(|(_, v)| absolute(v));
            }
            continue;
        }
        out.push(a.clone());
    }
    // What is added goes before a `--` (after it, all is positional).
    let tail = match out.iter().position(|a| a == "--") {
        Some(i) => out.split_off(i),
        None => Vec::new(),
    };
    // Options the environment set, as flags (global ones: only --quiet matters).
    let Some((sub, sm)) = matches.subcommand() else {
        out.extend(tail);
        return Ok(out);
    };
    let def = command().find_subcommand(sub).cloned().ok_or_else(|| anyhow!("no command {sub}"))?;
    for a in def.get_arguments() {
        let id = a.get_id().as_str();
        if !is_option(a) || id == "cluster" || sm.value_source(id) != Some(clap::parser::ValueSource::EnvVariable) {
            continue;
        }
        let long = a.get_long().unwrap_or(id);
        match a.get_action() {
            ArgAction::SetTrue if sm.get_flag(id) => out.push(format!("--{long}")),
            ArgAction::SetTrue | ArgAction::SetFalse => {}
            _ => {
                for v in sm.get_raw(id).into_iter().flatten() {
                    out.push(format!("--{long}={}", v.to_string_lossy()));
                }
            }
        }
    }
    out.push(format!("--data={}", absolute(&data.display().to_string())));
    if let Some(c) = config {
        out.push(format!("--config={c}"));
    }
    out.extend(tail);
    Ok(out)
}

fn parse_from(args: Vec<OsString>, cmd: Command) -> Result<Cli, clap::Error> {
    let cmd = match file_options(&cmd, &args) {
        Ok(Some((file, options))) => match with_file_defaults(cmd, &options, &[]) {
            Ok(c) => c,
            Err(e) => {
                let message = format!("{}: {e}", file.display());
                return Err(command().error(clap::error::ErrorKind::InvalidValue, message));
            }
        },
        _ => cmd,
    };
    let matches = cmd.try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// The `[options]` table of the configuration file the command line points
/// at (`--config`, else DIR/wayfarer.toml), if there is one that parses. A
/// file that does not parse is left to the command, which reports it.
fn file_options(cmd: &Command, args: &[OsString]) -> Result<Option<(PathBuf, toml::Table)>> {
    let m = cmd.clone().ignore_errors(true).try_get_matches_from(args)?;
    let data = m.get_one::<PathBuf>("data").cloned().unwrap_or_else(|| {
        PathBuf::from(if m.subcommand_name() == Some("demo") {
            crate::cmd::DEMO_DATA
        } else {
            crate::cmd::DEFAULT_DATA
        })
    });
    let path = match m.get_one::<PathBuf>("config") {
        Some(p) => p.clone(),
        // An object store's configuration: from its local copy.
        None if wayfarer_store::objects::is_url(&data.display().to_string()) => {
            match crate::cmd::cluster::mirrored_config_dir(&data.display().to_string()) {
                Some(dir) => dir.join(crate::cmd::CONFIG_FILE),
                None => return Ok(None),
            }
        }
        None => data.join(crate::cmd::CONFIG_FILE),
    };
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(None) };
    let Ok(config) = wayfarer_core::Config::from_toml(&text, &path.display().to_string()) else { return Ok(None) };
    if config.options.is_empty() { Ok(None) } else { Ok(Some((path, config.options))) }
}

/// A file value as the flag's text values.
fn values_of(v: &toml::Value) -> Option<Vec<String>> {
    Some(match v {
        toml::Value::String(s) => vec![s.clone()],
        toml::Value::Integer(i) => vec![i.to_string()],
        toml::Value::Float(f) => vec![f.to_string()],
        toml::Value::Boolean(b) => vec![b.to_string()],
        toml::Value::Datetime(d) => vec![d.to_string()],
        toml::Value::Array(a) => {
            let mut out = Vec::new();
            for x in a {
                out.extend(values_of(x).filter(|v| v.len() == 1)?);
            }
            out
        }
        toml::Value::Table(_) => return None,
    })
}

/// The command with the file's values as the defaults of its options;
/// an error names the `[options…]` key and says what is wrong with it.
pub fn with_file_defaults(mut cmd: Command, table: &toml::Table, path: &[String]) -> Result<Command> {
    let here = if path.is_empty() { "options".to_string() } else { format!("options.{}", path.join(".")) };
    for (key, value) in table {
        let key_here = format!("{here}.{key}");
        if let toml::Value::Table(sub) = value
            && cmd.get_subcommands().any(|s| s.get_name() == key)
        {
            let mut p = path.to_vec();
            p.push(key.clone());
            let s = cmd.find_subcommand(key).cloned().expect("checked above");
            let s = with_file_defaults(s, sub, &p)?;
            cmd = cmd.mut_subcommand(key, |_| s);
            continue;
        }
        let flag = key.replace('_', "-");
        let options: Vec<&Arg> =
            cmd.get_arguments().filter(|a| is_option(a) && (path.is_empty() || !a.is_global_set())).collect();
        let Some(arg) = options.iter().find(|a| a.get_long() == Some(flag.as_str())) else {
            if matches!(flag.as_str(), "data" | "config") {
                return Err(anyhow!("{key_here}: where the data and the configuration are cannot be set in the file"));
            }
            let mut known: Vec<String> =
                options.iter().filter_map(|a| a.get_long()).map(|l| l.replace('-', "_")).collect();
            known.extend(cmd.get_subcommands().map(|s| s.get_name().to_string()));
            let command = if path.is_empty() { "wayfarer".to_string() } else { format!("wayfarer {}", path.join(" ")) };
            return Err(anyhow!(
                "{key_here}: `{command}` has no option '{key}' (its options: {}){}",
                known.join(", "),
                wayfarer_core::suggest::hint(key, &known)
            ));
        };
        let id = arg.get_id().clone();
        let switch = matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse);
        let repeated = matches!(arg.get_action(), ArgAction::Append);
        let values = match (values_of(value), value) {
            (_, v) if switch && !v.is_bool() => return Err(anyhow!("{key_here}: expected true or false, found {v}")),
            (Some(vals), v) if repeated || !v.is_array() => vals,
            (_, v) => return Err(anyhow!("{key_here}: expected a single value, found {v}")),
        };
        if !switch {
            // Each value through the flag's own parser: the command alone,
            // nothing else required, given just this flag.
            let probe = cmd
                .clone()
                .mut_args(|a| a.required(false).requires(Resettable::Reset).conflicts_with(Resettable::Reset))
                .subcommand_required(false)
                .arg_required_else_help(false);
            let mut argv: Vec<OsString> = vec![OsString::from(cmd.get_name())];
            argv.extend(values.iter().map(|v| OsString::from(format!("--{flag}={v}"))));
            probe.try_get_matches_from(argv).map_err(|e| anyhow!("{key_here}: {}", clap_message(&e)))?;
        }
        cmd = cmd.mut_arg(id, |a| a.default_values(values));
    }
    Ok(cmd)
}

/// clap's message without its usage lines and its "error: " prefix.
fn clap_message(e: &clap::Error) -> String {
    let text = e.to_string();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    lines.join(" ").trim_start_matches("error: ").to_string()
}

/// The reference of every option: flag, variable, file key, default and
/// meaning, as a Markdown document (docs/configuration.md).
pub fn reference() -> String {
    let mut out = String::from(
        "# Configuration reference\n\n\
         Every option is a command-line flag, an environment variable and a key of \
         `wayfarer.toml`, with the precedence flag > environment > file > built-in default. \
         In the file, a command's options go in `[options.COMMAND]` (nested commands nest, \
         `[options.keys.create]`; global options in `[options]`), named like the flag with `_` \
         for `-`:\n\n\
         ```toml\n[options.funnel]\nwindow = \"14d\"\nmode = \"strict_order\"\n\n\
         [options.serve]\nbind = \"0.0.0.0:8080\"\n```\n\n\
         `--data` and `--config` (`WAYFARER_DATA`, `WAYFARER_CONFIG`) say where the data and \
         this file are, so they are not file keys. The server's query API and dashboard use \
         none of these: a query's parameters come only from its request.\n\n\
         Generated from the flag definitions by `wayfarer config reference`; a test checks \
         this file is current.\n",
    );
    section(&command(), &[], &mut out);
    out
}

fn section(cmd: &Command, path: &[String], out: &mut String) {
    let args: Vec<&Arg> = cmd
        .get_arguments()
        .filter(|a| a.get_long().is_some() && !matches!(a.get_id().as_str(), "help" | "version"))
        .filter(|a| path.is_empty() || !a.is_global_set())
        .collect();
    if !args.is_empty() {
        let title =
            if path.is_empty() { "Global options".to_string() } else { format!("`wayfarer {}`", path.join(" ")) };
        let table = if path.is_empty() { "[options]".to_string() } else { format!("[options.{}]", path.join(".")) };
        out.push_str(&format!(
            "\n## {title}\n\n| flag | environment | `{table}` key | default | meaning |\n|---|---|---|---|---|\n"
        ));
        for a in args {
            let long = a.get_long().unwrap_or_default();
            let env = a.get_env().map(|e| format!("`{}`", e.to_string_lossy())).unwrap_or_default();
            let key = if is_option(a) { format!("`{}`", long.replace('-', "_")) } else { "—".to_string() };
            let default: Vec<String> = a.get_default_values().iter().map(|v| v.to_string_lossy().to_string()).collect();
            let default = match (default.is_empty(), matches!(a.get_action(), ArgAction::SetTrue)) {
                (true, true) => "false".to_string(),
                (true, false) => String::new(),
                (false, _) => format!("`{}`", default.join(", ")),
            };
            let mut help = a.get_help().map(ToString::to_string).unwrap_or_default();
            let values: Vec<String> = a.get_possible_values().iter().map(|v| v.get_name().to_string()).collect();
            if !values.is_empty() && !matches!(a.get_action(), ArgAction::SetTrue) {
                help = format!("{help} One of: {}.", values.join(", "));
            }
            let help = help.replace('|', "\\|").replace('\n', " ");
            out.push_str(&format!("| `--{long}` | {env} | {key} | {default} | {help} |\n"));
        }
    }
    for s in cmd.get_subcommands() {
        if s.get_name() == "help" {
            continue;
        }
        let mut p = path.to_vec();
        p.push(s.get_name().to_string());
        section(s, &p, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    fn parse_with(table: &toml::Table, args: &[&str]) -> Result<Cli> {
        let cmd = with_file_defaults(command(), table, &[])?;
        let m = cmd.try_get_matches_from(args)?;
        Ok(Cli::from_arg_matches(&m)?)
    }

    #[test]
    fn every_option_has_an_environment_variable() {
        fn check(c: &Command, path: &str) {
            for a in c.get_arguments().filter(|a| is_option(a)) {
                assert!(a.get_env().is_some(), "{path} --{} has no environment variable", a.get_long().unwrap());
            }
            c.get_subcommands().for_each(|s| check(s, &format!("{path} {}", s.get_name())));
        }
        check(&command(), "wayfarer");
        let paths = command().find_subcommand("paths").cloned().unwrap();
        let top = paths.get_arguments().find(|a| a.get_long() == Some("top")).unwrap();
        assert_eq!(top.get_env().unwrap(), "WAYFARER_PATHS_TOP");
        let window =
            command().find_subcommand("funnel").unwrap().get_arguments().find(|a| a.get_id() == "window").cloned();
        assert_eq!(window.unwrap().get_env().unwrap(), "WAYFARER_FUNNEL_WINDOW");
    }

    #[test]
    fn file_values_are_defaults_below_flags() {
        use crate::cli::Command as C;
        let t = options(
            "quiet = true\n[funnel]\nwindow = \"14d\"\nexclude = [\"Refund Requested\"]\n[paths]\ntop = 3\ncollapse_repeats = true\n",
        );
        let cli = parse_with(&t, &["wayfarer", "funnel", "A", "B"]).unwrap();
        let C::Funnel(f) = cli.command else { panic!() };
        assert_eq!((f.window.as_str(), f.exclude.as_slice()), ("14d", &["Refund Requested".to_string()][..]));
        assert!(cli.global.quiet);
        let cli = parse_with(&t, &["wayfarer", "funnel", "A", "--window", "1h"]).unwrap();
        let C::Funnel(f) = cli.command else { panic!() };
        assert_eq!(f.window, "1h", "a flag wins over the file");
        let cli = parse_with(&t, &["wayfarer", "paths"]).unwrap();
        let C::Paths(p) = cli.command else { panic!() };
        assert_eq!((p.top, p.collapse_repeats), (3, true));
    }

    #[test]
    fn file_mistakes_name_the_key() {
        let err = |text: &str| with_file_defaults(command(), &options(text), &[]).unwrap_err().to_string();
        let e = err("[funnel]\nwindw = \"14d\"");
        assert!(e.contains("options.funnel.windw") && e.contains("did you mean 'window'"), "{e}");
        let e = err("[paths]\ntop = 0");
        assert!(e.contains("options.paths.top") && e.contains('0'), "{e}");
        let e = err("[funnel]\nmode = \"sideways\"");
        assert!(e.contains("options.funnel.mode") && e.contains("sideways"), "{e}");
        let e = err("[paths]\ncollapse_repeats = \"yes\"");
        assert!(e.contains("expected true or false"), "{e}");
        let e = err("[funnl]\nwindow = \"1d\"");
        assert!(e.contains("options.funnl") && e.contains("did you mean 'funnel'"), "{e}");
        let e = err("data = \"/tmp\"");
        assert!(e.contains("cannot be set in the file"), "{e}");
    }

    #[test]
    fn the_reference_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == reference(),
            "docs/configuration.md is out of date: run `cargo run -- config reference > docs/configuration.md`"
        );
    }
}
