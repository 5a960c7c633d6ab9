//! The journey map as one SVG picture (for SVG and PNG exports and slides):
//! stages as columns; lanes for customers, conversion, time, touchpoints,
//! channels, the emotion curve, pain points and opportunities.

use wayfarer_engine::journey::JourneyMap;

use crate::chart::{PALETTE, Svg, clip, wrap};
use crate::{count, duration, pct};

const INK: &str = "#1f2933";
const MUTED: &str = "#5f6b7a";

/// Draws the map; `title` goes above it.
pub fn map_svg(m: &JourneyMap, title: &str) -> String {
    let k = m.stages.len().max(1) as f64;
    let (left, colw) = (130.0, 210.0);
    let w = left + colw * k + 10.0;
    // Lane heights, top to bottom.
    let lanes: [(&str, f64); 8] = [
        ("Customers", 62.0),
        ("Conversion", 44.0),
        ("Time to next", 40.0),
        ("Touchpoints", 78.0),
        ("Channels", 58.0),
        ("Emotion", 96.0),
        ("Pain points", 96.0),
        ("Opportunities", 62.0),
    ];
    let top = 96.0;
    let h = top + lanes.iter().map(|l| l.1).sum::<f64>() + 24.0;
    let mut s = Svg::new(w, h);
    s.text(12.0, 26.0, title, 18.0, INK, "start", 700);
    let sub = format!(
        "{} · {} · {}",
        m.scope.persona.as_deref().unwrap_or("All customers"),
        crate::counted(m.scope.customers, "customer"),
        crate::counted(m.scope.events, "event")
    );
    s.text(12.0, 46.0, &sub, 12.0, MUTED, "start", 400);
    let x0 = |i: usize| left + colw * i as f64;
    for (i, st) in m.stages.iter().enumerate() {
        let hue = 210.0 - (i as f64 * 150.0 / k);
        s.rect(x0(i) + 2.0, 56.0, colw - 4.0, 36.0, &format!("hsl({hue:.0},45%,94%)"), None);
        s.rect(x0(i) + 2.0, 56.0, colw - 4.0, 4.0, &format!("hsl({hue:.0},50%,42%)"), None);
        s.text(x0(i) + 10.0, 80.0, &clip(&st.name, 24), 14.0, INK, "start", 700);
    }
    let mut y = top;
    for (li, (label, lh)) in lanes.iter().enumerate() {
        s.rect(0.0, y, w, 1.0, "#e3e6eb", None);
        s.text(12.0, y + 18.0, &label.to_uppercase(), 10.5, MUTED, "start", 650);
        for (i, st) in m.stages.iter().enumerate() {
            let x = x0(i) + 10.0;
            match li {
                0 => {
                    s.text(x, y + 24.0, &count(st.customers), 19.0, INK, "start", 700);
                    s.rect(x, y + 34.0, colw - 24.0, 6.0, "#edf0f4", None);
                    s.rect(x, y + 34.0, (colw - 24.0) * st.share.clamp(0.0, 1.0), 6.0, PALETTE[0], None);
                    s.text(x, y + 54.0, &format!("{} of customers", pct(st.share)), 11.0, MUTED, "start", 400);
                }
                1 => match st.conversion_to_next {
                    Some(c) => {
                        s.text(x, y + 20.0, &format!("→ {}", pct(c)), 15.0, "#0b4f86", "start", 700);
                        s.text(x, y + 36.0, &format!("{} dropped", count(st.dropped)), 11.0, MUTED, "start", 400);
                    }
                    None => s.text(x, y + 20.0, "last stage", 11.0, MUTED, "start", 400),
                },
                2 => s.text(
                    x,
                    y + 22.0,
                    &format!("median {}", duration(st.median_time_to_next_seconds)),
                    12.0,
                    INK,
                    "start",
                    500,
                ),
                3 => {
                    for (j, t) in st.touchpoints.iter().take(4).enumerate() {
                        let ty = y + 18.0 + 16.0 * j as f64;
                        s.text(x, ty, &clip(&t.name, 22), 11.5, INK, "start", 600);
                        s.text(x + colw - 24.0, ty, &pct(t.reach), 11.0, MUTED, "end", 400);
                    }
                }
                4 => {
                    let total: u64 = st.channels.iter().map(|c| c.events).sum();
                    let mut cx = x;
                    for (j, c) in st.channels.iter().take(8).enumerate() {
                        let cw = if total > 0 { (colw - 24.0) * c.events as f64 / total as f64 } else { 0.0 };
                        s.rect(cx, y + 10.0, cw, 10.0, PALETTE[j % PALETTE.len()], Some(&c.channel));
                        cx += cw;
                    }
                    for (j, c) in st.channels.iter().take(2).enumerate() {
                        let ty = y + 36.0 + 14.0 * j as f64;
                        s.rect(x, ty - 8.0, 8.0, 8.0, PALETTE[j % PALETTE.len()], None);
                        s.text(
                            x + 12.0,
                            ty,
                            &format!("{} {}", clip(&c.channel, 18), pct(c.share)),
                            11.0,
                            INK,
                            "start",
                            400,
                        );
                    }
                }
                5 => {}
                6 => {
                    let mut ty = y + 8.0;
                    for pp in st.pain_points.iter().take(2) {
                        s.rect(x - 2.0, ty, 3.0, 38.0, "#b8401f", None);
                        s.text(x + 6.0, ty + 12.0, pp.kind.label(), 9.5, MUTED, "start", 600);
                        for (n, line) in wrap(&pp.title, 30, 2).iter().enumerate() {
                            s.text(x + 6.0, ty + 26.0 + 12.0 * n as f64, line, 11.0, INK, "start", 600);
                        }
                        ty += 44.0;
                    }
                    if st.pain_points.is_empty() {
                        s.text(x, y + 20.0, "none significant", 11.0, MUTED, "start", 400);
                    }
                }
                _ => {
                    if let Some(o) = st.opportunities.first() {
                        s.rect(x - 2.0, y + 8.0, 3.0, 40.0, "#1d7a55", None);
                        s.text(x + 6.0, y + 22.0, &clip(&o.title, 28), 11.0, INK, "start", 600);
                        s.text(x + 6.0, y + 38.0, &crate::counted(o.customers, "customer"), 11.0, MUTED, "start", 400);
                    }
                }
            }
        }
        if li == 5 {
            let pts: Vec<(f64, f64)> = m
                .emotion_curve
                .iter()
                .enumerate()
                .filter_map(|(i, p)| p.score.map(|v| (x0(i) + colw / 2.0, y + lh / 2.0 - v.clamp(-1.0, 1.0) * 34.0)))
                .collect();
            s.rect(left, y + 6.0, colw * k, lh / 2.0 - 6.0, "#eef5fb", None);
            s.rect(left, y + lh / 2.0, colw * k, lh / 2.0 - 6.0, "#fdf1e8", None);
            let d: String = pts
                .iter()
                .enumerate()
                .map(|(i, (px, py))| format!("{}{px:.1},{py:.1} ", if i == 0 { "M" } else { "L" }))
                .collect();
            if pts.len() >= 2 {
                s.raw(&format!(r##"<path d="{d}" fill="none" stroke="#1f2933" stroke-width="2"/>"##));
            }
            for ((px, py), p) in pts.iter().zip(m.emotion_curve.iter().filter(|p| p.score.is_some())) {
                s.raw(&format!(
                    r##"<circle cx="{px:.1}" cy="{py:.1}" r="6" fill="#0072B2" stroke="#fff" stroke-width="2"/>"##
                ));
                let v = p.score.unwrap_or(0.0);
                let ly = if v >= 0.0 { *py - 11.0 } else { *py + 20.0 };
                s.text(*px, ly, &format!("{v:+.2}"), 12.0, INK, "middle", 700);
            }
        }
        y += lh;
    }
    s.text(
        12.0,
        h - 8.0,
        "Wayfarer · conversion = reached next stage or later / reached this stage · emotion −1..1",
        10.5,
        MUTED,
        "start",
        400,
    );
    s.finish(title)
}
