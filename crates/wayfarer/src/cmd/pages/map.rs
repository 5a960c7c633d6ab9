//! The journey map page (the home page): the map of a scope, split by
//! personas or a built-in segment, its cells' drill-downs and exports.

use super::*;

pub(super) struct MapBundle {
    pub(super) inputs: MapInputs,
    pub(super) maps: Vec<JourneyMap>,
}

fn segment_options(maps: &[JourneyMap]) -> Vec<(String, Vec<(String, String)>)> {
    let group = |by: Segmentation, names: Vec<String>| {
        (by.label(), names.into_iter().map(|n| (format!("{}:{n}", by.key()), n)).collect())
    };
    let channels = maps
        .first()
        .and_then(|m| m.stages.first())
        .map(|s| s.channels.iter().map(|c| c.channel.clone()).collect())
        .unwrap_or_default();
    let names = |v: &[&str]| v.iter().map(ToString::to_string).collect();
    vec![
        group(Segmentation::FirstChannel, channels),
        group(Segmentation::Purchases, names(&["Never bought", "One purchase", "Repeat buyers"])),
        group(Segmentation::Status, names(&["Active", "Churned"])),
    ]
}

/// The segment selector's key for a saved segment (`saved:NAME`).
const SAVED: &str = "saved";

fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

impl Dash {
    pub(super) fn map(&self, params: &[(String, String)], export: bool) -> Result<PageOutput, Problem> {
        let scope_params: Vec<(String, String)> = command_params(params)
            .into_iter()
            .filter(|(k, _)| matches!(k.as_str(), "persona" | "from" | "to"))
            .collect();
        let cli = self.parse("map", &scope_params)?;
        let Command::Map(args) = cli.command else { return Err(Problem::Query("not a map".into())) };
        let scope = crate::cmd::scope(&args.scope)?;
        let (config, _) = self.config()?;
        let bundle = self.map_bundle(&config, &scope)?;
        let maps = &bundle.maps;
        let persona_names: Vec<String> = bundle.inputs.personas.names.iter().map(|(n, _)| n.clone()).collect();
        if let Some(p) = &scope.persona
            && !persona_names.contains(p)
        {
            return Err(Problem::Query(format!(
                "persona: there is no persona '{p}'; there are: {}",
                persona_names.join(", ")
            )));
        }
        // A segment (`first_channel:Email`) instead of a persona: the maps
        // of that segmentation, from one pass too.
        let segment = param(params, "segment").map(str::to_string);
        let segment_maps;
        let saved_bundle;
        let label;
        let (maps, wanted, label): (&[JourneyMap], Option<String>, Option<&str>) = match &segment {
            None => (maps, scope.persona.clone(), None),
            Some(s) => {
                if scope.persona.is_some() {
                    return Err(Problem::Query("persona and segment: choose one of them".into()));
                }
                let Some((key, group)) = s.split_once(':') else {
                    return Err(Problem::Query(format!(
                        "segment: expected first_channel:NAME, purchases:NAME, status:NAME, properties.KEY:VALUE \
                         or traits.KEY:VALUE, found '{s}'"
                    )));
                };
                if key == SAVED {
                    // A saved segment scopes the map like its own data: all
                    // of its customers (the first map of the bundle).
                    saved_bundle = self.saved_bundle(&config, &scope, group)?;
                    label = format!("Segment {group}");
                    (&saved_bundle.maps[..saved_bundle.maps.len().min(1)], None, Some(label.as_str()))
                } else {
                    let by;
                    (by, segment_maps) = self.segment_maps(&config, &scope, key, &bundle)?;
                    label = by.label();
                    (segment_maps.as_slice(), Some(group.to_string()), Some(label.as_str()))
                }
            }
        };
        let Some(map) = maps.iter().find(|m| m.scope.persona == wanted) else {
            let groups: Vec<&str> = maps.iter().filter_map(|m| m.scope.persona.as_deref()).collect();
            let asked = wanted.as_deref().unwrap_or_default();
            return Err(Problem::Query(format!(
                "segment: no customer of this scope is in '{}' (groups: {}){}",
                segment.as_deref().unwrap_or_default(),
                groups.join(", "),
                wayfarer_core::suggest::hint(asked, &groups)
            )));
        };
        if export {
            let format = param(params, "format").unwrap_or("html");
            let title = "Customer journey map";
            let name = match &wanted {
                Some(p) => format!("journey-map-{}", slug(p)),
                None => "journey-map".into(),
            };
            return match format {
                "svg" => Ok(file(&name, "svg", wayfarer_render::mapsvg::map_svg(map, title).into_bytes())),
                "png" => Ok(file(&name, "png", self.png(&wayfarer_render::mapsvg::map_svg(map, title))?)),
                "json" => Ok(file(&name, "json", serde_json::to_vec_pretty(map).map_err(anyhow::Error::from)?)),
                "csv" => {
                    let mut buf = Vec::new();
                    wayfarer_render::tabular::write_csv(map, &mut buf).map_err(anyhow::Error::from)?;
                    Ok(file(&name, "csv", buf))
                }
                "html" | "xlsx" => {
                    // The report has the persona tabs: all customers, then each persona.
                    let one;
                    let maps: &[JourneyMap] = if scope.persona.is_some() {
                        one = [map.clone()];
                        &one
                    } else {
                        maps
                    };
                    if format == "html" {
                        Ok(file(&name, "html", wayfarer_render::html::report(maps, title).into_bytes()))
                    } else {
                        Ok(file(
                            &name,
                            "xlsx",
                            wayfarer_render::tabular::xlsx_bytes(maps).map_err(anyhow::Error::from)?,
                        ))
                    }
                }
                other => {
                    Err(Problem::Query(format!("format: expected html, svg, png, csv, xlsx or json, found '{other}'")))
                }
            };
        }
        let notes = wayfarer_store::notes::list(&self.data).map_err(anyhow::Error::from)?;
        // The team's efforts order the opportunities; KPI targets are about
        // the maps of all the data (no dates, no segment).
        let mut planned = map.clone();
        let plans = wayfarer_store::notes::plans(&self.data).map_err(anyhow::Error::from)?;
        wayfarer_engine::journey::plans::score_opportunities(&mut planned, &plans);
        let map = &planned;
        let targets = if segment.is_none() && scope.from.is_none() && scope.to.is_none() {
            let all = wayfarer_store::notes::targets(&self.data).map_err(anyhow::Error::from)?;
            wayfarer_engine::journey::plans::target_statuses(&bundle.maps, &all)
                .into_iter()
                .filter(|t| t.target.persona == scope.persona)
                .collect()
        } else {
            Vec::new()
        };
        let selected =
            param(params, "cell").and_then(|c| c.split_once('|')).map(|(s, l)| (s.to_string(), l.to_string()));
        let mut export_params = scope_params;
        if let Some(s) = &segment {
            export_params.push(("segment".into(), s.clone()));
        }
        let q = dashboard::query(&export_params);
        let exports = ["HTML", "PNG", "SVG", "XLSX", "CSV", "JSON"]
            .iter()
            .map(|f| {
                (
                    f.to_string(),
                    format!("/export?{q}{}format={}", if q.is_empty() { "" } else { "&" }, f.to_lowercase()),
                )
            })
            .collect();
        let s = &map.scope;
        let subtitle = format!(
            "{} · {} – {} · {} · {} · {}",
            match (label, &s.persona) {
                (Some(l), Some(g)) => format!("{l}: {g}"),
                (None, Some(p)) => p.clone(),
                (Some(l), None) => l.to_string(),
                (None, None) => "All customers".to_string(),
            },
            s.from.as_deref().unwrap_or(&s.data_start).get(..10).unwrap_or(""),
            s.to.as_deref().unwrap_or(&s.data_end).get(..10).unwrap_or(""),
            wayfarer_render::counted(s.customers, "customer"),
            wayfarer_render::counted(s.events, "event"),
            if s.has_revenue {
                format!("revenue {}", wayfarer_render::money(s.revenue))
            } else {
                "no revenue in the data".to_string()
            }
        );
        let page = dashboard::MapPage {
            chrome: Chrome { page: "map".into(), title: "Customer journey map".into(), subtitle, exports },
            map,
            personas: persona_names,
            segments: {
                let mut o = segment_options(&bundle.maps);
                let saved = wayfarer_store::segment_defs::list(&self.data).unwrap_or_default();
                if !saved.is_empty() {
                    o.push((
                        "Saved segment".into(),
                        saved.into_iter().map(|d| (format!("{SAVED}:{}", d.name), d.name)).collect(),
                    ));
                }
                o
            },
            segment,
            persona: scope.persona,
            from: args.scope.from.clone(),
            to: args.scope.to,
            notes: &notes,
            targets: &targets,
            selected,
            config: &config,
        };
        Ok(PageOutput::html(dashboard::map_page(&page)))
    }

    /// The maps of a time window — all customers, then each persona, from
    /// one pass over the data, so switching persona is instant — with the
    /// inputs they were built with (personas, predicted CLV), cached together
    /// so they always belong to the same data.
    pub(super) fn map_bundle(&self, config: &Config, scope: &Scope) -> Result<Arc<MapBundle>, Problem> {
        let scope = scope.without_persona();
        self.cached(&format!("map|{:?}|{:?}", scope.from, scope.to), || {
            let store = self.store()?;
            let model = Model::compile(config, &store).map_err(anyhow::Error::from)?;
            let personas = crate::cmd::map::personas(&store, &model, &scope, PersonaSource::Auto)?;
            let inputs =
                MapInputs::with_predicted_clv(&store, &model, &scope, personas).map_err(anyhow::Error::from)?;
            let maps = journey_maps_with(&store, &model, &scope, &inputs).map_err(anyhow::Error::from)?;
            Ok(MapBundle { inputs, maps })
        })
    }

    /// The maps of a saved segment's customers (all of them, then each
    /// persona), for a time window: the map bundle of the store limited to
    /// its members.
    fn saved_bundle(&self, config: &Config, scope: &Scope, name: &str) -> Result<Arc<MapBundle>, Problem> {
        let scope = scope.without_persona();
        self.cached(&format!("saved|{name}|{:?}|{:?}", scope.from, scope.to), || {
            let store = self.store()?;
            let model = Model::compile(config, &store).map_err(anyhow::Error::from)?;
            let args = crate::cli::ScopeArgs { persona: None, from: None, to: None, segment: Some(name.to_string()) };
            let store = crate::cmd::segments::scoped(store, &model, &args)
                .map_err(|e| Problem::Query(format!("segment: {e:#}")))?;
            let personas = crate::cmd::map::personas(&store, &model, &scope, PersonaSource::Auto)?;
            let inputs =
                MapInputs::with_predicted_clv(&store, &model, &scope, personas).map_err(anyhow::Error::from)?;
            let maps = journey_maps_with(&store, &model, &scope, &inputs).map_err(anyhow::Error::from)?;
            Ok(MapBundle { inputs, maps })
        })
    }

    /// The maps of one segmentation (all customers, then each group) for a
    /// time window, with the predicted CLV of the window's map.
    fn segment_maps(
        &self,
        config: &Config,
        scope: &Scope,
        key: &str,
        bundle: &MapBundle,
    ) -> Result<(Segmentation, Arc<Vec<JourneyMap>>), Problem> {
        let scope = scope.without_persona();
        let maps = self.cached(&format!("segment|{key}|{:?}|{:?}", scope.from, scope.to), || {
            let store = self.store()?;
            let model = Model::compile(config, &store).map_err(anyhow::Error::from)?;
            let by = Segmentation::resolve(key, &model).map_err(|e| Problem::Query(format!("segment: {e}")))?;
            let personas = segments::segment(&store, &model, &scope, &by).map_err(anyhow::Error::from)?;
            let inputs = MapInputs { personas, predicted_clv: bundle.inputs.predicted_clv.clone() };
            Ok(journey_maps_with(&store, &model, &scope, &inputs).map_err(anyhow::Error::from)?)
        })?;
        let by = Segmentation::parse(key).ok_or_else(|| Problem::Query(format!("segment: no segmentation '{key}'")))?;
        Ok((by, maps))
    }

    pub(super) fn png(&self, svg: &str) -> Result<Vec<u8>, Problem> {
        Ok(self.png.render(svg, 2.0).map_err(anyhow::Error::from)?)
    }
}
