//! Hashing for maps whose keys are already well-mixed hashes (word, paragraph and band keys):
//! SipHash would only add cost there.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Keys are already hashes: spread them over 64 bits and no more.
#[derive(Default)]
pub struct SpreadHasher(u64);

impl Hasher for SpreadHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100_0000_01B3);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = (v as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub type SpreadMap<K, V> = HashMap<K, V, BuildHasherDefault<SpreadHasher>>;
pub type SpreadSet<K> = HashSet<K, BuildHasherDefault<SpreadHasher>>;

/// An open-addressed map from well-mixed `u64` keys (paragraph keys) to small `Copy` values,
/// for the per-paragraph tables every article touches (the learner's key counts, the
/// engine's cross-story recurrence). Key and value sit in one slot, so a lookup is one cache
/// miss instead of hashbrown's two (control bytes, then the slot), and [`KeyMap::prefetch`]
/// lets a caller start the misses of all of a text's keys before it looks any of them up:
/// these tables outgrow the caches, and their lookups were a tenth of a `dedup` run.
///
/// Linear probing at most three quarters full; removal shifts the following entries back
/// (no tombstones). The key `u64::MAX` marks an empty slot, so it is stored as `u64::MAX - 1`:
/// the two are one key (they are 64-bit hashes: one more collision in 2^64).
#[derive(Debug, Clone)]
pub struct KeyMap<V> {
    slots: Vec<(u64, V)>,
    len: usize,
}

const EMPTY_KEY: u64 = u64::MAX;

impl<V: Copy + Default> Default for KeyMap<V> {
    fn default() -> Self {
        KeyMap {
            slots: Vec::new(),
            len: 0,
        }
    }
}

impl<V: Copy + Default> KeyMap<V> {
    #[inline]
    fn stored(key: u64) -> u64 {
        key.min(EMPTY_KEY - 1)
    }

    /// The slot a stored key's probe starts at (`slots` a power of two, not empty).
    #[inline]
    fn home(&self, key: u64) -> usize {
        let bits = self.slots.len().trailing_zeros();
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
    }

    /// The slot holding `key` (stored form), if any.
    #[inline]
    fn find(&self, key: u64) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut at = self.home(key);
        loop {
            let k = self.slots[at].0;
            if k == key {
                return Some(at);
            }
            if k == EMPTY_KEY {
                return None;
            }
            at = (at + 1) & mask;
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<(u64, V)>()
    }

    /// Asks the CPU to fetch the line `key`'s probe starts at (a hint: nothing is read).
    #[inline]
    pub fn prefetch(&self, key: u64) {
        if self.slots.is_empty() {
            return;
        }
        let slot: *const (u64, V) = &self.slots[self.home(Self::stored(key))];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch never faults and reads nothing into the program; `slot` points into
        // `self.slots` anyway.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(slot.cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = slot;
    }

    pub fn get(&self, key: u64) -> Option<&V> {
        self.find(Self::stored(key)).map(|at| &self.slots[at].1)
    }

    pub fn get_mut(&mut self, key: u64) -> Option<&mut V> {
        self.find(Self::stored(key)).map(|at| &mut self.slots[at].1)
    }

    /// The value of `key`, inserted as `make()` when missing.
    pub fn get_or_insert_with(&mut self, key: u64, make: impl FnOnce() -> V) -> &mut V {
        let key = Self::stored(key);
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut at = self.home(key);
        loop {
            let k = self.slots[at].0;
            if k == key {
                break;
            }
            if k == EMPTY_KEY {
                self.slots[at] = (key, make());
                self.len += 1;
                break;
            }
            at = (at + 1) & mask;
        }
        &mut self.slots[at].1
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: u64) -> Option<V> {
        let mut hole = self.find(Self::stored(key))?;
        let value = self.slots[hole].1;
        let mask = self.slots.len() - 1;
        let mut at = hole;
        loop {
            at = (at + 1) & mask;
            let k = self.slots[at].0;
            if k == EMPTY_KEY {
                break;
            }
            // An entry whose probe starts cyclically after the hole and at or before its own
            // slot is still reachable; any other must move into the hole.
            let home = self.home(k);
            let reachable = if hole <= at {
                hole < home && home <= at
            } else {
                hole < home || home <= at
            };
            if !reachable {
                self.slots[hole] = self.slots[at];
                hole = at;
            }
        }
        self.slots[hole] = (EMPTY_KEY, V::default());
        self.len -= 1;
        Some(value)
    }

    /// Empties the map, keeping its memory.
    pub fn clear(&mut self) {
        self.slots.fill((EMPTY_KEY, V::default()));
        self.len = 0;
    }

    /// Every entry, in no particular order (keys in stored form).
    pub fn iter(&self) -> impl Iterator<Item = (u64, &V)> + '_ {
        self.slots
            .iter()
            .filter(|(k, _)| *k != EMPTY_KEY)
            .map(|(k, v)| (*k, v))
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![(EMPTY_KEY, V::default()); size]);
        let mask = size - 1;
        for (k, v) in old.into_iter().filter(|(k, _)| *k != EMPTY_KEY) {
            let mut at = self.home(k);
            while self.slots[at].0 != EMPTY_KEY {
                at = (at + 1) & mask;
            }
            self.slots[at] = (k, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any sequence of inserts, updates and removals leaves the map holding what a
        /// `HashMap` holds (keys from a small range, so they collide and probe chains wrap).
        #[test]
        fn key_map_agrees_with_a_hash_map(
            ops in proptest::collection::vec((0u8..3, 0u64..48, 0u32..100), 0..400),
            spread in proptest::bool::ANY,
        ) {
            let mut ours: KeyMap<u32> = KeyMap::default();
            let mut theirs: HashMap<u64, u32> = HashMap::new();
            for (op, k, v) in ops {
                // Small keys all land near slot 0; spread ones anywhere (u64::MAX among them).
                let key = if spread { k.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ (k << 60) } else { k };
                let key = if k == 47 { u64::MAX } else { key };
                let theirs_key = key.min(u64::MAX - 1);
                match op {
                    0 => {
                        *ours.get_or_insert_with(key, || 0) += v;
                        *theirs.entry(theirs_key).or_insert(0) += v;
                    }
                    1 => prop_assert_eq!(ours.remove(key), theirs.remove(&theirs_key)),
                    _ => prop_assert_eq!(ours.get(key).copied(), theirs.get(&theirs_key).copied()),
                }
                prop_assert_eq!(ours.len(), theirs.len());
            }
            for (k, v) in &theirs {
                prop_assert_eq!(ours.get(*k), Some(v));
            }
            let mut listed: Vec<(u64, u32)> = ours.iter().map(|(k, v)| (k, *v)).collect();
            let mut expected: Vec<(u64, u32)> = theirs.into_iter().collect();
            listed.sort_unstable();
            expected.sort_unstable();
            prop_assert_eq!(listed, expected);
            ours.clear();
            prop_assert!(ours.is_empty() && ours.get(1).is_none());
        }
    }
}
