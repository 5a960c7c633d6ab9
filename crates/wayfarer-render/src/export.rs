//! Exports of charts and tables: SVG as drawn, PNG rasterised from the same
//! SVG with resvg, CSV and XLSX of the numbers behind them, and a
//! self-contained HTML page of several charts (inline SVG, no scripts).

use maud::{DOCTYPE, PreEscaped, html};
use resvg::{tiny_skia, usvg};
use rust_xlsxwriter::{Format, Workbook, XlsxError};

use crate::RenderError;
use crate::chart::{Cell, Chart, Table};
use crate::views::View;

/// Rasterises SVG to PNG. Holds the font database (system fonts are read
/// once, when this is made).
pub struct Png {
    options: usvg::Options<'static>,
}

impl Default for Png {
    fn default() -> Png {
        Png::new()
    }
}

impl std::fmt::Debug for Png {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Png").field("fonts", &self.options.fontdb.len()).finish()
    }
}

impl Png {
    pub fn new() -> Png {
        let mut options = usvg::Options::default();
        let db = options.fontdb_mut();
        db.load_system_fonts();
        // Charts ask for common sans-serif faces; the first one installed wins.
        for family in ["Inter", "Liberation Sans", "DejaVu Sans", "Arial"] {
            if db.faces().any(|f| f.families.iter().any(|(n, _)| n == family)) {
                db.set_sans_serif_family(family);
                break;
            }
        }
        Png { options }
    }

    /// How many font faces were found (0 means text will not be drawn).
    pub fn fonts(&self) -> usize {
        self.options.fontdb.len()
    }

    /// The SVG at `scale` (2 for a sharp image on high-density screens).
    pub fn render(&self, svg: &str, scale: f32) -> Result<Vec<u8>, RenderError> {
        let err = |m: String| RenderError::Write { what: "PNG".into(), message: m };
        let tree = usvg::Tree::from_str(svg, &self.options).map_err(|e| err(e.to_string()))?;
        let size = tree.size().to_int_size().scale_by(scale).ok_or_else(|| err("empty image".into()))?;
        if u64::from(size.width()) * u64::from(size.height()) > 64_000_000 {
            return Err(RenderError::Invalid(format!(
                "the image would be {}×{} pixels; export this chart as SVG or CSV instead",
                size.width(),
                size.height()
            )));
        }
        let mut pixmap =
            tiny_skia::Pixmap::new(size.width(), size.height()).ok_or_else(|| err("image too large".into()))?;
        pixmap.fill(tiny_skia::Color::WHITE);
        resvg::render(&tree, tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
        pixmap.encode_png().map_err(|e| err(e.to_string()))
    }
}

/// One export of a view: the chart or table named `chart` as svg, png,
/// csv, xlsx or html; without `chart`, every chart (html) or every table
/// (xlsx). `chart: None` with svg, png or csv takes the first chart.
pub fn view_export(view: &View, format: &str, chart: Option<&str>, png: &Png) -> Result<Vec<u8>, RenderError> {
    let bad = |m: String| Err(RenderError::Invalid(m));
    let pick = match chart {
        Some(id) => Some(id),
        None if matches!(format, "svg" | "png" | "csv") => view.charts.first().map(|c| c.id.as_str()),
        None => None,
    };
    let Some(id) = pick else {
        return match format {
            "html" => {
                Ok(html(&view.title, "Exported from Wayfarer", &view.charts.iter().collect::<Vec<_>>()).into_bytes())
            }
            "xlsx" => xlsx(&view.all_tables()),
            other => bad(format!("format: expected html, xlsx, svg, png or csv, found '{other}'")),
        };
    };
    if let Some(c) = view.chart(id) {
        return match format {
            "svg" => Ok(c.svg.clone().into_bytes()),
            "png" => png.render(&c.svg, 2.0),
            "csv" => csv(&c.data),
            "xlsx" => xlsx(&[&c.data]),
            "html" => Ok(html(&view.title, &c.title, &[c]).into_bytes()),
            other => bad(format!("format: expected png, svg, csv, xlsx or html, found '{other}'")),
        };
    }
    let Some(t) = view.tables.iter().find(|t| t.name == id) else {
        let names: Vec<&str> = view.all_tables().iter().map(|t| t.name.as_str()).collect();
        return bad(format!("chart: no chart or table '{id}'; there are: {}", names.join(", ")));
    };
    match format {
        "csv" => csv(t),
        "xlsx" => xlsx(&[t]),
        other => bad(format!("format: table '{id}' exports as csv or xlsx, not '{other}'")),
    }
}

/// Text for a CSV cell that a spreadsheet will not run as a formula: text
/// from the data (event names, comments, traits) that starts with `=`, `+`,
/// `-`, `@` or a tab gets a leading apostrophe (OWASP's advice); numbers
/// stay as they are.
pub fn csv_text(s: &str) -> std::borrow::Cow<'_, str> {
    let risky = s.starts_with(['=', '+', '-', '@', '\t', '\r']) && s.parse::<f64>().is_err();
    if risky { std::borrow::Cow::Owned(format!("'{s}")) } else { std::borrow::Cow::Borrowed(s) }
}

/// A table as CSV (numbers at full precision).
pub fn csv(table: &Table) -> Result<Vec<u8>, RenderError> {
    let err = |e: csv::Error| RenderError::Write { what: "CSV".into(), message: e.to_string() };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&table.columns).map_err(err)?;
    for row in &table.rows {
        w.write_record(row.iter().map(|c| match c {
            Cell::Text(s) => csv_text(s).into_owned(),
            other => other.raw(),
        }))
        .map_err(err)?;
    }
    w.into_inner().map_err(|e| RenderError::Write { what: "CSV".into(), message: e.to_string() })
}

/// Tables as an XLSX workbook, one sheet each, numbers as numbers.
pub fn xlsx(tables: &[&Table]) -> Result<Vec<u8>, RenderError> {
    let err = |e: XlsxError| RenderError::Write { what: "XLSX".into(), message: e.to_string() };
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let mut used: Vec<String> = Vec::new();
    for (i, t) in tables.iter().enumerate() {
        let mut name: String = t.name.chars().filter(|c| !"[]:*?/\\".contains(*c)).take(28).collect();
        if name.is_empty() || used.contains(&name) {
            name = format!("Sheet {}", i + 1);
        }
        used.push(name.clone());
        let ws = wb.add_worksheet().set_name(&name).map_err(err)?;
        for (c, h) in t.columns.iter().enumerate() {
            ws.write_with_format(0, c as u16, h, &bold).map_err(err)?;
            ws.set_column_width(c as u16, if c == 0 { 28 } else { 16 }).map_err(err)?;
        }
        for (r, row) in t.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, v) in row.iter().enumerate() {
                let c = c as u16;
                match v {
                    Cell::Text(s) => ws.write(r, c, s).map(|_| ()),
                    Cell::Int(n) => ws.write(r, c, *n as f64).map(|_| ()),
                    Cell::Num(x) => ws.write(r, c, *x).map(|_| ()),
                    Cell::Empty => Ok(()),
                }
                .map_err(err)?;
            }
        }
    }
    wb.save_to_buffer().map_err(err)
}

/// Charts as one self-contained HTML page (inline SVG and data tables).
pub fn html(title: &str, subtitle: &str, charts: &[&Chart]) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            (crate::head(&format!("{title} — Wayfarer"), crate::Style::Inline(EXPORT_CSS)))
            body {
                header { h1 { (title) } p { (subtitle) } }
                @for c in charts {
                    section {
                        h2 { (c.title) }
                        div.chart { (PreEscaped(&c.svg)) }
                        details {
                            summary { "Data (" (c.data.rows.len()) " rows)" }
                            (data_table(&c.data, 500))
                        }
                    }
                }
                footer { "Exported from Wayfarer." }
            }
        }
    }
    .into_string()
}

/// A data table as HTML (at most `limit` rows), numbers formatted for people.
pub fn data_table(t: &Table, limit: usize) -> maud::Markup {
    html! {
        table.data {
            thead { tr { @for c in &t.columns { th { (heading(c)) } } } }
            tbody {
                @for row in t.rows.iter().take(limit) {
                    tr { @for (i, v) in row.iter().enumerate() { (cell_td(v, t.columns.get(i).map_or("", String::as_str))) } }
                }
            }
        }
        @if t.rows.len() > limit {
            p.muted { "Showing " (crate::count(limit as u64)) " of " (crate::count(t.rows.len() as u64)) " rows; the CSV and XLSX exports have them all." }
        }
    }
}

/// A column name for people: words, with acronyms in capitals.
fn heading(column: &str) -> String {
    column
        .split('_')
        .map(|w| match w {
            "clv" | "nps" | "csat" | "ces" => w.to_uppercase(),
            _ => w.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn cell_td(v: &Cell, column: &str) -> maud::Markup {
    let shareish =
        ["share", "conversion", "rate", "retention", "week_", "month_", "day_"].iter().any(|k| column.contains(k));
    match v {
        Cell::Num(x) if column == "nps" => html! { td.num { (format!("{x:+.0}")) } },
        Cell::Num(x) if column == "estimate" => html! { td.num { (crate::param(*x)) } },
        Cell::Text(s) => html! { td { (s) } },
        Cell::Int(n) => html! { td.num { (crate::count(*n as u64)) } },
        Cell::Num(x) if shareish && (0.0..=1.0).contains(x) => html! { td.num { (crate::pct(*x)) } },
        Cell::Num(x) if column.contains("seconds") => html! { td.num { (crate::duration(Some(*x))) } },
        Cell::Num(x) if ["revenue", "clv", "monetary"].iter().any(|k| column.contains(k)) || column == "value" => {
            html! { td.num { (crate::money(*x)) } }
        }
        Cell::Num(x) => html! { td.num { (crate::chart::short(*x)) } },
        Cell::Empty => html! { td.num { "–" } },
    }
}

const EXPORT_CSS: &str = "body{margin:0;font:14px/1.45 -apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1f2933;background:#f7f8fa}\
header{background:#1f2a3a;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}header p{margin:4px 0 0;color:#c9d2df}\
section{background:#fff;margin:18px 28px;padding:16px 20px;border:1px solid #e4e7ec;border-radius:10px}h2{margin:0 0 10px;font-size:16px}\
table.data{border-collapse:collapse;margin-top:8px}table.data th,table.data td{padding:4px 10px;border-bottom:1px solid #e4e7ec;text-align:left}\
td.num{text-align:right;font-variant-numeric:tabular-nums}footer{padding:10px 28px 30px;color:#6b7280;font-size:12px}";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::histogram;

    #[test]
    fn png_is_a_png_of_the_svg_size() {
        let c = histogram("h", "Hist", "customers", &[("a".into(), 3), ("b".into(), 5)]);
        let png = Png::new().render(&c.svg, 1.0).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR: width and height, big-endian, at bytes 16..24.
        let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!((w, h), (880, 280));
    }

    #[test]
    fn csv_and_xlsx_carry_every_row() {
        let c = histogram("h", "Hist", "customers", &[("a,b".into(), 3), ("c".into(), 5)]);
        let text = String::from_utf8(csv(&c.data).unwrap()).unwrap();
        assert_eq!(text, "bucket,customers,share\n\"a,b\",3,0.375\nc,5,0.625\n");
        assert_eq!(csv_text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_text("-0.5"), "-0.5");
        assert_eq!(csv_text("Order Completed"), "Order Completed");
        let x = xlsx(&[&c.data]).unwrap();
        assert_eq!(&x[..2], b"PK");
    }
}
