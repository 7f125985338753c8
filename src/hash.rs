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
