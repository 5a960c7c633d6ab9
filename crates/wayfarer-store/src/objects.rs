//! Data directories in an object store: `s3://BUCKET/PREFIX` (Amazon S3
//! or any S3-compatible server) or `file:///PATH` (the same code over a
//! local or mounted filesystem), through the `object_store` crate.
//!
//! ```text
//!  local DIR ──publish──> URL/manifest.json, segments/…, identity/…, wayfarer.toml, …
//!  URL ──mirror──> CACHE/wayfarer/objects/<hash of URL>/  (a read-only copy; ORIGIN names the URL)
//! ```
//!
//! [`publish`] uploads a committed state: the files its manifest names
//! (segments, their hot files, the identity graph) and the side files the
//! queries read (configuration, saved segments, notes, annotations,
//! snapshots, persona fits), then the manifest — last, so a reader never
//! sees a manifest naming a file not there yet. Files only an older
//! manifest named stay one more publish, so a query reading the previous
//! state finishes; then they go. Secrets (API keys, token keys), the
//! server's staging, rejects and outbox are never published.
//!
//! [`mirror`] makes the local copy a reader opens: the manifest, the side
//! files and the identity graph always; the segments only when the query
//! reads them here (on a cluster the executors read them from the store).
//! Segment and identity files are named once and never change, so a copy
//! fetched once is good for every later generation that names it.
//!
//! Credentials, region and endpoint come from the process's own `AWS_*`
//! variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, …), never from a query.

use std::path::Path;

/// The file of a mirror naming the URL it copies; writers refuse a
/// directory that has one.
pub const ORIGIN: &str = "ORIGIN";

/// Whether a `--data` value is an object-store URL rather than a path.
pub fn is_url(data: &str) -> bool {
    data.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// The URL a mirror copies (`None`: an ordinary data directory).
pub fn origin(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join(ORIGIN)).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Whether a file (path relative to the data directory) is one of the side
/// files the queries read and a publish copies.
pub fn is_side_file(rel: &str) -> bool {
    let top = rel.split('/').next().unwrap_or(rel);
    let published = [
        crate::manifest::MANIFEST,
        "wayfarer.toml",
        crate::segment_defs::FILE,
        crate::segment_defs::MEMBERSHIP_DIR,
        crate::notes::FILE,
        crate::annotations::FILE,
        crate::snapshots::DIR,
        "cache",
    ];
    top != crate::manifest::MANIFEST
        && published.contains(&top)
        && !rel.ends_with(".part")
        && !rel.ends_with(".lock")
        && !rel.rsplit('/').next().is_some_and(|f| f.starts_with('.'))
}

/// The side files of a local data directory (paths relative to it).
pub fn side_files(dir: &Path) -> Result<Vec<String>, crate::StoreError> {
    fn walk(dir: &Path, at: &Path, out: &mut Vec<String>) -> Result<(), crate::StoreError> {
        let io = |p: &Path, e| crate::StoreError::io(p, e);
        for e in std::fs::read_dir(at).map_err(|e| io(at, e))? {
            let e = e.map_err(|e| io(at, e))?;
            let path = e.path();
            let Ok(rel) = path.strip_prefix(dir) else { continue };
            let rel = rel.to_string_lossy().replace('\\', "/");
            // Only folders that can hold side files are walked.
            let kind = e.file_type().map_err(|e| io(&path, e))?;
            if kind.is_dir() && is_side_file(&format!("{rel}/x")) {
                walk(dir, &path, out)?;
            } else if kind.is_file() && is_side_file(&rel) {
                out.push(rel);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    Ok(out)
}

#[cfg(feature = "objects")]
pub use remote::{Mirrored, Published, Remote, fetch, mirror, mirror_dir, object_store_for, publish};

#[cfg(feature = "objects")]
mod remote {
    use std::collections::{HashMap, HashSet};
    use std::future::Future;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use futures::TryStreamExt;
    use object_store::path::Path as ObjPath;
    use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
    use tokio::io::AsyncWriteExt;

    use super::{ORIGIN, is_side_file};
    use crate::manifest::{MANIFEST, Manifest};
    use crate::{StoreError, ids_path, links_path};

    /// An object store at a URL, with the runtime its client lives on.
    #[derive(Debug)]
    pub struct Remote {
        store: Arc<dyn ObjectStore>,
        root: ObjPath,
        url: String,
        rt: Runtime,
    }

    /// One object: its path relative to the URL, size and version.
    #[derive(Debug, Clone)]
    struct Entry {
        rel: String,
        size: u64,
        /// The size and ETag (or modification time): changes when the object does.
        tag: String,
        modified: std::time::SystemTime,
    }

    /// The object store a URL names (`s3://BUCKET/…`, `s3a://…`, `file:///…`).
    pub fn object_store_for(url: &url::Url) -> Result<Arc<dyn ObjectStore>, StoreError> {
        let invalid = |e: object_store::Error| StoreError::Invalid(format!("{url}: {e}"));
        match url.scheme() {
            "s3" | "s3a" => Ok(Arc::new(
                object_store::aws::AmazonS3Builder::from_env().with_url(url.as_str()).build().map_err(invalid)?,
            )),
            "file" => Ok(Arc::new(object_store::local::LocalFileSystem::new())),
            other => Err(StoreError::Invalid(format!(
                "{url}: Wayfarer reads data from s3:// (Amazon S3 or an S3-compatible server) and file:// URLs, not {other}://"
            ))),
        }
    }

    impl Remote {
        /// The data directory at `url`.
        pub fn open(url: &str) -> Result<Remote, StoreError> {
            let url = url.trim_end_matches('/');
            let parsed = url::Url::parse(url).map_err(|e| StoreError::Invalid(format!("{url}: {e}")))?;
            let store = object_store_for(&parsed)?;
            let root = ObjPath::from_url_path(parsed.path()).map_err(|e| StoreError::Invalid(format!("{url}: {e}")))?;
            Ok(Remote { store, root, url: url.to_string(), rt: Runtime::new()? })
        }

        /// The URL, without a trailing `/`.
        pub fn url(&self) -> &str {
            &self.url
        }

        /// The URL of a file of the data directory.
        pub fn url_of(&self, rel: &str) -> String {
            format!("{}/{rel}", self.url)
        }

        fn path(&self, rel: &str) -> ObjPath {
            let root = self.root.as_ref();
            if root.is_empty() { ObjPath::from(rel) } else { ObjPath::from(format!("{root}/{rel}")) }
        }

        fn error(&self, rel: &str, e: &object_store::Error) -> StoreError {
            StoreError::Objects(format!("{}: {e}", self.url_of(rel)))
        }

        /// A file's bytes (`None`: there is no such file).
        pub fn get(&self, rel: &str) -> Result<Option<Vec<u8>>, StoreError> {
            let path = self.path(rel);
            let store = self.store.clone();
            match self.rt.block(async move { store.get(&path).await?.bytes().await }) {
                Ok(b) => Ok(Some(b.to_vec())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.error(rel, &e)),
            }
        }

        /// Writes a file (replacing it whole: readers see the old or the new).
        pub fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
            let (path, store) = (self.path(rel), self.store.clone());
            self.rt
                .block(async move { store.put(&path, PutPayload::from(bytes)).await })
                .map_err(|e| self.error(rel, &e))?;
            Ok(())
        }

        /// Removes a file (one already gone is fine).
        pub fn delete(&self, rel: &str) -> Result<(), StoreError> {
            let (path, store) = (self.path(rel), self.store.clone());
            match self.rt.block(async move { store.delete(&path).await }) {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(self.error(rel, &e)),
            }
        }

        /// Every file under `rel` (a folder; `""`: all).
        fn list(&self, rel: &str) -> Result<Vec<Entry>, StoreError> {
            let prefix = if rel.is_empty() { self.root.clone() } else { self.path(rel) };
            let store = self.store.clone();
            let metas = self
                .rt
                .block(async move { store.list(Some(&prefix)).try_collect::<Vec<_>>().await })
                .map_err(|e| self.error(rel, &e))?;
            Ok(metas.iter().filter_map(|m| self.entry(m)).collect())
        }

        /// The side files ([`is_side_file`]), without listing the segments:
        /// the top level, then the side folders there.
        fn side_files(&self) -> Result<Vec<Entry>, StoreError> {
            let (store, root) = (self.store.clone(), self.root.clone());
            let top = self
                .rt
                .block(async move { store.list_with_delimiter(Some(&root)).await })
                .map_err(|e| self.error("", &e))?;
            let mut out: Vec<Entry> =
                top.objects.iter().filter_map(|m| self.entry(m)).filter(|e| is_side_file(&e.rel)).collect();
            for folder in &top.common_prefixes {
                let name = folder.filename().unwrap_or_default();
                if is_side_file(&format!("{name}/x")) {
                    out.extend(self.list(name)?.into_iter().filter(|e| is_side_file(&e.rel)));
                }
            }
            Ok(out)
        }

        fn entry(&self, m: &object_store::ObjectMeta) -> Option<Entry> {
            let root = self.root.as_ref();
            let full = m.location.as_ref();
            let rel = if root.is_empty() { full } else { full.strip_prefix(root)?.strip_prefix('/')? };
            let version = m.e_tag.clone().unwrap_or_else(|| m.last_modified.timestamp_micros().to_string());
            Some(Entry {
                rel: rel.to_string(),
                size: m.size,
                tag: format!("{}:{version}", m.size),
                modified: m.last_modified.into(),
            })
        }

        /// Removes the files under `rel` (a folder) last changed more than
        /// `age` ago (all of them: `Duration::ZERO`).
        pub fn delete_under(&self, rel: &str, age: std::time::Duration) -> Result<(), StoreError> {
            for e in self.list(rel)? {
                if e.modified.elapsed().is_ok_and(|a| a >= age) {
                    self.delete(&e.rel)?;
                }
            }
            Ok(())
        }

        /// Uploads a local file (in parts when it is large).
        fn upload(&self, rel: &str, local: &Path) -> Result<u64, StoreError> {
            let (path, store, file) = (self.path(rel), self.store.clone(), local.to_path_buf());
            self.rt
                .block(async move {
                    let mut f = tokio::fs::File::open(&file).await.map_err(|e| (true, e.to_string()))?;
                    let mut w = object_store::buffered::BufWriter::with_capacity(store, path, 16 << 20);
                    let n = tokio::io::copy(&mut f, &mut w).await.map_err(|e| (false, e.to_string()))?;
                    w.shutdown().await.map_err(|e| (false, e.to_string()))?;
                    Ok::<u64, (bool, String)>(n)
                })
                .map_err(|(local_side, e)| {
                    if local_side {
                        StoreError::io(local, std::io::Error::other(e))
                    } else {
                        StoreError::Objects(format!("{}: {e}", self.url_of(rel)))
                    }
                })
        }

        /// Downloads a file into `local` (through a temporary file, so a
        /// reader never sees half of it); `None`: there is no such file.
        fn download(&self, rel: &str, local: &Path) -> Result<Option<u64>, StoreError> {
            if let Some(parent) = local.parent() {
                std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
            }
            let part = temporary(local);
            let (path, store, file) = (self.path(rel), self.store.clone(), part.clone());
            let got = self.rt.block(async move {
                let mut body = store.get(&path).await?.into_stream();
                let mut f = tokio::fs::File::create(&file).await.map_err(io_to_store)?;
                let mut n = 0u64;
                while let Some(chunk) = body.try_next().await? {
                    n += chunk.len() as u64;
                    f.write_all(&chunk).await.map_err(io_to_store)?;
                }
                f.flush().await.map_err(io_to_store)?;
                Ok::<u64, object_store::Error>(n)
            });
            match got {
                Ok(n) => {
                    std::fs::rename(&part, local).map_err(|e| StoreError::io(local, e))?;
                    Ok(Some(n))
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&part);
                    match e {
                        object_store::Error::NotFound { .. } => Ok(None),
                        e => Err(self.error(rel, &e)),
                    }
                }
            }
        }
    }

    fn io_to_store(e: std::io::Error) -> object_store::Error {
        object_store::Error::Generic { store: "local file", source: Box::new(e) }
    }

    /// A temporary name beside `path`, unique to this process and call.
    fn temporary(path: &Path) -> PathBuf {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        path.with_file_name(format!(".{name}.{}-{n}.part", std::process::id()))
    }

    /// Reads the file at a URL.
    pub fn fetch(url: &str) -> Result<Vec<u8>, StoreError> {
        let (dir, file) = url.rsplit_once('/').ok_or_else(|| StoreError::Invalid(format!("{url}: not a file URL")))?;
        Remote::open(dir)?.get(file)?.ok_or_else(|| StoreError::Objects(format!("{url}: no such file")))
    }

    /// The files a manifest names: segments (and their hot files, when
    /// `hot` says one exists) and the identity graph.
    fn named(m: &Manifest, hot: impl Fn(&str) -> bool) -> Vec<String> {
        let mut out = Vec::new();
        for s in &m.segments {
            out.push(s.file.clone());
            let h = crate::hot::hot_path(Path::new(&s.file)).display().to_string();
            if hot(&h) {
                out.push(h);
            }
        }
        if let Some(g) = &m.identity_file {
            for p in [ids_path(Path::new(""), g), links_path(Path::new(""), g)] {
                out.push(p.display().to_string());
            }
        }
        out
    }

    /// What a publish did.
    #[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
    pub struct Published {
        pub url: String,
        pub generation: u64,
        /// Files uploaded (the manifest among them) and their bytes.
        pub uploaded: usize,
        pub bytes: u64,
        /// Files already there, left as they were.
        pub unchanged: usize,
        /// Files no published manifest names any more, removed.
        pub removed: usize,
    }

    /// Copies the committed state of the data directory `dir` to `url`.
    /// `url` must be empty or hold this data directory's earlier
    /// publishes, unless `replace`: then what is there goes.
    pub fn publish(dir: &Path, url: &str, replace: bool) -> Result<Published, StoreError> {
        let remote = Remote::open(url)?;
        // A writer committing meanwhile may remove a file this state names:
        // then the newer state is published instead.
        let mut attempt = 0;
        loop {
            match publish_once(dir, &remote, replace) {
                Err(StoreError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound && attempt < 5 => {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn publish_once(dir: &Path, remote: &Remote, replace: bool) -> Result<Published, StoreError> {
        let bytes = std::fs::read(dir.join(MANIFEST)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StoreError::Empty(dir.display().to_string()),
            _ => StoreError::io(&dir.join(MANIFEST), e),
        })?;
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt(format!("{MANIFEST}: {e}")))?;
        if let Some(url) = super::origin(dir) {
            return Err(StoreError::Invalid(format!(
                "{} is a copy of {url}; publish the data directory it came from",
                dir.display()
            )));
        }
        let there: HashMap<String, u64> = remote.list("")?.into_iter().map(|e| (e.rel, e.size)).collect();
        let mut before: Option<Manifest> = remote.get(MANIFEST)?.and_then(|b| serde_json::from_slice(&b).ok());
        // Another data directory's files there could share names with
        // this one's: they are replaced only when asked to.
        let mut there = there;
        // (Files there without a manifest are an interrupted publish's:
        // publishing again completes it.)
        let other = before.as_ref().is_some_and(|b| b.created_at != manifest.created_at);
        if other && !replace {
            return Err(StoreError::Invalid(format!(
                "{} holds another data directory's data; publish to an empty prefix, or add --replace to remove it",
                remote.url()
            )));
        }
        if other {
            before = None;
            there.retain(|rel, _| !(rel.starts_with("segments/") || rel.starts_with("identity/")));
            for rel in ["segments", "identity"] {
                remote.delete_under(rel, std::time::Duration::ZERO)?;
            }
        }
        let files = named(&manifest, |h| dir.join(h).exists());
        let side = super::side_files(dir)?;
        let mut out =
            Published { url: remote.url().to_string(), generation: manifest.generation, ..Published::default() };
        for rel in &files {
            let local = dir.join(rel);
            let size = std::fs::metadata(&local).map_err(|e| StoreError::io(&local, e))?.len();
            // Named files never change: one of the same size is this one.
            if there.get(rel) == Some(&size) {
                out.unchanged += 1;
                continue;
            }
            out.bytes += remote.upload(rel, &local)?;
            out.uploaded += 1;
        }
        for rel in &side {
            out.bytes += remote.upload(rel, &dir.join(rel))?;
            out.uploaded += 1;
        }
        out.bytes += bytes.len() as u64;
        remote.put(MANIFEST, bytes)?;
        out.uploaded += 1;
        // What neither this state nor the one published before names goes.
        let mut keep: HashSet<&str> = files.iter().map(String::as_str).collect();
        let older = before.as_ref().map(|m| named(m, |h| there.contains_key(h))).unwrap_or_default();
        keep.extend(older.iter().map(String::as_str));
        keep.extend(side.iter().map(String::as_str));
        for rel in there.keys() {
            let data = rel.starts_with("segments/") || rel.starts_with("identity/");
            if (data || is_side_file(rel)) && !keep.contains(rel.as_str()) {
                remote.delete(rel)?;
                out.removed += 1;
            }
        }
        Ok(out)
    }

    /// Where the mirror of `url` lives: under `$XDG_CACHE_HOME`, else
    /// `~/.cache`, else the temporary directory.
    pub fn mirror_dir(url: &str) -> PathBuf {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        mirror_dir_in(&base, url)
    }

    fn mirror_dir_in(base: &Path, url: &str) -> PathBuf {
        let url = url.trim_end_matches('/');
        base.join("wayfarer").join("objects").join(format!("{:016x}", xxhash_rust::xxh3::xxh3_64(url.as_bytes())))
    }

    /// What a mirror fetched.
    #[derive(Debug, Clone, Default)]
    pub struct Mirrored {
        pub dir: PathBuf,
        pub files: usize,
        pub bytes: u64,
    }

    /// The local copy of the data directory at `url`, brought up to date:
    /// the manifest, side files and identity graph, and the segments when
    /// `segments` (a query that reads them here).
    pub fn mirror(url: &str, segments: bool) -> Result<Mirrored, StoreError> {
        let remote = Remote::open(url)?;
        mirror_at(&mirror_dir(remote.url()), &remote, segments)
    }

    fn mirror_at(dir: &Path, remote: &Remote, segments: bool) -> Result<Mirrored, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        if super::origin(dir).as_deref() != Some(remote.url()) {
            write_file(&dir.join(ORIGIN), remote.url().as_bytes())?;
        }
        let Some(bytes) = remote.get(MANIFEST)? else {
            return Err(StoreError::Objects(format!(
                "{} holds no published Wayfarer data (no {MANIFEST}); publish a data directory there: \
                 wayfarer cluster publish --data DIR {}",
                remote.url(),
                remote.url()
            )));
        };
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| StoreError::Corrupt(format!("{}: {e}", remote.url_of(MANIFEST))))?;
        let mut out = Mirrored { dir: dir.to_path_buf(), ..Mirrored::default() };
        // Side files: fetched when their version changed; gone when gone there.
        let index_path = dir.join(".mirrored.json");
        let mut index: HashMap<String, String> =
            std::fs::read(&index_path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        let mut seen = HashSet::new();
        for e in remote.side_files()? {
            let local = dir.join(&e.rel);
            if index.get(&e.rel) == Some(&e.tag) && local.exists() {
                seen.insert(e.rel);
            } else if let Some(n) = remote.download(&e.rel, &local)? {
                (out.bytes, out.files) = (out.bytes + n, out.files + 1);
                index.insert(e.rel.clone(), e.tag);
                seen.insert(e.rel);
            }
        }
        index.retain(|rel, _| {
            let keep = seen.contains(rel);
            if !keep {
                let _ = std::fs::remove_file(dir.join(rel));
            }
            keep
        });
        // Named files: fetched once (a name never changes its content);
        // a hot file only where the segment has one.
        let mut wanted: Vec<String> = named(&manifest, |_| true);
        if !segments {
            wanted.retain(|rel| !rel.starts_with("segments/"));
        }
        for rel in &wanted {
            let local = dir.join(rel);
            if local.exists() {
                continue;
            }
            match remote.download(rel, &local)? {
                Some(n) => (out.bytes, out.files) = (out.bytes + n, out.files + 1),
                None if rel.ends_with(".hot") => {}
                None => {
                    return Err(StoreError::Corrupt(format!(
                        "{} names {rel}, which is not there",
                        remote.url_of(MANIFEST)
                    )));
                }
            }
        }
        if segments {
            let keep: HashSet<&str> = wanted.iter().map(String::as_str).collect();
            forget_unnamed(dir, &keep);
        }
        write_file(&index_path, &serde_json::to_vec(&index).unwrap_or_default())?;
        // Another process copying the same URL may have written a newer
        // state meanwhile: the copy never goes back to an older one.
        let local: Option<Manifest> =
            std::fs::read(dir.join(MANIFEST)).ok().and_then(|b| serde_json::from_slice(&b).ok());
        let newer_here =
            local.is_some_and(|l| l.created_at == manifest.created_at && l.generation > manifest.generation);
        if !newer_here {
            write_file(&dir.join(MANIFEST), &bytes)?;
        }
        Ok(out)
    }

    /// Removes the local copies of segments no manifest names any more.
    fn forget_unnamed(dir: &Path, keep: &HashSet<&str>) {
        let Ok(parts) = std::fs::read_dir(dir.join("segments")) else { return };
        for p in parts.flatten() {
            let Ok(files) = std::fs::read_dir(p.path()) else { continue };
            for f in files.flatten() {
                let path = f.path();
                let rel = path.strip_prefix(dir).map(|r| r.to_string_lossy().replace('\\', "/")).unwrap_or_default();
                if !keep.contains(rel.as_str()) {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
    }

    /// Writes a whole file through a temporary one.
    fn write_file(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let part = temporary(path);
        std::fs::write(&part, bytes).map_err(|e| StoreError::io(&part, e))?;
        std::fs::rename(&part, path).map_err(|e| StoreError::io(path, e))
    }

    /// The runtime an object store's client lives on. Its work runs on its
    /// own threads, so it serves callers inside another runtime (an
    /// executor's aggregate) as well as plain threads.
    #[derive(Debug)]
    struct Runtime(Option<tokio::runtime::Runtime>);

    impl Runtime {
        fn new() -> Result<Runtime, StoreError> {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("wayfarer-objects")
                .enable_all()
                .build()
                .map_err(|e| StoreError::Internal(format!("starting the object-store client: {e}")))?;
            Ok(Runtime(Some(rt)))
        }

        fn block<T: Send + 'static>(&self, f: impl Future<Output = T> + Send + 'static) -> T {
            let rt = self.0.as_ref().expect("the runtime lives until drop");
            let task = rt.spawn(f);
            let wait = async move { task.await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())) };
            if tokio::runtime::Handle::try_current().is_ok() {
                // Inside another runtime: wait on a plain thread.
                std::thread::scope(|s| {
                    s.spawn(|| rt.block_on(wait)).join().unwrap_or_else(|e| std::panic::resume_unwind(e))
                })
            } else {
                rt.block_on(wait)
            }
        }
    }

    impl Drop for Runtime {
        fn drop(&mut self) {
            if let Some(rt) = self.0.take() {
                rt.shutdown_background();
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn store_with(dir: &Path, segments: &[&str], identity: &str) {
            let mut m = Manifest::new(4, 0);
            m.generation = 3;
            m.identity_file = Some(identity.to_string());
            for (i, f) in segments.iter().enumerate() {
                let path = dir.join(f);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, format!("segment {f}")).unwrap();
                m.segments.push(crate::SegmentMeta {
                    id: i as u64,
                    partition: 0,
                    file: f.to_string(),
                    rows: 1,
                    min_ts: 0,
                    max_ts: 0,
                    min_customer: 0,
                    max_customer: 0,
                });
            }
            std::fs::create_dir_all(dir.join("identity")).unwrap();
            for p in [ids_path(dir, identity), links_path(dir, identity)] {
                std::fs::write(p, b"identity").unwrap();
            }
            std::fs::write(dir.join(MANIFEST), serde_json::to_vec(&m).unwrap()).unwrap();
        }

        #[test]
        fn publish_copies_the_committed_state_and_no_secrets_then_mirror_reads_it() {
            let tmp = tempfile::tempdir().unwrap();
            let (local, bucket, cache) = (tmp.path().join("data"), tmp.path().join("bucket"), tmp.path().join("cache"));
            std::fs::create_dir_all(&bucket).unwrap();
            store_with(&local, &["segments/p000/s0000000001.parquet", "segments/p001/s0000000002.parquet"], "00000001");
            std::fs::write(local.join("wayfarer.toml"), b"[stages]\n").unwrap();
            std::fs::write(local.join("keys.json"), b"secret").unwrap();
            std::fs::create_dir_all(local.join("staging")).unwrap();
            std::fs::write(local.join("staging/wal-1.log"), b"unfolded").unwrap();
            std::fs::write(local.join("LOCK"), b"").unwrap();
            let url = format!("file://{}", bucket.display());

            let p = publish(&local, &url, false).unwrap();
            assert_eq!((p.generation, p.uploaded, p.unchanged, p.removed), (3, 6, 0, 0));
            for f in [MANIFEST, "wayfarer.toml", "segments/p000/s0000000001.parquet", "identity/ids-00000001.parquet"] {
                assert!(bucket.join(f).exists(), "{f} published");
            }
            for f in ["keys.json", "staging/wal-1.log", "LOCK"] {
                assert!(!bucket.join(f).exists(), "{f} must not be published");
            }
            // Again: the named files are there already.
            let again = publish(&local, &url, false).unwrap();
            assert_eq!((again.uploaded, again.unchanged), (2, 4));

            let remote = Remote::open(&url).unwrap();
            let mirror = |segments| mirror_at(&mirror_dir_in(&cache, &url), &remote, segments);
            let m = mirror(false).unwrap();
            assert!(m.dir.starts_with(&cache));
            assert_eq!(super::super::origin(&m.dir).as_deref(), Some(url.as_str()));
            assert!(m.dir.join("wayfarer.toml").exists() && m.dir.join("identity/links-00000001.parquet").exists());
            assert!(!m.dir.join("segments").exists(), "a cluster query fetches no segments");
            let full = mirror(true).unwrap();
            assert_eq!(full.files, 2, "only the segments are new");
            assert_eq!(
                std::fs::read(full.dir.join("segments/p001/s0000000002.parquet")).unwrap(),
                b"segment segments/p001/s0000000002.parquet"
            );

            // A new state: one segment replaced, the configuration gone.
            std::fs::remove_file(local.join("wayfarer.toml")).unwrap();
            let older = "segments/p000/s0000000001.parquet";
            store_with(&local, &["segments/p000/s0000000003.parquet", "segments/p001/s0000000002.parquet"], "00000002");
            publish(&local, &url, false).unwrap();
            assert!(bucket.join(older).exists(), "the previous state's files stay one publish");
            assert!(!bucket.join("wayfarer.toml").exists());
            store_with(&local, &["segments/p000/s0000000004.parquet", "segments/p001/s0000000002.parquet"], "00000003");
            let third = publish(&local, &url, false).unwrap();
            assert!(!bucket.join(older).exists() && third.removed >= 3, "{third:?}");
            let m = mirror(true).unwrap();
            assert!(!m.dir.join("wayfarer.toml").exists() && !m.dir.join(older).exists());
            assert!(m.dir.join("segments/p000/s0000000004.parquet").exists());
            // A copy never goes back to an older state (another process
            // copying the same URL wrote a newer one meanwhile).
            let mut newer: Manifest = serde_json::from_slice(&std::fs::read(m.dir.join(MANIFEST)).unwrap()).unwrap();
            newer.generation += 10;
            std::fs::write(m.dir.join(MANIFEST), serde_json::to_vec(&newer).unwrap()).unwrap();
            mirror(true).unwrap();
            assert_eq!(crate::Store::open(&m.dir).unwrap().manifest().generation, newer.generation);
            // A mirror is not published from.
            assert!(matches!(publish(&m.dir, &url, false), Err(StoreError::Invalid(_))));
            // Another data directory is refused there, unless it replaces it.
            let other = tmp.path().join("other");
            store_with(&other, &["segments/p000/s0000000004.parquet"], "00000001");
            let mut m: Manifest = serde_json::from_slice(&std::fs::read(other.join(MANIFEST)).unwrap()).unwrap();
            m.created_at = 42;
            std::fs::write(other.join(MANIFEST), serde_json::to_vec(&m).unwrap()).unwrap();
            let e = publish(&other, &url, false).unwrap_err().to_string();
            assert!(e.contains("another data directory") && e.contains("--replace"), "{e}");
            let replaced = publish(&other, &url, true).unwrap();
            assert_eq!(replaced.unchanged, 0, "nothing of the other directory counts as already there");
            assert_eq!(
                std::fs::read(bucket.join("segments/p000/s0000000004.parquet")).unwrap(),
                b"segment segments/p000/s0000000004.parquet"
            );
            assert!(!bucket.join("segments/p001/s0000000002.parquet").exists());
            publish(&other, &url, false).unwrap();
        }

        #[test]
        fn urls_are_told_from_paths() {
            for u in ["s3://bucket/x", "file:///tmp/x", "s3a://b"] {
                assert!(super::super::is_url(u), "{u}");
            }
            for p in ["/tmp/x", "data", "./a://b", "C:\\data"] {
                assert!(!super::super::is_url(p), "{p}");
            }
            assert!(matches!(Remote::open("gs://bucket/x"), Err(StoreError::Invalid(m)) if m.contains("s3://")));
        }
    }
}
