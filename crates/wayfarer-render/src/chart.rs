//! SVG charts drawn by our own code: bars with drop-off, histograms, trend
//! lines, cohort heatmaps, lifecycle bars, horizontal bars and Sankey
//! diagrams. Every chart carries the table of numbers it draws, so the same
//! object exports as SVG, PNG, CSV and XLSX. Colours are the Okabe–Ito
//! palette (distinguishable with every common colour-vision deficiency) and a
//! single-hue blue ramp for heatmaps.

use std::fmt::Write as _;

use serde::Serialize;

/// Okabe–Ito, reordered so neighbours contrast; yellow last (weak on white).
pub const PALETTE: [&str; 8] = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"];

const FONT: &str = "Inter, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'Liberation Sans', 'DejaVu Sans', sans-serif";
const INK: &str = "#1f2933";
const MUTED: &str = "#6b7280";
const GRID: &str = "#e5e7eb";

/// One value of a data table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    Text(String),
    Int(i64),
    Num(f64),
    Empty,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }
    pub fn int(n: u64) -> Cell {
        Cell::Int(n as i64)
    }
    pub fn num(x: f64) -> Cell {
        if x.is_finite() { Cell::Num(x) } else { Cell::Empty }
    }
    pub fn opt(x: Option<f64>) -> Cell {
        x.map_or(Cell::Empty, Cell::num)
    }
    /// The value as CSV text (numbers unformatted, full precision).
    pub fn raw(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Num(x) => format!("{x}"),
            Cell::Empty => String::new(),
        }
    }
}

/// The numbers behind a chart (or a table on a page).
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(name: &str, columns: &[&str]) -> Table {
        Table { name: name.to_string(), columns: columns.iter().map(ToString::to_string).collect(), rows: Vec::new() }
    }
    pub fn push(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
    }
}

/// A drawn chart and its data.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Short name used in export links and file names (`funnel`, `trend`).
    pub id: String,
    pub title: String,
    pub svg: String,
    pub data: Table,
}

/// Escapes text for SVG and HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Shortens a label to `n` characters with an ellipsis.
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n.saturating_sub(1)).collect::<String>() + "…" }
}

/// Breaks text into at most `lines` lines of about `width` characters at
/// spaces; the last line ends with an ellipsis when text is left over.
pub fn wrap(s: &str, width: usize, lines: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let words: Vec<&str> = s.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        let len = cur.chars().count();
        if len > 0 && len + 1 + w.chars().count() > width {
            out.push(std::mem::take(&mut cur));
            if out.len() == lines {
                let last = out.pop().unwrap_or_default();
                out.push(clip(&(last + " " + &words[i..].join(" ")), width));
                return out;
            }
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(w);
    }
    if !cur.is_empty() {
        out.push(clip(&cur, width));
    }
    out
}

/// An SVG document under construction.
pub struct Svg {
    w: f64,
    h: f64,
    body: String,
}

impl Svg {
    pub fn new(w: f64, h: f64) -> Svg {
        Svg { w, h, body: String::new() }
    }
    pub fn raw(&mut self, s: &str) {
        self.body.push_str(s);
    }
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, tip: Option<&str>) {
        let _ = write!(
            self.body,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}""#,
            w.max(0.0),
            h.max(0.0)
        );
        match tip {
            Some(t) => {
                let _ = write!(self.body, "><title>{}</title></rect>", esc(t));
            }
            None => self.body.push_str("/>"),
        }
    }
    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, extra: &str) {
        let _ = write!(
            self.body,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{stroke}" {extra}/>"#
        );
    }
    /// Text; `anchor` is start, middle or end. (A drawing primitive: every
    /// argument is a property of the text element.)
    #[allow(clippy::too_many_arguments)]
    pub fn text(&mut self, x: f64, y: f64, s: &str, size: f64, fill: &str, anchor: &str, weight: u32) {
        let _ = write!(
            self.body,
            r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}" fill="{fill}" text-anchor="{anchor}" font-weight="{weight}">{}</text>"#,
            esc(s)
        );
    }
    pub fn finish(self, label: &str) -> String {
        format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{l}" font-family="{f}" style="max-width:100%;height:auto"><rect width="{w}" height="{h}" fill="#ffffff"/>{b}</svg>"##,
            w = self.w,
            h = self.h,
            l = esc(label),
            f = esc(FONT),
            b = self.body
        )
    }
}

/// An axis from 0 with ticks at round values: (top, step), the step 1, 2
/// or 5 times a power of ten giving 3 to 5 intervals, the top the first
/// multiple of the step at or above `hi`. Counts never get fractional
/// steps (`whole`).
fn nice_scale(hi: f64, whole: bool) -> (f64, f64) {
    if hi <= 0.0 || !hi.is_finite() {
        return (if whole { 4.0 } else { 1.0 }, if whole { 1.0 } else { 0.25 });
    }
    let raw = hi / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let mut step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|&s| s >= raw * 0.999).unwrap_or(10.0 * mag);
    if whole {
        step = step.max(1.0).round();
    }
    let top = ((hi / step - 1e-9).ceil() * step).max(step);
    (top, step)
}

/// A "nice" upper bound for an axis.
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    let f = v / mag;
    let n = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    n * mag
}

/// Compact number for axes and labels: 950, 1.2k, 3.4M.
pub fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}B", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3).replace(".0k", "k")
    } else if a >= 10.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// One bar of a funnel: reached, and conversion from the previous and first step.
pub struct FunnelBar {
    pub label: String,
    pub customers: u64,
    pub from_previous: Option<f64>,
    pub from_first: f64,
    pub median_seconds: Option<f64>,
}

/// Funnel bars: each step's customers, the drop-off from the step before
/// shaded, conversion percentages on top.
pub fn funnel_bars(id: &str, title: &str, bars: &[FunnelBar]) -> Chart {
    let n = bars.len().max(1) as f64;
    let (w, h, left, top, bottom) = (880.0, 340.0, 56.0, 34.0, 62.0);
    let plot_w = w - left - 16.0;
    let plot_h = h - top - bottom;
    let scale = nice_scale(bars.iter().map(|b| b.customers).max().unwrap_or(0) as f64, true);
    let max = scale.0;
    let mut s = Svg::new(w, h);
    axis_y(&mut s, left, top, plot_w, plot_h, scale, short);
    let slot = plot_w / n;
    let bw = (slot * 0.62).min(120.0);
    let mut prev: Option<u64> = None;
    for (i, b) in bars.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bw) / 2.0;
        let bh = b.customers as f64 / max * plot_h;
        if let Some(p) = prev {
            let ph = p as f64 / max * plot_h;
            let dropped = p.saturating_sub(b.customers);
            s.rect(
                x,
                top + plot_h - ph,
                bw,
                ph - bh,
                "#f3d3c4",
                Some(&format!("{}: {} dropped before this step", b.label, crate::count(dropped))),
            );
        }
        s.rect(
            x,
            top + plot_h - bh,
            bw,
            bh,
            PALETTE[0],
            Some(&format!(
                "{}: {} ({} of step 1)",
                b.label,
                crate::counted(b.customers, "customer"),
                crate::pct(b.from_first)
            )),
        );
        let label = match b.from_previous {
            Some(c) => crate::pct(c),
            None => crate::count(b.customers),
        };
        s.text(x + bw / 2.0, top + plot_h - bh - 6.0, &label, 13.0, INK, "middle", 650);
        s.text(x + bw / 2.0, h - bottom + 18.0, &clip(&b.label, 22), 12.0, INK, "middle", 600);
        s.text(
            x + bw / 2.0,
            h - bottom + 34.0,
            &format!("{} · {}", short(b.customers as f64), crate::pct(b.from_first)),
            11.0,
            MUTED,
            "middle",
            400,
        );
        prev = Some(b.customers);
    }
    s.text(
        left,
        18.0,
        "Customers reaching each step; shaded: dropped since the step before",
        12.0,
        MUTED,
        "start",
        400,
    );
    let mut data = Table::new(
        id,
        &["step", "customers", "conversion_from_previous", "conversion_from_first", "median_seconds_from_previous"],
    );
    for b in bars {
        data.push(vec![
            Cell::text(&b.label),
            Cell::int(b.customers),
            Cell::opt(b.from_previous),
            Cell::num(b.from_first),
            Cell::opt(b.median_seconds),
        ]);
    }
    Chart { id: id.into(), title: title.into(), svg: s.finish(title), data }
}

fn axis_y(s: &mut Svg, left: f64, top: f64, plot_w: f64, plot_h: f64, scale: (f64, f64), fmt: impl Fn(f64) -> String) {
    let (max, step) = scale;
    let ticks = (max / step).round() as usize;
    for k in 0..=ticks {
        let v = step * k as f64;
        let y = top + plot_h - plot_h * v / max;
        s.line(left, y, left + plot_w, y, GRID, "");
        s.text(left - 6.0, y + 4.0, &fmt(v), 11.0, MUTED, "end", 400);
    }
}

/// Vertical bars of labelled counts (a histogram).
pub fn histogram(id: &str, title: &str, value_name: &str, items: &[(String, u64)]) -> Chart {
    let n = items.len().max(1) as f64;
    let (w, h, left, top, bottom) = (880.0, 280.0, 56.0, 20.0, 48.0);
    let plot_w = w - left - 16.0;
    let plot_h = h - top - bottom;
    let scale = nice_scale(items.iter().map(|i| i.1).max().unwrap_or(0) as f64, true);
    let max = scale.0;
    let total: u64 = items.iter().map(|i| i.1).sum();
    let mut s = Svg::new(w, h);
    axis_y(&mut s, left, top, plot_w, plot_h, scale, short);
    let slot = plot_w / n;
    for (i, (label, v)) in items.iter().enumerate() {
        let x = left + slot * i as f64 + slot * 0.12;
        let bh = *v as f64 / max * plot_h;
        let share = if total > 0 { *v as f64 / total as f64 } else { 0.0 };
        s.rect(
            x,
            top + plot_h - bh,
            slot * 0.76,
            bh,
            PALETTE[5],
            Some(&format!("{label}: {} {value_name} ({})", crate::count(*v), crate::pct(share))),
        );
        if *v > 0 {
            s.text(x + slot * 0.38, top + plot_h - bh - 5.0, &short(*v as f64), 11.0, INK, "middle", 600);
        }
        s.text(x + slot * 0.38, h - bottom + 16.0, &clip(label, 12), 11.0, MUTED, "middle", 400);
    }
    let mut data = Table::new(id, &["bucket", value_name, "share"]);
    for (label, v) in items {
        let share = if total > 0 { *v as f64 / total as f64 } else { 0.0 };
        data.push(vec![Cell::text(label), Cell::int(*v), Cell::num(share)]);
    }
    Chart { id: id.into(), title: title.into(), svg: s.finish(title), data }
}

/// Show every n-th category label so that labels do not overlap.
fn label_step(labels: &[String], width: f64) -> usize {
    let longest = labels.iter().map(|l| l.chars().count().min(12)).max().unwrap_or(1) as f64;
    let fit = (width / (longest * 6.6 + 14.0)).floor().max(2.0) as usize;
    labels.len().div_ceil(fit).max(1)
}

/// One series of a line chart.
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// Lines over labelled periods; `pct` formats the axis as percentages.
/// The geometry of [`lines`]: width, height, left, top and bottom margins.
const LINES: (f64, f64, f64, f64, f64) = (880.0, 280.0, 56.0, 20.0, 56.0);

/// Dated markers (annotations: date, text) on a [`lines`] chart whose
/// labels are its periods' first days: a dashed line where each date falls
/// between two periods, with its text. Markers outside the periods, or on a
/// chart whose labels are not dates, are left out. Returns how many were drawn.
pub fn mark_dates(c: &mut Chart, labels: &[String], markers: &[(String, String)]) -> usize {
    let (w, h, left, top, bottom) = LINES;
    let plot_w = w - left - 20.0;
    let days: Vec<i64> = labels.iter().filter_map(|l| wayfarer_core::time::parse_timestamp(l).ok()).collect();
    if days.len() != labels.len() || days.len() < 2 || !days.windows(2).all(|p| p[0] < p[1]) {
        return 0;
    }
    let n = days.len() as f64 - 1.0;
    let step = days[1] - days[0];
    let mut drawn = 0;
    let mut svg = String::new();
    for (date, text) in markers {
        let Ok(at) = wayfarer_core::time::parse_timestamp(date) else { continue };
        // Where the date falls: between period i and i + 1 (the last period ends a step later).
        let Some(i) = days.iter().rposition(|&d| d <= at) else { continue };
        let next = days.get(i + 1).copied().unwrap_or(days[i] + step);
        if at >= next {
            continue;
        }
        let pos = i as f64 + (at - days[i]) as f64 / (next - days[i]) as f64;
        let x = left + plot_w * pos.min(n) / n;
        let _ = write!(
            svg,
            r##"<g class="marker"><title>{date}: {t}</title><line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{y2}" stroke="#b45309" stroke-width="1.5" stroke-dasharray="4 3"/><text x="{tx:.1}" y="{ty}" font-size="10" fill="#b45309" text-anchor="{anchor}">{short}</text></g>"##,
            date = esc(wayfarer_core::time::prefix(date, 10)),
            t = esc(text),
            y2 = h - bottom,
            tx = x + 3.0,
            ty = top + 10.0 + 12.0 * (drawn % 3) as f64,
            anchor = if x + 120.0 > w { "end" } else { "start" },
            short = esc(&clip(text, 28)),
        );
        drawn += 1;
    }
    if drawn > 0
        && let Some(end) = c.svg.rfind("</svg>")
    {
        c.svg.insert_str(end, &svg);
    }
    drawn
}

pub fn lines(id: &str, title: &str, labels: &[String], series: &[Series], pct: bool) -> Chart {
    let (w, h, left, top, bottom) = LINES;
    let plot_w = w - left - 20.0;
    let plot_h = h - top - bottom;
    let hi = series.iter().flat_map(|s| s.values.iter().flatten()).fold(0.0f64, |a, b| a.max(*b));
    let lo = series.iter().flat_map(|s| s.values.iter().flatten()).fold(0.0f64, |a, b| a.min(*b));
    // Below zero (NPS, sentiment) the steps come from the whole range.
    let (min, max, step) = if lo < 0.0 {
        let step = nice_max((hi - lo) / 4.0);
        let min = (lo / step).floor() * step;
        (min, ((hi / step).ceil() * step).max(min + step), step)
    } else {
        let (max, step) = nice_scale(if pct { hi.max(0.01) } else { hi }, false);
        (0.0, max, step)
    };
    let fmt = |v: f64| if pct { format!("{:.0}%", v * 100.0) } else { short(v) };
    let mut s = Svg::new(w, h);
    let ticks = ((max - min) / step).round() as usize;
    for k in 0..=ticks {
        let v = min + step * k as f64;
        let yy = top + plot_h - plot_h * (v - min) / (max - min);
        s.line(left, yy, left + plot_w, yy, if v == 0.0 && min < 0.0 { "#9ca3af" } else { GRID }, "");
        s.text(left - 6.0, yy + 4.0, &fmt(v), 11.0, MUTED, "end", 400);
    }
    let n = labels.len().max(2) as f64 - 1.0;
    let x = |i: usize| left + plot_w * i as f64 / n.max(1.0);
    let y = |v: f64| top + plot_h - (v - min) / (max - min) * plot_h;
    let every = label_step(labels, plot_w);
    for (i, l) in labels.iter().enumerate() {
        if i % every == 0 {
            // The last label ends at the plot's edge instead of running off it.
            let anchor = if x(i) + 40.0 > w { "end" } else { "middle" };
            s.text(x(i), h - bottom + 16.0, &clip(l, 12), 11.0, MUTED, anchor, 400);
        }
    }
    for (k, ser) in series.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let mut d = String::new();
        let mut pen = false;
        for (i, v) in ser.values.iter().enumerate() {
            match v {
                Some(v) => {
                    let _ = write!(d, "{}{:.1},{:.1} ", if pen { "L" } else { "M" }, x(i), y(*v));
                    pen = true;
                }
                None => pen = false,
            }
        }
        s.raw(&format!(r#"<path d="{d}" fill="none" stroke="{colour}" stroke-width="2.5" stroke-linejoin="round"/>"#));
        for (i, v) in ser.values.iter().enumerate() {
            if let Some(v) = v {
                let tip = format!("{} · {}: {}", ser.name, labels.get(i).map_or("", String::as_str), fmt(*v));
                s.raw(&format!(
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{colour}"><title>{}</title></circle>"#,
                    x(i),
                    y(*v),
                    esc(&tip)
                ));
            }
        }
    }
    if series.len() > 1 {
        legend(&mut s, left, h - 14.0, &series.iter().map(|s| s.name.clone()).collect::<Vec<_>>());
    }
    let mut cols: Vec<&str> = vec!["period"];
    cols.extend(series.iter().map(|s| s.name.as_str()));
    let mut data = Table::new(id, &cols);
    for (i, l) in labels.iter().enumerate() {
        let mut row = vec![Cell::text(l)];
        row.extend(series.iter().map(|s| Cell::opt(s.values.get(i).copied().flatten())));
        data.push(row);
    }
    Chart { id: id.into(), title: title.into(), svg: s.finish(title), data }
}

fn legend(s: &mut Svg, mut x: f64, y: f64, names: &[String]) {
    for (k, n) in names.iter().enumerate() {
        s.rect(x, y - 9.0, 10.0, 10.0, PALETTE[k % PALETTE.len()], None);
        let label = clip(n, 40);
        s.text(x + 14.0, y, &label, 11.0, INK, "start", 400);
        x += 24.0 + label.chars().count() as f64 * 6.4;
    }
}

/// ColorBrewer's sequential Blues, light to dark.
const BLUES: [(f64, f64, f64); 9] = [
    (247.0, 251.0, 255.0),
    (222.0, 235.0, 247.0),
    (198.0, 219.0, 239.0),
    (158.0, 202.0, 225.0),
    (107.0, 174.0, 214.0),
    (66.0, 146.0, 198.0),
    (33.0, 113.0, 181.0),
    (8.0, 81.0, 156.0),
    (8.0, 48.0, 107.0),
];

/// Blue ramp for a share in [0, 1] (light to dark; readable text colour).
/// Shares are spread by a square root so small retention rates still differ.
pub fn ramp(v: f64) -> (String, &'static str) {
    let t = v.clamp(0.0, 1.0).sqrt() * (BLUES.len() - 1) as f64;
    let i = (t.floor() as usize).min(BLUES.len() - 2);
    let f = t - i as f64;
    let (a, b) = (BLUES[i], BLUES[i + 1]);
    let c = |x: f64, y: f64| x + (y - x) * f;
    (format!("rgb({:.0},{:.0},{:.0})", c(a.0, b.0), c(a.1, b.1), c(a.2, b.2)), if t > 4.6 { "#ffffff" } else { INK })
}

/// A cohort heatmap: rows are cohorts, columns periods since the start.
pub struct HeatRow {
    pub label: String,
    pub size: u64,
    pub values: Vec<Option<f64>>,
}

pub fn heatmap(id: &str, title: &str, period: &str, rows: &[HeatRow], columns: usize) -> Chart {
    let (cw, ch, left, top) = (64.0, 24.0, 150.0, 30.0);
    let w = (left + cw * columns as f64 + 10.0).max(400.0);
    let h = top + ch * rows.len() as f64 + 10.0;
    let mut s = Svg::new(w, h);
    s.text(8.0, top - 10.0, "Cohort", 11.0, MUTED, "start", 600);
    s.text(left - 8.0, top - 10.0, "Size", 11.0, MUTED, "end", 600);
    for c in 0..columns {
        s.text(left + cw * c as f64 + cw / 2.0, top - 10.0, &format!("{period} {c}"), 11.0, MUTED, "middle", 600);
    }
    for (r, row) in rows.iter().enumerate() {
        let y = top + ch * r as f64;
        s.text(8.0, y + 16.0, &clip(&row.label, 14), 12.0, INK, "start", 500);
        s.text(left - 8.0, y + 16.0, &crate::count(row.size), 11.0, MUTED, "end", 400);
        for c in 0..columns {
            let x = left + cw * c as f64;
            match row.values.get(c).copied().flatten() {
                Some(v) => {
                    let (fill, text) = ramp(v);
                    s.rect(
                        x + 1.0,
                        y + 1.0,
                        cw - 2.0,
                        ch - 2.0,
                        &fill,
                        Some(&format!("{} cohort, {period} {c}: {}", row.label, crate::pct(v))),
                    );
                    s.text(x + cw / 2.0, y + 16.0, &format!("{:.0}%", v * 100.0), 11.0, text, "middle", 500);
                }
                None => s.rect(x + 1.0, y + 1.0, cw - 2.0, ch - 2.0, "#f9fafb", None),
            }
        }
    }
    let mut cols: Vec<String> = vec!["cohort".into(), "size".into()];
    cols.extend((0..columns).map(|c| format!("{period}_{c}")));
    let mut data = Table { name: id.into(), columns: cols, rows: Vec::new() };
    for row in rows {
        let mut cells = vec![Cell::text(&row.label), Cell::int(row.size)];
        cells.extend((0..columns).map(|c| Cell::opt(row.values.get(c).copied().flatten())));
        data.push(cells);
    }
    Chart { id: id.into(), title: title.into(), svg: s.finish(title), data }
}

/// Stacked bars around zero: positive series above, negative below
/// (lifecycle: new, returning, resurrecting up; dormant/churned down).
pub fn diverging_bars(id: &str, title: &str, labels: &[String], up: &[Series], down: &[Series]) -> Chart {
    let (w, h, left, top, bottom) = (880.0, 300.0, 56.0, 16.0, 60.0);
    let plot_w = w - left - 16.0;
    let plot_h = h - top - bottom;
    let total =
        |ss: &[Series], i: usize| ss.iter().map(|s| s.values.get(i).copied().flatten().unwrap_or(0.0)).sum::<f64>();
    let hi = (0..labels.len()).map(|i| total(up, i)).fold(0.0, f64::max);
    let lo = (0..labels.len()).map(|i| total(down, i)).fold(0.0, f64::max);
    let span = (hi + lo).max(1.0);
    let zero = top + plot_h * hi / span;
    let scale = plot_h / span;
    let mut s = Svg::new(w, h);
    s.line(left, zero, left + plot_w, zero, "#9ca3af", "");
    s.text(left - 6.0, top + 10.0, &short(hi), 11.0, MUTED, "end", 400);
    s.text(left - 6.0, zero + 4.0, "0", 11.0, MUTED, "end", 400);
    s.text(left - 6.0, top + plot_h, &format!("−{}", short(lo)), 11.0, MUTED, "end", 400);
    let slot = plot_w / labels.len().max(1) as f64;
    let every = label_step(labels, plot_w);
    for (i, l) in labels.iter().enumerate() {
        let x = left + slot * i as f64 + slot * 0.15;
        let bw = slot * 0.7;
        let mut y = zero;
        for (k, ser) in up.iter().enumerate() {
            let v = ser.values.get(i).copied().flatten().unwrap_or(0.0);
            y -= v * scale;
            s.rect(
                x,
                y,
                bw,
                v * scale,
                PALETTE[k % PALETTE.len()],
                Some(&format!("{l} · {}: {}", ser.name, crate::count(v as u64))),
            );
        }
        let mut y = zero;
        for (k, ser) in down.iter().enumerate() {
            let v = ser.values.get(i).copied().flatten().unwrap_or(0.0);
            let colour = PALETTE[(up.len() + k) % PALETTE.len()];
            s.rect(x, y, bw, v * scale, colour, Some(&format!("{l} · {}: {}", ser.name, crate::count(v as u64))));
            y += v * scale;
        }
        if i % every == 0 {
            s.text(x + bw / 2.0, h - bottom + 16.0, &clip(l, 12), 11.0, MUTED, "middle", 400);
        }
    }
    let names: Vec<String> = up.iter().chain(down).map(|s| s.name.clone()).collect();
    legend(&mut s, left, h - 12.0, &names);
    let mut cols: Vec<&str> = vec!["period"];
    cols.extend(names.iter().map(String::as_str));
    let mut data = Table::new(id, &cols);
    for (i, l) in labels.iter().enumerate() {
        let mut row = vec![Cell::text(l)];
        row.extend(up.iter().chain(down).map(|s| Cell::opt(s.values.get(i).copied().flatten())));
        data.push(row);
    }
    Chart { id: id.into(), title: title.into(), svg: s.finish(title), data }
}

/// Horizontal bars, one group of series per category (a grouped bar chart
/// when there are several series).
pub fn hbars(id: &str, title: &str, categories: &[String], series: &[Series], fmt: fn(f64) -> String) -> Chart {
    let k = series.len().max(1) as f64;
    let bar = if series.len() > 1 { 12.0 } else { 18.0 };
    let group = bar * k + 10.0;
    let (left, top) = (230.0, if series.len() > 1 { 30.0 } else { 10.0 });
    let w = 880.0;
    let plot_w = w - left - 90.0;
    let h = top + group * categories.len() as f64 + 10.0;
    let hi = series.iter().flat_map(|s| s.values.iter().flatten()).fold(0.0f64, |a, b| a.max(*b));
    let lo = series.iter().flat_map(|s| s.values.iter().flatten()).fold(0.0f64, |a, b| a.min(*b));
    // Negative values (NPS, sentiment) grow left from a zero line.
    let max = if hi > 0.0 { nice_max(hi) } else { 0.0 };
    let min = if lo < 0.0 { -nice_max(-lo) } else { 0.0 };
    let span = (max - min).max(f64::MIN_POSITIVE);
    let zero = left + plot_w * (-min) / span;
    let mut s = Svg::new(w, h.max(60.0));
    if min < 0.0 {
        s.line(zero, top, zero, h - 6.0, "#9ca3af", "");
    }
    if series.len() > 1 {
        legend(&mut s, left, 16.0, &series.iter().map(|s| s.name.clone()).collect::<Vec<_>>());
    }
    for (c, cat) in categories.iter().enumerate() {
        let y0 = top + group * c as f64;
        s.text(left - 8.0, y0 + group / 2.0 + 2.0, &clip(cat, 34), 12.0, INK, "end", 500);
        for (j, ser) in series.iter().enumerate() {
            let Some(v) = ser.values.get(c).copied().flatten() else { continue };
            let y = y0 + 5.0 + bar * j as f64;
            let bw = v.abs() / span * plot_w;
            let x0 = if v < 0.0 { zero - bw } else { zero };
            let tip = format!("{cat} · {}: {}", ser.name, fmt(v));
            s.rect(x0, y, bw, bar - 1.0, PALETTE[j % PALETTE.len()], Some(&tip));
            let size = if series.len() == 1 { 12.0 } else { 10.0 };
            if v < 0.0 {
                s.text(x0 - 5.0, y + bar - 2.5, &fmt(v), size, INK, "end", 500);
            } else {
                s.text(zero + bw + 5.0, y + bar - 2.5, &fmt(v), size, INK, "start", 500);
            }
        }
    }
    let mut cols: Vec<&str> = vec!["category"];
    cols.extend(series.iter().map(|s| s.name.as_str()));
    let mut data = Table::new(id, &cols);
    for (c, cat) in categories.iter().enumerate() {
        let mut row = vec![Cell::text(cat)];
        row.extend(series.iter().map(|s| Cell::opt(s.values.get(c).copied().flatten())));
        data.push(row);
    }
    Chart { id: id.into(), title: title.into(), svg: s.finish(title), data }
}

/// Sankey input: nodes in columns (`step`), links with customer counts.
pub struct SankeyNode {
    pub step: usize,
    pub label: String,
    pub customers: u64,
}

pub struct SankeyLink {
    pub source: usize,
    pub target: usize,
    pub customers: u64,
}

/// A Sankey diagram: one column per step, node height by customers,
/// links as ribbons whose width is the customers moving between nodes.
pub fn sankey(id: &str, title: &str, nodes: &[SankeyNode], links: &[SankeyLink], total: u64) -> Chart {
    let steps = nodes.iter().map(|n| n.step + 1).max().unwrap_or(1);
    let (w, top, node_w, gap) = (1100.0, 16.0, 12.0, 10.0);
    let h = 520.0;
    let plot_h = h - top - 10.0;
    let col_x = |step: usize| 10.0 + (w - 190.0) * step as f64 / (steps.max(2) - 1) as f64;
    // The busiest column sets the scale.
    let mut col_total = vec![0u64; steps];
    let mut col_count = vec![0usize; steps];
    for n in nodes {
        col_total[n.step] += n.customers;
        col_count[n.step] += 1;
    }
    let scale = (0..steps)
        .map(|c| (plot_h - gap * col_count[c].saturating_sub(1) as f64) / col_total[c].max(1) as f64)
        .fold(f64::INFINITY, f64::min);
    let mut y_of = vec![0.0; nodes.len()];
    let mut next_y = vec![top; steps];
    for (i, n) in nodes.iter().enumerate() {
        y_of[i] = next_y[n.step];
        next_y[n.step] += n.customers as f64 * scale + gap;
    }
    let mut s = Svg::new(w, h);
    let mut out_off = vec![0.0; nodes.len()];
    let mut in_off = vec![0.0; nodes.len()];
    for l in links {
        let (Some(a), Some(b)) = (nodes.get(l.source), nodes.get(l.target)) else { continue };
        let th = l.customers as f64 * scale;
        let x0 = col_x(a.step) + node_w;
        let x1 = col_x(b.step);
        let y0 = y_of[l.source] + out_off[l.source] + th / 2.0;
        let y1 = y_of[l.target] + in_off[l.target] + th / 2.0;
        out_off[l.source] += th;
        in_off[l.target] += th;
        let mx = (x0 + x1) / 2.0;
        let share = if total > 0 { l.customers as f64 / total as f64 } else { 0.0 };
        let tip = format!(
            "{} → {}: {} ({} of those who started)",
            a.label,
            b.label,
            crate::counted(l.customers, "customer"),
            crate::pct(share)
        );
        let colour = PALETTE[l.source % 6];
        s.raw(&format!(
            r#"<path d="M{x0:.1},{y0:.1} C{mx:.1},{y0:.1} {mx:.1},{y1:.1} {x1:.1},{y1:.1}" fill="none" stroke="{colour}" stroke-opacity="0.28" stroke-width="{:.1}"><title>{}</title></path>"#,
            th.max(1.0),
            esc(&tip)
        ));
    }
    for (i, n) in nodes.iter().enumerate() {
        let x = col_x(n.step);
        let nh = (n.customers as f64 * scale).max(1.5);
        let share = if total > 0 { n.customers as f64 / total as f64 } else { 0.0 };
        s.rect(
            x,
            y_of[i],
            node_w,
            nh,
            PALETTE[i % 6],
            Some(&format!(
                "step {}: {} — {} ({})",
                n.step + 1,
                n.label,
                crate::counted(n.customers, "customer"),
                crate::pct(share)
            )),
        );
        if nh >= 11.0 {
            s.text(
                x + node_w + 4.0,
                y_of[i] + nh / 2.0 + 4.0,
                &format!("{} {}", clip(&n.label, 22), crate::pct(share)),
                11.0,
                INK,
                "start",
                500,
            );
        }
    }
    let mut data = Table::new(id, &["from_step", "from", "to_step", "to", "customers", "share_of_start"]);
    for l in links {
        let (Some(a), Some(b)) = (nodes.get(l.source), nodes.get(l.target)) else { continue };
        let share = if total > 0 { l.customers as f64 / total as f64 } else { 0.0 };
        data.push(vec![
            Cell::int(a.step as u64 + 1),
            Cell::text(&a.label),
            Cell::int(b.step as u64 + 1),
            Cell::text(&b.label),
            Cell::int(l.customers),
            Cell::num(share),
        ]);
    }
    Chart { id: id.into(), title: title.into(), svg: s.finish(title), data }
}

/// A node of the transition-graph chart.
#[derive(Debug, Clone)]
pub struct GraphNodeIn {
    pub label: String,
    pub customers: u64,
    /// Typical position (the mean index of a customer's first such event).
    pub position: f64,
}

/// An edge of the transition-graph chart.
#[derive(Debug, Clone)]
pub struct GraphEdgeIn {
    pub from: String,
    pub to: String,
    pub customers: u64,
    /// None: drawn in grey; else the colour (a significant difference).
    pub colour: Option<&'static str>,
    pub tip: String,
}

/// The most layers (columns) the graph is laid out in.
const GRAPH_LAYERS: usize = 7;

/// A transition graph laid out in layers by typical position (left to
/// right), nodes sized and ordered by customers, edges as curves whose
/// width is their customers; `edges` should already be the top N. Loops
/// (an event followed by itself) are left to the tooltips.
pub fn graph(id: &str, title: &str, nodes: &[GraphNodeIn], edges: &[GraphEdgeIn]) -> Chart {
    use std::collections::HashMap;
    // The nodes the edges touch, in layers by position.
    let mut shown: Vec<&GraphNodeIn> =
        nodes.iter().filter(|n| edges.iter().any(|e| e.from == n.label || e.to == n.label)).collect();
    shown.sort_by(|a, b| a.position.total_cmp(&b.position).then_with(|| b.customers.cmp(&a.customers)));
    let max_pos = shown.iter().map(|n| n.position).fold(0.0f64, f64::max).max(1.0);
    let layers = GRAPH_LAYERS.min(shown.len().max(1));
    let layer_of = |p: f64| (((p / max_pos) * (layers - 1) as f64).round() as usize).min(layers - 1);
    let mut columns: Vec<Vec<&GraphNodeIn>> = vec![Vec::new(); layers];
    for n in &shown {
        columns[layer_of(n.position)].push(n);
    }
    for c in &mut columns {
        c.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.label.cmp(&b.label)));
    }
    let tallest = columns.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let (w, node_w, node_h, gap_y, top) = (1100.0, 140.0, 34.0, 40.0, 60.0);
    let h = (top * 2.0 + tallest as f64 * (node_h + gap_y)).max(200.0);
    let col_x = |c: usize| 10.0 + (w - node_w - 20.0) * c as f64 / (layers.max(2) - 1) as f64;
    let mut at: HashMap<&str, (f64, f64)> = HashMap::new();
    for (c, col) in columns.iter().enumerate() {
        let used = col.len() as f64 * (node_h + gap_y) - gap_y;
        let y0 = top + ((h - 2.0 * top) - used) / 2.0;
        for (k, n) in col.iter().enumerate() {
            at.insert(n.label.as_str(), (col_x(c), y0 + k as f64 * (node_h + gap_y)));
        }
    }
    let most = edges.iter().map(|e| e.customers).max().unwrap_or(1).max(1) as f64;
    let mut s = Svg::new(w, h);
    // Grey edges first, the coloured (significant) ones on top.
    let mut order: Vec<&GraphEdgeIn> = edges.iter().filter(|e| e.from != e.to).collect();
    order.sort_by_key(|e| e.colour.is_some());
    for e in order {
        let (Some(&(xa, ya)), Some(&(xb, yb))) = (at.get(e.from.as_str()), at.get(e.to.as_str())) else { continue };
        let width = 1.2 + 4.8 * (e.customers as f64 / most).sqrt();
        let (colour, opacity) = match e.colour {
            Some(c) => (c, 0.75),
            None => ("#8a94a6", 0.3),
        };
        let (y0, y1) = (ya + node_h / 2.0, yb + node_h / 2.0);
        let path = if xb > xa {
            let (x0, x1) = (xa + node_w, xb);
            let mx = (x0 + x1) / 2.0;
            format!("M{x0:.1},{y0:.1} C{mx:.1},{y0:.1} {mx:.1},{y1:.1} {x1:.1},{y1:.1}")
        } else {
            // Back or within a layer: an arc over the top.
            let (x0, x1) = (xa + node_w / 2.0, xb + node_w / 2.0);
            let lift = (ya.min(yb) - 24.0 - (xa - xb).abs() * 0.05).max(4.0);
            format!("M{x0:.1},{ya:.1} C{x0:.1},{lift:.1} {x1:.1},{lift:.1} {x1:.1},{yb:.1}")
        };
        s.raw(&format!(
            r#"<path d="{path}" fill="none" stroke="{colour}" stroke-opacity="{opacity}" stroke-width="{width:.1}"><title>{}</title></path>"#,
            esc(&e.tip)
        ));
    }
    for n in &shown {
        let Some(&(x, y)) = at.get(n.label.as_str()) else { continue };
        let loops: u64 = edges.iter().filter(|e| e.from == n.label && e.to == n.label).map(|e| e.customers).sum();
        let tip = if loops > 0 {
            format!(
                "{}: {} (then itself again: {})",
                n.label,
                crate::counted(n.customers, "customer"),
                crate::count(loops)
            )
        } else {
            format!("{}: {}", n.label, crate::counted(n.customers, "customer"))
        };
        s.raw(&format!(
            r##"<rect x="{x:.1}" y="{y:.1}" width="{node_w:.1}" height="{node_h:.1}" rx="6" fill="#ffffff" stroke="#1f2937" stroke-width="1"><title>{}</title></rect>"##,
            esc(&tip)
        ));
        s.text(x + 8.0, y + 14.0, &clip(&n.label, 22), 11.0, INK, "start", 600);
        s.text(x + 8.0, y + 28.0, &crate::counted(n.customers, "customer"), 10.0, MUTED, "start", 400);
    }
    let mut data = Table::new(id, &["from", "to", "customers"]);
    for e in edges {
        data.push(vec![Cell::text(&e.from), Cell::text(&e.to), Cell::int(e.customers)]);
    }
    Chart { id: id.into(), title: title.into(), svg: s.finish(title), data }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dated_markers_fall_between_their_periods() {
        let labels: Vec<String> = ["2026-07-06", "2026-07-13", "2026-07-20"].map(String::from).to_vec();
        let series = [Series { name: "conversion".into(), values: vec![Some(0.4), Some(0.5), Some(0.45)] }];
        let mut c = lines("trend", "t", &labels, &series, true);
        let marks = [
            ("2026-07-16T00:00:00Z".to_string(), "Checkout <redesigned>".to_string()),
            ("2026-07-26".to_string(), "in the last week".to_string()),
            ("2026-08-30".to_string(), "after the chart".to_string()),
            ("2026-01-01".to_string(), "before it".to_string()),
        ];
        assert_eq!(mark_dates(&mut c, &labels, &marks), 2);
        assert_eq!(c.svg.matches("class=\"marker\"").count(), 2);
        assert!(c.svg.contains("Checkout &lt;redesigned&gt;") && c.svg.ends_with("</svg>"));
        // Labels that are not dates get none.
        let weeks: Vec<String> = ["W1", "W2"].map(String::from).to_vec();
        let mut d = lines("trend", "t", &weeks, &series, true);
        assert_eq!(mark_dates(&mut d, &weeks, &marks), 0);
    }

    use super::*;

    fn bar(label: &str, customers: u64, first: f64) -> FunnelBar {
        FunnelBar {
            label: label.into(),
            customers,
            from_previous: Some(first),
            from_first: first,
            median_seconds: None,
        }
    }

    #[test]
    fn funnel_bars_are_proportional_and_carry_their_numbers() {
        let c = funnel_bars("funnel", "Checkout", &[bar("View", 1000, 1.0), bar("Buy", 250, 0.25)]);
        assert!(c.svg.starts_with("<svg") && c.svg.ends_with("</svg>"));
        // The plot is 244 px tall and the axis tops at 1000: 250 is a quarter.
        assert!(c.svg.contains(r##"height="244.0" fill="#0072B2""##), "{}", c.svg);
        assert!(c.svg.contains(r##"height="61.0" fill="#0072B2""##));
        assert!(c.svg.contains("750 dropped"));
        assert_eq!(c.data.rows.len(), 2);
        assert_eq!(c.data.rows[1][1], Cell::Int(250));
    }

    #[test]
    fn labels_are_escaped() {
        let c = histogram("h", "t", "customers", &[("<script>".into(), 3)]);
        assert!(!c.svg.contains("<script>"));
        assert!(c.svg.contains("&lt;script&gt;"));
    }

    #[test]
    fn sankey_ribbons_are_as_wide_as_their_customers() {
        let nodes = [
            SankeyNode { step: 0, label: "A".into(), customers: 100 },
            SankeyNode { step: 1, label: "B".into(), customers: 60 },
            SankeyNode { step: 1, label: "C".into(), customers: 40 },
        ];
        let links =
            [SankeyLink { source: 0, target: 1, customers: 60 }, SankeyLink { source: 0, target: 2, customers: 40 }];
        let c = sankey("s", "Paths", &nodes, &links, 100);
        let widths: Vec<f64> = c
            .svg
            .match_indices("stroke-width=\"")
            .map(|(i, _)| c.svg[i + 14..].split('"').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(widths.len(), 2);
        assert!((widths[0] / widths[1] - 1.5).abs() < 0.01, "{widths:?}");
        assert_eq!(c.data.rows[0][5], Cell::Num(0.6));
    }

    #[test]
    fn wrapping_keeps_words_and_marks_what_is_cut() {
        assert_eq!(
            wrap("Customers leave at Shipping costs page in Decision", 20, 2),
            vec!["Customers leave at".to_string(), "Shipping costs page…".to_string()]
        );
        assert_eq!(wrap("Short one", 20, 2), vec!["Short one".to_string()]);
        assert!(wrap("", 20, 2).is_empty());
    }

    #[test]
    fn negative_lines_get_a_few_even_ticks() {
        let s = [Series { name: "NPS".into(), values: vec![Some(-40.0), Some(-10.0)] }];
        let c = lines("n", "NPS", &["a".into(), "b".into()], &s, false);
        let ticks = c.svg.matches("<line").count();
        assert!((2..=8).contains(&ticks), "{ticks} ticks");
        assert!(!c.svg.contains("NaN"));
    }

    #[test]
    fn nice_axes() {
        assert_eq!(nice_max(730.0), 1000.0);
        assert_eq!(nice_max(1200.0), 2000.0);
        assert_eq!(nice_max(0.0), 1.0);
        // Ticks at round values: 1, 2 or 5 × 10^k, whole for counts.
        assert_eq!(nice_scale(730.0, true), (800.0, 200.0));
        assert_eq!(nice_scale(1200.0, true), (1500.0, 500.0));
        assert_eq!(nice_scale(5.0, true), (6.0, 2.0));
        assert_eq!(nice_scale(1.0, true), (1.0, 1.0));
        assert_eq!(nice_scale(0.37, false), (0.4, 0.1));
        assert_eq!(nice_scale(250.0, true), (300.0, 100.0));
        for hi in [0.003, 0.7, 3.0, 9.0, 42.0, 999.0, 12_345.0, 2.5e6] {
            let (top, step) = nice_scale(hi, false);
            let m = step / 10f64.powf(step.log10().floor());
            assert!([1.0, 2.0, 5.0].iter().any(|x| (m - x).abs() < 1e-6), "{hi}: step {step}");
            assert!(top >= hi && (2..=5).contains(&((top / step).round() as i64)), "{hi}: {top} {step}");
        }
        assert_eq!(short(12_345.0), "12k");
        assert_eq!(short(1_500_000.0), "1.5M");
    }
}
