//! `wayfarer config init|show|reference`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use wayfarer_core::config::DEFAULT_TOML;

use crate::cli::{ConfigCommand, Global};

pub fn run(g: &Global, c: ConfigCommand) -> Result<()> {
    match c {
        ConfigCommand::Init { out, force } => {
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
