//! Fuzz entry points: every parser and decoder of the core fed arbitrary bytes must return a
//! result or an error, never panic, loop or allocate without bound. Used by the cargo-fuzz targets
//! in `fuzz/` (nightly Rust) and by the stable, bounded mutation fuzzer `examples/fuzz.rs`
//! (`bench/fuzz.sh`), and by a short unit test.

use crate::abc::{AbcMethod, AbcPopulation};
use crate::clv::Patterns;
use crate::rfm::RfmPopulation;
use crate::summary::{StoredState, SummaryState, TimeKind};
use crate::tags::{compile, Param, Value, COLUMNS};

/// A tag expression (the bytes as UTF-8, lossy) with a few parameters; a compiled rule is also
/// evaluated on an all-NULL row and a row of numbers.
pub fn tag_expression(data: &[u8]) {
    let src = String::from_utf8_lossy(data);
    let params = vec![
        ("x".to_string(), Param::Number(1.5)),
        ("s".to_string(), Param::Text("Champions".into())),
        ("b".to_string(), Param::Bool(true)),
    ];
    if let Ok((rule, _)) = compile(&src, &params) {
        let _ = rule.matches(&vec![Value::Null; COLUMNS.len()]);
        let row: Vec<Value> = COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| match c.kind {
                crate::tags::Kind::Number => Value::Number(i as f64 - 3.0),
                crate::tags::Kind::Text => Value::Text("A"),
                crate::tags::Kind::Bool => Value::Bool(i % 2 == 0),
            })
            .collect();
        let _ = rule.matches(&row);
    }
}

/// Every aggregate-state decoder; a decoded state is used (summary, model) and re-encoded, and
/// the re-encoding must decode to the same state.
pub fn states(data: &[u8]) {
    if let Ok(s) = SummaryState::decode(data) {
        let _ = s.summary();
        let again = SummaryState::decode(&s.encode()).expect("re-encoded summary state decodes");
        assert_eq!(again.encode(), s.encode());
    }
    if let Ok(s) = StoredState::decode(data) {
        stored_state(&s, data);
    }
    if let Ok(s) = StoredState::from_text(&String::from_utf8_lossy(data)) {
        stored_state(&s, &s.encode());
    }
    if let Ok(p) = RfmPopulation::decode(data) {
        if p.recency.len() <= 100_000 {
            let _ = p.model();
        }
        assert_eq!(
            RfmPopulation::decode(&p.encode())
                .expect("re-encoded")
                .encode(),
            p.encode()
        );
    }
    if let Ok(p) = AbcPopulation::decode(data) {
        if p.values.len() <= 100_000 {
            let _ = p.model();
        }
        assert_eq!(
            AbcPopulation::decode(&p.encode())
                .expect("re-encoded")
                .encode(),
            p.encode()
        );
    }
    if let Ok(p) = Patterns::<3>::decode(data) {
        let _ = p.sorted();
        assert_eq!(
            Patterns::<3>::decode(&p.encode())
                .expect("re-encoded")
                .encode(),
            p.encode()
        );
    }
    if let Ok(p) = Patterns::<2>::decode(data) {
        let _ = p.sorted();
    }
    if let Ok(t) = crate::evaluation::AbTest::decode(data) {
        let _ = t.result(None);
        assert_eq!(
            crate::evaluation::AbTest::decode(&t.encode())
                .expect("re-encoded")
                .encode(),
            t.encode()
        );
    }
    if let Ok(n) = crate::evaluation::Nps::decode(data) {
        let _ = n.result();
        assert_eq!(
            crate::evaluation::Nps::decode(&n.encode())
                .expect("re-encoded")
                .encode(),
            n.encode()
        );
    }
}

/// A decoded [`StoredState`]: summarised, re-encoded to the same bytes, and merged with itself
/// into a state that encodes and decodes again (a merge whose sums overflow is an error).
fn stored_state(s: &StoredState, data: &[u8]) {
    let as_of = s.latest_at.max(0);
    let _ = s.summary(as_of, 86_400_000_000.0);
    let _ = s.summary(as_of.saturating_sub(1), 1.0);
    assert_eq!(s.encode(), data, "a stored state has one encoding");
    let again = StoredState::from_text(&s.to_text()).expect("the text form decodes");
    assert_eq!(&again, s);
    let mut twice = s.clone();
    match twice.merge(s) {
        Ok(()) => {
            let back = StoredState::decode(&twice.encode());
            assert!(back.is_ok(), "a merged state decodes: {back:?}");
        }
        Err(e) => {
            // counts beyond i64 or sums beyond f64
            assert!(matches!(e, crate::CoreError::OutOfRange(_)), "{e:?}");
            assert_eq!(&twice, s, "a failed merge leaves the state unchanged");
        }
    }
}

/// Valid encodings of every state, as seeds for mutation.
pub fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut s = SummaryState::new(86_400_000_000 * 400, 86_400_000_000.0).expect("valid");
    for d in 0..12i64 {
        s.add(
            d * 86_400_000_000 * 7,
            (d * 7) as i32,
            Some(10.0 + d as f64),
        )
        .expect("finite sums");
    }
    out.push(s.encode());
    // a stored state with its days as a list and return-only days before the first order, one
    // with a bitmap, and a text form
    let mut st = StoredState::new(TimeKind::Timestamp);
    st.add(3 * 86_400_000_000 + 5, 3, Some(-2.5))
        .expect("finite sums");
    st.add(86_400_000_000, 1, Some(-1.0)).expect("finite sums");
    for d in [5i64, 9, 400] {
        st.add(d * 86_400_000_000 + 77, d as i32, Some(d as f64))
            .expect("finite sums");
    }
    st.add(9 * 86_400_000_000, 9, None).expect("finite sums");
    out.push(st.encode());
    let mut bm = StoredState::new(TimeKind::Date);
    for d in (0..300i64).filter(|d| d % 3 != 1) {
        bm.add(d * 86_400_000_000, d as i32, Some(d as f64 / 4.0 - 30.0))
            .expect("finite sums");
    }
    out.push(bm.encode());
    out.push(bm.to_text().into_bytes());
    let mut r = RfmPopulation::new(5).expect("valid");
    for i in 0..20 {
        r.add(i as f64, (i % 4) as f64, i as f64 * 2.5)
            .expect("valid");
    }
    out.push(r.encode());
    let mut a = AbcPopulation::new(AbcMethod::Before, 0.8, 0.95, 0).expect("valid");
    for i in 0..20 {
        a.add(i as f64).expect("valid");
    }
    out.push(a.encode());
    let mut p = Patterns::<3>::default();
    p.add([2.0, 5.0, 10.0], 3.0);
    p.add([0.0, 0.0, 7.0], 1.0);
    out.push(p.encode());
    let mut g = Patterns::<2>::default();
    g.add([2.0, 5.0], 3.0);
    out.push(g.encode());
    let mut t = crate::evaluation::AbTest::new();
    for (v, y) in [("a", 1.0), ("a", 0.0), ("b", 2.5), ("b", 3.0)] {
        t.add(v, y).expect("valid");
    }
    out.push(t.encode());
    let mut n = crate::evaluation::Nps::new();
    for s in [0, 7, 9, 10] {
        n.add(s).expect("valid");
    }
    out.push(n.encode());
    for e in [
        "frequency >= $x AND segment = $s",
        "coalesce(p_alive, 1) < 0.5 OR NOT $b",
        "since_last BETWEEN 1 AND 2 * recency / nullif(frequency, 0)",
    ] {
        out.push(e.as_bytes().to_vec());
    }
    out
}

/// A small deterministic mutator (xorshift): bit flips, byte changes, truncation, duplication.
pub struct Mutator(pub u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut v = seed.to_vec();
        let rounds = 1 + self.next() % 4;
        for _ in 0..rounds {
            let len = v.len().max(1);
            match self.next() % 6 {
                0 if !v.is_empty() => {
                    let i = (self.next() as usize) % v.len();
                    v[i] ^= 1 << (self.next() % 8);
                }
                1 if !v.is_empty() => {
                    let i = (self.next() as usize) % v.len();
                    v[i] = self.next() as u8;
                }
                2 => v.truncate((self.next() as usize) % len),
                3 => {
                    let i = (self.next() as usize) % len.min(v.len() + 1);
                    let b = self.next() as u8;
                    v.insert(i.min(v.len()), b);
                }
                4 if !v.is_empty() => {
                    let a = (self.next() as usize) % v.len();
                    let b = a + (self.next() as usize) % (v.len() - a).min(16);
                    let piece = v[a..b].to_vec();
                    v.extend_from_slice(&piece);
                }
                _ if v.len() >= 8 => {
                    // a plausible length field: a huge count
                    let i = (self.next() as usize) % (v.len() - 4);
                    v[i..i + 4].copy_from_slice(&u32::MAX.to_le_bytes());
                }
                _ => {}
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoders_and_parsers_survive_mutations() {
        let seeds = seeds();
        let mut m = Mutator(0x9E37_79B9_7F4A_7C15);
        for s in &seeds {
            states(s);
            tag_expression(s);
        }
        // the stored-state seeds decode, one as a list and one as a bitmap (and its text form)
        let stored: Vec<StoredState> = seeds
            .iter()
            .filter_map(|s| StoredState::decode(s).ok())
            .collect();
        assert_eq!(stored.len(), 2);
        assert!(!stored[0].days.is_bitmap() && !stored[0].early_returns.is_empty());
        assert!(stored[1].days.is_bitmap());
        assert!(seeds
            .iter()
            .any(|s| StoredState::from_text(&String::from_utf8_lossy(s)).is_ok()));
        for i in 0..20_000 {
            let input = m.mutate(&seeds[i % seeds.len()]);
            states(&input);
            tag_expression(&input);
        }
    }
}
