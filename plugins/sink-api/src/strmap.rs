//! [`StrMap`]: the string-keyed table of the per-finding hot path (the routing memo, the
//! account → environment map, a digest's value ids). Keys are short report values (account
//! IDs, regions, statuses, control names); a lookup hashes once with foldhash and compares keys
//! a word at a time ([`same_bytes`]) instead of through a `memcmp` call, which cost more than
//! the comparison itself for such keys (BENCHMARKS.md).

use std::hash::BuildHasher;

/// A map from strings to `V`, looked up by `&str`. Up to [`StrMap::SMALL`] entries are kept
/// in a list and compared one by one (no hash: a report's status, environment or template
/// field has a handful of values); past that, a hash table.
#[derive(Clone, Debug)]
pub struct StrMap<V> {
    small: Vec<(Box<str>, V)>,
    table: hashbrown::HashTable<(Box<str>, V)>,
}

impl<V> Default for StrMap<V> {
    fn default() -> Self {
        StrMap {
            small: Vec::new(),
            table: hashbrown::HashTable::new(),
        }
    }
}

/// foldhash's one-shot hash of `key` (fixed seed: deterministic from run to run).
#[inline]
pub fn hash(key: &str) -> u64 {
    foldhash::fast::FixedState::default().hash_one(key)
}

impl<V> StrMap<V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Entries kept in a list before the map switches to hashing.
    pub const SMALL: usize = 4;

    #[inline]
    pub fn get(&self, key: &str) -> Option<&V> {
        if self.table.is_empty() {
            return self
                .small
                .iter()
                .find(|(k, _)| same_bytes(k.as_bytes(), key.as_bytes()))
                .map(|(_, v)| v);
        }
        self.table
            .find(hash(key), |(k, _)| same_bytes(k.as_bytes(), key.as_bytes()))
            .map(|(_, v)| v)
    }

    /// Sets `key` to `value`; returns the value it replaces, if any.
    pub fn insert(&mut self, key: &str, value: V) -> Option<V> {
        if self.table.is_empty() {
            if let Some((_, v)) = self
                .small
                .iter_mut()
                .find(|(k, _)| same_bytes(k.as_bytes(), key.as_bytes()))
            {
                return Some(std::mem::replace(v, value));
            }
            if self.small.len() < Self::SMALL {
                self.small.push((key.into(), value));
                return None;
            }
            for (k, v) in self.small.drain(..) {
                self.table.insert_unique(hash(&k), (k, v), |(k, _)| hash(k));
            }
        }
        let h = hash(key);
        match self
            .table
            .find_mut(h, |(k, _)| same_bytes(k.as_bytes(), key.as_bytes()))
        {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.table
                    .insert_unique(h, (key.into(), value), |(k, _)| hash(k));
                None
            }
        }
    }

    pub fn len(&self) -> usize {
        self.small.len() + self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: AsRef<str>, V> FromIterator<(K, V)> for StrMap<V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = StrMap::new();
        for (k, v) in iter {
            map.insert(k.as_ref(), v);
        }
        map
    }
}

/// The first and the last 8 bytes of `b` as words, zero-padded below 8 bytes: with the
/// length, all of a text of up to 16 bytes (a cheap key for a cache in front of a table; a
/// longer text still needs [`same_bytes`] to be told apart).
#[inline]
pub fn head_tail(b: &[u8]) -> (u64, u64) {
    let n = b.len();
    let word = |i: usize| -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(w)
    };
    let half = |i: usize| -> u64 {
        let mut w = [0u8; 4];
        w.copy_from_slice(&b[i..i + 4]);
        u64::from(u32::from_le_bytes(w))
    };
    if n >= 8 {
        return (word(0), word(n - 8));
    }
    // Fixed-size loads, no copy of a variable length (a call to `memcpy`): 4 to 7 bytes are
    // two overlapping halves (the bytes they share are equal, so OR keeps them).
    let x = if n >= 4 {
        half(0) | half(n - 4) << (8 * (n - 4))
    } else {
        b.iter()
            .enumerate()
            .fold(0, |x, (i, &c)| x | u64::from(c) << (8 * i))
    };
    (x, x)
}

/// `a == b`, a word at a time.
#[inline]
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let word = |s: &[u8], i: usize| -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        u64::from_ne_bytes(w)
    };
    let mut i = 0;
    while i + 8 < n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    word(a, n - 8) == word(b, n - 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two texts of up to 16 bytes with equal lengths are equal exactly when their heads and
    /// tails are (a difference at every position, every length, zero bytes included).
    #[test]
    fn head_and_tail_tell_short_texts_apart() {
        for n in 0..=16usize {
            let a: Vec<u8> = (0..n as u8)
                .map(|i| i.wrapping_mul(37).wrapping_add(1))
                .collect();
            assert_eq!(head_tail(&a), head_tail(&a.clone()), "{n}");
            // The words are the bytes, little-endian, zero-padded.
            let mut head = [0u8; 8];
            let mut tail = [0u8; 8];
            head[..n.min(8)].copy_from_slice(&a[..n.min(8)]);
            tail[..n.min(8)].copy_from_slice(&a[n - n.min(8)..]);
            assert_eq!(
                head_tail(&a),
                (u64::from_le_bytes(head), u64::from_le_bytes(tail)),
                "{n}"
            );
            for at in 0..n {
                for flip in [1u8, 0x80] {
                    let mut b = a.clone();
                    b[at] ^= flip;
                    assert_ne!(head_tail(&a), head_tail(&b), "{n} at {at}");
                }
            }
        }
        // Longer texts: only their ends are seen.
        assert_eq!(
            head_tail(b"AAAAAAAA-x-BBBBBBBB"),
            head_tail(b"AAAAAAAA-y-BBBBBBBB")
        );
    }

    /// The word-at-a-time comparison equals `==` for every length around the word size and a
    /// difference at every position (first, inside, in the overlapping last word).
    #[test]
    fn same_bytes_equals_slice_equality() {
        for n in 0..40usize {
            let a: Vec<u8> = (0..n as u8).map(|i| b'a' + i % 26).collect();
            assert!(same_bytes(&a, &a.clone()), "{n}");
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!same_bytes(&a, &b), "{n} at {at}");
            }
            let longer = [a.as_slice(), b"x"].concat();
            assert!(!same_bytes(&a, &longer), "{n} vs {}", n + 1);
        }
    }

    #[test]
    fn insert_get_replace() {
        let mut m: StrMap<u32> = ["111111111111", "us-east-1", ""]
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, i as u32))
            .collect();
        assert_eq!(m.len(), 3);
        assert_eq!(m.get("us-east-1"), Some(&1));
        assert_eq!(m.get(""), Some(&2));
        assert_eq!(m.get("us-east-2"), None);
        assert_eq!(m.insert("us-east-1", 7), Some(1));
        assert_eq!(m.get("us-east-1"), Some(&7));
        assert_eq!(m.len(), 3);
        // Across the switch from the list to the table (the 5th key), old keys stay found
        // and replaceable.
        for i in 0..1000 {
            assert_eq!(m.insert(&format!("k{i}"), i), None);
            assert_eq!(m.len(), 4 + i as usize);
            assert_eq!(m.get("us-east-1"), Some(&7), "{i}");
        }
        assert!((0..1000).all(|i| m.get(&format!("k{i}")) == Some(&i)));
        assert_eq!(m.insert("", 9), Some(2));
        assert_eq!(m.get(""), Some(&9));
    }
}
