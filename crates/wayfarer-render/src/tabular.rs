//! The journey map as tables: a long-format CSV (one value per row, easy to
//! pivot) and an XLSX workbook with a map sheet (stages as columns) and one
//! sheet per lane that has many rows.

use std::path::Path;

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use wayfarer_engine::journey::{JourneyMap, StageReport};

use crate::RenderError;

/// Rows of (stage, lane, item, metric, value).
fn long_rows(map: &JourneyMap) -> Vec<[String; 5]> {
    let mut rows = Vec::new();
    let mut put = |s: &StageReport, lane: &str, item: &str, metric: &str, value: String| {
        rows.push([s.name.clone(), lane.to_string(), item.to_string(), metric.to_string(), value]);
    };
    let opt = |v: Option<f64>| v.map_or(String::new(), |x| format!("{x}"));
    for s in &map.stages {
        put(s, "customers", "", "reached", s.customers.to_string());
        put(s, "customers", "", "share", format!("{}", s.share));
        put(s, "conversion", "", "conversion_to_next", opt(s.conversion_to_next));
        put(s, "conversion", "", "dropped", s.dropped.to_string());
        put(s, "time", "", "median_time_to_next_seconds", opt(s.median_time_to_next_seconds));
        put(s, "time", "", "p90_time_to_next_seconds", opt(s.p90_time_to_next_seconds));
        for t in &s.touchpoints {
            put(s, "touchpoints", &t.name, "customers", t.customers.to_string());
            put(s, "touchpoints", &t.name, "events", t.events.to_string());
            put(s, "touchpoints", &t.name, "lift", opt(t.lift));
            put(s, "touchpoints", &t.name, "exit_rate", format!("{}", t.exit_rate));
        }
        for a in &s.actions {
            put(s, "actions", &a.event, "customers", a.customers.to_string());
        }
        for c in &s.channels {
            put(s, "channels", &c.channel, "customers", c.customers.to_string());
            put(s, "channels", &c.channel, "share", format!("{}", c.share));
        }
        put(s, "emotion", "", "score", opt(s.emotion.score));
        put(s, "emotion", "", "n", s.emotion.n.to_string());
        if let Some(n) = &s.emotion.nps {
            put(s, "emotion", "nps", "score", format!("{}", n.score));
        }
        if let Some(c) = &s.emotion.csat {
            put(s, "emotion", "csat", "satisfied_share", format!("{}", c.satisfied_share));
        }
        if let Some(c) = &s.emotion.ces {
            put(s, "emotion", "ces", "mean", format!("{}", c.mean));
        }
        for p in &s.pain_points {
            put(s, "pain_points", &p.title, "severity", format!("{}", p.severity));
        }
        for o in &s.opportunities {
            put(s, "opportunities", &o.title, "customers", o.customers.to_string());
        }
        for v in &s.verbatims {
            put(s, "verbatims", &v.text, "sentiment", format!("{}", v.sentiment));
        }
    }
    rows
}

/// Writes the long-format CSV.
pub fn write_csv(map: &JourneyMap, out: &mut dyn std::io::Write) -> Result<(), RenderError> {
    let err = |e: csv::Error| RenderError::Write { what: "CSV".into(), message: e.to_string() };
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["stage", "lane", "item", "metric", "value"]).map_err(err)?;
    for r in long_rows(map) {
        w.write_record(r.iter().map(|v| crate::export::csv_text(v).into_owned())).map_err(err)?;
    }
    w.flush().map_err(|e| RenderError::Write { what: "CSV".into(), message: e.to_string() })
}

/// Writes the XLSX workbook.
pub fn write_xlsx(maps: &[JourneyMap], path: &Path) -> Result<(), RenderError> {
    let bytes = xlsx_bytes(maps)?;
    std::fs::write(path, bytes)
        .map_err(|e| RenderError::Write { what: path.display().to_string(), message: e.to_string() })
}

/// The XLSX workbook in memory.
pub fn xlsx_bytes(maps: &[JourneyMap]) -> Result<Vec<u8>, RenderError> {
    let err = |e: XlsxError| RenderError::Write { what: "XLSX".into(), message: e.to_string() };
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let wrap = Format::new().set_text_wrap();
    for (i, map) in maps.iter().enumerate() {
        let name = match &map.scope.persona {
            Some(p) => sheet_name(p, i),
            None => "Map".to_string(),
        };
        let ws = wb.add_worksheet().set_name(&name).map_err(err)?;
        map_sheet(ws, map, &bold, &wrap).map_err(err)?;
    }
    if let Some(map) = maps.first() {
        let ws = wb.add_worksheet().set_name("Pain points").map_err(err)?;
        let head = [
            "stage",
            "persona",
            "kind",
            "title",
            "metric",
            "value",
            "baseline",
            "baseline of",
            "n",
            "p-value",
            "customers",
            "severity",
            "evidence",
        ];
        for (c, h) in head.iter().enumerate() {
            ws.write_with_format(0, c as u16, *h, &bold).map_err(err)?;
        }
        for (r, p) in map.pain_points.iter().enumerate() {
            let r = r as u32 + 1;
            ws.write(r, 0, &p.stage).map_err(err)?;
            ws.write(r, 1, p.persona.as_deref().unwrap_or("")).map_err(err)?;
            ws.write(r, 2, p.kind.label()).map_err(err)?;
            ws.write(r, 3, &p.title).map_err(err)?;
            ws.write(r, 4, &p.metric).map_err(err)?;
            ws.write(r, 5, p.value).map_err(err)?;
            ws.write(r, 6, p.baseline).map_err(err)?;
            ws.write(r, 7, &p.baseline_label).map_err(err)?;
            ws.write(r, 8, p.n as f64).map_err(err)?;
            ws.write(r, 9, p.p_value.unwrap_or(f64::NAN)).map_err(err)?;
            ws.write(r, 10, p.affected_customers as f64).map_err(err)?;
            ws.write(r, 11, p.severity).map_err(err)?;
            ws.write(r, 12, &p.evidence).map_err(err)?;
        }
        let ws = wb.add_worksheet().set_name("Opportunities").map_err(err)?;
        let head = [
            "stage",
            "persona",
            "title",
            "action",
            "customers",
            "segment",
            "expected conversions",
            "expected revenue",
            "assumption",
        ];
        for (c, h) in head.iter().enumerate() {
            ws.write_with_format(0, c as u16, *h, &bold).map_err(err)?;
        }
        for (r, o) in map.opportunities.iter().enumerate() {
            let r = r as u32 + 1;
            ws.write(r, 0, o.stage.as_deref().unwrap_or("")).map_err(err)?;
            ws.write(r, 1, o.persona.as_deref().unwrap_or("")).map_err(err)?;
            ws.write(r, 2, &o.title).map_err(err)?;
            ws.write(r, 3, &o.action).map_err(err)?;
            ws.write(r, 4, o.customers as f64).map_err(err)?;
            ws.write(r, 5, &o.segment).map_err(err)?;
            ws.write(r, 6, o.expected_conversions.unwrap_or(f64::NAN)).map_err(err)?;
            ws.write(r, 7, o.expected_revenue.unwrap_or(f64::NAN)).map_err(err)?;
            ws.write(r, 8, &o.assumption).map_err(err)?;
        }
        let ws = wb.add_worksheet().set_name("Long format").map_err(err)?;
        for (c, h) in ["stage", "lane", "item", "metric", "value"].iter().enumerate() {
            ws.write_with_format(0, c as u16, *h, &bold).map_err(err)?;
        }
        for (r, row) in long_rows(map).iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                match v.parse::<f64>() {
                    Ok(x) if c == 4 => ws.write(r as u32 + 1, c as u16, x).map_err(err)?,
                    _ => ws.write(r as u32 + 1, c as u16, v).map_err(err)?,
                };
            }
        }
    }
    wb.save_to_buffer().map_err(err)
}

fn sheet_name(p: &str, i: usize) -> String {
    let clean: String = p.chars().filter(|c| !"[]:*?/\\".contains(*c)).take(28).collect();
    if clean.is_empty() { format!("Persona {i}") } else { clean }
}

fn map_sheet(ws: &mut Worksheet, map: &JourneyMap, bold: &Format, wrap: &Format) -> Result<(), XlsxError> {
    ws.set_column_width(0, 24)?;
    ws.write_with_format(0, 0, map.scope.persona.as_deref().unwrap_or("All customers"), bold)?;
    let lanes = [
        "Customers reached",
        "Share",
        "Conversion to next",
        "Median time to next (h)",
        "P90 time to next (h)",
        "Top touchpoints",
        "Top actions",
        "Favourite channel",
        "Emotion",
        "NPS",
        "Top pain point",
        "Top opportunity",
        "Verbatim",
    ];
    for (r, l) in lanes.iter().enumerate() {
        ws.write_with_format(r as u32 + 1, 0, *l, bold)?;
    }
    for (c, s) in map.stages.iter().enumerate() {
        let col = c as u16 + 1;
        ws.set_column_width(col, 30)?;
        ws.write_with_format(0, col, &s.name, bold)?;
        ws.write(1, col, s.customers as f64)?;
        ws.write(2, col, s.share)?;
        if let Some(v) = s.conversion_to_next {
            ws.write(3, col, v)?;
        }
        if let Some(v) = s.median_time_to_next_seconds {
            ws.write(4, col, v / 3600.0)?;
        }
        if let Some(v) = s.p90_time_to_next_seconds {
            ws.write(5, col, v / 3600.0)?;
        }
        let tps: Vec<String> = s.touchpoints.iter().take(5).map(|t| t.name.clone()).collect();
        ws.write_with_format(6, col, tps.join("\n"), wrap)?;
        let acts: Vec<String> = s.actions.iter().take(5).map(|a| a.event.clone()).collect();
        ws.write_with_format(7, col, acts.join("\n"), wrap)?;
        ws.write(8, col, s.favourite_channel.as_deref().unwrap_or(""))?;
        if let Some(e) = s.emotion.score {
            ws.write(9, col, e)?;
        }
        if let Some(n) = &s.emotion.nps {
            ws.write(10, col, n.score)?;
        }
        ws.write_with_format(11, col, s.pain_points.first().map_or("", |p| p.title.as_str()), wrap)?;
        ws.write_with_format(12, col, s.opportunities.first().map_or("", |o| o.title.as_str()), wrap)?;
        ws.write_with_format(13, col, s.verbatims.first().map_or("", |v| v.text.as_str()), wrap)?;
    }
    Ok(())
}
