//! `wayfarer sessions`.

use anyhow::Result;
use wayfarer_engine::sessions;

use crate::cli::{Global, SessionsArgs};

pub fn run(g: &Global, args: &SessionsArgs, out: &mut super::Out) -> Result<()> {
    let snap = super::Snapshot::of(g)?;
    let (store, model) = (snap.store.clone(), snap.model()?);
    let scope = super::scope(&args.scope)?;
    let store = super::segments::scoped(store, &model, &args.scope)?;
    let report = sessions::sessions(&store, &model, &scope)?;
    if args.json {
        out.json(&report)?;
    } else {
        say!("{}", wayfarer_render::text::sessions_table(&report));
    }
    Ok(())
}
