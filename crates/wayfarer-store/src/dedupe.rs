//! The set of event keys a writer has seen: the dedupe of every import.
//!
//! A key is the xxh3-128 of an event id, already uniformly random, so the
//! set needs no hashing of its own. It keeps 102 bits of a key: 6 choose
//! one of 64 shards and 96 are stored, so a key takes 12 bytes rather than
//! 16 and a large set grows a shard at a time instead of doubling all at
//! once (at 100M events the difference is gigabytes). Two distinct ids
//! among 100M share 102 bits with odds of about 1 in 10^15.
//!
//! A shard is an open-addressing table of 64-byte buckets (five keys and a
//! count, one cache line), probed linearly from the bucket the key's bits
//! choose. A set of millions of keys is far larger than the caches, so
//! nearly every insert misses; [`EventKeys::insert_all`] first reads the
//! home buckets of a group of keys (independent loads the processor
//! overlaps) and only then inserts them, one after the other, so the
//! misses of a group cost about as much as one.
//!
//! The keys of committed events come from their persisted runs
//! ([`crate::key_runs`]) as one sorted array per shard with a directory
//! into it (a key is found in a cache line or two); only the keys a writer
//! adds go into the tables. Each slot of a
//! bucket carries whether its key was written to a run yet, so a writer
//! that commits again and again writes each key once.

/// Keys per bucket: five 12-byte keys and a 4-byte count fill 64 bytes.
const BUCKET_KEYS: usize = 5;
/// Bits of a key that choose its shard.
const SHARD_BITS: u32 = 6;
/// Keys whose home buckets are read before any of them is inserted.
const GROUP: usize = 16;

/// The 96 stored bits of a key.
pub(crate) type Key = [u32; 3];

/// The order of keys in a shard's sorted array and in a run: by the 64
/// bits that choose a key's bucket, so a table's keys read bucket by bucket
/// come out nearly sorted already.
pub(crate) fn rank(k: Key) -> u128 {
    u128::from(k[1]) << 64 | u128::from(k[0]) << 32 | u128::from(k[2])
}

#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Bucket {
    keys: [Key; BUCKET_KEYS],
    /// The number of keys (3 bits), then for each slot whether its key was
    /// written to a run.
    meta: u32,
}

impl Bucket {
    fn len(&self) -> usize {
        (self.meta & 7) as usize
    }

    fn written(&self, slot: usize) -> bool {
        self.meta & (8 << slot) != 0
    }

    fn push(&mut self, key: Key, written: bool) {
        let n = self.len();
        self.keys[n] = key;
        self.meta += 1;
        if written {
            self.meta |= 8 << n;
        }
    }
}

#[derive(Default)]
struct Shard {
    buckets: Vec<Bucket>,
    len: usize,
    /// The shard's committed keys.
    stored: Stored,
}

impl Shard {
    /// Keys the shard holds before it grows: 7/8 of its slots.
    fn limit(&self) -> usize {
        self.buckets.len() * BUCKET_KEYS / 8 * 7
    }

    /// The bucket a key's probe starts at: its 64 low bits scaled to the
    /// number of buckets (any count, not only powers of two).
    fn home(&self, key: Key) -> usize {
        let bits = u64::from(key[0]) | u64::from(key[1]) << 32;
        ((u128::from(bits) * self.buckets.len() as u128) >> 64) as usize
    }

    /// Room for `keys` keys in all, sized for them at once (a load of four
    /// keys a bucket) rather than by doubling.
    fn reserve_total(&mut self, keys: usize) {
        if keys > self.limit() {
            self.rebuild(keys.div_ceil(4).max(8));
        }
    }

    /// Moves the keys into a table of `buckets` buckets.
    fn rebuild(&mut self, buckets: usize) {
        let old = std::mem::replace(&mut self.buckets, vec![Bucket::default(); buckets]);
        for b in &old {
            for (slot, &k) in b.keys[..b.len()].iter().enumerate() {
                self.place(k, b.written(slot));
            }
        }
    }

    /// Room for `more` keys without growing while they are added. A shard
    /// doubles: the tables it leaves behind are freed memory the process
    /// keeps (the allocator reuses rather than returns it), and smaller
    /// steps left three times the set's size behind instead of once.
    fn reserve(&mut self, more: usize) {
        let want = self.len + more;
        if want <= self.limit() {
            return;
        }
        let mut buckets = self.buckets.len().max(8);
        while buckets * BUCKET_KEYS / 8 * 7 < want {
            buckets *= 2;
        }
        self.rebuild(buckets);
    }

    /// Puts a key known to be absent into the first bucket with room.
    fn place(&mut self, key: Key, written: bool) {
        let n = self.buckets.len();
        let mut i = self.home(key);
        loop {
            let b = &mut self.buckets[i];
            if b.len() < BUCKET_KEYS {
                b.push(key, written);
                return;
            }
            i = if i + 1 == n { 0 } else { i + 1 };
        }
    }

    /// Adds a key (room reserved); false if it was there. Buckets fill in
    /// probe order and keys are never removed, so a bucket with room ends
    /// the probe.
    fn insert(&mut self, key: Key) -> bool {
        let n = self.buckets.len();
        let mut i = self.home(key);
        loop {
            let b = &mut self.buckets[i];
            let len = b.len();
            if b.keys[..len].contains(&key) {
                return false;
            }
            if len < BUCKET_KEYS {
                b.push(key, false);
                self.len += 1;
                return true;
            }
            i = if i + 1 == n { 0 } else { i + 1 };
        }
    }
}

/// A shard's committed keys: sorted by [`rank`], with a directory of
/// where each stretch of about eight keys sharing their top bits starts, so
/// finding a key reads one directory entry and a cache line or two of keys
/// (a binary search over millions of keys would miss the caches at most
/// of its twenty steps).
#[derive(Default)]
struct Stored {
    keys: Vec<Key>,
    /// `dir[s]`: the first key whose top `bits` bits are at least `s`.
    dir: Vec<u32>,
    bits: u32,
}

impl Stored {
    fn new(keys: Vec<Key>) -> Stored {
        if keys.is_empty() {
            return Stored::default();
        }
        let bits = (keys.len() / 8).max(1).ilog2().min(24) + 1;
        let mut dir = Vec::with_capacity((1 << bits) + 1);
        for (i, &k) in keys.iter().enumerate() {
            let s = Stored::slot_of(k, bits);
            while dir.len() <= s {
                dir.push(i as u32);
            }
        }
        dir.resize((1 << bits) + 1, keys.len() as u32);
        Stored { keys, dir, bits }
    }

    /// The top `bits` bits of a key's rank.
    fn slot_of(k: Key, bits: u32) -> usize {
        (k[1] >> (32 - bits)) as usize
    }

    /// Where a key would be: the stretch of keys to look through.
    fn stretch(&self, k: Key) -> std::ops::Range<usize> {
        if self.keys.is_empty() {
            return 0..0;
        }
        let s = Stored::slot_of(k, self.bits);
        self.dir[s] as usize..self.dir[s + 1] as usize
    }

    fn contains(&self, k: Key, stretch: std::ops::Range<usize>) -> bool {
        self.keys[stretch].contains(&k)
    }
}

/// Inserts one shard's keys in order, GROUP at a time: the directory
/// entries of a group are read first, then the stretches of committed keys
/// and the home buckets they point to, each pass of loads independent of
/// one another so their cache misses overlap; `answer` gets whether each
/// was new (a committed key never is).
fn insert_group_wise(shard: &mut Shard, keys: &[Key], mut answer: impl FnMut(bool)) {
    if shard.stored.keys.is_empty() {
        // Nothing committed (a new directory, or keys read from segments).
        for group in keys.chunks(GROUP) {
            let mut touched = 0u32;
            for &k in group {
                touched ^= shard.buckets[shard.home(k)].meta;
            }
            std::hint::black_box(touched);
            for &k in group {
                answer(shard.insert(k));
            }
        }
        return;
    }
    let mut stretches: [std::ops::Range<usize>; GROUP] = std::array::from_fn(|_| 0..0);
    for group in keys.chunks(GROUP) {
        for (st, &k) in stretches.iter_mut().zip(group) {
            *st = shard.stored.stretch(k);
        }
        let mut touched = 0u32;
        for (st, &k) in stretches.iter().zip(group) {
            if let Some(first) = shard.stored.keys.get(st.start) {
                touched ^= first[0];
            }
            touched ^= shard.buckets[shard.home(k)].meta;
        }
        std::hint::black_box(touched);
        for (st, &k) in stretches.iter().zip(group) {
            let hit = shard.stored.contains(k, st.clone());
            answer(!hit && shard.insert(k));
        }
    }
}

/// Sorts keys by [`rank`] that a table's buckets gave nearly in order
/// (each bucket's few keys in arrival order, a key that found its home
/// bucket full a bucket or two on): an insertion sort, which moves each key
/// only past the few before it that rank higher, unless the keys turn out
/// far from sorted.
fn sort_nearly_sorted(keys: &mut [Key]) {
    let mut budget = keys.len() * 16;
    for i in 1..keys.len() {
        let k = keys[i];
        let r = rank(k);
        let mut j = i;
        while j > 0 && rank(keys[j - 1]) > r {
            keys[j] = keys[j - 1];
            j -= 1;
        }
        keys[j] = k;
        budget = budget.saturating_sub(i - j);
        if budget == 0 {
            keys.sort_unstable_by_key(|&k| rank(k));
            return;
        }
    }
}

/// Batches at least this large are inserted on all cores.
const PARALLEL_FROM: usize = 1 << 16;

/// The keys of the events a writer has seen (stored and added).
pub(crate) struct EventKeys {
    shards: Vec<Shard>,
    /// Whether the committed keys came from runs that hold them all (else
    /// from the segments, into the tables, and the next run written must
    /// hold every key).
    pub(crate) from_runs: bool,
}

fn split(key: u128) -> (usize, Key) {
    ((key >> (128 - SHARD_BITS)) as usize, [key as u32, (key >> 32) as u32, (key >> 64) as u32])
}

/// The number of shards (and of sections in a run).
pub(crate) const SHARDS: usize = 1 << SHARD_BITS;

impl EventKeys {
    pub(crate) fn new() -> EventKeys {
        EventKeys { shards: (0..SHARDS).map(|_| Shard::default()).collect(), from_runs: false }
    }

    /// A set holding the committed keys of runs: each shard's, sorted by
    /// [`rank`].
    pub(crate) fn with_stored(stored: Vec<Vec<Key>>) -> EventKeys {
        debug_assert_eq!(stored.len(), SHARDS);
        let shards = stored.into_iter().map(|keys| Shard { stored: Stored::new(keys), ..Shard::default() }).collect();
        EventKeys { shards, from_runs: true }
    }

    /// Sizes the tables for `keys` keys in all (those they hold included),
    /// so that adding them allocates once: a doubling table leaves the
    /// tables it outgrew behind as freed memory the allocator keeps, as
    /// much again as the set (gigabytes at 100M events).
    pub(crate) fn size_for(&mut self, keys: u64) {
        let per_shard = keys as f64 / SHARDS as f64;
        // A shard's share varies by about its square root; allow four.
        let room = (per_shard + 4.0 * per_shard.sqrt()).ceil() as usize + 16;
        for shard in &mut self.shards {
            shard.reserve_total(room);
        }
    }

    /// Adds a key; false if it was there.
    #[cfg(test)]
    pub(crate) fn insert(&mut self, key: u128) -> bool {
        let (s, k) = split(key);
        self.shards[s].reserve(1);
        let shard = &mut self.shards[s];
        !shard.stored.contains(k, shard.stored.stretch(k)) && shard.insert(k)
    }

    /// Adds keys in order and tells for each whether it was new (a key
    /// seen earlier in `keys` is not, nor is a committed one). A large
    /// batch (the stored keys a writer loads, a segment's at a time) is
    /// inserted shard by shard on all cores, unless `on_pool` is false (the
    /// caller keeps the pool busy itself): a key's shard alone decides
    /// whether it is new, and each shard takes its keys in their order.
    pub(crate) fn insert_all(&mut self, keys: &[u128], on_pool: bool) -> Vec<bool> {
        use rayon::prelude::*;
        let shard_of: Vec<u32> = keys.iter().map(|&k| split(k).0 as u32).collect();
        let (bounds, order) = crate::order_by_bucket(&shard_of, SHARDS);
        for (s, shard) in self.shards.iter_mut().enumerate() {
            shard.reserve(bounds[s + 1] - bounds[s]);
        }
        let insert = |(s, shard): (usize, &mut Shard)| {
            let mine: Vec<Key> = order[bounds[s]..bounds[s + 1]].iter().map(|&i| split(keys[i as usize]).1).collect();
            let mut out = Vec::with_capacity(mine.len());
            insert_group_wise(shard, &mine, |f| out.push(f));
            out
        };
        let answers: Vec<Vec<bool>> = if !on_pool || keys.len() < PARALLEL_FROM || rayon::current_num_threads() < 2 {
            self.shards.iter_mut().enumerate().map(insert).collect()
        } else {
            self.shards.par_iter_mut().enumerate().map(insert).collect()
        };
        let mut fresh = vec![false; keys.len()];
        for (s, answer) in answers.iter().enumerate() {
            for (&i, &f) in order[bounds[s]..bounds[s + 1]].iter().zip(answer) {
                fresh[i as usize] = f;
            }
        }
        fresh
    }

    /// The keys added since they were last written, shard by shard in
    /// order, each shard's sorted by [`rank`] and marked written; `write`
    /// gets them. Shards are taken a few at a time (sorted on all cores),
    /// so the keys are never all held twice; `release` frees each shard's
    /// table once read (a writer that adds nothing more).
    pub(crate) fn drain_unwritten(
        &mut self,
        release: bool,
        mut write: impl FnMut(Vec<Key>) -> Result<(), crate::StoreError>,
    ) -> Result<u64, crate::StoreError> {
        use rayon::prelude::*;
        let mut total = 0;
        let group = rayon::current_num_threads().max(1);
        for shards in self.shards.chunks_mut(group) {
            let sections: Vec<Vec<Key>> = shards
                .par_iter_mut()
                .map(|shard| {
                    let mut keys = Vec::with_capacity(shard.len);
                    for b in &mut shard.buckets {
                        for slot in 0..b.len() {
                            if !b.written(slot) {
                                keys.push(b.keys[slot]);
                                b.meta |= 8 << slot;
                            }
                        }
                    }
                    if release {
                        shard.buckets = Vec::new();
                        shard.stored = Stored::default();
                    }
                    sort_nearly_sorted(&mut keys);
                    keys
                })
                .collect();
            for keys in sections {
                total += keys.len() as u64;
                write(keys)?;
            }
        }
        Ok(total)
    }

    /// How many keys the set holds (committed ones included).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.len + s.stored.keys.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::event_key;

    #[test]
    fn keys_are_told_apart_by_shard_and_by_stored_bits() {
        let mut keys = EventKeys::new();
        let a = event_key("order-1");
        assert!(keys.insert(a));
        assert!(!keys.insert(a), "the same id again is a duplicate");
        // Same stored bits, another shard; same shard, other stored bits.
        assert!(keys.insert(a ^ (1u128 << 127)));
        assert!(keys.insert(a ^ 1));
        assert!(keys.insert(a ^ (1u128 << 95)));
        let shards = keys.shards.iter().filter(|s| s.len > 0).count();
        assert_eq!(shards, 2);
        assert_eq!(keys.len(), 4);
    }

    #[test]
    fn a_batch_tells_new_keys_from_seen_ones_like_a_hash_set() {
        // Many keys into few buckets: growth, full buckets, probes that
        // wrap around the end, duplicates within a batch and across batches.
        let mut keys = EventKeys::new();
        let mut reference = std::collections::HashSet::new();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            state
        };
        for round in 0..20 {
            let batch: Vec<u128> = (0..5_000)
                .map(|_| {
                    let r = next();
                    // A small id space so a quarter of the keys repeat.
                    event_key(&format!("e{}", r % 60_000 + round))
                })
                .collect();
            let fresh = keys.insert_all(&batch, true);
            let expected: Vec<bool> = batch.iter().map(|&k| reference.insert(k)).collect();
            assert_eq!(fresh, expected, "round {round}");
        }
        assert_eq!(keys.len(), reference.len());
        assert!(reference.len() > 40_000, "{}", reference.len());
        // Every shard stays within its limit and keeps its count right.
        for s in &keys.shards {
            assert!(s.len <= s.limit());
            assert_eq!(s.buckets.iter().map(|b| b.len()).sum::<usize>(), s.len);
        }
    }

    #[test]
    fn a_large_batch_inserted_shard_by_shard_answers_as_one_after_the_other() {
        // Batches above the parallel threshold, with repeats inside a batch
        // (only the first is new) and keys from the batch before; on the
        // pool and on the calling thread in turn.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let mut keys = EventKeys::new();
        let mut reference = std::collections::HashSet::new();
        for round in 0..4u64 {
            let n = PARALLEL_FROM * 2 + 17;
            let batch: Vec<u128> = (0..n as u64)
                .map(|i| event_key(&format!("p{}", (i * 7) % (n as u64 * 3 / 4) + round * 50_000)))
                .collect();
            let fresh = pool.install(|| keys.insert_all(&batch, round % 2 == 0));
            let expected: Vec<bool> = batch.iter().map(|&k| reference.insert(k)).collect();
            assert_eq!(fresh, expected, "round {round}");
            assert!(expected.iter().any(|f| !f) && expected.iter().any(|&f| f));
        }
        assert_eq!(keys.len(), reference.len());
    }

    #[test]
    fn a_set_sized_up_front_does_not_grow_while_the_keys_arrive() {
        let mut keys = EventKeys::new();
        keys.insert(event_key("before"));
        keys.size_for(200_000);
        let sizes: Vec<usize> = keys.shards.iter().map(|s| s.buckets.len()).collect();
        assert!(sizes.iter().all(|&b| b * 4 >= 200_000 / 64), "{sizes:?}");
        let batch: Vec<u128> = (0..200_000).map(|i| event_key(&format!("k{i}"))).collect();
        let fresh = keys.insert_all(&batch, true);
        assert!(fresh.iter().all(|&f| f));
        assert!(!keys.insert(event_key("before")), "a key held before sizing is kept");
        assert_eq!(keys.shards.iter().map(|s| s.buckets.len()).collect::<Vec<_>>(), sizes);
        assert_eq!(keys.len(), 200_001);
    }

    #[test]
    fn keys_crowded_at_the_last_bucket_wrap_to_the_first() {
        let mut shard = Shard::default();
        shard.reserve(30);
        let n = shard.buckets.len();
        // Keys whose 64 low bits are all ones start at the last bucket.
        let keys: Vec<Key> = (0..12).map(|i| [u32::MAX, u32::MAX, i]).collect();
        for &k in &keys {
            assert_eq!(shard.home(k), n - 1);
            assert!(shard.insert(k));
        }
        for &k in &keys {
            assert!(!shard.insert(k));
        }
        assert_eq!(shard.buckets[n - 1].len(), BUCKET_KEYS);
        assert_eq!(shard.buckets[0].len(), BUCKET_KEYS);
        assert_eq!(shard.buckets[1].len(), 2);
    }

    #[test]
    fn committed_keys_in_sorted_arrays_answer_as_if_they_were_in_the_tables() {
        // Committed keys given as sorted shards, then batches (small ones
        // answered one shard at a time, large ones on all cores) checked
        // against them and against each other like one hash set.
        let committed: Vec<u128> = (0..30_000).map(|i| event_key(&format!("c{i}"))).collect();
        let mut stored: Vec<Vec<Key>> = vec![Vec::new(); SHARDS];
        for &k in &committed {
            let (s, k) = split(k);
            stored[s].push(k);
        }
        for s in &mut stored {
            s.sort_by_key(|&k| rank(k));
        }
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let mut keys = EventKeys::with_stored(stored);
        let mut reference: std::collections::HashSet<u128> = committed.iter().copied().collect();
        for (round, n) in [(0u64, 500usize), (1, PARALLEL_FROM + 3), (2, 40)] {
            let batch: Vec<u128> = (0..n as u64)
                .map(|i| {
                    // (The last round's odd keys are ids no round had.)
                    let id = (i * 13 + round * 7) % 45_000 + if round == 2 && i % 2 == 1 { 100_000 } else { 0 };
                    event_key(&if id % 3 == 0 { format!("c{id}") } else { format!("n{id}") })
                })
                .collect();
            let fresh = pool.install(|| keys.insert_all(&batch, round % 2 == 0));
            let expected: Vec<bool> = batch.iter().map(|&k| reference.insert(k)).collect();
            assert_eq!(fresh, expected, "round {round}");
            assert!(expected.iter().any(|&f| f) && expected.iter().any(|&f| !f));
        }
        assert_eq!(keys.len(), reference.len());

        // Only the added keys are drained, each shard's sorted, each once.
        let mut drained = Vec::new();
        let n = pool
            .install(|| {
                keys.drain_unwritten(false, |section| {
                    assert!(section.windows(2).all(|w| rank(w[0]) < rank(w[1])));
                    drained.push(section);
                    Ok(())
                })
            })
            .unwrap();
        assert_eq!(drained.len(), SHARDS);
        assert_eq!(n as usize, reference.len() - committed.len());
        let committed_bits: std::collections::HashSet<Key> = committed.iter().map(|&c| split(c).1).collect();
        assert!(drained.iter().flatten().all(|k| !committed_bits.contains(k)));
        let more = event_key("one more");
        assert!(keys.insert(more));
        let mut again = Vec::new();
        keys.drain_unwritten(true, |section| {
            again.extend(section);
            Ok(())
        })
        .unwrap();
        assert_eq!(again, vec![split(more).1], "a second drain brings only what came since");
    }

    #[test]
    fn keys_nearly_in_order_or_not_at_all_come_out_sorted() {
        let mut state = 7u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 32) as u32
        };
        let mut sorted: Vec<Key> = (0..5_000).map(|_| [next(), next(), next()]).collect();
        sorted.sort_by_key(|&k| rank(k));
        // Neighbours swapped (within the budget), and reversed (beyond it).
        let mut near = sorted.clone();
        for i in (0..near.len() - 3).step_by(4) {
            near.swap(i, i + 3);
        }
        let mut far = sorted.clone();
        far.reverse();
        for mut keys in [near, far, sorted.clone()] {
            sort_nearly_sorted(&mut keys);
            assert_eq!(keys, sorted);
        }
    }
}
