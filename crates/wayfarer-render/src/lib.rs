//! Outputs of the journey map: a terminal table ([`text`]), a self-contained
//! HTML report with SVG ([`html`]), and CSV and XLSX exports ([`tabular`]).
//! Renderers take the engine's report structs and never compute analyses.

pub mod chart;
pub mod dashboard;
pub mod export;
pub mod html;
pub mod mapsvg;
pub mod survey;
pub mod tabular;
pub mod text;
pub mod views;

/// The `<head>` of every page we write: charset, viewport, title, no
/// favicon request, and the page's stylesheet (inline CSS or a link).
pub fn head(title: &str, style: Style) -> maud::Markup {
    maud::html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) }
            link rel="icon" href="data:,";
            @match style {
                Style::Inline(css) => style { (maud::PreEscaped(css)) },
                Style::Link(href) => link rel="stylesheet" href=(href);,
            }
        }
    }
}

/// How a page gets its CSS.
#[derive(Debug, Clone, Copy)]
pub enum Style<'a> {
    Inline(&'a str),
    Link(&'a str),
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("writing {what}: {message}")]
    Write { what: String, message: String },
    /// An export that cannot be made as asked (unknown chart, wrong format).
    #[error("{0}")]
    Invalid(String),
}

/// Formats a share as a percentage with one decimal.
pub fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// Formats an optional share, or an en dash.
pub fn opt_pct(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_string(), pct)
}

/// Formats a count with thousands separators.
pub fn count(n: u64) -> String {
    wayfarer_core::numbers::count(n)
}

/// A model parameter: four significant digits, in scientific notation
/// when very large or small — never as money or a rounded count.
pub fn param(x: f64) -> String {
    let a = x.abs();
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    if !(1e-3..1e6).contains(&a) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
    format!("{x:.decimals$}")
}

/// " (50 of 2,575)" after a capped list's heading, "" for a whole list.
pub fn shown(shown: usize, total: usize) -> String {
    wayfarer_core::numbers::shown(shown, total)
}

/// "1 customer", "2,575 customers".
pub fn counted(n: u64, noun: &str) -> String {
    wayfarer_core::numbers::counted(n, noun)
}

/// Formats money without cents for large amounts.
pub fn money(x: f64) -> String {
    let sign = if x < 0.0 && x.abs() >= 0.005 { "-" } else { "" };
    let a = x.abs();
    if a >= 1000.0 { format!("{sign}${}", count(a.round() as u64)) } else { format!("{sign}${a:.2}") }
}

/// Formats an emotion score in [−1, 1] with its sign.
pub fn emotion(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_string(), |v| format!("{v:+.2}"))
}

pub fn duration(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_string(), wayfarer_core::time::format_duration_seconds)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats() {
        assert_eq!(super::count(1234567), "1,234,567");
        assert_eq!(super::count(12), "12");
        assert_eq!(super::pct(0.1234), "12.3%");
        assert_eq!(super::money(12345.6), "$12,346");
        assert_eq!(super::money(-0.0001), "$0.00");
        assert_eq!(super::money(-2500.0), "-$2,500");
        assert_eq!(super::money(-3.5), "-$3.50");
        assert_eq!(super::emotion(Some(-0.256)), "-0.26");
        // Model parameters keep their precision and are no amounts.
        assert_eq!(super::param(0.24312), "0.2431");
        assert_eq!(super::param(4.41456), "4.415");
        assert_eq!(super::param(1234.6), "1235");
        assert_eq!(super::param(2.3e7), "2.300e7");
        assert_eq!(super::param(0.0000123), "1.230e-5");
    }
}
