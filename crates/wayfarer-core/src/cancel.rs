//! Cooperative cancellation: a token a long computation checks at its
//! natural steps (a partition read, a timeline batch, a model iteration) and
//! stops at when it is cancelled or its deadline has passed. The server
//! gives every query one (child of the server's own, so shutting down
//! cancels them all); the CLI's token is never cancelled.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A cancellation token; clones share it. The default is never cancelled.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    inner: Option<Arc<Inner>>,
}

#[derive(Debug)]
struct Inner {
    flag: AtomicBool,
    deadline: Option<Instant>,
    parent: Cancel,
}

/// The error a computation returns when it stopped because of its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the computation was cancelled (its time ran out or the server is shutting down)")]
pub struct Cancelled;

impl Cancel {
    /// A token that is never cancelled.
    pub fn never() -> Cancel {
        Cancel::default()
    }

    /// A token cancelled by [`cancel`](Self::cancel) (on it or a parent).
    pub fn new() -> Cancel {
        Cancel::never().child(None)
    }

    /// A token cancelled with this one, or by itself, or when `timeout` has passed.
    pub fn child(&self, timeout: Option<Duration>) -> Cancel {
        Cancel {
            inner: Some(Arc::new(Inner {
                flag: AtomicBool::new(false),
                deadline: timeout.and_then(|t| Instant::now().checked_add(t)),
                parent: self.clone(),
            })),
        }
    }

    /// Cancels this token and its children.
    pub fn cancel(&self) {
        if let Some(i) = &self.inner {
            i.flag.store(true, Ordering::Relaxed);
        }
    }

    pub fn is_cancelled(&self) -> bool {
        let mut t = self;
        while let Some(i) = &t.inner {
            if i.flag.load(Ordering::Relaxed) || i.deadline.is_some_and(|d| Instant::now() >= d) {
                return true;
            }
            t = &i.parent;
        }
        false
    }

    /// `Err(Cancelled)` once cancelled: `cancel.check()?` at each step.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() { Err(Cancelled) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_follow_parents_and_deadlines() {
        assert!(!Cancel::never().is_cancelled());
        Cancel::never().cancel();
        let server = Cancel::new();
        let query = server.child(Some(Duration::from_secs(60)));
        let other = server.child(None);
        assert!(query.check().is_ok());
        query.cancel();
        assert_eq!(query.check(), Err(Cancelled));
        assert!(!server.is_cancelled() && !other.is_cancelled(), "a child does not cancel its parent");
        let late = server.child(Some(Duration::ZERO));
        assert!(late.is_cancelled(), "a passed deadline cancels");
        server.cancel();
        assert!(other.is_cancelled(), "a parent cancels its children");
    }
}
