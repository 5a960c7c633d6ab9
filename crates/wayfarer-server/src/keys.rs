//! API keys: write keys (ingestion) and read tokens (queries and pages).
//!
//! A key is shown once when it is created; `DIR/keys.json` keeps only its
//! SHA-256, its name, kind and dates. Revoking marks the entry; the server
//! rereads the file when it changes, so a revocation takes effect on the
//! next request. The file is written atomically (write, fsync, rename).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// Ingestion (`/v1/*`); it sits in websites and apps, so it may do nothing else.
    Write,
    /// Queries (`/api/*`, `/metrics`), the dashboard, and reading segments.
    Read,
    /// Everything a read token may, and changing what acts on customers:
    /// creating, changing and deleting segments.
    Admin,
    /// Customer profiles (`/api/profiles/{id}`) and nothing else: it can sit
    /// in a website's backend without exposing the analyses.
    Profile,
}

impl KeyKind {
    fn prefix(self) -> &'static str {
        match self {
            KeyKind::Write => "wfw_",
            KeyKind::Read => "wfr_",
            KeyKind::Admin => "wfa_",
            KeyKind::Profile => "wfp_",
        }
    }

    /// Whether a key of this kind may do what `needed` allows (an admin
    /// token may also read).
    pub fn allows(self, needed: KeyKind) -> bool {
        match needed {
            KeyKind::Read => matches!(self, KeyKind::Read | KeyKind::Admin),
            // Profiles: a profile key, and whoever may read everything.
            KeyKind::Profile => matches!(self, KeyKind::Profile | KeyKind::Read | KeyKind::Admin),
            other => self == other,
        }
    }
}

/// One key as stored (never the key itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// Short public id: the key's prefix and the start of its hash (`wfw_3f9a0c1e`).
    pub id: String,
    pub name: String,
    pub kind: KeyKind,
    /// Hex SHA-256 of the whole key.
    pub sha256: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct KeyFile {
    keys: Vec<KeyEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a Wayfarer key file: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("no key with id or name '{0}'")]
    NotFound(String),
    #[error("the system's random number generator failed: {0}")]
    Random(String),
}

fn keys_path(dir: &Path) -> PathBuf {
    dir.join("keys.json")
}

fn hash(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn load(dir: &Path) -> Result<KeyFile, KeyError> {
    let path = keys_path(dir);
    match fs::read_to_string(&path) {
        Ok(text) => {
            serde_json::from_str(&text).map_err(|e| KeyError::Invalid { path: path.clone(), message: e.to_string() })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KeyFile::default()),
        Err(source) => Err(KeyError::Io { path, source }),
    }
}

fn store(dir: &Path, file: &KeyFile) -> Result<(), KeyError> {
    let path = keys_path(dir);
    let io = |source| KeyError::Io { path: path.clone(), source };
    fs::create_dir_all(dir).map_err(io)?;
    let part = path.with_extension("json.part");
    let text = serde_json::to_string_pretty(file)
        .map_err(|e| KeyError::Invalid { path: path.clone(), message: e.to_string() })?;
    {
        use std::io::Write;
        let mut f = fs::File::create(&part).map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    fs::rename(&part, &path).map_err(io)?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Runs a read-modify-write of `keys.json` under an exclusive lock of
/// `keys.lock`, so two `wayfarer keys create` at once both keep their key.
fn exclusive<T>(dir: &Path, f: impl FnOnce() -> Result<T, KeyError>) -> Result<T, KeyError> {
    let path = dir.join("keys.lock");
    let io = |source| KeyError::Io { path: path.clone(), source };
    fs::create_dir_all(dir).map_err(io)?;
    let lock = fs::File::options().create(true).truncate(false).write(true).open(&path).map_err(io)?;
    lock.lock().map_err(io)?;
    let result = f();
    let _ = lock.unlock();
    result
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Creates a key; returns the key itself (shown once) and its entry.
pub fn create(dir: &Path, kind: KeyKind, name: Option<&str>) -> Result<(String, KeyEntry), KeyError> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let key = format!("{}{secret}", kind.prefix());
    exclusive(dir, || {
        let mut file = load(dir)?;
        let sha256 = hash(&key);
        let id = format!("{}{}", kind.prefix(), &sha256[..8]);
        let same_kind = file.keys.iter().filter(|k| k.kind == kind).count();
        let entry = KeyEntry {
            name: name.map_or_else(|| format!("{} {}", kind_word(kind), same_kind + 1), str::to_string),
            id,
            kind,
            sha256,
            created_at: now_text(),
            revoked_at: None,
        };
        file.keys.push(entry.clone());
        store(dir, &file)?;
        Ok((key, entry))
    })
}

fn kind_word(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Write => "write key",
        KeyKind::Read => "read token",
        KeyKind::Admin => "admin token",
        KeyKind::Profile => "profile key",
    }
}

/// Every key, revoked ones included.
pub fn list(dir: &Path) -> Result<Vec<KeyEntry>, KeyError> {
    Ok(load(dir)?.keys)
}

/// Revokes the keys whose id or name is `which`; returns them.
pub fn revoke(dir: &Path, which: &str) -> Result<Vec<KeyEntry>, KeyError> {
    exclusive(dir, || revoke_locked(dir, which))
}

fn revoke_locked(dir: &Path, which: &str) -> Result<Vec<KeyEntry>, KeyError> {
    let mut file = load(dir)?;
    let now = now_text();
    let mut hit = Vec::new();
    for k in &mut file.keys {
        if (k.id == which || k.name == which) && k.revoked_at.is_none() {
            k.revoked_at = Some(now.clone());
            hit.push(k.clone());
        }
    }
    if hit.is_empty() {
        return Err(KeyError::NotFound(which.to_string()));
    }
    store(dir, &file)?;
    Ok(hit)
}

/// The outcome of checking a presented key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Valid(KeyKind),
    Revoked,
    Unknown,
}

/// The server's view of the key file, reread when the file changes.
#[derive(Debug)]
pub struct KeyRing {
    dir: PathBuf,
    cache: RwLock<(Option<SystemTime>, Vec<KeyEntry>)>,
}

impl KeyRing {
    pub fn open(dir: &Path) -> Result<KeyRing, KeyError> {
        let ring = KeyRing { dir: dir.to_path_buf(), cache: RwLock::new((None, Vec::new())) };
        ring.refresh()?;
        Ok(ring)
    }

    fn modified(&self) -> Option<SystemTime> {
        fs::metadata(keys_path(&self.dir)).and_then(|m| m.modified()).ok()
    }

    fn refresh(&self) -> Result<(), KeyError> {
        let stamp = self.modified();
        let fresh = self.cache.read().map(|c| c.0 == stamp && stamp.is_some()).unwrap_or(false);
        if !fresh {
            let keys = load(&self.dir)?.keys;
            if let Ok(mut c) = self.cache.write() {
                *c = (stamp, keys);
            }
        }
        Ok(())
    }

    /// Whether any usable key of this kind exists.
    pub fn has(&self, kind: KeyKind) -> bool {
        let _ = self.refresh();
        self.cache.read().map(|c| c.1.iter().any(|k| k.kind == kind && k.revoked_at.is_none())).unwrap_or(false)
    }

    /// Checks a presented key.
    /// The one check every endpoint makes: `key` must be a valid key of
    /// `kind`; the error says what was wrong in the caller's terms.
    pub fn require(&self, key: &str, kind: KeyKind) -> Result<(), crate::error::ApiError> {
        use wayfarer_core::ErrorCode::{Forbidden, Unauthorized};
        let (what, needs) = match kind {
            KeyKind::Write => ("write key", "ingestion needs a write key"),
            KeyKind::Read => ("read token", "queries need a read token"),
            KeyKind::Admin => ("admin token", "changing segments needs an admin token (wayfarer keys create --admin)"),
            KeyKind::Profile => ("profile key", "profiles need a profile key, a read token or an admin token"),
        };
        let refuse = |code, m: String| Err(crate::error::ApiError::new(code, m));
        match self.check(key) {
            Verdict::Valid(k) if k.allows(kind) => Ok(()),
            Verdict::Valid(k) => refuse(Forbidden, format!("this is a {}; {needs}", kind_word(k))),
            Verdict::Revoked => refuse(Unauthorized, format!("this {what} has been revoked")),
            Verdict::Unknown => refuse(Unauthorized, format!("unknown {what}")),
        }
    }

    pub fn check(&self, key: &str) -> Verdict {
        // A damaged key file keeps the last good view rather than opening up.
        let _ = self.refresh();
        let h = hash(key);
        let Ok(c) = self.cache.read() else { return Verdict::Unknown };
        match c.1.iter().find(|k| k.sha256 == h) {
            Some(k) if k.revoked_at.is_some() => Verdict::Revoked,
            Some(k) => Verdict::Valid(k.kind),
            None => Verdict::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_created_at_once_are_all_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        let made: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| s.spawn(move || create(path, KeyKind::Read, Some(&format!("t{i}"))).unwrap().0))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(list(dir.path()).unwrap().len(), 8);
        let ring = KeyRing::open(dir.path()).unwrap();
        for key in made {
            assert_eq!(ring.check(&key), Verdict::Valid(KeyKind::Read), "{key}");
        }
    }

    #[test]
    fn create_check_list_revoke() {
        let t = tempfile::tempdir().unwrap();
        let (w, we) = create(t.path(), KeyKind::Write, Some("web")).unwrap();
        let (r, _) = create(t.path(), KeyKind::Read, None).unwrap();
        assert!(w.starts_with("wfw_") && r.starts_with("wfr_") && w.len() == 4 + 48);
        let text = fs::read_to_string(t.path().join("keys.json")).unwrap();
        assert!(!text.contains(&w) && !text.contains(&r), "keys are stored hashed");
        let ring = KeyRing::open(t.path()).unwrap();
        assert_eq!(ring.check(&w), Verdict::Valid(KeyKind::Write));
        assert_eq!(ring.check(&r), Verdict::Valid(KeyKind::Read));
        assert_eq!(ring.check("wfw_nope"), Verdict::Unknown);
        assert_eq!(list(t.path()).unwrap().len(), 2);
        // Revoking by name; the ring sees it without a restart.
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(revoke(t.path(), "web").unwrap()[0].id, we.id);
        assert_eq!(ring.check(&w), Verdict::Revoked);
        assert!(!ring.has(KeyKind::Write));
        assert!(matches!(revoke(t.path(), "web"), Err(KeyError::NotFound(_))));
    }
}
