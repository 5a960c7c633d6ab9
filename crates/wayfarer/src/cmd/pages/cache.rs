//! The page cache: answers kept per query and store generation, one
//! computation per key at a time, and the refresher that recomputes the
//! recently asked pages after commits.

use super::*;

/// Keeps the recently asked pages computed for the latest data, their
/// parallel work on the query threads, each within the query timeout;
/// ends when the server drops its runner.
pub(super) fn refresh_loop(dash: &std::sync::Weak<Dash>, exec: &Executor, timeout: Duration) {
    // The requests already computed for `generation`.
    let mut generation: Option<u64> = None;
    let mut done: Vec<PageRequest> = Vec::new();
    loop {
        let Some(d) = dash.upgrade() else { return };
        if let Ok(g) = d.generation() {
            if generation != Some(g) {
                generation = Some(g);
                done.clear();
            }
            let recent = d.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            // Most recent first: the page someone is looking at now.
            for req in recent.iter().rev() {
                if !done.contains(req) {
                    d.under(exec.job(timeout), false).handle(req);
                    done.push(req.clone());
                }
            }
        }
        drop(d);
        std::thread::sleep(REFRESH_EVERY);
    }
}

/// Marks a key as being computed; when dropped (also on a panic), unmarks
/// it and wakes whoever waits for it.
struct Computing<'a> {
    dash: &'a Dash,
    key: String,
}

impl Drop for Computing<'_> {
    fn drop(&mut self) {
        let (lock, ready) = &*self.dash.computed;
        lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.key);
        ready.notify_all();
    }
}

pub(super) struct Entry {
    generation: u64,
    at: Instant,
    value: Arc<dyn Any + Send + Sync>,
}

impl Dash {
    pub(super) fn remember(&self, req: &PageRequest) {
        let mut recent = self.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        recent.retain(|r| r.path != req.path || r.params != req.params);
        recent.push(req.clone());
        if recent.len() > RECENT {
            recent.remove(0);
        }
    }

    /// The cached value for `key`, or `f()` (cached; its parallel work on
    /// the query pool). One computation per key at a time: a request that
    /// finds its key being computed waits for that answer (on its own
    /// thread, and only until its job is cancelled) instead of computing it
    /// again.
    pub(super) fn cached<T: Send + Sync + 'static>(
        &self,
        key: &str,
        f: impl FnOnce() -> Result<T, Problem> + Send,
    ) -> Result<Arc<T>, Problem> {
        let generation = self.generation()?;
        let lookup = || {
            let cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            cache
                .get(key)
                .filter(|e| e.generation == generation || (self.serve_stale && e.at.elapsed() < STALE_FOR))
                .and_then(|e| e.value.clone().downcast::<T>().ok())
        };
        let _computing = {
            let (lock, ready) = &*self.computed;
            let mut busy = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            loop {
                if let Some(v) = lookup() {
                    return Ok(v);
                }
                if busy.insert(key.to_string()) {
                    break Computing { dash: self, key: key.to_string() };
                }
                if self.cancel().is_cancelled() {
                    return Err(Problem::Cancelled);
                }
                busy = ready
                    .wait_timeout(busy, Duration::from_millis(100))
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0;
            }
        };
        let v = Arc::new(self.compute(f)?);
        let mut cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= CACHE_ENTRIES
            && let Some(oldest) = cache.iter().min_by_key(|(_, e)| e.at).map(|(k, _)| k.clone())
        {
            cache.remove(&oldest);
        }
        cache.insert(key.to_string(), Entry { generation, at: Instant::now(), value: v.clone() });
        Ok(v)
    }
}
