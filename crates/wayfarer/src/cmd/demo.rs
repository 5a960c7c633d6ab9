//! `wayfarer demo`: the two-minute tour. Generates the synthetic company
//! (wayfarer-sim), writes its events as Segment NDJSON and Parquet with the
//! ground truth beside them, imports the NDJSON, builds the journey map (all
//! customers and each persona), prints it and writes the HTML report.

use std::time::Instant;

use anyhow::{Context, Result};
use wayfarer_engine::Model;
use wayfarer_engine::journey::{MapInputs, journey_maps_with};
use wayfarer_ingest::Format;
use wayfarer_sim::{Intervention, SimConfig, generate};
use wayfarer_store::Store;

use crate::cli::{DemoArgs, Global, MapFormat};
use crate::progress::{Progress, done};

pub fn run(g: &Global, args: &DemoArgs, progress: Progress) -> Result<()> {
    let started = Instant::now();
    let dir = super::data_dir(g, super::DEMO_DATA);
    if args.fresh && dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    let input = dir.join("demo-input");
    std::fs::create_dir_all(&input).with_context(|| format!("creating {}", input.display()))?;

    let pb = progress
        .spinner(&format!("Simulating Northwind Outfitters: {} customers over {} days", args.customers, args.days));
    let mut sim = SimConfig { seed: args.seed, customers: args.customers, days: args.days, ..SimConfig::default() };
    sim.intervention = match args.intervention.as_str() {
        "none" => None,
        "halfway" => Some(Intervention::halfway(sim.start_micros, sim.days)),
        date => {
            let at = wayfarer_core::time::parse_date_arg(date)
                .map_err(|e| anyhow::anyhow!("--intervention '{date}': {e}, or halfway or none"))?;
            Some(Intervention { at_micros: at, ..Intervention::halfway(sim.start_micros, sim.days) })
        }
    };
    let company = generate(&sim);
    done(
        &pb,
        &format!(
            "Simulated {} customers, {} events",
            wayfarer_render::count(args.customers as u64),
            wayfarer_render::count(company.len() as u64)
        ),
    );

    let pb = progress.spinner("Writing events as Segment NDJSON and Parquet, with the ground truth");
    let ndjson = input.join("events.ndjson");
    let parquet = input.join("events.parquet");
    let truth = input.join("ground-truth.json");
    company.write_ndjson(&ndjson)?;
    company.write_parquet(&parquet)?;
    company.write_truth(&truth)?;
    done(&pb, &format!("Wrote {}", input.display()));

    let config_path = dir.join(super::CONFIG_FILE);
    if !config_path.exists() {
        std::fs::write(&config_path, wayfarer_sim::DEMO_CONFIG)
            .with_context(|| format!("writing {}", config_path.display()))?;
    }
    let (config, _) = super::load_config(g, &dir)?;

    let summary = super::import::import_files(&dir, &config, &[ndjson], Some(Format::Ndjson), None, progress)?;
    // The company's dated change, as an annotation to compare around.
    if let Some(iv) = sim.intervention {
        let at = wayfarer_core::time::format_rfc3339(iv.at_micros);
        let known = wayfarer_store::annotations::list(&dir)?;
        if !known.iter().any(|a| a.at == at && a.text == Intervention::DESCRIPTION) {
            let now = wayfarer_core::time::format_rfc3339(super::now_micros());
            wayfarer_store::annotations::add(&dir, &at, Intervention::DESCRIPTION, &now)?;
        }
    }

    let pb = progress.spinner("Building the journey map (all customers and each persona)");
    let store = Store::open(&dir)?;
    let model = Model::compile(&config, &store)?;
    let scope = super::scope(&crate::cli::ScopeArgs { persona: None, from: None, to: None, segment: None })?;
    let personas = super::map::personas(&store, &model, &scope, crate::cli::PersonaSource::Auto)?;
    let inputs = MapInputs::with_predicted_clv(&store, &model, &scope, personas)?;
    let maps = journey_maps_with(&store, &model, &scope, &inputs)?;
    done(&pb, "Built the journey map");

    say!();
    super::map::write_maps(&maps, MapFormat::Text, None)?;
    say!();
    super::map::write_maps(&maps, MapFormat::Html, Some(&args.out))?;
    say!(
        "Imported {} events ({} new) into {} in a demo that took {:.1}s.",
        wayfarer_render::count(summary.events_total),
        wayfarer_render::count(summary.accepted),
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    say!("Ground truth (hidden personas, injected pain points): {}", truth.display());
    say!("Next: open {} in a browser, or try", args.out.display());
    say!("  wayfarer map --data {} --persona 'Deal hunters'", dir.display());
    say!("  wayfarer attribution --data {} --model all", dir.display());
    say!("  wayfarer clv --data {} --top 10", dir.display());
    say!("  wayfarer personas --data {}", dir.display());
    say!(
        "  wayfarer segments create 'Stuck at shipping' --data {} --where \"persona = 'Deal hunters' and did 'Page Viewed'[url ~ '*/shipping*'] and not did 'Order Completed'\"",
        dir.display()
    );
    say!("  wayfarer nba --data {} --stage Decision", dir.display());
    if let Some(iv) = sim.intervention {
        say!(
            "  wayfarer map --data {} --around shipping   # what changed when the shipping costs moved up front ({})",
            dir.display(),
            &wayfarer_core::time::format_rfc3339(iv.at_micros)[..10]
        );
    }
    say!(
        "The dashboard: create a read token, start the server, open http://127.0.0.1:8080 and sign in with the token:"
    );
    say!("  wayfarer keys create --read --data {0} && wayfarer serve --data {0}", dir.display());
    Ok(())
}

/// Average events per simulated customer (measured at the default settings).
const EVENTS_PER_CUSTOMER: f64 = 47.3;

/// Parses 10M, 1.5M, 250k or a plain number.
fn parse_count(s: &str) -> Result<usize> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1e3),
        Some('m') => (&t[..t.len() - 1], 1e6),
        Some('g' | 'b') => (&t[..t.len() - 1], 1e9),
        _ => (t.as_str(), 1.0),
    };
    let n: f64 = num.parse().with_context(|| format!("'{s}' is not a count (e.g. 10M, 250k, 5000)"))?;
    Ok((n * mult).round() as usize)
}

/// `wayfarer simulate`: the synthetic company's files, without a store.
pub fn simulate(args: &crate::cli::SimulateArgs, progress: Progress) -> Result<()> {
    let customers = match (&args.customers, &args.events) {
        (Some(c), _) => *c,
        (None, Some(e)) => ((parse_count(e)? as f64 / EVENTS_PER_CUSTOMER).round() as usize).max(1),
        (None, None) => SimConfig::default().customers,
    };
    if args.live {
        return super::live::run(args, customers, progress);
    }
    if args.ndjson.is_none() && args.parquet.is_none() && args.bench.is_none() && args.truth.is_none() {
        anyhow::bail!("nothing to write: give --ndjson, --parquet, --bench or --truth");
    }
    if let (true, Some(p)) = (args.clickstream, &args.bench) {
        let events = parse_count(args.events.as_deref().unwrap_or("1M"))? as u64;
        let pb = progress.spinner(&format!(
            "Writing a clickstream of {} events to {}",
            wayfarer_render::count(events),
            p.display()
        ));
        let rows = wayfarer_sim::clickstream::write_clickstream(p, events, args.seed, args.days)?;
        done(&pb, &format!("Wrote {} ({} rows)", p.display(), wayfarer_render::count(rows)));
        return Ok(());
    }
    let sim = SimConfig { seed: args.seed, customers, days: args.days, ..SimConfig::default() };
    if args.ndjson.is_none() && args.parquet.is_none() && args.truth.is_none() {
        // Only the benchmark table: stream it, so any size fits in memory.
        if let Some(p) = &args.bench {
            let pb = progress.spinner(&format!("Simulating {customers} customers into {}", p.display()));
            let rows = wayfarer_sim::write_bench_streaming(&sim, p)?;
            done(&pb, &format!("Wrote {} ({} rows)", p.display(), wayfarer_render::count(rows)));
        }
        return Ok(());
    }
    let pb = progress.spinner(&format!("Simulating {customers} customers"));
    let company = generate(&sim);
    done(&pb, &format!("Simulated {} events", wayfarer_render::count(company.len() as u64)));
    if let Some(p) = &args.ndjson {
        company.write_ndjson(p)?;
        say!("Wrote {}", p.display());
    }
    if let Some(p) = &args.parquet {
        company.write_parquet(p)?;
        say!("Wrote {}", p.display());
    }
    if let Some(p) = &args.bench {
        let rows = company.write_bench_parquet(p)?;
        say!("Wrote {} ({} rows)", p.display(), wayfarer_render::count(rows));
    }
    if let Some(p) = &args.truth {
        company.write_truth(p)?;
        say!("Wrote {}", p.display());
    }
    Ok(())
}
