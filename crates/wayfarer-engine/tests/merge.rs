//! The fold contract: for any split of the customers into groups and any
//! merge order, merging the partials gives exactly the single-pass result.

use proptest::prelude::*;
use wayfarer_core::{Config, Event, Kind};
use wayfarer_engine::attribution::{AttributionFold, AttributionSpec};
use wayfarer_engine::clv::ValueFold;
use wayfarer_engine::fold::{Fold, report, run, run_split};
use wayfarer_engine::funnel::{self, FunnelFold, FunnelSpec, Mode, Step};
use wayfarer_engine::journey::{JourneyFold, MapInputs};
use wayfarer_engine::paths::{PathSpec, PathsFold};
use wayfarer_engine::period::Period;
use wayfarer_engine::personas::FeatureFold;
use wayfarer_engine::retention::{RetentionFold, RetentionSpec};
use wayfarer_engine::rfm::{RfmFold, RfmSpec, Unit, rfm};
use wayfarer_engine::segments::{SegmentFold, Segmentation};
use wayfarer_engine::sessions::SessionsFold;
use wayfarer_engine::surveys::SurveysFold;
use wayfarer_engine::{Model, Scope};
use wayfarer_store::{Store, Writer};

/// Segment's e-commerce names, so the default stage model, purchases and
/// the journey map's lanes all have something to count.
const NAMES: [&str; 4] = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"];
const A: &str = NAMES[0];
const B: &str = NAMES[1];
const C: &str = NAMES[2];
const D: &str = NAMES[3];

fn build(events: &[(u8, u32, u8)]) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Writer::open(dir.path(), 0).unwrap();
    // Every name occurs (c99 does each once), so steps naming them are valid.
    let every = NAMES.iter().enumerate().map(|(e, _)| (99u8, 40_000 + e as u32, e as u8));
    let events: Vec<(u8, u32, u8)> = events.iter().copied().chain(every).collect();
    let evs: Vec<Event> = events
        .iter()
        .enumerate()
        .map(|(i, &(c, minutes, e))| {
            let ts = 1_767_225_600_000_000 + minutes as i64 * 60_000_000;
            let mut ev = Event::new(format!("e{i}"), ts, NAMES[e as usize % 4]);
            ev.user_id = Some(format!("c{c}"));
            ev.kind = Kind::Track;
            if e % 4 == 3 {
                ev.revenue = Some(10.0);
            }
            ev
        })
        .collect();
    w.add(evs).unwrap();
    w.commit().unwrap();
    let s = Store::open(dir.path()).unwrap();
    (dir, s)
}

/// How the customers are split and the partials merged.
struct Split<'a> {
    groups: usize,
    group_of: &'a dyn Fn(u32) -> usize,
    order: &'a [usize],
}

/// The report of one pass (postings where the fold allows) equals the report
/// of the split-and-merged rows, to the last bit (compared as printed, so a
/// missing value's NaN equals itself).
fn same<F: Fold>(store: &Store, f: &F, s: &Split<'_>) -> Result<(), TestCaseError>
where
    F::Report: std::fmt::Debug,
{
    let one = report(store, f).unwrap();
    let split = f.finish(run_split(store, f, s.groups, s.group_of, s.order).unwrap());
    prop_assert_eq!(format!("{one:?}"), format!("{split:?}"));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn merged_partials_equal_the_single_pass(
        events in prop::collection::vec((0u8..12, 0u32..30_000, 0u8..4), 1..120),
        groups in 1usize..5,
        salt in 0u32..1000,
        reverse in any::<bool>(),
    ) {
        let (_d, store) = build(&events);
        let model = Model::compile(&Config::default(), &store).unwrap();
        let scope = Scope::default();
        let group_of = move |c: u32| (c.wrapping_mul(2_654_435_761).wrapping_add(salt) as usize) % groups;
        let mut order: Vec<usize> = (0..groups).collect();
        if reverse { order.reverse(); }
        let split = Split { groups, group_of: &group_of, order: &order };

        let steps: Vec<Step> = [A, B, C].iter().map(|s| Step::parse(s, &model).unwrap()).collect();
        for mode in [Mode::Default, Mode::StrictOrder, Mode::StrictDeduplication, Mode::StrictIncrease] {
            let mut spec = FunnelSpec::new(steps.clone(), 3 * 86_400_000_000, mode);
            spec.trend = Some(Period::Week);
            let f = FunnelFold::new(&model, &scope, &spec).unwrap();
            let one = funnel::report(&spec, &run(&store, &f).unwrap().0, &scope);
            let split = funnel::report(&spec, &run_split(&store, &f, groups, &group_of, &order).unwrap().0, &scope);
            prop_assert_eq!(&one, &split);
            // The public entry point may read postings instead of rows: same answer.
            let api = funnel::funnel(&store, &model, &scope, &spec).unwrap();
            prop_assert_eq!(&one, &api);
        }

        let spec = PathSpec { length: 3, ..PathSpec::default() };
        same(&store, &PathsFold::new(&model, &scope, &spec), &split)?;

        let spec = RetentionSpec { period: Period::Week, periods: 4, start_event: None, return_event: Some(D.into()) };
        same(&store, &RetentionFold::new(&model, &scope, &spec).unwrap(), &split)?;

        let spec = RfmSpec { event: D.into(), calibration_end: None, unit: Unit::Day, keep_customers: true };
        let f = RfmFold::new(&model, &scope, &spec).unwrap();
        same(&store, &f, &split)?;
        // The public entry point reads postings: same answer as rows.
        prop_assert_eq!(f.finish(run_split(&store, &f, 1, &|_| 0, &[0]).unwrap()), rfm(&store, &model, &scope, &spec).unwrap());

        same(&store, &SurveysFold::new(&model, &scope, Period::Month), &split)?;
        same(&store, &SessionsFold::new(&model, &scope).unwrap(), &split)?;
        same(&store, &ValueFold::new(&model, &scope, D), &split)?;
        same(&store, &FeatureFold::new(&model, &scope), &split)?;
        for by in Segmentation::BUILT_IN.into_iter().chain([Segmentation::Property("plan".into())]) {
            same(&store, &SegmentFold::new(&model, &scope, &by), &split)?;
        }
        let spec = AttributionSpec { conversion: D.into(), ..AttributionSpec::default() };
        same(&store, &AttributionFold::new(&model, &scope, &spec).unwrap(), &split)?;
        // The journey map: every map of the scope and its personas from one partial.
        let inputs = MapInputs::hand_written(&model);
        same(&store, &JourneyFold::new(&store, &model, &scope, &inputs, true).unwrap(), &split)?;
    }
}
