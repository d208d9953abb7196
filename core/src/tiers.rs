//! Tier schemes with loyalty mechanics: entry and retain thresholds (hysteresis), a limit on
//! how many tiers a customer may drop per evaluation ("soft landing"), and an optional floor.

use crate::CoreError;

/// One tier of a scheme.
#[derive(Clone, Debug, PartialEq)]
pub struct Level {
    pub name: String,
    /// A value at or above `entry` qualifies for the tier.
    pub entry: f64,
    /// A customer already in the tier keeps it while the value is at or above `retain`.
    pub retain: f64,
}

/// An ordered tier scheme, lowest tier first.
#[derive(Clone, Debug, PartialEq)]
pub struct Scheme {
    pub levels: Vec<Level>,
    /// At most this many tiers down per evaluation (`None`: no limit).
    pub max_drop: Option<u32>,
    /// Whether a value below every entry threshold still gets the lowest tier.
    pub floor: bool,
    /// Evaluations a drop is held for (0: none); see [`Scheme::next_tier_grace`].
    pub grace: u32,
}

fn bad(msg: String) -> CoreError {
    CoreError::InvalidParameter(msg)
}

impl Scheme {
    /// Validates: at least one tier; names non-empty and unique; entry thresholds strictly
    /// ascending; retain ≤ entry for every tier; retain thresholds ascending; all finite
    /// (the lowest tier may use -Infinity as entry and retain).
    pub fn new(levels: Vec<Level>, max_drop: Option<i32>, floor: bool) -> Result<Self, CoreError> {
        if levels.is_empty() {
            return Err(bad("a tier scheme needs at least one tier".into()));
        }
        for (i, l) in levels.iter().enumerate() {
            if l.name.trim().is_empty() {
                return Err(bad(format!("tier {} has an empty name", i + 1)));
            }
            if levels[..i].iter().any(|o| o.name == l.name) {
                return Err(bad(format!("tier name \"{}\" is used twice", l.name)));
            }
            let lowest_ok = |v: f64| v.is_finite() || (i == 0 && v == f64::NEG_INFINITY);
            if !lowest_ok(l.entry) || !lowest_ok(l.retain) {
                return Err(bad(format!(
                    "tier \"{}\": entry and retain must be finite numbers",
                    l.name
                )));
            }
            if l.retain > l.entry {
                return Err(bad(format!(
                    "tier \"{}\": retain ({}) must not exceed entry ({})",
                    l.name, l.retain, l.entry
                )));
            }
            if i > 0 {
                let below = &levels[i - 1];
                if l.entry <= below.entry {
                    return Err(bad(format!(
                        "entry thresholds must ascend: \"{}\" ({}) is not above \"{}\" ({})",
                        l.name, l.entry, below.name, below.entry
                    )));
                }
                if l.retain < below.retain {
                    return Err(bad(format!(
                        "retain thresholds must ascend: \"{}\" ({}) is below \"{}\" ({})",
                        l.name, l.retain, below.name, below.retain
                    )));
                }
            }
        }
        let max_drop = match max_drop {
            None => None,
            Some(d) if d >= 1 => Some(d as u32),
            Some(d) => return Err(bad(format!("max_drop must be at least 1, got {d}"))),
        };
        Ok(Scheme {
            levels,
            max_drop,
            floor,
            grace: 0,
        })
    }

    /// The scheme with a grace period of `grace` evaluations (`None` or 0: none).
    pub fn with_grace(mut self, grace: Option<i32>) -> Result<Self, CoreError> {
        self.grace = match grace {
            None => 0,
            Some(g) if g >= 1 => g as u32,
            Some(g) => {
                return Err(bad(format!(
                    "grace_evaluations must be at least 1, got {g}"
                )))
            }
        };
        Ok(self)
    }

    /// [`Scheme::next_tier`] with the grace period: a customer whose next tier would be lower
    /// keeps `previous` while `grace_used` (drops already held in a row) is below the grace.
    pub fn next_tier_grace(&self, value: f64, previous: usize, grace_used: u32) -> Option<usize> {
        let next = self.next_tier(value, previous);
        let drops = next.is_none_or(|k| k < previous);
        if drops && grace_used < self.grace {
            Some(previous)
        } else {
            next
        }
    }

    /// Index of a tier by name.
    pub fn rank(&self, name: &str) -> Result<usize, CoreError> {
        self.levels
            .iter()
            .position(|l| l.name == name)
            .ok_or_else(|| {
                bad(format!(
                    "previous_tier \"{name}\" is not a tier of the scheme"
                ))
            })
    }

    /// The tier a value qualifies for on entry thresholds (`None`: below every tier, no floor).
    pub fn entry_tier(&self, value: f64) -> Option<usize> {
        let k = self.levels.partition_point(|l| l.entry <= value);
        if k > 0 {
            Some(k - 1)
        } else if self.floor {
            Some(0)
        } else {
            None
        }
    }

    /// The tier after one evaluation of a customer who was in `previous`: up to the highest
    /// tier whose entry threshold is met; else kept while the value meets the previous tier's
    /// retain threshold; else down to the highest lower tier whose retain threshold is met, at
    /// most `max_drop` tiers down (below every retain threshold: the floor or no tier, still
    /// limited by `max_drop`).
    pub fn next_tier(&self, value: f64, previous: usize) -> Option<usize> {
        let by_entry = self.levels.partition_point(|l| l.entry <= value);
        if by_entry > previous + 1 {
            return Some(by_entry - 1);
        }
        if value >= self.levels[previous].retain {
            return Some(previous);
        }
        let kept = self.levels[..previous]
            .iter()
            .rposition(|l| value >= l.retain)
            .or(if self.floor { Some(0) } else { None });
        match (self.max_drop, kept) {
            (Some(d), Some(k)) => Some(k.max(previous.saturating_sub(d as usize))),
            (Some(d), None) if previous >= d as usize => Some(previous - d as usize),
            (_, k) => k,
        }
    }
}

/// Validated inline tiers (the ad-hoc form): thresholds strictly ascending or descending,
/// one unique name each. Kept per call site so a constant array is checked once per query.
#[derive(Clone, Debug, PartialEq)]
pub struct InlineTiers {
    /// Thresholds in ascending order with the index of their name.
    sorted: Vec<(f64, usize)>,
}

impl InlineTiers {
    pub fn new(thresholds: &[f64], names: &[String]) -> Result<Self, CoreError> {
        if thresholds.len() != names.len() {
            return Err(bad(format!(
                "thresholds and names must have the same length ({} vs {})",
                thresholds.len(),
                names.len()
            )));
        }
        if thresholds.is_empty() {
            return Err(bad("thresholds must not be empty".into()));
        }
        if thresholds.iter().any(|t| t.is_nan()) {
            return Err(bad("thresholds must be numbers".into()));
        }
        let ascending = thresholds.windows(2).all(|w| w[0] < w[1]);
        let descending = thresholds.windows(2).all(|w| w[0] > w[1]);
        if !ascending && !descending {
            return Err(bad(
                "thresholds must be strictly ascending or strictly descending".into(),
            ));
        }
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(bad(format!("tier name \"{n}\" is used twice")));
            }
        }
        let mut sorted: Vec<(f64, usize)> = thresholds.iter().copied().zip(0..).collect();
        if descending && sorted.len() > 1 {
            sorted.reverse();
        }
        Ok(InlineTiers { sorted })
    }

    /// The index (into the names) of the largest threshold <= value; None below all.
    #[inline]
    pub fn tier(&self, value: f64) -> Option<usize> {
        let k = self.sorted.partition_point(|(t, _)| *t <= value);
        (k > 0).then(|| self.sorted[k - 1].1)
    }
}

/// The inline form: `thresholds` strictly ascending or strictly descending, one name each;
/// the tier of the largest threshold at or below `value` (`None` below every threshold).
pub fn inline_tier<'a>(
    value: f64,
    thresholds: &[f64],
    names: &'a [String],
) -> Result<Option<&'a str>, CoreError> {
    let t = InlineTiers::new(thresholds, names)?;
    Ok(t.tier(value).map(|i| names[i].as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(name: &str, entry: f64, retain: f64) -> Level {
        Level {
            name: name.into(),
            entry,
            retain,
        }
    }

    /// Bronze from 0; Silver entry 1000 / retain 800; Gold 5000 / 4000; Platinum 20000 / 15000.
    #[test]
    fn grace_holds_drops() {
        let s = scheme(Some(1), true).with_grace(Some(2)).unwrap();
        let gold = s.rank("Gold").unwrap();
        // a drop is held while fewer than 2 evaluations were held, then happens (max_drop 1)
        assert_eq!(s.next_tier_grace(0.0, gold, 0), Some(gold));
        assert_eq!(s.next_tier_grace(0.0, gold, 1), Some(gold));
        assert_eq!(s.next_tier_grace(0.0, gold, 2), Some(gold - 1));
        // no drop: the grace is irrelevant; upgrades are never held
        assert_eq!(s.next_tier_grace(1e9, 0, 0), s.next_tier(1e9, 0));
        assert!(scheme(None, true).with_grace(Some(0)).is_err());
        assert_eq!(scheme(None, true).with_grace(None).unwrap().grace, 0);
    }

    fn scheme(max_drop: Option<i32>, floor: bool) -> Scheme {
        Scheme::new(
            vec![
                level("Bronze", 0.0, 0.0),
                level("Silver", 1000.0, 800.0),
                level("Gold", 5000.0, 4000.0),
                level("Platinum", 20000.0, 15000.0),
            ],
            max_drop,
            floor,
        )
        .unwrap()
    }

    fn name(s: &Scheme, k: Option<usize>) -> &str {
        k.map(|i| s.levels[i].name.as_str()).unwrap_or("none")
    }

    #[test]
    fn entry_thresholds_and_floor() {
        let s = scheme(None, true);
        assert_eq!(name(&s, s.entry_tier(999.99)), "Bronze");
        assert_eq!(name(&s, s.entry_tier(1000.0)), "Silver"); // boundary: at entry qualifies
        assert_eq!(name(&s, s.entry_tier(25000.0)), "Platinum");
        assert_eq!(name(&s, s.entry_tier(-5.0)), "Bronze"); // floor
        let no_floor = scheme(None, false);
        assert_eq!(name(&no_floor, no_floor.entry_tier(-5.0)), "none");
    }

    #[test]
    fn hysteresis_boundaries() {
        let s = scheme(None, true);
        let gold = s.rank("Gold").unwrap();
        assert_eq!(name(&s, s.next_tier(4000.0, gold)), "Gold"); // at retain: kept
        assert_eq!(name(&s, s.next_tier(3999.99, gold)), "Silver"); // below retain: drops
        assert_eq!(
            name(&s, s.next_tier(4500.0, s.rank("Silver").unwrap())),
            "Silver"
        ); // not yet Gold entry
        assert_eq!(
            name(&s, s.next_tier(5000.0, s.rank("Silver").unwrap())),
            "Gold"
        );
        assert_eq!(
            name(&s, s.next_tier(30000.0, s.rank("Bronze").unwrap())),
            "Platinum"
        ); // jumps up
           // a Gold customer at 900 keeps Silver (900 >= Silver's retain 800) though below its entry
        assert_eq!(name(&s, s.next_tier(900.0, gold)), "Silver");
    }

    #[test]
    fn soft_landing_over_several_evaluations() {
        let s = scheme(Some(1), true);
        let mut tier = s.rank("Platinum").unwrap();
        let mut path = vec![];
        for value in [100.0, 100.0, 100.0, 100.0] {
            tier = s.next_tier(value, tier).unwrap();
            path.push(s.levels[tier].name.clone());
        }
        assert_eq!(path, ["Gold", "Silver", "Bronze", "Bronze"]);
        let s2 = scheme(Some(2), false);
        let t = s2.next_tier(-1.0, s2.rank("Platinum").unwrap());
        assert_eq!(name(&s2, t), "Silver");
        assert_eq!(
            name(&s2, s2.next_tier(-1.0, s2.rank("Silver").unwrap())),
            "none"
        );
    }

    #[test]
    fn bad_schemes_are_rejected() {
        let l = level;
        assert!(Scheme::new(vec![], None, true).is_err());
        assert!(Scheme::new(vec![l("A", 0.0, 0.0), l("A", 1.0, 1.0)], None, true).is_err());
        assert!(Scheme::new(vec![l("A", 0.0, 0.0), l("B", 0.0, 0.0)], None, true).is_err());
        assert!(Scheme::new(vec![l("A", 0.0, 1.0)], None, true).is_err());
        assert!(Scheme::new(vec![l("A", 0.0, 0.0), l("B", 5.0, -1.0)], None, true).is_err());
        assert!(Scheme::new(vec![l(" ", 0.0, 0.0)], None, true).is_err());
        assert!(Scheme::new(vec![l("A", f64::NAN, 0.0)], None, true).is_err());
        assert!(Scheme::new(vec![l("A", 0.0, 0.0)], Some(0), true).is_err());
        assert!(Scheme::new(
            vec![l("A", f64::NEG_INFINITY, f64::NEG_INFINITY)],
            None,
            true
        )
        .is_ok());
        assert!(scheme(None, true).rank("Diamond").is_err());
    }

    #[test]
    fn inline_form() {
        let names: Vec<String> = ["C", "B", "A"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            inline_tier(150.0, &[0.0, 100.0, 1000.0], &names).unwrap(),
            Some("B")
        );
        let desc: Vec<String> = ["A", "B", "C"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            inline_tier(150.0, &[1000.0, 100.0, 0.0], &desc).unwrap(),
            Some("B")
        );
        assert_eq!(
            inline_tier(-1.0, &[0.0, 100.0, 1000.0], &names).unwrap(),
            None
        );
        assert!(inline_tier(1.0, &[0.0, 0.0], &names[..2]).is_err());
        assert!(inline_tier(1.0, &[0.0, 1.0], &names).is_err());
        assert!(inline_tier(1.0, &[0.0, 5.0, 1.0], &names).is_err());
    }
}
