//! The identity graph (DESIGN §4.1): raw identities (user ids and anonymous
//! ids), the links between them, and their resolution into customers.
//!
//! Every distinct raw identity gets a dense number (an *ident*); a customer is
//! named by the ident of its canonical identity. Resolution is a union-find
//! over the links in time order, re-run from scratch whenever links change, so
//! it is deterministic and late events give the same answer as timely ones:
//! - an anonymous id seen with a user id joins that user, unless it already
//!   belongs to another user (two user ids never merge through a shared
//!   anonymous id: the anonymous id stays with the first);
//! - `alias(previousId → userId)` merges unconditionally;
//! - the canonical identity is the earliest-seen user id, else the
//!   earliest-seen anonymous id.

/// Key prefixes keep user ids and anonymous ids in separate namespaces.
pub const USER_PREFIX: &str = "u:";
pub const ANON_PREFIX: &str = "a:";

/// What the graph indexes a raw key (`u:…`, `a:…`) by: 128 bits of xxh3,
/// like event ids (computed off the writer's thread by the import).
pub fn key_hash(key: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(key.as_bytes())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LinkKind {
    /// An anonymous id and a user id seen on the same event.
    AnonUser = 0,
    /// An explicit alias: `a` is the previous id's key, `b` the user.
    Alias = 1,
}

/// A link between two identities, first seen at (ts, seq).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub kind: LinkKind,
    /// AnonUser: the anonymous ident. Alias: unused (see `previous`).
    pub a: u32,
    /// The user ident.
    pub b: u32,
    /// Alias: the previous id as sent (matched against both namespaces).
    pub previous: Option<String>,
    pub ts: i64,
    pub seq: u64,
}

/// Batches at least this large are looked up on all cores.
const FIND_PARALLEL_FROM: usize = 1 << 14;

/// Raw identities, links, and the current resolution.
#[derive(Debug, Clone, Default)]
pub struct IdentityGraph {
    keys: Vec<String>,
    /// The ident of each key, by [`key_hash`] (the keys live once, in `keys`).
    index: rustc_hash::FxHashMap<u128, u32>,
    /// (timestamp, seq) of the first event carrying each ident.
    first_seen: Vec<(i64, u64)>,
    links: Vec<Link>,
    link_index: rustc_hash::FxHashMap<(LinkKind, u32, u32, Option<String>), usize>,
    canonical: Vec<u32>,
    dirty: bool,
    /// Changed since it was last written to (or read from) the identity files.
    unsaved: bool,
}

impl IdentityGraph {
    pub fn new() -> IdentityGraph {
        IdentityGraph::default()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The raw key of an ident (`u:…` or `a:…`).
    pub fn key(&self, ident: u32) -> &str {
        self.keys.get(ident as usize).map_or("", String::as_str)
    }

    /// The id as the customer's systems know it (prefix stripped).
    pub fn external_id(&self, ident: u32) -> &str {
        let k = self.key(ident);
        k.get(2..).unwrap_or(k)
    }

    /// Whether the ident is a user id (as opposed to an anonymous id).
    pub fn is_user(&self, ident: u32) -> bool {
        self.key(ident).starts_with(USER_PREFIX)
    }

    pub fn lookup(&self, key: &str) -> Option<u32> {
        self.index.get(&key_hash(key)).copied()
    }

    pub fn first_seen(&self, ident: u32) -> (i64, u64) {
        self.first_seen.get(ident as usize).copied().unwrap_or((i64::MAX, u64::MAX))
    }

    /// Registers a raw identity seen at (ts, seq); returns its ident.
    pub fn intern(&mut self, key: &str, ts: i64, seq: u64) -> u32 {
        self.intern_hashed(key_hash(key), || key.to_string(), ts, seq)
    }

    /// [`intern`](Self::intern) given the key's [`key_hash`]; `key` makes
    /// the key when it is new.
    pub fn intern_hashed(&mut self, hash: u128, key: impl FnOnce() -> String, ts: i64, seq: u64) -> u32 {
        if let Some(&i) = self.index.get(&hash) {
            let fs = &mut self.first_seen[i as usize];
            if (ts, seq) < *fs {
                *fs = (ts, seq);
                self.dirty = true;
                self.unsaved = true;
            }
            return i;
        }
        let i = self.keys.len() as u32;
        self.keys.push(key());
        self.index.insert(hash, i);
        self.first_seen.push((ts, seq));
        self.canonical.push(i);
        self.dirty = true;
        self.unsaved = true;
        i
    }

    /// The ident of each key hash known now (0: no key), looked up on all
    /// cores unless `on_pool` is false (the caller keeps the pool busy
    /// itself): the lookups of a batch miss the caches one after the other,
    /// and the writer's loop then only interns the keys not found.
    pub fn find_all(&self, hashes: &[u128], on_pool: bool) -> Vec<Option<u32>> {
        use rayon::prelude::*;
        let find = |h: &u128| if *h == 0 { None } else { self.index.get(h).copied() };
        if !on_pool || hashes.len() < FIND_PARALLEL_FROM {
            return hashes.iter().map(find).collect();
        }
        hashes.par_iter().with_min_len(FIND_PARALLEL_FROM / 4).map(find).collect()
    }

    /// [`intern_hashed`](Self::intern_hashed) of a key [`find_all`](Self::find_all)
    /// found (`found`) or not.
    pub fn intern_found(
        &mut self,
        found: Option<u32>,
        hash: u128,
        key: impl FnOnce() -> String,
        ts: i64,
        seq: u64,
    ) -> u32 {
        let Some(i) = found else { return self.intern_hashed(hash, key, ts, seq) };
        let fs = &mut self.first_seen[i as usize];
        if (ts, seq) < *fs {
            *fs = (ts, seq);
            self.dirty = true;
            self.unsaved = true;
        }
        i
    }

    /// Records that `anon` and `user` appeared on the same event.
    pub fn link_anon_user(&mut self, anon: u32, user: u32, ts: i64, seq: u64) {
        self.add_link(Link { kind: LinkKind::AnonUser, a: anon, b: user, previous: None, ts, seq });
    }

    /// Records `alias(previous → user)`.
    pub fn link_alias(&mut self, previous: &str, user: u32, ts: i64, seq: u64) {
        self.add_link(Link {
            kind: LinkKind::Alias,
            a: u32::MAX,
            b: user,
            previous: Some(previous.to_string()),
            ts,
            seq,
        });
    }

    fn add_link(&mut self, link: Link) {
        let key = (link.kind, link.a, link.b, link.previous.clone());
        match self.link_index.get(&key) {
            Some(&i) => {
                let l = &mut self.links[i];
                if (link.ts, link.seq) < (l.ts, l.seq) {
                    l.ts = link.ts;
                    l.seq = link.seq;
                    self.dirty = true;
                    self.unsaved = true;
                }
            }
            None => {
                self.link_index.insert(key, self.links.len());
                self.links.push(link);
                self.dirty = true;
                self.unsaved = true;
            }
        }
    }

    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// The canonical ident of an ident's customer (resolving first if needed).
    pub fn canonical(&mut self, ident: u32) -> u32 {
        if self.dirty {
            self.resolve();
        }
        self.canonical[ident as usize]
    }

    /// The resolution (ident → canonical ident) when it is up to date, as
    /// it is in a graph read from the store: without a `&mut` borrow.
    pub fn resolved(&self) -> Option<&[u32]> {
        (!self.dirty).then_some(&self.canonical[..])
    }

    /// The whole resolution: ident → canonical ident.
    pub fn canonical_map(&mut self) -> &[u32] {
        if self.dirty {
            self.resolve();
        }
        &self.canonical
    }

    /// Re-runs resolution from scratch over all links, in time order.
    pub fn resolve(&mut self) {
        let n = self.keys.len();
        let mut uf = UnionFind::new(n);
        // The user ident of each component root (if the component has one).
        let mut user_of: Vec<Option<u32>> =
            (0..n as u32).map(|i| if self.is_user(i) { Some(i) } else { None }).collect();
        let mut order: Vec<usize> = (0..self.links.len()).collect();
        order.sort_by(|&x, &y| {
            let (l, m) = (&self.links[x], &self.links[y]);
            (l.ts, l.seq, l.kind, l.a, l.b, &l.previous).cmp(&(m.ts, m.seq, m.kind, m.a, m.b, &m.previous))
        });
        for i in order {
            let link = &self.links[i];
            match link.kind {
                LinkKind::AnonUser => {
                    let (ra, rb) = (uf.find(link.a), uf.find(link.b));
                    if ra == rb {
                        continue;
                    }
                    // The anonymous side may hold at most no user: otherwise this
                    // would merge two user ids through a shared anonymous id.
                    if user_of[ra as usize].is_some() {
                        continue;
                    }
                    let root = uf.union(ra, rb);
                    user_of[root as usize] = user_of[rb as usize].or(user_of[ra as usize]);
                }
                LinkKind::Alias => {
                    let Some(prev) = &link.previous else { continue };
                    for prefix in [USER_PREFIX, ANON_PREFIX] {
                        let Some(&p) = self.index.get(&key_hash(&format!("{prefix}{prev}"))) else {
                            continue;
                        };
                        let (ra, rb) = (uf.find(p), uf.find(link.b));
                        if ra != rb {
                            let u = user_of[rb as usize].or(user_of[ra as usize]);
                            let root = uf.union(ra, rb);
                            user_of[root as usize] = u;
                        }
                    }
                }
            }
        }
        // Canonical: earliest-seen user id of the component, else earliest anonymous id.
        let mut best: Vec<u32> = vec![u32::MAX; n];
        for i in 0..n as u32 {
            let r = uf.find(i) as usize;
            let b = best[r];
            if b == u32::MAX
                || (!self.is_user(i), self.first_seen[i as usize], i)
                    < (!self.is_user(b), self.first_seen[b as usize], b)
            {
                best[r] = i;
            }
        }
        self.canonical = (0..n as u32).map(|i| best[uf.find(i) as usize]).collect();
        self.dirty = false;
    }

    /// Rebuilds a graph from persisted parts.
    pub fn from_parts(keys: Vec<String>, first_seen: Vec<(i64, u64)>, links: Vec<Link>) -> IdentityGraph {
        let mut g = IdentityGraph::new();
        g.index = keys.iter().enumerate().map(|(i, k)| (key_hash(k), i as u32)).collect();
        g.canonical = (0..keys.len() as u32).collect();
        g.keys = keys;
        g.first_seen = first_seen;
        for l in links {
            g.add_link(l);
        }
        g.dirty = true;
        g.resolve();
        g
    }

    /// Whether the graph changed since it was last written or read.
    pub fn is_unsaved(&self) -> bool {
        self.unsaved
    }

    /// Records that the graph was written.
    pub fn mark_saved(&mut self) {
        self.unsaved = false;
    }

    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    pub fn first_seen_all(&self) -> &[(i64, u64)] {
        &self.first_seen
    }
}

struct UnionFind {
    parent: Vec<u32>,
    rank: Vec<u8>,
}

impl UnionFind {
    fn new(n: usize) -> UnionFind {
        UnionFind { parent: (0..n as u32).collect(), rank: vec![0; n] }
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    fn union(&mut self, a: u32, b: u32) -> u32 {
        let (a, b) = (self.find(a), self.find(b));
        if a == b {
            return a;
        }
        let (ra, rb) = (self.rank[a as usize], self.rank[b as usize]);
        if ra < rb {
            self.parent[a as usize] = b;
            b
        } else {
            self.parent[b as usize] = a;
            if ra == rb {
                self.rank[a as usize] += 1;
            }
            a
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(g: &mut IdentityGraph, id: &str, ts: i64) -> u32 {
        g.intern(&format!("u:{id}"), ts, ts as u64)
    }
    fn anon(g: &mut IdentityGraph, id: &str, ts: i64) -> u32 {
        g.intern(&format!("a:{id}"), ts, ts as u64)
    }

    #[test]
    fn a_batch_is_looked_up_at_once_and_what_it_missed_is_interned() {
        let mut g = IdentityGraph::new();
        let keys: Vec<String> = (0..FIND_PARALLEL_FROM as u64 + 10).map(|i| format!("u:{i}")).collect();
        // Every other key known before the batch.
        for k in keys.iter().step_by(2) {
            g.intern(k, 100, 100);
        }
        let mut hashes: Vec<u128> = keys.iter().map(|k| key_hash(k)).collect();
        hashes.push(0);
        for found in [g.find_all(&hashes, true), g.find_all(&hashes[..7], true), g.find_all(&hashes, false)] {
            for (i, f) in found.iter().enumerate() {
                match hashes[i] {
                    0 => assert_eq!(*f, None, "no key"),
                    h if i % 2 == 0 => assert_eq!(*f, g.index.get(&h).copied(), "{i}"),
                    _ => assert_eq!(*f, None, "{i} is new"),
                }
            }
        }
        let found = g.find_all(&hashes, true);
        // A key the batch itself brought twice: the second finds the first.
        let a = g.intern_found(found[1], hashes[1], || keys[1].clone(), 50, 50);
        let b = g.intern_found(found[1], hashes[1], || unreachable!("known by now"), 40, 40);
        assert_eq!(a, b);
        // A known key keeps its ident and its earliest time.
        let c = g.intern_found(found[0], hashes[0], || unreachable!(), 10, 10);
        assert_eq!(Some(c), found[0]);
        assert_eq!((g.first_seen[a as usize], g.first_seen[c as usize]), ((40, 40), (10, 10)));
        assert_eq!(g.len(), keys.len().div_ceil(2) + 1);
    }

    #[test]
    fn anonymous_visits_join_the_user() {
        let mut g = IdentityGraph::new();
        let a = anon(&mut g, "device", 1);
        let u = user(&mut g, "alice", 5);
        g.link_anon_user(a, u, 5, 5);
        assert_eq!(g.canonical(a), u);
        assert_eq!(g.canonical(u), u);
        assert_eq!(g.external_id(u), "alice");
    }

    #[test]
    fn shared_anonymous_id_never_merges_two_users() {
        let mut g = IdentityGraph::new();
        let a = anon(&mut g, "shared-laptop", 1);
        let u1 = user(&mut g, "alice", 2);
        let u2 = user(&mut g, "bob", 3);
        g.link_anon_user(a, u1, 2, 2);
        g.link_anon_user(a, u2, 3, 3);
        assert_eq!(g.canonical(a), u1, "the anonymous id joins the first user");
        assert_eq!(g.canonical(u2), u2, "bob stays himself");
        assert_ne!(g.canonical(u1), g.canonical(u2));
    }

    #[test]
    fn late_link_with_earlier_timestamp_wins_deterministically() {
        let mut g = IdentityGraph::new();
        let a = anon(&mut g, "d", 1);
        let u1 = user(&mut g, "alice", 10);
        let u2 = user(&mut g, "bob", 4);
        g.link_anon_user(a, u1, 10, 1);
        assert_eq!(g.canonical(a), u1);
        // A late-arriving event shows bob on this device earlier.
        g.link_anon_user(a, u2, 4, 2);
        assert_eq!(g.canonical(a), u2);
        assert_eq!(g.canonical(u1), u1);
    }

    #[test]
    fn alias_merges_identified_customers_and_first_user_is_canonical() {
        let mut g = IdentityGraph::new();
        let u1 = user(&mut g, "old-id", 1);
        let u2 = user(&mut g, "new-id", 7);
        let a = anon(&mut g, "d", 8);
        g.link_anon_user(a, u2, 8, 8);
        g.link_alias("old-id", u2, 9, 9);
        assert_eq!(g.canonical(u2), u1);
        assert_eq!(g.canonical(a), u1);
        // Alias to an anonymous id works too.
        let a2 = anon(&mut g, "phone", 3);
        g.link_alias("phone", u2, 10, 10);
        assert_eq!(g.canonical(a2), u1);
    }

    #[test]
    fn alias_waits_for_its_previous_id_to_appear() {
        let mut g = IdentityGraph::new();
        let u = user(&mut g, "carol", 5);
        g.link_alias("legacy-42", u, 6, 6);
        assert_eq!(g.canonical(u), u);
        let legacy = user(&mut g, "legacy-42", 1);
        assert_eq!(g.canonical(u), legacy, "late events arrive; the earlier user id becomes canonical");
    }

    #[test]
    fn round_trips_through_parts() {
        let mut g = IdentityGraph::new();
        let a = anon(&mut g, "d", 1);
        let u = user(&mut g, "x", 2);
        g.link_anon_user(a, u, 2, 2);
        g.link_alias("y", u, 3, 3);
        let mut h = IdentityGraph::from_parts(g.keys().to_vec(), g.first_seen_all().to_vec(), g.links().to_vec());
        assert_eq!(h.canonical(a), u);
        assert_eq!(h.links().len(), 2);
    }
}
