//! The customers pages (search and one customer's profile) and the
//! settings page (the configuration in effect).

use super::*;

impl Dash {
    pub(super) fn customers(&self, params: &[(String, String)]) -> Result<PageOutput, Problem> {
        let q = param(params, "q").unwrap_or("").to_string();
        let (matches, error) = if q.trim().is_empty() {
            (Vec::new(), None)
        } else {
            let store = self.store()?;
            match self.compute(|| wayfarer_engine::customers::search(&store, &q, 50)) {
                Ok(m) => (m, None),
                Err(e) => (Vec::new(), Some(e.to_string())),
            }
        };
        let page = dashboard::CustomersPage {
            chrome: Chrome { page: "customers".into(), title: "Customers".into(), ..Chrome::default() },
            query: &q,
            matches: &matches,
            error,
        };
        Ok(PageOutput::html(dashboard::customers_page(&page)))
    }

    pub(super) fn customer(&self, id: &str) -> Result<PageOutput, Problem> {
        let id = wayfarer_core::url::percent_decode(id, false);
        let (config, _) = self.config()?;
        let store = self.store()?;
        let model = Model::compile(&config, &store).map_err(anyhow::Error::from)?;
        let Some(profile) = self
            .compute(|| wayfarer_engine::customers::customer_profile(&store, &model, &Scope::default(), &id, 200))
            .map_err(anyhow::Error::from)?
        else {
            return Err(Problem::NotFound(format!("No customer has the user id or anonymous id '{id}'.")));
        };
        // Predicted CLV from the (cached) inputs of the home page's map.
        let clv = self.map_bundle(&config, &Scope::default()).ok().and_then(|bundle| {
            let inputs = &bundle.inputs;
            let mut ids = store.identity().ok()?;
            let ident = ids.lookup(&format!("u:{id}")).or_else(|| ids.lookup(&format!("a:{id}")))?;
            let customer = ids.canonical(ident);
            inputs.predicted_clv.as_ref()?.get(&customer).copied()
        });
        let chrome = Chrome {
            page: "customers".into(),
            title: format!("Customer {}", profile.customer_id),
            ..Chrome::default()
        };
        // Recommended products, from a recommender trained once per store generation.
        let recommended = self
            .cached("recommender", || {
                let r = wayfarer_engine::recommend::Recommender::train(&store, &model).map_err(anyhow::Error::from)?;
                Ok(Holder(r))
            })
            .ok()
            .and_then(|holder| {
                let r = holder.0.as_ref()?;
                let ids = store.identity_shared().ok()?;
                let ident = ids.lookup(&format!("u:{id}")).or_else(|| ids.lookup(&format!("a:{id}")))?;
                let customer = store.identity().ok()?.canonical(ident);
                Some(r.top(customer, 10))
            })
            .unwrap_or_default();
        Ok(PageOutput::html(dashboard::customer_page(&chrome, &profile, clv, &recommended)))
    }

    pub(super) fn settings(&self) -> Result<PageOutput, Problem> {
        let (config, source) = self.config()?;
        let keys: Vec<KeyRow> = wayfarer_server::keys::list(&self.data)
            .map_err(|e| Problem::Query(e.to_string()))?
            .into_iter()
            .map(|k| KeyRow {
                id: k.id,
                kind: format!("{:?}", k.kind).to_lowercase(),
                name: k.name,
                created_at: k.created_at,
                revoked_at: k.revoked_at,
            })
            .collect();
        // The check reads every event (seconds at 100M), so it is kept per
        // data generation like the analyses' answers.
        let doctor = match self.store() {
            Err(_) => Err("No events imported yet: nothing to check.".to_string()),
            Ok(store) => match self.cached("settings|doctor", || {
                let model = Model::compile(&config, &store).map_err(|e| Problem::Query(e.to_string()))?;
                wayfarer_engine::doctor::doctor(&store, &model).map_err(|e| Problem::Query(e.to_string()))
            }) {
                Ok(report) => Ok(report),
                Err(Problem::Query(why) | Problem::NoData(why) | Problem::NotFound(why)) => Err(why),
                Err(Problem::Cancelled) => return Err(Problem::Cancelled),
            },
        };
        let chrome = Chrome { page: "settings".into(), title: "Settings".into(), ..Chrome::default() };
        Ok(PageOutput::html(dashboard::settings_page(
            &chrome,
            &config,
            &source,
            &keys,
            doctor.as_deref().map_err(String::as_str),
        )))
    }
}

/// A cached recommender (none when the data has no products).
struct Holder(Option<wayfarer_engine::recommend::Recommender>);
