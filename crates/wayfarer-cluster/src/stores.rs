//! The object stores DataFusion reads segments through on every process of
//! a cluster: `file://` (and plain paths) from the local filesystem,
//! `s3://BUCKET` from S3 or an S3-compatible server, each made when a plan
//! first names it, with the process's own `AWS_*` credentials.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreRegistry;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use object_store::ObjectStore;
use url::Url;

/// Object stores by scheme and bucket, made on first use.
#[derive(Debug, Default)]
pub struct Stores {
    known: RwLock<HashMap<String, Arc<dyn ObjectStore>>>,
}

fn key(url: &Url) -> String {
    format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default())
}

impl ObjectStoreRegistry for Stores {
    fn register_store(&self, url: &Url, store: Arc<dyn ObjectStore>) -> Option<Arc<dyn ObjectStore>> {
        self.known.write().ok()?.insert(key(url), store)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        let k = key(url);
        if let Some(s) = self.known.read().ok().and_then(|m| m.get(&k).cloned()) {
            return Ok(s);
        }
        let local = Url::parse("file:///").map_err(|e| DataFusionError::External(Box::new(e)))?;
        let store = wayfarer_store::objects::object_store_for(if url.scheme().is_empty() { &local } else { url })
            .map_err(|e| DataFusionError::Execution(e.to_string()))?;
        if let Ok(mut m) = self.known.write() {
            m.insert(k, store.clone());
        }
        Ok(store)
    }
}

/// A runtime reading through [`Stores`], spilling to `work_dir`.
pub fn runtime_env(work_dir: Option<&str>) -> Result<Arc<RuntimeEnv>> {
    let mut b = RuntimeEnvBuilder::new().with_object_store_registry(Arc::new(Stores::default()));
    if let Some(d) = work_dir {
        b = b.with_temp_file_path(d);
    }
    Ok(Arc::new(b.build()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_are_made_once_per_bucket_and_unknown_schemes_named() {
        let s = Stores::default();
        let a = s.get_store(&Url::parse("file:///tmp/a").unwrap()).unwrap();
        let b = s.get_store(&Url::parse("file:///var/b").unwrap()).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let e = s.get_store(&Url::parse("gs://bucket/x").unwrap()).unwrap_err().to_string();
        assert!(e.contains("gs://") && e.contains("s3://"), "{e}");
    }
}
