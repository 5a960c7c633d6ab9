//! `wayfarer sql`: read-only SQL over the events with Apache DataFusion
//! (the `sql` feature; without it the command says how to get it).

use anyhow::Result;

use super::Out;
use crate::cli::{Global, SqlArgs};

#[cfg(feature = "sql")]
pub fn run(g: &Global, a: &SqlArgs, out: &mut Out) -> Result<()> {
    use anyhow::Context;
    let dir = super::data_dir(g, super::DEFAULT_DATA);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    let r = runtime.block_on(wayfarer_sql::query(&dir, &a.query, a.limit))?;
    if a.json {
        return out.json(&r);
    }
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_header(r.columns.clone());
    for row in &r.rows {
        t.add_row(row.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect::<Vec<_>>());
    }
    say!("{t}");
    let shown =
        if r.truncated { format!("first {} rows (--limit)", r.rows.len()) } else { format!("{} rows", r.rows.len()) };
    say!("{shown}");
    Ok(())
}

#[cfg(not(feature = "sql"))]
pub fn run(_: &Global, _: &SqlArgs, _: &mut Out) -> Result<()> {
    anyhow::bail!(
        "this build of Wayfarer has no SQL; build it with `cargo build --release --features sql` \
         (DataFusion makes the first build much longer)"
    )
}
