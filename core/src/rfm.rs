//! RFM: the population model (breakpoints and means), scores, segment rule sets and the
//! 8-class model used in China.

use crate::quantile::{breakpoints, check_bins, score_down, score_up, sorted_copy};
use crate::CoreError;

/// The accumulated population of an `rfm_model` aggregate.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RfmPopulation {
    pub bins: usize,
    pub recency: Vec<f64>,
    pub frequency: Vec<f64>,
    pub monetary: Vec<f64>,
}

/// A fitted RFM model: `bins − 1` breakpoints per dimension and the population means.
#[derive(Clone, Debug, PartialEq)]
pub struct RfmModel {
    pub bins: usize,
    pub customers: i64,
    pub r_breaks: Vec<f64>,
    pub f_breaks: Vec<f64>,
    pub m_breaks: Vec<f64>,
    pub r_mean: f64,
    pub f_mean: f64,
    pub m_mean: f64,
}

fn check_finite(name: &str, v: f64) -> Result<f64, CoreError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(CoreError::InvalidParameter(format!(
            "{name} must be a finite number, got {v}"
        )))
    }
}

impl RfmPopulation {
    pub fn new(bins: i32) -> Result<Self, CoreError> {
        Ok(RfmPopulation {
            bins: check_bins(bins)?,
            ..Default::default()
        })
    }

    /// Adds one customer; every value must be finite.
    #[inline]
    pub fn add(&mut self, r: f64, f: f64, m: f64) -> Result<(), CoreError> {
        self.recency.push(check_finite("since_last", r)?);
        self.frequency.push(check_finite("frequency", f)?);
        self.monetary.push(check_finite("monetary", m)?);
        Ok(())
    }

    pub fn merge(&mut self, other: &RfmPopulation) -> Result<(), CoreError> {
        if other.bins != self.bins {
            return Err(CoreError::InvalidParameter(
                "bins must be the same for all rows of a group".into(),
            ));
        }
        self.recency.extend_from_slice(&other.recency);
        self.frequency.extend_from_slice(&other.frequency);
        self.monetary.extend_from_slice(&other.monetary);
        Ok(())
    }

    /// The model, or `None` for an empty population. Does not modify the population.
    /// Means are summed over the sorted values, so the result does not depend on the order
    /// in which rows arrived (serial and parallel plans give identical models).
    pub fn model(&self) -> Option<RfmModel> {
        let n = self.recency.len();
        if n == 0 {
            return None;
        }
        let (r_breaks, r_mean) = breaks_and_mean(&self.recency, self.bins);
        let (f_breaks, f_mean) = breaks_and_mean(&self.frequency, self.bins);
        let (m_breaks, m_mean) = breaks_and_mean(&self.monetary, self.bins);
        Some(RfmModel {
            bins: self.bins,
            customers: n as i64,
            r_breaks,
            f_breaks,
            m_breaks,
            r_mean,
            f_mean,
            m_mean,
        })
    }
}

fn breaks_and_mean(values: &[f64], bins: usize) -> (Vec<f64>, f64) {
    let sorted = sorted_copy(values);
    let mean = sorted.iter().fold(0.0, |a, v| a + v) / sorted.len() as f64;
    (breakpoints(&sorted, bins), mean)
}

/// The scores of one customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RfmScore {
    pub r: u8,
    pub f: u8,
    pub m: u8,
}

impl RfmScore {
    /// The three scores as text: "545" for up to 9 bins; with 10 bins, where a score can have
    /// two digits, they are joined with '-' ("10-3-7") so the text stays unambiguous.
    pub fn text(&self, bins: usize) -> String {
        if bins >= 10 {
            format!("{}-{}-{}", self.r, self.f, self.m)
        } else {
            format!("{}{}{}", self.r, self.f, self.m)
        }
    }
}

impl RfmModel {
    /// Validates a model read back from SQL (hand-written or stored values).
    pub fn validate(&self) -> Result<(), CoreError> {
        check_bins(self.bins as i32)?;
        for (name, breaks) in [
            ("r_breaks", &self.r_breaks),
            ("f_breaks", &self.f_breaks),
            ("m_breaks", &self.m_breaks),
        ] {
            if breaks.len() != self.bins - 1 {
                return Err(CoreError::InvalidParameter(format!(
                    "model.{name} must have bins - 1 = {} elements, has {}",
                    self.bins - 1,
                    breaks.len()
                )));
            }
            if breaks.iter().any(|b| b.is_nan()) || breaks.windows(2).any(|w| w[0] > w[1]) {
                return Err(CoreError::InvalidParameter(format!(
                    "model.{name} must be ascending numbers"
                )));
            }
        }
        Ok(())
    }

    /// Scores one customer: recency is the time since the last purchase (smaller is better).
    pub fn score(&self, r: f64, f: f64, m: f64) -> Result<RfmScore, CoreError> {
        Ok(RfmScore {
            r: score_down(&self.r_breaks, check_finite("since_last", r)?),
            f: score_up(&self.f_breaks, check_finite("frequency", f)?),
            m: score_up(&self.m_breaks, check_finite("monetary", m)?),
        })
    }

    /// The 8-class model: each dimension high/low against the population mean.
    pub fn class8(&self, r: f64, f: f64, m: f64) -> Result<Class8, CoreError> {
        Ok(Class8 {
            recent: check_finite("since_last", r)? < self.r_mean,
            frequent: check_finite("frequency", f)? > self.f_mean,
            high_value: check_finite("monetary", m)? > self.m_mean,
        })
    }
}

/// One of the 8 classes: recent = time since last purchase below the mean; frequent and
/// high value = above the mean. A value equal to the mean counts as low (not recent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Class8 {
    pub recent: bool,
    pub frequent: bool,
    pub high_value: bool,
}

impl Class8 {
    /// A number 0..8 identifying the class.
    pub fn index(&self) -> usize {
        (self.high_value as usize) << 2 | (self.recent as usize) << 1 | self.frequent as usize
    }

    pub fn label_zh(&self) -> &'static str {
        match (self.high_value, self.recent, self.frequent) {
            (true, true, true) => "重要价值客户",
            (true, false, true) => "重要保持客户",
            (true, true, false) => "重要发展客户",
            (true, false, false) => "重要挽留客户",
            (false, true, true) => "一般价值客户",
            (false, false, true) => "一般保持客户",
            (false, true, false) => "一般发展客户",
            (false, false, false) => "一般挽留客户",
        }
    }

    pub fn label_en(&self) -> &'static str {
        match (self.high_value, self.recent, self.frequent) {
            (true, true, true) => "Important Value",
            (true, false, true) => "Important Retain",
            (true, true, false) => "Important Develop",
            (true, false, false) => "Important Win-back",
            (false, true, true) => "General Value",
            (false, false, true) => "General Retain",
            (false, true, false) => "General Develop",
            (false, false, false) => "General Win-back",
        }
    }
}

/// One segment rule: inclusive score ranges per dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentRule {
    pub segment: String,
    pub r: (u8, u8),
    pub f: (u8, u8),
    pub m: (u8, u8),
}

impl SegmentRule {
    #[inline]
    pub fn matches(&self, s: RfmScore) -> bool {
        (self.r.0..=self.r.1).contains(&s.r)
            && (self.f.0..=self.f.1).contains(&s.f)
            && (self.m.0..=self.m.1).contains(&s.m)
    }
}

/// The label of a cell no rule matches.
pub const OTHERS: &str = "Others";

/// An ordered rule set over a `bins`³ grid; the first matching rule wins.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleSet {
    pub bins: u8,
    pub rules: Vec<SegmentRule>,
    /// Index of the winning rule per cell, `None` for 'Others'.
    grid: Vec<Option<u16>>,
}

/// A problem `RuleSet::check` reports.
#[derive(Clone, Debug, PartialEq)]
pub enum RuleProblem {
    /// Cells that no rule matches (they get 'Others').
    Gap { cells: Vec<RfmScore> },
    /// Cells matched by rule `first` and by the later rule `second` (the first wins).
    Overlap {
        first: usize,
        second: usize,
        cells: Vec<RfmScore>,
    },
    /// A rule that wins no cell at all.
    Shadowed { rule: usize },
}

impl RuleSet {
    /// Builds and validates a rule set: ranges within 1..=bins, lower ≤ upper, names non-empty.
    pub fn new(bins: i32, rules: Vec<SegmentRule>) -> Result<Self, CoreError> {
        let b = check_bins(bins)? as u8;
        for rule in &rules {
            if rule.segment.trim().is_empty() {
                return Err(CoreError::InvalidParameter(
                    "segment name must not be empty".into(),
                ));
            }
            for (dim, (lo, hi)) in [("r", rule.r), ("f", rule.f), ("m", rule.m)] {
                if lo < 1 || hi > b || lo > hi {
                    return Err(CoreError::InvalidParameter(format!(
                        "rule \"{}\": {dim} range {lo}..{hi} must satisfy 1 <= lower <= upper <= {b}",
                        rule.segment
                    )));
                }
            }
        }
        let mut grid = Vec::with_capacity((b as usize).pow(3));
        for s in Self::cells(b) {
            grid.push(
                rules
                    .iter()
                    .position(|rule| rule.matches(s))
                    .map(|i| i as u16),
            );
        }
        Ok(RuleSet {
            bins: b,
            rules,
            grid,
        })
    }

    fn cells(b: u8) -> impl Iterator<Item = RfmScore> {
        (1..=b).flat_map(move |r| {
            (1..=b).flat_map(move |f| (1..=b).map(move |m| RfmScore { r, f, m }))
        })
    }

    fn index(&self, s: RfmScore) -> usize {
        let b = self.bins as usize;
        ((s.r as usize - 1) * b + (s.f as usize - 1)) * b + (s.m as usize - 1)
    }

    /// The segment of a score (first matching rule), 'Others' when none matches;
    /// an error when a score is outside 1..=bins.
    pub fn segment(&self, s: RfmScore) -> Result<&str, CoreError> {
        for (name, v) in [("r", s.r), ("f", s.f), ("m", s.m)] {
            if v < 1 || v > self.bins {
                return Err(CoreError::OutOfRange(format!(
                    "{name} score {v} is outside 1..{} of the rule set",
                    self.bins
                )));
            }
        }
        Ok(match self.grid[self.index(s)] {
            Some(i) => &self.rules[i as usize].segment,
            None => OTHERS,
        })
    }

    /// Gaps (cells without a rule), overlaps between pairs of rules, and rules that never win.
    pub fn check(&self) -> Vec<RuleProblem> {
        let mut problems = Vec::new();
        let gaps: Vec<RfmScore> = Self::cells(self.bins)
            .filter(|&s| self.grid[self.index(s)].is_none())
            .collect();
        if !gaps.is_empty() {
            problems.push(RuleProblem::Gap { cells: gaps });
        }
        for i in 0..self.rules.len() {
            for j in i + 1..self.rules.len() {
                let cells: Vec<RfmScore> = Self::cells(self.bins)
                    .filter(|&s| self.rules[i].matches(s) && self.rules[j].matches(s))
                    .collect();
                if !cells.is_empty() {
                    problems.push(RuleProblem::Overlap {
                        first: i,
                        second: j,
                        cells,
                    });
                }
            }
        }
        for i in 0..self.rules.len() {
            if !self.grid.contains(&Some(i as u16)) {
                problems.push(RuleProblem::Shadowed { rule: i });
            }
        }
        problems
    }
}

/// The preset rule sets shipped with the extension: (rule set, bins, description, rules).
pub fn presets() -> Vec<(&'static str, i32, &'static str, Vec<SegmentRule>)> {
    fn rules(names: &[&str], bounds: [[u8; 10]; 6]) -> Vec<SegmentRule> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| SegmentRule {
                segment: n.to_string(),
                r: (bounds[0][i], bounds[1][i]),
                f: (bounds[2][i], bounds[3][i]),
                m: (bounds[4][i], bounds[5][i]),
            })
            .collect()
    }
    // The 11 classic segments with the boxes of the R package rfm (0.2 vignettes; Hibernating
    // from its segment table). Those boxes nest (Potential Loyalist contains New Customers, At
    // Risk contains Can't Lose Them, Hibernating and Lost are the same box), so with
    // first-match-wins the order below puts specific boxes before general ones, and Lost is
    // narrowed to the lowest cell 111; every segment is reachable.
    let rule = |segment: &str, r, f, m| SegmentRule {
        segment: segment.into(),
        r,
        f,
        m,
    };
    let standard = vec![
        rule("Champions", (4, 5), (4, 5), (4, 5)),
        rule("Loyal Customers", (2, 5), (3, 5), (3, 5)),
        rule("Can't Lose Them", (1, 1), (4, 5), (4, 5)),
        rule("At Risk", (1, 2), (2, 5), (2, 5)),
        rule("New Customers", (4, 5), (1, 1), (1, 1)),
        rule("Promising", (3, 4), (1, 1), (1, 1)),
        rule("Need Attention", (2, 3), (2, 3), (2, 3)),
        rule("Potential Loyalist", (3, 5), (1, 3), (1, 3)),
        rule("About To Sleep", (2, 3), (1, 2), (1, 2)),
        rule("Lost", (1, 1), (1, 1), (1, 1)),
        rule("Hibernating", (1, 2), (1, 2), (1, 2)),
    ];
    // R package `rfm` 0.3.0 (README, vignette and examples since 2023), first match wins.
    let rfm_0_3 = rules(
        &[
            "Champions",
            "Potential Loyalist",
            "Loyal Customers",
            "Promising",
            "New Customers",
            "Can't Lose Them",
            "At Risk",
            "Need Attention",
            "About To Sleep",
            "Lost",
        ],
        [
            [5, 3, 2, 3, 4, 1, 1, 1, 2, 1],
            [5, 5, 4, 4, 5, 2, 2, 3, 3, 1],
            [5, 3, 2, 1, 1, 3, 2, 3, 1, 1],
            [5, 5, 4, 3, 3, 4, 5, 5, 3, 5],
            [5, 2, 2, 3, 1, 4, 4, 3, 1, 1],
            [5, 5, 4, 5, 5, 5, 5, 5, 4, 5],
        ],
    );
    vec![
        (
            "standard",
            5,
            "The 11 classic segments (R package rfm boxes), specific before general, first match wins",
            standard,
        ),
        (
            "rfm_0_3",
            5,
            "The 10 segments of the R package rfm 0.3.0 examples, first match wins",
            rfm_0_3,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preset(name: &str) -> RuleSet {
        let (_, bins, _, rules) = presets().into_iter().find(|p| p.0 == name).unwrap();
        RuleSet::new(bins, rules).unwrap()
    }

    fn count(set: &RuleSet, segment: &str) -> usize {
        RuleSet::cells(5)
            .filter(|&s| set.segment(s).unwrap() == segment)
            .count()
    }

    #[test]
    fn rfm_0_3_cell_counts_match_an_independent_enumeration() {
        // Counts enumerated independently from the R package's vectors (first match wins).
        let set = preset("rfm_0_3");
        for (seg, n) in [
            ("Champions", 1),
            ("Potential Loyalist", 35),
            ("Loyal Customers", 15),
            ("New Customers", 15),
            ("Lost", 14),
            ("About To Sleep", 10),
            ("Promising", 8),
            ("At Risk", 7),
            ("Can't Lose Them", 6),
            ("Need Attention", 4),
            ("Others", 10),
        ] {
            assert_eq!(count(&set, seg), n, "{seg}");
        }
        let s = |r, f, m| RfmScore { r, f, m };
        assert_eq!(set.segment(s(2, 1, 5)).unwrap(), "Others");
        assert_eq!(set.segment(s(5, 5, 5)).unwrap(), "Champions");
    }

    #[test]
    fn standard_has_every_segment_reachable() {
        let set = preset("standard");
        assert_eq!(set.rules.len(), 11);
        assert!(set
            .check()
            .iter()
            .all(|p| !matches!(p, RuleProblem::Shadowed { .. })));
        let s = |r, f, m| RfmScore { r, f, m };
        assert_eq!(set.segment(s(5, 5, 5)).unwrap(), "Champions");
        assert_eq!(set.segment(s(1, 1, 1)).unwrap(), "Lost");
        assert_eq!(set.segment(s(1, 1, 2)).unwrap(), "Hibernating");
        assert_eq!(set.segment(s(2, 1, 1)).unwrap(), "About To Sleep");
        assert_eq!(set.segment(s(1, 5, 5)).unwrap(), "Can't Lose Them");
        assert_eq!(set.segment(s(2, 5, 5)).unwrap(), "Loyal Customers");
        assert_eq!(set.segment(s(5, 1, 1)).unwrap(), "New Customers");
        let total: usize = set
            .rules
            .iter()
            .map(|r| count(&set, &r.segment))
            .sum::<usize>()
            + count(&set, OTHERS);
        assert_eq!(total, 125);
    }

    #[test]
    fn check_reports_gaps_overlaps_and_shadowed_rules() {
        let rule = |n: &str, r, f, m| SegmentRule {
            segment: n.into(),
            r,
            f,
            m,
        };
        let set = RuleSet::new(
            2,
            vec![
                rule("a", (1, 2), (1, 1), (1, 2)),
                rule("b", (1, 1), (1, 1), (1, 1)),
            ],
        )
        .unwrap();
        let p = set.check();
        assert!(matches!(&p[0], RuleProblem::Gap { cells } if cells.len() == 4));
        assert!(
            matches!(&p[1], RuleProblem::Overlap { first: 0, second: 1, cells } if cells.len() == 1)
        );
        assert!(matches!(&p[2], RuleProblem::Shadowed { rule: 1 }));
        assert!(RuleSet::new(5, vec![rule("x", (0, 2), (1, 1), (1, 1))]).is_err());
        assert!(RuleSet::new(5, vec![rule("x", (3, 2), (1, 1), (1, 1))]).is_err());
        assert!(RuleSet::new(5, vec![rule(" ", (1, 2), (1, 1), (1, 1))]).is_err());
        assert!(set.segment(RfmScore { r: 3, f: 1, m: 1 }).is_err());
    }

    #[test]
    fn model_and_scores() {
        let mut p = RfmPopulation::new(5).unwrap();
        for i in 0..10 {
            p.add(i as f64, (10 - i) as f64, 1.0).unwrap();
        }
        assert!(p.add(f64::NAN, 1.0, 1.0).is_err());
        let m = p.model().unwrap();
        assert_eq!(m.customers, 10);
        assert_eq!(m.r_breaks, vec![1.8, 3.6, 5.3999999999999995, 7.2]);
        assert_eq!(m.m_breaks, vec![1.0; 4]);
        assert_eq!(
            m.score(0.0, 10.0, 1.0).unwrap(),
            RfmScore { r: 5, f: 5, m: 1 }
        );
        assert_eq!(
            m.score(9.0, 1.0, 2.0).unwrap(),
            RfmScore { r: 1, f: 1, m: 5 }
        );
        assert_eq!(m.r_mean, 4.5);
        assert_eq!(RfmScore { r: 5, f: 4, m: 3 }.text(5), "543");
        assert_eq!(RfmScore { r: 10, f: 4, m: 3 }.text(10), "10-4-3");
        let c = m.class8(1.0, 9.0, 1.0).unwrap();
        assert_eq!(c.label_zh(), "一般价值客户");
        assert_eq!(
            m.class8(9.0, 1.0, 5.0).unwrap().label_en(),
            "Important Win-back"
        );
        assert!(RfmPopulation::new(5).unwrap().model().is_none());
    }
}
