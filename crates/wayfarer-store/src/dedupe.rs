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

/// Keys per bucket: five 12-byte keys and a 4-byte count fill 64 bytes.
const BUCKET_KEYS: usize = 5;
/// Bits of a key that choose its shard.
const SHARD_BITS: u32 = 6;
/// Keys whose home buckets are read before any of them is inserted.
const GROUP: usize = 16;

#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Bucket {
    keys: [[u32; 3]; BUCKET_KEYS],
    len: u32,
}

#[derive(Default)]
struct Shard {
    buckets: Vec<Bucket>,
    len: usize,
}

impl Shard {
    /// Keys the shard holds before it grows: 7/8 of its slots.
    fn limit(&self) -> usize {
        self.buckets.len() * BUCKET_KEYS / 8 * 7
    }

    /// The bucket a key's probe starts at: its 64 low bits scaled to the
    /// number of buckets (any count, not only powers of two).
    fn home(&self, key: [u32; 3]) -> usize {
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
            for &k in &b.keys[..b.len as usize] {
                self.place(k);
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
    fn place(&mut self, key: [u32; 3]) {
        let n = self.buckets.len();
        let mut i = self.home(key);
        loop {
            let b = &mut self.buckets[i];
            if (b.len as usize) < BUCKET_KEYS {
                b.keys[b.len as usize] = key;
                b.len += 1;
                return;
            }
            i = if i + 1 == n { 0 } else { i + 1 };
        }
    }

    /// Adds a key (room reserved); false if it was there. Buckets fill in
    /// probe order and keys are never removed, so a bucket with room ends
    /// the probe.
    fn insert(&mut self, key: [u32; 3]) -> bool {
        let n = self.buckets.len();
        let mut i = self.home(key);
        loop {
            let b = &mut self.buckets[i];
            let len = b.len as usize;
            if b.keys[..len].contains(&key) {
                return false;
            }
            if len < BUCKET_KEYS {
                b.keys[len] = key;
                b.len += 1;
                self.len += 1;
                return true;
            }
            i = if i + 1 == n { 0 } else { i + 1 };
        }
    }
}

/// Inserts one shard's keys in order, GROUP at a time (each group's home
/// buckets are read first, so their cache misses overlap); `answer` gets
/// whether each was new.
fn insert_group_wise(shard: &mut Shard, keys: &[[u32; 3]], mut answer: impl FnMut(bool)) {
    for group in keys.chunks(GROUP) {
        let mut touched = 0u32;
        for &k in group {
            touched ^= shard.buckets[shard.home(k)].len;
        }
        std::hint::black_box(touched);
        for &k in group {
            answer(shard.insert(k));
        }
    }
}

/// Batches at least this large are inserted on all cores.
const PARALLEL_FROM: usize = 1 << 16;

/// The keys of the events a writer has seen (stored and added).
pub(crate) struct EventKeys {
    shards: Vec<Shard>,
}

fn split(key: u128) -> (usize, [u32; 3]) {
    ((key >> (128 - SHARD_BITS)) as usize, [key as u32, (key >> 32) as u32, (key >> 64) as u32])
}

impl EventKeys {
    pub(crate) fn new() -> EventKeys {
        EventKeys { shards: (0..1 << SHARD_BITS).map(|_| Shard::default()).collect() }
    }

    /// Sizes the set for `keys` keys in all (those it holds included), so
    /// that adding them allocates once: a doubling table leaves the tables
    /// it outgrew behind as freed memory the allocator keeps, as much again
    /// as the set (gigabytes at 100M events).
    pub(crate) fn size_for(&mut self, keys: u64) {
        let per_shard = keys as f64 / f64::from(1u32 << SHARD_BITS);
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
        self.shards[s].insert(k)
    }

    /// Adds keys in order and tells for each whether it was new (a key
    /// seen earlier in `keys` is not). A large batch (the stored keys a
    /// writer loads, a segment's at a time) is inserted shard by shard on
    /// all cores: a key's shard alone decides whether it is new, and each
    /// shard takes its keys in their order.
    pub(crate) fn insert_all(&mut self, keys: &[u128]) -> Vec<bool> {
        let mut per_shard = [0usize; 1 << SHARD_BITS];
        for &k in keys {
            per_shard[split(k).0] += 1;
        }
        for (shard, &more) in self.shards.iter_mut().zip(&per_shard) {
            shard.reserve(more);
        }
        if keys.len() < PARALLEL_FROM || rayon::current_num_threads() < 2 {
            let mut fresh = Vec::with_capacity(keys.len());
            for group in keys.chunks(GROUP) {
                let mut touched = 0u32;
                for &k in group {
                    let (s, k) = split(k);
                    let shard = &self.shards[s];
                    touched ^= shard.buckets[shard.home(k)].len;
                }
                std::hint::black_box(touched);
                for &k in group {
                    let (s, k) = split(k);
                    fresh.push(self.shards[s].insert(k));
                }
            }
            return fresh;
        }
        // The positions of each shard's keys, in order (a counting sort).
        let mut starts = vec![0usize; per_shard.len() + 1];
        for (s, n) in per_shard.iter().enumerate() {
            starts[s + 1] = starts[s] + n;
        }
        let mut next = starts.clone();
        let mut order = vec![0u32; keys.len()];
        for (i, &k) in keys.iter().enumerate() {
            let s = split(k).0;
            order[next[s]] = i as u32;
            next[s] += 1;
        }
        use rayon::prelude::*;
        let answers: Vec<Vec<bool>> = self
            .shards
            .par_iter_mut()
            .enumerate()
            .map(|(s, shard)| {
                let mine: Vec<[u32; 3]> =
                    order[starts[s]..starts[s + 1]].iter().map(|&i| split(keys[i as usize]).1).collect();
                let mut out = Vec::with_capacity(mine.len());
                insert_group_wise(shard, &mine, |f| out.push(f));
                out
            })
            .collect();
        let mut fresh = vec![false; keys.len()];
        for (s, answer) in answers.iter().enumerate() {
            for (&i, &f) in order[starts[s]..starts[s + 1]].iter().zip(answer) {
                fresh[i as usize] = f;
            }
        }
        fresh
    }

    /// How many keys the set holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.len).sum()
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
            let fresh = keys.insert_all(&batch);
            let expected: Vec<bool> = batch.iter().map(|&k| reference.insert(k)).collect();
            assert_eq!(fresh, expected, "round {round}");
        }
        assert_eq!(keys.len(), reference.len());
        assert!(reference.len() > 40_000, "{}", reference.len());
        // Every shard stays within its limit and keeps its count right.
        for s in &keys.shards {
            assert!(s.len <= s.limit());
            assert_eq!(s.buckets.iter().map(|b| b.len as usize).sum::<usize>(), s.len);
        }
    }

    #[test]
    fn a_large_batch_inserted_shard_by_shard_answers_as_one_after_the_other() {
        // Batches above the parallel threshold, with repeats inside a batch
        // (only the first is new) and keys from the batch before.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let mut keys = EventKeys::new();
        let mut reference = std::collections::HashSet::new();
        for round in 0..3u64 {
            let n = PARALLEL_FROM * 2 + 17;
            let batch: Vec<u128> = (0..n as u64)
                .map(|i| event_key(&format!("p{}", (i * 7) % (n as u64 * 3 / 4) + round * 50_000)))
                .collect();
            let fresh = pool.install(|| keys.insert_all(&batch));
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
        let fresh = keys.insert_all(&batch);
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
        let keys: Vec<[u32; 3]> = (0..12).map(|i| [u32::MAX, u32::MAX, i]).collect();
        for &k in &keys {
            assert_eq!(shard.home(k), n - 1);
            assert!(shard.insert(k));
        }
        for &k in &keys {
            assert!(!shard.insert(k));
        }
        assert_eq!(shard.buckets[n - 1].len as usize, BUCKET_KEYS);
        assert_eq!(shard.buckets[0].len as usize, BUCKET_KEYS);
        assert_eq!(shard.buckets[1].len, 2);
    }
}
