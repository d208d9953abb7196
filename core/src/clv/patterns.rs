//! The aggregation state of the fits: weighted distinct observations, their deterministic
//! order, and the checks of one customer's observation.

use super::*;
use std::collections::HashMap;

/// A fast hasher for pattern keys (f64 bits): per row, SipHash would cost more than the rest
/// of the aggregation. Keys come from the database, not from an adversary choosing collisions
/// against this process, and a collision only costs time.
#[derive(Clone, Copy, Default)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // final avalanche (murmur3 fmix64) so that hashbrown's top bits are well mixed
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51afd7ed558ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ceb9fe1a85ec53);
        h ^ (h >> 33)
    }
}

pub(super) type KeyMap<K> = HashMap<K, f64, std::hash::BuildHasherDefault<KeyHasher>>;

/// Weighted distinct observations (key = the f64 bits of the observation) and the L2
/// penalizer of the fit (0 = plain maximum likelihood).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Patterns<const N: usize> {
    pub counts: KeyMap<[u64; N]>,
    pub penalizer: f64,
}

impl<const N: usize> Patterns<N> {
    #[inline]
    pub fn add(&mut self, obs: [f64; N], weight: f64) {
        *self.counts.entry(obs.map(f64::to_bits)).or_insert(0.0) += weight;
    }

    pub fn merge(&mut self, other: &Patterns<N>) -> Result<(), CoreError> {
        if other.penalizer != self.penalizer {
            return Err(CoreError::InvalidParameter(
                "penalizer must be the same for all rows of a group".into(),
            ));
        }
        for (k, w) in &other.counts {
            *self.counts.entry(*k).or_insert(0.0) += w;
        }
        Ok(())
    }

    /// Validates an L2 penalizer.
    pub fn check_penalizer(penalizer: f64) -> Result<f64, CoreError> {
        if penalizer.is_finite() && penalizer >= 0.0 {
            Ok(penalizer)
        } else {
            Err(CoreError::InvalidParameter(format!(
                "penalizer must be a finite number >= 0, got {penalizer}"
            )))
        }
    }

    /// Observations and weights in a deterministic order (sorted by key), so that fits do not
    /// depend on the order rows arrived in.
    pub fn sorted(&self) -> Vec<([f64; N], f64)> {
        self.sorted_with(&mut || {})
    }

    /// [`Self::sorted`] with `interrupt` called every [`CHUNK`]·16 patterns: the runs are sorted
    /// one by one, then merged by the stable sort (which detects sorted runs), so a million
    /// patterns are never more than a few milliseconds away from a query-cancel check.
    pub fn sorted_with(&self, interrupt: &mut dyn FnMut()) -> Vec<([f64; N], f64)> {
        let mut v: Vec<([u64; N], f64)> = Vec::with_capacity(self.counts.len());
        for (i, (k, w)) in self.counts.iter().enumerate() {
            if i % (CHUNK * 16) == 0 {
                interrupt();
            }
            v.push((*k, *w));
        }
        for run in v.chunks_mut(CHUNK * 16) {
            interrupt();
            run.sort_unstable_by_key(|e| e.0);
        }
        interrupt();
        v.sort_by_key(|e| e.0);
        interrupt();
        v.into_iter()
            .map(|(k, w)| (k.map(f64::from_bits), w))
            .collect()
    }

    pub fn customers(&self) -> f64 {
        self.counts.values().sum()
    }
}

/// Checks one customer's (frequency, recency, tenure).
pub fn check_customer(x: f64, t_x: f64, t: f64) -> Result<(), CoreError> {
    for (name, v) in [("frequency", x), ("recency", t_x), ("tenure", t)] {
        if !v.is_finite() || v < 0.0 {
            return Err(CoreError::InvalidParameter(format!(
                "{name} must be a finite number >= 0, got {v}"
            )));
        }
    }
    if x.fract() != 0.0 {
        return Err(CoreError::InvalidParameter(format!(
            "frequency must be a whole number of repeat purchases, got {x}"
        )));
    }
    if t_x > t {
        return Err(CoreError::InvalidParameter(format!(
            "recency ({t_x}) must not exceed tenure ({t})"
        )));
    }
    if x == 0.0 && t_x != 0.0 {
        return Err(CoreError::InvalidParameter(format!(
            "recency must be 0 when frequency is 0, got {t_x}"
        )));
    }
    Ok(())
}

/// `data` sorted by (x, t_x, T), borrowed when it arrives sorted (as the SQL aggregates pass
/// it); `interrupt` is called before and after a sort.
pub(super) fn sorted_patterns<'a>(
    data: &'a [([f64; 3], f64)],
    interrupt: &mut dyn FnMut(),
) -> std::borrow::Cow<'a, [([f64; 3], f64)]> {
    let order = |a: &([f64; 3], f64), b: &([f64; 3], f64)| {
        (a.0[0].total_cmp(&b.0[0]))
            .then(a.0[1].total_cmp(&b.0[1]))
            .then(a.0[2].total_cmp(&b.0[2]))
    };
    interrupt();
    if data.is_sorted_by(|a, b| order(a, b).is_le()) {
        return std::borrow::Cow::Borrowed(data);
    }
    let mut v = data.to_vec();
    v.sort_by(order);
    interrupt();
    std::borrow::Cow::Owned(v)
}
