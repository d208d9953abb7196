//! Versioned binary encoding of aggregate states (for parallel aggregation and Citus).
//!
//! Layout: one magic byte per state kind, one version byte, then little-endian fields.
//! Decoding checks every length, so a damaged or foreign `bytea` gives an error, never a crash.

use crate::abc::{AbcMethod, AbcPopulation};
use crate::clv::Patterns;
use crate::rfm::RfmPopulation;
use crate::summary::{DayCell, DayStore, SummaryState};
use crate::CoreError;

const SUMMARY_MAGIC: u8 = b'S';
const RFM_MAGIC: u8 = b'R';
const ABC_MAGIC: u8 = b'A';
const PATTERNS_MAGIC: u8 = b'P';
const VERSION: u8 = 1;

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CoreError> {
        if self.buf.len() < n {
            return Err(CoreError::Corrupt("aggregate state is truncated".into()));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, CoreError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, CoreError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn i32(&mut self) -> Result<i32, CoreError> {
        Ok(i32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn i64(&mut self) -> Result<i64, CoreError> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn f64(&mut self) -> Result<f64, CoreError> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn header(&mut self, magic: u8) -> Result<(), CoreError> {
        if self.u8()? != magic {
            return Err(CoreError::Corrupt("not a state of this aggregate".into()));
        }
        match self.u8()? {
            VERSION => Ok(()),
            v => Err(CoreError::Corrupt(format!("unknown state version {v}"))),
        }
    }
    fn count(&mut self, elem: usize) -> Result<usize, CoreError> {
        let n = self.u32()? as usize;
        if n.checked_mul(elem)
            .is_none_or(|bytes| bytes > self.buf.len())
        {
            return Err(CoreError::Corrupt("aggregate state is truncated".into()));
        }
        Ok(n)
    }
    /// A length-prefixed list of finite numbers (the aggregates only ever store finite values,
    /// so NaN or ±Infinity means a damaged state).
    fn f64s(&mut self) -> Result<Vec<f64>, CoreError> {
        let n = self.count(8)?;
        (0..n)
            .map(|_| match self.f64()? {
                v if v.is_finite() => Ok(v),
                _ => Err(CoreError::Corrupt(
                    "aggregate state holds a non-finite value".into(),
                )),
            })
            .collect()
    }
    fn end(&self) -> Result<(), CoreError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(CoreError::Corrupt(
                "aggregate state has trailing bytes".into(),
            ))
        }
    }
}

fn put_f64s(out: &mut Vec<u8>, v: &[f64]) {
    out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

impl<S: DayStore> SummaryState<S> {
    pub fn encode(&self) -> Vec<u8> {
        let days = self.days.cells();
        let mut out = Vec::with_capacity(60 + 16 * days.len());
        out.extend_from_slice(&[SUMMARY_MAGIC, VERSION]);
        out.extend_from_slice(&self.as_of.to_le_bytes());
        out.extend_from_slice(&self.unit.to_le_bytes());
        out.extend_from_slice(&self.first_at.to_le_bytes());
        out.extend_from_slice(&self.last_at.to_le_bytes());
        out.extend_from_slice(&self.orders.to_le_bytes());
        out.extend_from_slice(&self.returns.to_le_bytes());
        out.extend_from_slice(&self.total.sum.to_le_bytes());
        out.extend_from_slice(&self.total.compensation.to_le_bytes());
        out.extend_from_slice(&(days.len() as u32).to_le_bytes());
        for c in days {
            out.extend_from_slice(&c.day.to_le_bytes());
            out.extend_from_slice(&c.orders.to_le_bytes());
            out.extend_from_slice(&c.value.to_le_bytes());
        }
        out
    }

    /// Decodes into a state over `days` (which must be empty).
    pub fn decode_into(buf: &[u8], days: S) -> Result<Self, CoreError> {
        let mut r = Reader { buf };
        r.header(SUMMARY_MAGIC)?;
        let mut s = SummaryState::with_store(r.i64()?, r.f64()?, days)?;
        s.first_at = r.i64()?;
        s.last_at = r.i64()?;
        s.orders = r.i64()?;
        s.returns = r.i64()?;
        s.total.sum = r.f64()?;
        s.total.compensation = r.f64()?;
        let n = r.count(16)?;
        for k in 0..n {
            let cell = DayCell {
                day: r.i32()?,
                orders: r.u32()?,
                value: r.f64()?,
            };
            if s.days.cells().last().is_some_and(|l| l.day >= cell.day) {
                return Err(CoreError::Corrupt(
                    "aggregate state days are not sorted".into(),
                ));
            }
            s.days.insert(k, cell);
        }
        r.end()?;
        let consistent = s.orders >= 0
            && s.returns >= 0
            && s.total.sum.is_finite()
            && s.total.compensation.is_finite()
            && (s.orders == 0 || (s.first_at <= s.last_at && s.last_at <= s.as_of))
            && s.days.cells().iter().all(|c| c.value.is_finite());
        if !consistent {
            return Err(CoreError::Corrupt("aggregate state is inconsistent".into()));
        }
        Ok(s)
    }
}

impl SummaryState {
    pub fn decode(buf: &[u8]) -> Result<Self, CoreError> {
        SummaryState::decode_into(buf, Vec::new())
    }
}

impl RfmPopulation {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + 24 * self.recency.len());
        out.extend_from_slice(&[RFM_MAGIC, VERSION, self.bins as u8]);
        put_f64s(&mut out, &self.recency);
        put_f64s(&mut out, &self.frequency);
        put_f64s(&mut out, &self.monetary);
        out
    }

    pub fn decode(buf: &[u8]) -> Result<Self, CoreError> {
        let mut r = Reader { buf };
        r.header(RFM_MAGIC)?;
        let mut p =
            RfmPopulation::new(r.u8()? as i32).map_err(|e| CoreError::Corrupt(e.to_string()))?;
        p.recency = r.f64s()?;
        p.frequency = r.f64s()?;
        p.monetary = r.f64s()?;
        r.end()?;
        if p.frequency.len() != p.recency.len() || p.monetary.len() != p.recency.len() {
            return Err(CoreError::Corrupt(
                "aggregate state columns differ in length".into(),
            ));
        }
        Ok(p)
    }
}

impl AbcPopulation {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + 8 * self.values.len());
        out.extend_from_slice(&[ABC_MAGIC, VERSION, self.method.code()]);
        out.extend_from_slice(&self.a_cut.to_le_bytes());
        out.extend_from_slice(&self.b_cut.to_le_bytes());
        out.extend_from_slice(&self.points.to_le_bytes());
        put_f64s(&mut out, &self.values);
        out
    }

    pub fn decode(buf: &[u8]) -> Result<Self, CoreError> {
        let mut r = Reader { buf };
        r.header(ABC_MAGIC)?;
        let method = AbcMethod::from_code(r.u8()?)?;
        let (a_cut, b_cut, points) = (r.f64()?, r.f64()?, r.u32()?);
        let mut p = AbcPopulation::new(method, a_cut, b_cut, points)
            .map_err(|e| CoreError::Corrupt(e.to_string()))?;
        p.values = r.f64s()?;
        r.end()?;
        Ok(p)
    }
}

impl<const N: usize> Patterns<N> {
    /// Entries sorted by key, so equal states encode to equal bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + (8 * N + 8) * self.counts.len());
        out.extend_from_slice(&[PATTERNS_MAGIC, VERSION, N as u8]);
        out.extend_from_slice(&self.penalizer.to_le_bytes());
        let mut entries: Vec<(&[u64; N], &f64)> = self.counts.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for (k, w) in entries {
            for v in k {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    pub fn decode(buf: &[u8]) -> Result<Self, CoreError> {
        let mut r = Reader { buf };
        r.header(PATTERNS_MAGIC)?;
        if r.u8()? as usize != N {
            return Err(CoreError::Corrupt("pattern state of another model".into()));
        }
        let penalizer = Patterns::<N>::check_penalizer(r.f64()?)
            .map_err(|e| CoreError::Corrupt(e.to_string()))?;
        let n = r.count(8 * N + 8)?;
        let mut p = Patterns::<N> {
            penalizer,
            ..Default::default()
        };
        for _ in 0..n {
            let mut k = [0u64; N];
            for v in k.iter_mut() {
                *v = r.i64()? as u64;
            }
            let w = r.f64()?;
            if !(w.is_finite() && w > 0.0) || k.iter().any(|b| !f64::from_bits(*b).is_finite()) {
                return Err(CoreError::Corrupt(
                    "pattern state has invalid values".into(),
                ));
            }
            *p.counts.entry(k).or_insert(0.0) += w;
        }
        r.end()?;
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_round_trip_and_corruption() {
        let mut s = SummaryState::new(1_000, 7.0).unwrap();
        s.add_local(10, Some(3.5));
        s.add_local(-86_400_000_001, Some(-1.0));
        s.add_local(20, None);
        let bytes = s.encode();
        assert_eq!(SummaryState::decode(&bytes).unwrap(), s);
        for cut in 0..bytes.len() {
            assert!(SummaryState::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(SummaryState::decode(&extra).is_err());
        let mut wrong_version = bytes;
        wrong_version[1] = 9;
        assert!(SummaryState::decode(&wrong_version).is_err());
    }

    #[test]
    fn abc_round_trip_and_corruption() {
        let mut p = AbcPopulation::new(AbcMethod::Including, 0.7, 0.9, 11).unwrap();
        p.add(3.0).unwrap();
        p.add(-1.5).unwrap();
        let bytes = p.encode();
        assert_eq!(AbcPopulation::decode(&bytes).unwrap(), p);
        for cut in 0..bytes.len() {
            assert!(AbcPopulation::decode(&bytes[..cut]).is_err());
        }
        let mut bad_method = bytes.clone();
        bad_method[2] = 7;
        assert!(AbcPopulation::decode(&bad_method).is_err());
        let mut bad_cut = bytes;
        bad_cut[3..11].copy_from_slice(&2.0f64.to_le_bytes());
        assert!(AbcPopulation::decode(&bad_cut).is_err());
    }

    #[test]
    fn patterns_round_trip_and_corruption() {
        let mut p = Patterns::<3>::default();
        p.add([2.0, 30.43, 38.86], 1.0);
        p.add([0.0, 0.0, 38.86], 2.0);
        p.add([2.0, 30.43, 38.86], 1.0);
        let bytes = p.encode();
        assert_eq!(Patterns::<3>::decode(&bytes).unwrap(), p);
        assert!(Patterns::<2>::decode(&bytes).is_err());
        for cut in 0..bytes.len() {
            assert!(Patterns::<3>::decode(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn rfm_round_trip_and_corruption() {
        let mut p = RfmPopulation::new(4).unwrap();
        p.add(1.0, 2.0, 3.0).unwrap();
        p.add(4.0, 5.0, -6.0).unwrap();
        let bytes = p.encode();
        assert_eq!(RfmPopulation::decode(&bytes).unwrap(), p);
        for cut in 0..bytes.len() {
            assert!(RfmPopulation::decode(&bytes[..cut]).is_err());
        }
        assert!(RfmPopulation::decode(&SummaryState::new(0, 1.0).unwrap().encode()).is_err());
        let mut bad_bins = bytes;
        bad_bins[2] = 1;
        assert!(RfmPopulation::decode(&bad_bins).is_err());
    }
}
