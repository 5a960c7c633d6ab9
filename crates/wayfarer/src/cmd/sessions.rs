//! `wayfarer sessions`.

use anyhow::Result;
use wayfarer_engine::{Model, sessions};
use wayfarer_store::Store;

use crate::cli::{Global, SessionsArgs};

pub fn run(g: &Global, args: &SessionsArgs) -> Result<()> {
    let dir = super::data_dir(g, super::DEFAULT_DATA);
    let (config, _) = super::load_config(g, &dir)?;
    let store = Store::open(&dir)?;
    let model = Model::compile(&config, &store)?;
    let scope = super::scope(&args.scope)?;
    if let Some(p) = scope.persona.as_deref()
        && model.persona_index(p).is_none()
    {
        anyhow::bail!("no persona '{p}' in the configuration");
    }
    let report = sessions::sessions(&store, &model, &scope)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", wayfarer_render::text::sessions_table(&report));
    }
    Ok(())
}
