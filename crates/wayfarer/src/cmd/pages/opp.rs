//! The Opportunities page: the map's opportunities with the team's plans,
//! and the KPI targets.

use super::*;

impl Dash {
    pub(super) fn opportunities(&self) -> Result<PageOutput, Problem> {
        let (config, _) = self.config()?;
        let bundle = self.map_bundle(&config, &Scope::default())?;
        let plans = wayfarer_store::notes::plans(&self.data).map_err(anyhow::Error::from)?;
        let mut all = bundle.maps[0].clone();
        wayfarer_engine::journey::plans::score_opportunities(&mut all, &plans);
        let targets = wayfarer_store::notes::targets(&self.data).map_err(anyhow::Error::from)?;
        let statuses = wayfarer_engine::journey::plans::target_statuses(&bundle.maps, &targets);
        let stages: Vec<String> = all.stages.iter().map(|s| s.name.clone()).collect();
        let personas: Vec<String> = bundle.inputs.personas.names.iter().map(|(n, _)| n.clone()).collect();
        let page = dashboard::OpportunitiesPage {
            chrome: Chrome {
                page: "opportunities".into(),
                title: "Opportunities and KPI targets".into(),
                ..Chrome::default()
            },
            opportunities: &all.opportunities,
            targets: &statuses,
            stages: &stages,
            personas: &personas,
        };
        Ok(PageOutput::html(dashboard::opportunities_page(&page)))
    }
}
