//! `wayfarer map`: the journey map in text, JSON, HTML, CSV or XLSX.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use wayfarer_engine::Model;
use wayfarer_engine::journey::{JourneyMap, MapInputs, Personas, journey_map_with, journey_maps_with};
use wayfarer_engine::personas::{PersonaSpec, persona_fit};
use wayfarer_engine::segments::{self, Segmentation};
use wayfarer_store::Store;

use crate::cli::{Global, MapArgs, MapFormat, PersonaSource};
use crate::progress::{Progress, done};

pub fn run(g: &Global, args: &MapArgs, progress: Progress, out: &mut super::Out) -> Result<()> {
    let snap = super::Snapshot::of(g)?;
    let (store, model) = (snap.store.clone(), snap.model()?);
    let mut scope = super::scope(&args.scope)?;
    let store = super::segments::scoped(store, &model, &args.scope)?;
    let format = if args.json { MapFormat::Json } else { args.format };
    let pb = progress.spinner("Building the journey map");
    let personas = match &args.split_by {
        Some(key) => {
            let by = Segmentation::resolve(key, &model)?;
            scope.persona = args.group.clone();
            segments::segment(&store, &model, &scope, &by)?
        }
        None => personas(&store, &model, &scope, args.personas)?,
    };
    let inputs = MapInputs::with_predicted_clv(&store, &model, &scope, personas)?;
    let mut maps = if matches!(format, MapFormat::Html | MapFormat::Xlsx) && scope.persona.is_none() {
        journey_maps_with(&store, &model, &scope, &inputs)?
    } else {
        vec![journey_map_with(&store, &model, &scope, &inputs)?]
    };
    done(&pb, "Built the journey map");
    // A group of a split is named with its segmentation ("properties.platform = ios").
    if let (Some(key), Some(group)) = (&args.split_by, &args.group)
        && let Some(by) = Segmentation::parse(key)
    {
        for m in maps.iter_mut().filter(|m| m.scope.persona.as_deref() == Some(group.as_str())) {
            m.scope.persona = Some(format!("{} = {group}", by.key()));
        }
    }
    if let (MapFormat::Json, None, super::Out::Capture(_)) = (format, &args.out, &out) {
        return out.json(&maps[0]);
    }
    write_maps(&maps, format, args.out.as_deref())
}

/// The personas a map is split by.
pub fn personas(
    store: &Store,
    model: &Model,
    scope: &wayfarer_engine::Scope,
    source: PersonaSource,
) -> Result<Personas> {
    let discovered = || -> Result<Personas> {
        let spec = PersonaSpec { with_maps: false, ..PersonaSpec::default() };
        Ok(Personas::discovered(persona_fit(store, model, scope, &spec)?))
    };
    Ok(match source {
        PersonaSource::Configured => Personas::hand_written(model),
        PersonaSource::Discovered => discovered()?,
        PersonaSource::Auto if !model.personas.is_empty() => Personas::hand_written(model),
        // Too few customers to cluster: a map without personas (but a
        // stopped computation stays stopped).
        PersonaSource::Auto => match discovered() {
            Ok(p) => p,
            Err(e) if super::code_for(&e) == Some(wayfarer_core::ErrorCode::QueryTimeout) => return Err(e),
            Err(_) => Personas::none(),
        },
    })
}

pub fn write_maps(maps: &[JourneyMap], format: MapFormat, out: Option<&Path>) -> Result<()> {
    let Some(main) = maps.first() else {
        return Ok(());
    };
    match format {
        MapFormat::Text => emit(out, wayfarer_render::text::journey_table(main, super::term_width()).as_bytes()),
        MapFormat::Json => emit(out, (serde_json::to_string_pretty(main)? + "\n").as_bytes()),
        MapFormat::Csv => {
            let mut buf = Vec::new();
            wayfarer_render::tabular::write_csv(main, &mut buf)?;
            emit(out, &buf)
        }
        MapFormat::Html => {
            let path = out.map_or_else(|| PathBuf::from("journey-map.html"), Path::to_path_buf);
            let html = wayfarer_render::html::report(maps, "Customer journey map");
            std::fs::write(&path, html).with_context(|| format!("writing {}", path.display()))?;
            say!("Wrote {}", path.display());
            Ok(())
        }
        MapFormat::Svg | MapFormat::Png => {
            let png = matches!(format, MapFormat::Png);
            let default = if png { "journey-map.png" } else { "journey-map.svg" };
            let path = out.map_or_else(|| PathBuf::from(default), Path::to_path_buf);
            let svg = wayfarer_render::mapsvg::map_svg(main, "Customer journey map");
            let bytes = if png { wayfarer_render::export::Png::new().render(&svg, 2.0)? } else { svg.into_bytes() };
            std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
            say!("Wrote {}", path.display());
            Ok(())
        }
        MapFormat::Xlsx => {
            let path = out.map_or_else(|| PathBuf::from("journey-map.xlsx"), Path::to_path_buf);
            wayfarer_render::tabular::write_xlsx(maps, &path)?;
            say!("Wrote {}", path.display());
            Ok(())
        }
    }
}

fn emit(out: Option<&Path>, bytes: &[u8]) -> Result<()> {
    match out {
        Some(p) => std::fs::write(p, bytes).with_context(|| format!("writing {}", p.display())),
        None => {
            let mut o = std::io::stdout().lock();
            match o.write_all(bytes).and_then(|()| o.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(anyhow::Error::new(super::Closed)),
                other => Ok(other?),
            }
        }
    }
}
