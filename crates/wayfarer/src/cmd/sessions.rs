//! `wayfarer sessions`.

use anyhow::Result;
use wayfarer_engine::{Model, sessions};

use crate::cli::{Global, SessionsArgs};

pub fn run(g: &Global, args: &SessionsArgs, out: &mut super::Out) -> Result<()> {
    let dir = super::data_dir(g, super::DEFAULT_DATA);
    let (config, _) = super::load_config(g, &dir)?;
    let store = super::open_store(g, &dir)?;
    let model = Model::compile(&config, &store)?;
    let scope = super::scope(&args.scope)?;
    let report = sessions::sessions(&store, &model, &scope)?;
    if args.json {
        out.json(&report)?;
    } else {
        say!("{}", wayfarer_render::text::sessions_table(&report));
    }
    Ok(())
}
