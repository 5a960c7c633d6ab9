//! `wayfarer config init|show|reference`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use wayfarer_core::config::DEFAULT_TOML;

use crate::cli::{ConfigCommand, Global};

pub fn run(g: &Global, c: ConfigCommand) -> Result<()> {
    match c {
        ConfigCommand::Init { out, force, from_data } => {
            let path = out.unwrap_or_else(|| match &g.data {
                Some(d) => d.join(super::CONFIG_FILE),
                None => PathBuf::from(super::CONFIG_FILE),
            });
            if path.exists() && !force {
                bail!("{} already exists (use --force to overwrite)", path.display());
            }
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
            }
            if from_data {
                return from_data_init(g, &path);
            }
            std::fs::write(&path, DEFAULT_TOML).with_context(|| format!("writing {}", path.display()))?;
            say!("Wrote the default configuration to {}", path.display());
            Ok(())
        }
        ConfigCommand::Show => {
            let dir = super::data_dir(g, super::DEFAULT_DATA);
            let (config, path) = super::load_config(g, &dir)?;
            match path {
                Some(p) => eprintln!("# from {}", p.display()),
                None => eprintln!("# built-in defaults"),
            }
            print!("{}", config.to_toml());
            Ok(())
        }
        ConfigCommand::Reference => {
            print!("{}", crate::options::reference());
            Ok(())
        }
    }
}

/// `config init --from-data`: profile the store, propose, check the
/// proposal parses and compiles against the store, write it.
fn from_data_init(g: &Global, path: &std::path::Path) -> Result<()> {
    use wayfarer_engine::bootstrap::{self, Role};
    let dir = super::data_dir(g, super::DEFAULT_DATA);
    let store = wayfarer_store::Store::open(&dir)
        .with_context(|| format!("--from-data reads the events imported into {}: import some first", dir.display()))?;
    let profile = bootstrap::profile(&store)?;
    let proposal = bootstrap::propose(&profile);
    let text = bootstrap::to_toml(&profile, &proposal);
    let config = wayfarer_core::Config::from_toml(&text, &path.display().to_string())
        .context("the proposed configuration does not parse (a bug: please report it)")?;
    wayfarer_engine::model::Model::compile(&config, &store)
        .context("the proposed configuration does not compile against the data (a bug: please report it)")?;
    std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    let stages = config.stages.iter().skip(1).map(|s| format!("{} {}", s.name, s.rules.len())).collect::<Vec<_>>();
    let unknown = proposal.placements.iter().filter(|p| p.role == Role::Unknown).count();
    say!(
        "Wrote a configuration proposed from {} event names of {} customers to {}:",
        profile.event_names.len(),
        profile.customers,
        path.display()
    );
    say!("  stage rules: {}", stages.join(", "));
    say!(
        "  purchase event: {}",
        proposal.purchase_event.as_deref().unwrap_or("none found (set journey.purchase_event and the Purchase stage)")
    );
    let count = |r: Role| proposal.placements.iter().filter(|p| p.role == r).count();
    say!(
        "  friction events {}, support events {}, passive events {}, touchpoints {}",
        count(Role::Friction),
        count(Role::Support),
        count(Role::Passive),
        config.touchpoints.len()
    );
    if let Some((_, key, _)) = proposal.channel_rules.first() {
        say!("  channel rules: {} from the `{key}` column", proposal.channel_rules.len());
    }
    if unknown > 0 {
        say!(
            "  {} only count as {} (listed in the file)",
            wayfarer_render::counted(unknown as u64, "name"),
            config.stages[0].name
        );
    }
    if let (Some(purchase), Some(prop)) = (&proposal.purchase_event, &proposal.revenue_property) {
        say!("  `{prop}` on `{purchase}` looks like revenue: [ingest] revenue_property reads it (check the guess)");
    }
    say!("Check the guesses (each is commented), then run `wayfarer doctor --data {}`.", dir.display());
    Ok(())
}
