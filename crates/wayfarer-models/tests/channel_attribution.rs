//! Conformance with the ChannelAttribution package (docs/attribution.md):
//! 19 datasets whose expectations `scripts/gen_attribution_fixtures.py`
//! generated with the package itself. Heuristics must equal the package's;
//! Markov results must equal the exact absorbing-chain values to 1e-9 and
//! lie within six standard errors of the package's simulation; the
//! transition matrices must equal the package's.

use serde_json::Value;
use wayfarer_models::attribution::{Chain, Heuristic, Path, heuristic, markov};

fn fixtures() -> Vec<Value> {
    // Read at compile time: the test binary does not depend on where the
    // sources were when it was built.
    serde_json::from_str::<Value>(include_str!("fixtures/channel_attribution.json"))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn dataset(d: &Value) -> (Vec<String>, Vec<Path>) {
    let channels: Vec<String> = d["channels"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().into()).collect();
    let id = |name: &str| channels.iter().position(|c| c == name).unwrap() as u32;
    let paths = d["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Path {
            channels: p["path"].as_array().unwrap().iter().map(|c| id(c.as_str().unwrap())).collect(),
            conversions: p["conversions"].as_u64().unwrap(),
            value: p["value"].as_f64().unwrap(),
            nulls: p["nulls"].as_u64().unwrap(),
        })
        .collect();
    (channels, paths)
}

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!((got - want).abs() <= tol * want.abs().max(1.0), "{what}: got {got}, want {want}");
}

#[test]
fn heuristics_equal_the_package() {
    for d in fixtures() {
        let (channels, paths) = dataset(&d);
        let name = d["name"].as_str().unwrap();
        for (key, h) in [("first", Heuristic::First), ("last", Heuristic::Last), ("linear", Heuristic::Linear)] {
            let credit = heuristic(&paths, channels.len(), h);
            for (i, c) in channels.iter().enumerate() {
                let want = d["heuristic"][key][c].as_f64().unwrap();
                close(credit.conversions[i], want, 1e-9, &format!("{name} {key} {c}"));
                let want = d["heuristic"][format!("{key}_value")][c].as_f64().unwrap();
                close(credit.value[i], want, 1e-9, &format!("{name} {key} value {c}"));
            }
        }
    }
}

#[test]
fn markov_equals_the_exact_chain_and_agrees_with_the_package() {
    let mut compared = 0;
    for d in fixtures() {
        let (channels, paths) = dataset(&d);
        let name = d["name"].as_str().unwrap();
        for order in 1..=3usize {
            let exact = &d["markov_exact"][order.to_string()];
            let package = &d["markov"][order.to_string()];
            let m = markov(&paths, channels.len(), order);
            let what = format!("{name} order {order}");
            assert_eq!(m.states as u64, exact["n_states"].as_u64().unwrap(), "{what}: states");
            close(m.p_conversion, exact["p_conversion"].as_f64().unwrap(), 1e-9, &format!("{what} P(conv)"));
            close(m.total_conversions, exact["total_conversions"].as_f64().unwrap(), 1e-12, &what);
            close(m.total_value, exact["total_value"].as_f64().unwrap(), 1e-9, &what);
            for (i, c) in channels.iter().enumerate() {
                let e = &exact["channels"][c];
                let w = format!("{what} {c}");
                close(m.credit.conversions[i], e["conversions"].as_f64().unwrap(), 1e-9, &format!("{w} conversions"));
                close(m.credit.value[i], e["value"].as_f64().unwrap(), 1e-9, &format!("{w} value"));
                close(m.removal_effect[i], e["removal_effect"].as_f64().unwrap(), 1e-9, &format!("{w} RE"));
                close(
                    m.removal_effect_value[i],
                    e["removal_effect_value"].as_f64().unwrap(),
                    1e-9,
                    &format!("{w} REV"),
                );
                // The package simulates; it must be within six standard errors.
                let p = &package["channels"][c];
                for (key, se) in
                    [("conversions", "conversions_se"), ("value", "value_se"), ("removal_effect", "removal_effect_se")]
                {
                    let got = match key {
                        "conversions" => m.credit.conversions[i],
                        "value" => m.credit.value[i],
                        _ => m.removal_effect[i],
                    };
                    let se = e[se].as_f64().unwrap();
                    let diff = (got - p[key].as_f64().unwrap()).abs();
                    assert!(diff <= 6.0 * se + 1e-9, "{w} {key}: ours {got}, package {}, se {se}", p[key]);
                }
                compared += 1;
            }
            // The package's transition matrix, state by state.
            let chain = Chain::build(&paths, order);
            let state = |names: &Value| -> String {
                names.as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect::<Vec<_>>().join(" > ")
            };
            let label = |s: usize| -> String {
                if s == 0 {
                    "(start)".into()
                } else {
                    chain.state_channels[s]
                        .iter()
                        .map(|&c| channels[c as usize].as_str())
                        .collect::<Vec<_>>()
                        .join(" > ")
                }
            };
            let mut ours: std::collections::HashMap<(String, String), f64> = std::collections::HashMap::new();
            for a in 0..chain.trans.len() {
                for &(b, p) in &chain.trans[a] {
                    ours.insert((label(a), label(b)), p);
                }
                if chain.conv[a] > 0.0 {
                    ours.insert((label(a), "(conversion)".into()), chain.conv[a]);
                }
                if chain.null[a] > 0.0 {
                    ours.insert((label(a), "(null)".into()), chain.null[a]);
                }
            }
            let theirs = package["transition_matrix"].as_array().unwrap();
            assert_eq!(ours.len(), theirs.len(), "{what}: number of transitions");
            for t in theirs {
                let key = (state(&t["from"]), state(&t["to"]));
                let p = ours.get(&key).unwrap_or_else(|| panic!("{what}: no transition {key:?}"));
                close(*p, t["p"].as_f64().unwrap(), 1e-12, &format!("{what} {key:?}"));
            }
        }
    }
    assert!(compared > 200, "only {compared} channel comparisons");
}
