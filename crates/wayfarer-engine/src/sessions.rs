//! Sessions (DESIGN §4.2): per customer, interaction events in order; a new
//! session starts when the gap to the previous event is greater than the
//! timeout (exactly the timeout stays in the session). Bounce: exactly one
//! event and it is a page view. Engaged (GA4): longer than `engaged_seconds`,
//! or a conversion event, or two or more page/screen views. Duration = last −
//! first event time. Identify, group and alias calls are not interactions and
//! take no part.

use serde::{Deserialize, Serialize};
use wayfarer_core::Kind;
use wayfarer_store::{Col, Store};

use crate::fold::{self, Fold, Span};
use crate::model::Model;
use crate::timeline::Timeline;
use crate::{EngineError, Scope};

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionsReport {
    pub customers: u64,
    pub events: u64,
    pub sessions: u64,
    pub bounce_sessions: u64,
    pub engaged_sessions: u64,
    pub total_duration_seconds: f64,
}

pub struct SessionsFold<'m> {
    model: &'m Model,
    scope: &'m Scope,
    persona: Option<usize>,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Partial {
    report: SessionsReport,
    duration_micros: i128,
}

impl Fold for SessionsFold<'_> {
    type Partial = Partial;
    type Scratch = ();
    type Report = SessionsReport;

    fn wire(&self) -> Option<crate::fold::Wire<Self::Partial>> {
        Some(crate::fold::Wire::serde())
    }

    fn columns(&self) -> Vec<Col> {
        self.model.timeline_columns()
    }

    fn init(&self) -> Partial {
        Partial::default()
    }

    fn fold(&self, p: &mut Partial, _: &mut (), span: Span<'_>) {
        let Some(t) = Timeline::build(self.model, self.scope, span) else {
            return;
        };
        if self.persona.is_some() && t.persona != self.persona {
            return;
        }
        p.report.customers += 1;
        p.report.events += t.idx.len() as u64;
        let rows = t.rows;
        let mut start = 0;
        for k in 1..=t.idx.len() {
            if k < t.idx.len() && t.session[k] == t.session[start] {
                continue;
            }
            let events = &t.idx[start..k];
            let duration = rows.ts[events[events.len() - 1]] - rows.ts[events[0]];
            let views = events.iter().filter(|&&r| Kind::from_code(rows.kind[r]).is_view()).count();
            let conversion = events.iter().any(|&r| Model::flag(&self.model.is_conversion, rows.event[r]));
            p.report.sessions += 1;
            if events.len() == 1 && Kind::from_code(rows.kind[events[0]]) == Kind::Page {
                p.report.bounce_sessions += 1;
            }
            if duration > self.model.engaged_after || conversion || views >= 2 {
                p.report.engaged_sessions += 1;
            }
            p.duration_micros += duration as i128;
            start = k;
        }
    }

    fn merge(&self, mut a: Partial, b: Partial) -> Partial {
        a.report.customers += b.report.customers;
        a.report.events += b.report.events;
        a.report.sessions += b.report.sessions;
        a.report.bounce_sessions += b.report.bounce_sessions;
        a.report.engaged_sessions += b.report.engaged_sessions;
        a.duration_micros += b.duration_micros;
        a
    }

    /// The report of a merged partial.
    fn finish(&self, p: Partial) -> SessionsReport {
        let p = &p;
        let mut r = p.report;
        r.total_duration_seconds = p.duration_micros as f64 / 1e6;
        r
    }
}

impl<'m> SessionsFold<'m> {
    pub fn new(model: &'m Model, scope: &'m Scope) -> Result<SessionsFold<'m>, EngineError> {
        let persona = model.resolve_persona(scope.persona.as_deref())?;
        Ok(SessionsFold { model, scope, persona })
    }
}

/// Counts sessions over the store.
pub fn sessions(store: &Store, model: &Model, scope: &Scope) -> Result<SessionsReport, EngineError> {
    let f = SessionsFold::new(model, scope)?;
    fold::report(store, &f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    fn run(events: Vec<wayfarer_core::Event>) -> SessionsReport {
        let (_d, s) = store(events);
        sessions(&s, &model(&s), &Scope::default()).unwrap()
    }

    #[test]
    fn a_cancelled_store_stops_the_fold() {
        let (_d, s) = store(vec![ev("a", 0.0, "Page Viewed"), ev("b", 1.0, "Page Viewed")]);
        let m = model(&s);
        let cancel = wayfarer_core::Cancel::new();
        let s = s.with_cancel(cancel.clone());
        assert_eq!(sessions(&s, &m, &Scope::default()).unwrap().sessions, 2);
        cancel.cancel();
        let e = sessions(&s, &m, &Scope::default()).unwrap_err();
        assert_eq!(e.code(), wayfarer_core::ErrorCode::QueryTimeout, "{e}");
    }

    #[test]
    fn exactly_thirty_minutes_stays_in_the_session() {
        let r = run(vec![ev("a", 0.0, "Page Viewed"), ev("a", 30.0, "Product Viewed")]);
        assert_eq!((r.sessions, r.bounce_sessions), (1, 0));
        assert_eq!(r.total_duration_seconds, 1800.0);
        let r = run(vec![ev("a", 0.0, "Page Viewed"), ev("a", 30.0 + 1.0 / 60e6, "Product Viewed")]);
        assert_eq!(r.sessions, 2, "one microsecond more than 30 minutes starts a new session");
        assert_eq!(r.bounce_sessions, 1);
    }

    #[test]
    fn bounce_engaged_and_ties() {
        let r = run(vec![
            // a: one page view alone (bounce, not engaged)
            ev("a", 0.0, "Page Viewed"),
            // b: two events at the same instant: 2 views -> engaged, not bounce
            ev("b", 0.0, "Page Viewed"),
            ev("b", 0.0, "Page Viewed"),
            // c: a single track event is not a bounce; a conversion makes it engaged
            ev("c", 0.0, "Order Completed"),
            // d: 11 seconds between two track events -> engaged by duration
            ev("d", 0.0, "Product Viewed"),
            ev("d", 11.0 / 60.0, "Product Added"),
            // e: 10 seconds exactly is not longer than 10 s
            ev("e", 0.0, "Product Viewed"),
            ev("e", 10.0 / 60.0, "Product Added"),
        ]);
        assert_eq!(r.customers, 5);
        assert_eq!(r.events, 8);
        assert_eq!(r.sessions, 5);
        assert_eq!(r.bounce_sessions, 1);
        assert_eq!(r.engaged_sessions, 3);
        assert!((r.total_duration_seconds - 21.0).abs() < 1e-6);
    }

    #[test]
    fn identify_calls_are_not_interactions_and_input_order_does_not_matter() {
        let events = vec![
            ev("a", 50.0, "Product Viewed"),
            ev("a", 0.0, "Page Viewed"),
            ev("a", 10.0, "Identify"),
            ev("a", 20.0, "Page Viewed"),
        ];
        let r = run(events);
        assert_eq!((r.events, r.sessions), (3, 1));
        assert_eq!(r.total_duration_seconds, 3000.0);
    }
}
