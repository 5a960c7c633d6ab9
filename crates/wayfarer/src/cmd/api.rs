//! The server's query API, served by the CLI's own commands: a query
//! string becomes the command's flags (`?step=A&step=B&window=7d` is
//! `funnel A B --window 7d`), parsed by the same clap definitions and run by
//! the same code with its `--json` output captured. The same definitions
//! describe the endpoints in the OpenAPI document. Parsing ignores the
//! `WAYFARER_*` environment: a query's parameters come only from the request.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{ArgAction, CommandFactory, FromArgMatches};
use serde_json::Value;
use wayfarer_core::{Cancel, ErrorCode};
use wayfarer_server::error::ApiError;
use wayfarer_server::exec::Job;
use wayfarer_server::query::{ParamKind, QueryApi, QueryCommand, QueryParam};

use super::{Out, Snapshot};
use crate::cli::Cli;

/// The commands the API serves (read-only analyses).
const COMMANDS: [&str; 16] = [
    "map",
    "funnel",
    "paths",
    "retention",
    "sessions",
    "rfm",
    "surveys",
    "clv",
    "personas",
    "attribution",
    "discovery",
    "loyalty",
    "customers",
    "doctor",
    "nba",
    "recommend",
];

/// Flags the API never takes: where data lives and where output goes are
/// the server's business, and the output is always JSON.
const BLOCKED: [&str; 10] =
    ["data", "config", "out", "assignments", "format", "json", "quiet", "export", "chart", "cluster"];

/// The configuration the server was started with: it ingests with it, and
/// every query and page reads with it (a change to the file takes effect
/// for both at the next start).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub config: Arc<wayfarer_core::Config>,
    pub path: Option<PathBuf>,
}

impl ServerConfig {
    /// A request's snapshot: this configuration and the committed store.
    pub fn snapshot(&self, store: wayfarer_store::Store) -> Snapshot {
        Snapshot { store, config: self.config.clone(), config_path: self.path.clone() }
    }
}

pub fn query_api(data: PathBuf, config: ServerConfig, timeout: Duration) -> QueryApi {
    let grammar = Grammar::new();
    let run = move |command: &str, params: &[(String, String)], job: &Job| {
        job.install(|| run(&grammar, &data, &config, command, params, job.cancel()))
    };
    QueryApi { commands: commands(), more: described(&MORE), run: Arc::new(run), timeout }
}

/// The CLI's definitions with every `env = "WAYFARER_*"` removed: a query's
/// parameters come only from its request, never from where the server runs.
pub(crate) fn without_env(cmd: clap::Command) -> clap::Command {
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
    let cmd = cmd.mut_args(|a| a.env(None));
    names.iter().fold(cmd, |c, n| c.mut_subcommand(n, without_env))
}

/// Whether a command's argument is one of its own parameters (not a global
/// flag, nor clap's `--help` and `--version`).
fn is_param(a: &clap::Arg) -> bool {
    !a.is_global_set() && !matches!(a.get_id().as_str(), "help" | "version")
}

fn takes_no_value(a: &clap::Arg) -> bool {
    matches!(a.get_action(), ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count)
}

/// The query API's endpoints, from the clap definitions.
pub fn commands() -> Vec<QueryCommand> {
    described(&COMMANDS)
}

/// The other commands the runner serves as MCP tools (over HTTP they have
/// their own routes, `/api/segments…`).
const MORE: [&str; 3] = ["segments list", "segments show", "segments members"];

/// The definitions of these commands, from their flags.
fn described(names: &[&str]) -> Vec<QueryCommand> {
    let grammar = Grammar::new();
    names
        .iter()
        .filter_map(|name| grammar.command(name).map(|c| (*name, c)))
        .map(|(name, c)| QueryCommand {
            name: name.to_string(),
            summary: c.get_about().map(ToString::to_string).unwrap_or_default(),
            params: c
                .get_arguments()
                .filter(|a| is_param(a) && !BLOCKED.contains(&param_name(a).as_str()))
                .map(|a| QueryParam {
                    name: param_name(a),
                    help: a.get_help().map(ToString::to_string).unwrap_or_default(),
                    required: a.is_required_set(),
                    repeated: matches!(a.get_action(), ArgAction::Append)
                        || a.get_num_args().is_some_and(|n| n.max_values() > 1),
                    flag: takes_no_value(a),
                    kind: kind_of(a),
                    values: a.get_possible_values().iter().map(|v| v.get_name().to_string()).collect(),
                    default: a.get_default_values().first().map(|v| v.to_string_lossy().to_string()),
                })
                .collect(),
        })
        .collect()
}

/// What a flag's value is: by its value parser, else by its value name
/// (`DATE`, `EVENT`, `STEP`).
fn kind_of(a: &clap::Arg) -> ParamKind {
    use std::any::TypeId;
    if takes_no_value(a) {
        return ParamKind::Switch;
    }
    let t = a.get_value_parser().type_id();
    if [TypeId::of::<usize>(), TypeId::of::<u64>(), TypeId::of::<u32>(), TypeId::of::<u8>()].iter().any(|id| t == *id) {
        return ParamKind::Integer;
    }
    if t == TypeId::of::<f64>() {
        return ParamKind::Number;
    }
    match a.get_value_names().and_then(|v| v.first()).map(|n| n.as_str()) {
        Some("DATE") => ParamKind::Date,
        Some("EVENT" | "STEP") => ParamKind::Event,
        _ => ParamKind::Text,
    }
}

/// The query-string name of a flag: its long name, or for a positional
/// argument its id (`step` for funnel steps, `id` for customers).
fn param_name(a: &clap::Arg) -> String {
    match a.get_long() {
        Some(l) => l.to_string(),
        None => match a.get_id().as_str() {
            "steps" => "step".to_string(),
            other => other.replace('_', "-"),
        },
    }
}

fn run(
    grammar: &Grammar,
    data: &Path,
    config: &ServerConfig,
    command: &str,
    params: &[(String, String)],
    cancel: &Cancel,
) -> Result<Value, ApiError> {
    let mut cli = grammar.parse(data, command, params)?;
    let store = wayfarer_store::Store::open(data).map_err(|e| api_error(&e.into()))?.with_cancel(cancel.clone());
    cli.global.cancel = cancel.clone();
    cli.global.snapshot = Some(Arc::new(config.snapshot(store)));
    let mut out = Out::Capture(None);
    super::run_with(cli, &mut out).map_err(|e| api_error(&e))?;
    match out {
        Out::Capture(Some(v)) => Ok(v),
        _ => Err(ApiError::new(ErrorCode::Internal, format!("{command} produced no JSON"))),
    }
}

/// A command's error as the API reports it; errors without a code are the
/// commands' own checks of their flags.
pub fn api_error(e: &anyhow::Error) -> ApiError {
    let code = super::code_for(e).unwrap_or(ErrorCode::InvalidQuery);
    ApiError::new(code, format!("{e:#}"))
}

/// The CLI's definitions as queries are parsed with (no `WAYFARER_*`
/// environment), built once and shared: building them takes longer than
/// many a query (~0.4 ms).
#[derive(Clone)]
pub struct Grammar(Arc<clap::Command>);

impl std::fmt::Debug for Grammar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Grammar")
    }
}

impl Default for Grammar {
    fn default() -> Self {
        Grammar::new()
    }
}

impl Grammar {
    pub fn new() -> Grammar {
        let mut cli = without_env(Cli::command());
        cli.build();
        Grammar(Arc::new(cli))
    }

    /// A command's definition by name; `segments list` names a subcommand's.
    fn command(&self, name: &str) -> Option<&clap::Command> {
        name.split(' ').try_fold(self.0.as_ref(), |c, w| c.get_subcommands().find(|s| s.get_name() == w))
    }

    /// The command line a query string stands for, parsed by clap.
    pub fn parse(&self, data: &Path, command: &str, params: &[(String, String)]) -> Result<Cli, ApiError> {
        parse_with(self, data, command, params)
    }
}

fn parse_with(grammar: &Grammar, data: &Path, command: &str, params: &[(String, String)]) -> Result<Cli, ApiError> {
    let invalid = |m: String| ApiError::new(ErrorCode::InvalidQuery, m);
    let sub = grammar
        .command(command)
        .filter(|_| !command.is_empty())
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no query '{command}'")))?;
    let mut argv: Vec<String> = vec!["wayfarer".into()];
    argv.extend(command.split(' ').map(String::from));
    let mut positionals: Vec<String> = Vec::new();
    for (key, value) in params {
        let key = key.replace('_', "-");
        let arg = sub
            .get_arguments()
            .find(|a| is_param(a) && param_name(a) == key && !BLOCKED.contains(&key.as_str()))
            .ok_or_else(|| invalid(format!("unknown parameter '{key}' for {command}")))?;
        if arg.get_long().is_none() {
            positionals.push(value.clone());
        } else if takes_no_value(arg) {
            match value.as_str() {
                "" | "true" | "1" | "yes" => argv.push(format!("--{key}")),
                "false" | "0" | "no" => {}
                other => return Err(invalid(format!("{key}: expected true or false, found '{other}'"))),
            }
        } else {
            argv.push(format!("--{key}={value}"));
        }
    }
    // `--` keeps positional values that start with '-' from being read as flags.
    argv.extend(["--json".into(), "--quiet".into(), "--data".into(), data.display().to_string()]);
    if !positionals.is_empty() {
        argv.push("--".into());
        argv.extend(positionals);
    }
    let matches = grammar.0.as_ref().clone().try_get_matches_from(&argv).and_then(|m| Cli::from_arg_matches(&m));
    matches.map_err(|e| {
        // clap's message without its usage lines; flags named as parameters.
        let text = e.to_string();
        let message: Vec<&str> = text
            .lines()
            .map(str::trim)
            .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
            .filter(|l| !l.is_empty())
            .collect();
        let message = message.join(" ").trim_start_matches("error: ").replace("--", "").replace("<STEP>...", "step");
        invalid(if message.is_empty() { "invalid query".to_string() } else { message })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_never_reaches_a_query() {
        // Every WAYFARER_* variable a flag reads, set to something that would
        // change the answer or escape the server's control.
        let vars: Vec<String> = {
            fn collect(c: &clap::Command, out: &mut Vec<String>) {
                out.extend(c.get_arguments().filter_map(|a| a.get_env()).map(|e| e.to_string_lossy().to_string()));
                c.get_subcommands().for_each(|s| collect(s, out));
            }
            let mut v = Vec::new();
            collect(&Cli::command(), &mut v);
            v
        };
        assert!(vars.iter().any(|v| v == "WAYFARER_MAP_OUT") && vars.iter().any(|v| v == "WAYFARER_FROM"));
        let cmd = without_env(Cli::command());
        fn none_left(c: &clap::Command) -> bool {
            c.get_arguments().all(|a| a.get_env().is_none()) && c.get_subcommands().all(none_left)
        }
        assert!(none_left(&cmd));
        // The CLI itself still reads them.
        assert!(Cli::command().get_subcommands().any(|s| s.get_arguments().any(|a| a.get_env().is_some())));
    }

    #[test]
    fn endpoints_come_from_the_flag_definitions() {
        let cmds = commands();
        assert_eq!(cmds.len(), COMMANDS.len());
        let funnel = cmds.iter().find(|c| c.name == "funnel").unwrap();
        let step = funnel.params.iter().find(|p| p.name == "step").unwrap();
        assert!(step.required && step.repeated && !step.flag);
        let window = funnel.params.iter().find(|p| p.name == "window").unwrap();
        assert_eq!(window.default.as_deref(), Some("7d"));
        assert!(funnel.params.iter().any(|p| p.name == "compare-previous" && p.flag));
        assert!(funnel.params.iter().all(|p| !BLOCKED.contains(&p.name.as_str())));
        let map = cmds.iter().find(|c| c.name == "map").unwrap();
        assert!(map.params.iter().all(|p| p.name != "out" && p.name != "format"));
        assert!(map.params.iter().any(|p| p.name == "personas" && p.values.contains(&"discovered".to_string())));
        // What a parameter is comes from its definition (forms and OpenAPI use it).
        let kind = |c: &str, n: &str| {
            cmds.iter().find(|x| x.name == c).and_then(|x| x.params.iter().find(|p| p.name == n)).map(|p| p.kind)
        };
        assert_eq!(kind("funnel", "step"), Some(ParamKind::Event));
        assert_eq!(kind("funnel", "from"), Some(ParamKind::Date));
        assert_eq!(kind("funnel", "compare-previous"), Some(ParamKind::Switch));
        assert_eq!(kind("paths", "top"), Some(ParamKind::Integer));
        assert_eq!(kind("attribution", "order"), Some(ParamKind::Integer));
        assert_eq!(kind("clv", "discount-rate"), Some(ParamKind::Number));
        assert_eq!(kind("retention", "start-event"), Some(ParamKind::Event));
    }
}
