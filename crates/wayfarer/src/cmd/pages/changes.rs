//! The "What changed" page: the comparison the map command computes
//! (`--compare/--vs` or `--around`), with the snapshots and annotations.

use super::*;

impl Dash {
    pub(super) fn changes(&self, params: &[(String, String)]) -> Result<PageOutput, Problem> {
        let store = self.store()?;
        let snapshots =
            self.compute(|| wayfarer_engine::journey::snapshot::list(store.dir())).map_err(anyhow::Error::from)?;
        let annotations = wayfarer_store::annotations::list(store.dir()).map_err(anyhow::Error::from)?;
        let value = |k: &str| param(params, k).unwrap_or("").to_string();
        let form = dashboard::ChangesForm {
            compare: value("compare"),
            vs: value("vs"),
            around: value("around"),
            days: value("days"),
            horizon: value("horizon"),
        };
        let asked = !form.around.is_empty() || (!form.compare.is_empty() && !form.vs.is_empty());
        let result = if asked {
            let mut query: Vec<(String, String)> = Vec::new();
            if form.around.is_empty() {
                query.push(("compare".into(), form.compare.clone()));
                query.push(("vs".into(), form.vs.clone()));
            } else {
                query.push(("around".into(), form.around.clone()));
                query.push(("days".into(), form.days.clone()));
            }
            query.push(("horizon".into(), form.horizon.clone()));
            let query: Vec<(String, String)> = query.into_iter().filter(|(_, v)| !v.is_empty()).collect();
            let key = format!("changes|{}", dashboard::query(&query));
            match self.cached(&key, || {
                let cli = self.parse("map", &query)?;
                let Command::Map(a) = &cli.command else { return Err(Problem::NotFound("no map".into())) };
                Ok(crate::cmd::map::comparison(&cli.global, a)?)
            }) {
                Ok(c) => Some(Ok((*c).clone())),
                Err(Problem::Query(e)) => Some(Err(e)),
                Err(p) => return Err(p),
            }
        } else {
            None
        };
        let chrome = Chrome { page: "changes".into(), title: "What changed".into(), ..Chrome::default() };
        let page = dashboard::ChangesPage { chrome, snapshots: &snapshots, annotations: &annotations, form, result };
        Ok(PageOutput::html(dashboard::changes_page(&page)))
    }
}
