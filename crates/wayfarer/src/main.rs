//! `wayfarer`: the command-line interface. Thin: it parses flags, loads the
//! configuration and the data directory, calls the library crates and prints
//! what they return. `main` → `try_main` → exit code.

mod cli;
#[macro_use]
mod cmd;
mod malloc;
mod options;
mod progress;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = options::parse().unwrap_or_else(|e| e.exit());
    if malloc::wants_tuning(&cli.command) {
        malloc::rerun_tuned();
    }
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<cmd::Closed>().is_some() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if let Some(hint) = cmd::hint_for(&e) {
                eprintln!("hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}
