//! Validating a purchase model on a calibration/holdout split (issue 13):
//! the core of `tiers.clv_validation(model, frequency, recency, tenure, holdout_occasions,
//! holdout_length)` and of its Gamma-Gamma companion.
//!
//! The history of every customer is cut at a calibration end date. A model fitted on the
//! calibration period predicts, for each customer, the **expected** number of repeat purchases
//! in the following holdout period of length `holdout_length` (its conditional expectation given
//! the calibration `frequency`, `recency` and `tenure`), and usually P(alive) at the end of the
//! calibration period. The **actual** number of purchases in the holdout period is then compared
//! with these predictions. The SQL layer computes `expected` and `p_alive` from the model and
//! feeds one row per customer to a [`ValidationAccumulator`]; this module only aggregates.
//!
//! # Definitions ([`ValidationResult`])
//!
//! Every row i has a weight wᵢ (1 unless [`ValidationAccumulator::add_weighted`] is used),
//! W = Σ wᵢ, eᵢ = expected, aᵢ = actual, yᵢ = 1 if aᵢ > 0 (a holdout purchase) else 0.
//! The weighted forms are those of scikit-learn's `sample_weight` and of
//! `numpy.cov(aweights=…)`; with unit weights they are the usual ones.
//!
//! * `mae` = Σ wᵢ|eᵢ − aᵢ| / W (`sklearn.metrics.mean_absolute_error(a, e)`);
//! * `rmse` = √(Σ wᵢ(eᵢ − aᵢ)² / W) (`sqrt(mean_squared_error(a, e))`);
//! * `total_expected` = Σ wᵢeᵢ, `total_actual` = Σ wᵢaᵢ;
//! * `bias` = Σ wᵢ(eᵢ − aᵢ) = total expected − total actual (positive: the model predicts too
//!   many purchases), `relative_bias` = bias / total actual (`None` when nobody bought);
//! * `correlation`: Pearson's r of e and a (weighted: the co-moment ratio of `numpy.cov` with
//!   `aweights`; `scipy.stats.pearsonr` with unit weights), `None` when either is constant
//!   (including a single customer), where scipy returns NaN;
//! * `purchase_share` = Σ wᵢyᵢ / W, the share of customers with a holdout purchase.
//!
//! Over the rows with a P(alive) pᵢ (`p_alive` is optional per row; `scored` counts them):
//!
//! * `brier` = Σ wᵢ(pᵢ − yᵢ)² / Σ wᵢ (`sklearn.metrics.brier_score_loss(y, p)`);
//! * `auc`: the ROC AUC of p for the label y (`sklearn.metrics.roc_auc_score(y, p)`), computed
//!   exactly as the Mann–Whitney statistic with midranks: with P and N the (weighted) numbers of
//!   positives and negatives, AUC = Σ_v pos(v)·(neg(< v) + ½·neg(v)) / (P·N) over the distinct
//!   values v of p, i.e. the probability that a random buyer has a higher P(alive) than a random
//!   non-buyer, ties counting one half. `None` when all labels are equal (scikit-learn raises an
//!   error there).
//!
//! P(alive) is not the probability of a holdout purchase: a customer who is alive may still not
//! buy within the holdout period, so even a perfect P(alive) has a Brier score above 0 against
//! this label. The Brier score is therefore a relative measure (to compare models on the same
//! split); the AUC, which only uses the ranking, is the more meaningful one. A caller who wants a
//! calibrated probability of a holdout purchase can feed P(X(t) > 0 | history) instead.
//!
//! # The calibration plot
//!
//! lifetimes' `plot_calibration_purchases_vs_holdout_purchases(model, summary, n=7)` groups the
//! customers by their calibration `frequency_cal`, plots the mean actual holdout purchases
//! (`frequency_holdout`) and the mean model prediction of each group, and keeps the first `n = 7`
//! groups (frequencies 0 … 6 when all are present; customers with more are left out). BTYD's
//! `PlotFreqVsConditionalExpectedFrequency(censor = 7)` pools those customers into a last "7+"
//! group. [`ValidationResult::buckets`] follows BTYD: buckets 0, 1, …, 6 are lifetimes' points
//! exactly and bucket [`FREQUENCY_CAP`] = 7 holds every customer with frequency ≥ 7. Empty
//! buckets are left out (as in both libraries). The means are weighted by the row weights.
//!
//! # Gamma-Gamma spend ([`SpendAccumulator`])
//!
//! For customers with a holdout purchase, the expected mean spend per transaction (the
//! Gamma-Gamma conditional expectation from the calibration period) against the actual mean
//! spend of their holdout transactions: n, means, MAE, RMSE, `bias` = Σ wᵢ(eᵢ − aᵢ)/W (the
//! **mean** error per customer, since a sum of per-transaction means is not an amount of money),
//! `relative_bias` = Σ wᵢ(eᵢ − aᵢ) / Σ wᵢaᵢ and Pearson's r, with the definitions above.
//!
//! # Numerics and states
//!
//! Sums are compensated (Neumaier, [`CompensatedSum`]); the means, variances and co-moment of
//! the correlation use the weighted Welford update (West 1979) and Chan et al.'s parallel merge.
//! The (p, label) pairs are kept compressed: one cell per distinct value of p with the weights
//! of its positives and negatives, so the state is mergeable and its size is bounded by the
//! number of distinct P(alive) values, whatever the number of customers. So `merge` of partial
//! states gives, up to rounding (about 1e-15 relative), the result of one pass, in any row order.
//!
//! Inputs: `frequency` must be a non-negative whole number, `expected` and `actual` finite and
//! `>= 0`, `p_alive` in [0, 1], `weight` finite and `> 0`; anything else (NaN, ±Infinity,
//! negative) is [`CoreError::InvalidParameter`] naming the field. Values so large that a sum
//! overflows give [`CoreError::OutOfRange`]. The state is unchanged on error.
//!
//! `encode`/`decode` give a versioned binary state (layout at [`ValidationAccumulator::encode`]
//! and [`SpendAccumulator::encode`]); decoding checks every length, count and value, so damaged
//! bytes give [`CoreError::Corrupt`], never a panic or an allocation larger than the input
//! allows.

use std::collections::BTreeMap;

use crate::state::{common_scale, put_packed, put_scale, put_varint, Reader};
use crate::summary::CompensatedSum;
use crate::CoreError;

/// Calibration frequencies at or above this value share the last bucket ("7+"), as in BTYD's
/// `censor = 7`; lifetimes' default `n = 7` plots the buckets below it.
pub const FREQUENCY_CAP: u32 = 7;
const BUCKETS: usize = FREQUENCY_CAP as usize + 1;

const VALIDATION_MAGIC: u8 = b'V';
const SPEND_MAGIC: u8 = b'G';
const VERSION: u8 = 1;

/// Bits of 1.0: the largest key of a P(alive) cell (non-negative doubles order as their bits).
const ONE_BITS: u64 = 0x3ff0_0000_0000_0000;

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

/// Weighted means, sums of squared deviations and co-moment of two variables.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct CoMoments {
    weight: f64,
    mean_x: f64,
    mean_y: f64,
    m2_x: f64,
    m2_y: f64,
    c_xy: f64,
}

impl CoMoments {
    fn add(&mut self, x: f64, y: f64, w: f64) {
        let weight = self.weight + w;
        let r = w / weight;
        let dx = x - self.mean_x;
        let dy = y - self.mean_y;
        self.mean_x += dx * r;
        self.mean_y += dy * r;
        self.m2_x += w * dx * (x - self.mean_x);
        self.m2_y += w * dy * (y - self.mean_y);
        self.c_xy += w * dx * (y - self.mean_y);
        self.weight = weight;
    }

    fn merge(&mut self, o: &CoMoments) {
        if o.weight == 0.0 {
            return;
        }
        if self.weight == 0.0 {
            *self = *o;
            return;
        }
        let weight = self.weight + o.weight;
        let r = o.weight / weight;
        let f = self.weight * r;
        let dx = o.mean_x - self.mean_x;
        let dy = o.mean_y - self.mean_y;
        self.mean_x += dx * r;
        self.mean_y += dy * r;
        self.m2_x += o.m2_x + dx * dx * f;
        self.m2_y += o.m2_y + dy * dy * f;
        self.c_xy += o.c_xy + dx * dy * f;
        self.weight = weight;
    }

    /// Pearson's r, `None` when either variable is constant.
    fn correlation(&self) -> Option<f64> {
        (self.m2_x > 0.0 && self.m2_y > 0.0)
            .then(|| (self.c_xy / (self.m2_x.sqrt() * self.m2_y.sqrt())).clamp(-1.0, 1.0))
    }

    fn fields(&self) -> [f64; 6] {
        [
            self.weight,
            self.mean_x,
            self.mean_y,
            self.m2_x,
            self.m2_y,
            self.c_xy,
        ]
    }

    fn is_valid(&self) -> bool {
        self.fields().iter().all(|v| v.is_finite())
            && self.weight >= 0.0
            && self.m2_x >= 0.0
            && self.m2_y >= 0.0
    }

    fn put(&self, out: &mut Vec<u8>) {
        for v in self.fields() {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn read(r: &mut Reader) -> Result<Self, CoreError> {
        Ok(CoMoments {
            weight: r.f64()?,
            mean_x: r.f64()?,
            mean_y: r.f64()?,
            m2_x: r.f64()?,
            m2_y: r.f64()?,
            c_xy: r.f64()?,
        })
    }
}

fn finite(s: &CompensatedSum) -> bool {
    s.sum.is_finite() && s.compensation.is_finite()
}

fn put_sum(out: &mut Vec<u8>, s: &CompensatedSum) {
    out.extend_from_slice(&s.sum.to_le_bytes());
    out.extend_from_slice(&s.compensation.to_le_bytes());
}

fn read_sum(r: &mut Reader) -> Result<CompensatedSum, CoreError> {
    let s = CompensatedSum {
        sum: r.f64()?,
        compensation: r.f64()?,
    };
    if finite(&s) {
        Ok(s)
    } else {
        Err(corrupt("holds a non-finite value"))
    }
}

fn corrupt(what: &str) -> CoreError {
    CoreError::Corrupt(format!("aggregate state {what}"))
}

fn overflow() -> CoreError {
    CoreError::OutOfRange("values are too large to accumulate".into())
}

fn too_many() -> CoreError {
    CoreError::OutOfRange("too many customers".into())
}

/// A finite number `>= 0`, else `InvalidParameter` naming `field`.
fn check_non_negative(field: &str, v: f64) -> Result<(), CoreError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(CoreError::InvalidParameter(format!(
            "{field} must be a finite number >= 0, got {v}"
        )))
    }
}

fn check_weight(w: f64) -> Result<(), CoreError> {
    if w.is_finite() && w > 0.0 {
        Ok(())
    } else {
        Err(CoreError::InvalidParameter(format!(
            "weight must be a finite number > 0, got {w}"
        )))
    }
}

/// The bucket of a calibration frequency (0 ..= [`FREQUENCY_CAP`]).
fn frequency_bucket(frequency: f64) -> Result<usize, CoreError> {
    if frequency.is_finite() && frequency >= 0.0 && frequency.fract() == 0.0 {
        Ok(frequency.min(FREQUENCY_CAP as f64) as usize)
    } else {
        Err(CoreError::InvalidParameter(format!(
            "frequency must be a whole number >= 0, got {frequency}"
        )))
    }
}

/// P(alive) in [0, 1] as a non-negative double (−0 becomes +0, so its bits order like it).
fn check_probability(p: f64) -> Result<f64, CoreError> {
    if (0.0..=1.0).contains(&p) {
        Ok(p + 0.0)
    } else {
        Err(CoreError::InvalidParameter(format!(
            "p_alive must be in [0, 1], got {p}"
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// Purchases
// ---------------------------------------------------------------------------------------------

/// One calibration-frequency bucket of the state.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Bucket {
    customers: u64,
    weight: CompensatedSum,
    expected: CompensatedSum,
    actual: CompensatedSum,
}

impl Bucket {
    fn merge(&mut self, o: &Bucket) -> Result<(), CoreError> {
        self.customers = self
            .customers
            .checked_add(o.customers)
            .ok_or_else(too_many)?;
        self.weight.merge(&o.weight);
        self.expected.merge(&o.expected);
        self.actual.merge(&o.actual);
        Ok(())
    }

    fn is_valid(&self) -> bool {
        [&self.weight, &self.expected, &self.actual]
            .into_iter()
            .all(finite)
    }
}

/// Everything but the P(alive) cells: a `Copy` value, so an update is computed on a copy and
/// committed only when it is valid.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Totals {
    n: u64,
    weight: CompensatedSum,
    expected: CompensatedSum,
    actual: CompensatedSum,
    residual: CompensatedSum,
    abs_error: CompensatedSum,
    sq_error: CompensatedSum,
    buyers: u64,
    buyers_weight: CompensatedSum,
    moments: CoMoments,
    buckets: [Bucket; BUCKETS],
    scored: u64,
    scored_weight: CompensatedSum,
    brier: CompensatedSum,
}

impl Totals {
    fn sums(&self) -> [&CompensatedSum; 9] {
        [
            &self.weight,
            &self.expected,
            &self.actual,
            &self.residual,
            &self.abs_error,
            &self.sq_error,
            &self.buyers_weight,
            &self.scored_weight,
            &self.brier,
        ]
    }

    fn is_valid(&self) -> bool {
        self.sums().into_iter().all(finite)
            && self.moments.is_valid()
            && self.buckets.iter().all(Bucket::is_valid)
    }

    fn merge(&mut self, o: &Totals) -> Result<(), CoreError> {
        self.n = self.n.checked_add(o.n).ok_or_else(too_many)?;
        self.buyers = self.buyers.checked_add(o.buyers).ok_or_else(too_many)?;
        self.scored = self.scored.checked_add(o.scored).ok_or_else(too_many)?;
        self.weight.merge(&o.weight);
        self.expected.merge(&o.expected);
        self.actual.merge(&o.actual);
        self.residual.merge(&o.residual);
        self.abs_error.merge(&o.abs_error);
        self.sq_error.merge(&o.sq_error);
        self.buyers_weight.merge(&o.buyers_weight);
        self.scored_weight.merge(&o.scored_weight);
        self.brier.merge(&o.brier);
        self.moments.merge(&o.moments);
        for (b, ob) in self.buckets.iter_mut().zip(&o.buckets) {
            b.merge(ob)?;
        }
        Ok(())
    }
}

/// The weights of the buyers (label 1) and non-buyers (label 0) sharing one P(alive) value.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Cell {
    positive: f64,
    negative: f64,
}

/// The state of `tiers.clv_validation`: see the module documentation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ValidationAccumulator {
    totals: Totals,
    /// Keyed by the bits of P(alive) (in [0, 1], so in numeric order).
    cells: BTreeMap<u64, Cell>,
}

/// One point of the calibration plot.
#[derive(Clone, Debug, PartialEq)]
pub struct FrequencyBucket {
    /// Calibration repeat purchases; [`FREQUENCY_CAP`] stands for "that many or more".
    pub frequency: u32,
    /// Number of customers (rows) in the bucket.
    pub customers: u64,
    /// Sum of their weights (= `customers` without weights).
    pub weight: f64,
    /// Weighted mean of the actual holdout purchases.
    pub mean_actual: f64,
    /// Weighted mean of the expected holdout purchases.
    pub mean_expected: f64,
}

/// The result of `tiers.clv_validation` (definitions in the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct ValidationResult {
    /// Customers (rows).
    pub n: u64,
    /// Sum of the weights (= `n` without weights).
    pub weight: f64,
    /// Non-empty calibration-frequency buckets, ascending.
    pub buckets: Vec<FrequencyBucket>,
    pub mae: f64,
    pub rmse: f64,
    pub total_expected: f64,
    pub total_actual: f64,
    /// Total expected − total actual.
    pub bias: f64,
    /// `bias / total_actual`; `None` when the total actual is 0.
    pub relative_bias: Option<f64>,
    /// Pearson's r of expected and actual; `None` when either is constant.
    pub correlation: Option<f64>,
    /// Customers with a holdout purchase (actual > 0).
    pub buyers: u64,
    /// Weighted share of customers with a holdout purchase.
    pub purchase_share: f64,
    /// Customers with a P(alive).
    pub scored: u64,
    /// Brier score of P(alive) against "made a holdout purchase"; `None` without P(alive).
    pub brier: Option<f64>,
    /// ROC AUC of P(alive) for the same label; `None` unless both labels occur.
    pub auc: Option<f64>,
}

impl ValidationAccumulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one customer with weight 1: calibration `frequency` (repeat purchases), `expected`
    /// and `actual` holdout purchases, and optionally P(alive).
    pub fn add(
        &mut self,
        frequency: f64,
        expected: f64,
        actual: f64,
        p_alive: Option<f64>,
    ) -> Result<(), CoreError> {
        self.add_weighted(frequency, expected, actual, p_alive, 1.0)
    }

    /// [`add`](Self::add) with a weight (finite, `> 0`). The state is unchanged on error.
    pub fn add_weighted(
        &mut self,
        frequency: f64,
        expected: f64,
        actual: f64,
        p_alive: Option<f64>,
        weight: f64,
    ) -> Result<(), CoreError> {
        let bucket = frequency_bucket(frequency)?;
        check_non_negative("expected", expected)?;
        check_non_negative("actual", actual)?;
        let p_alive = p_alive.map(check_probability).transpose()?;
        check_weight(weight)?;
        let bought = actual > 0.0;

        let mut t = self.totals;
        t.n = t.n.checked_add(1).ok_or_else(too_many)?;
        t.weight.add(weight);
        t.expected.add(weight * expected);
        t.actual.add(weight * actual);
        let error = expected - actual;
        t.residual.add(weight * error);
        t.abs_error.add(weight * error.abs());
        t.sq_error.add(weight * error * error);
        if bought {
            t.buyers += 1;
            t.buyers_weight.add(weight);
        }
        t.moments.add(expected, actual, weight);
        let b = &mut t.buckets[bucket];
        b.customers += 1;
        b.weight.add(weight);
        b.expected.add(weight * expected);
        b.actual.add(weight * actual);
        if let Some(p) = p_alive {
            t.scored += 1;
            t.scored_weight.add(weight);
            let miss = p - if bought { 1.0 } else { 0.0 };
            t.brier.add(weight * miss * miss);
        }
        if !t.is_valid() {
            return Err(overflow());
        }
        self.totals = t;
        if let Some(p) = p_alive {
            let cell = self.cells.entry(p.to_bits()).or_default();
            if bought {
                cell.positive += weight;
            } else {
                cell.negative += weight;
            }
        }
        Ok(())
    }

    /// Combines a partial state (order-independent up to rounding). Unchanged on error.
    pub fn merge(&mut self, other: &ValidationAccumulator) -> Result<(), CoreError> {
        let mut t = self.totals;
        t.merge(&other.totals)?;
        if !t.is_valid() {
            return Err(overflow());
        }
        self.totals = t;
        for (k, c) in &other.cells {
            let cell = self.cells.entry(*k).or_default();
            cell.positive += c.positive;
            cell.negative += c.negative;
        }
        Ok(())
    }

    /// Number of customers folded.
    pub fn n(&self) -> u64 {
        self.totals.n
    }

    /// Number of distinct P(alive) values kept for the AUC.
    pub fn distinct_p_alive(&self) -> usize {
        self.cells.len()
    }

    /// The metrics, `None` without any customer.
    pub fn result(&self) -> Option<ValidationResult> {
        let t = &self.totals;
        if t.n == 0 {
            return None;
        }
        let weight = t.weight.value();
        let total_actual = t.actual.value();
        let bias = t.residual.value();
        let buckets = t
            .buckets
            .iter()
            .enumerate()
            .filter(|(_, b)| b.customers > 0)
            .map(|(k, b)| {
                let w = b.weight.value();
                FrequencyBucket {
                    frequency: k as u32,
                    customers: b.customers,
                    weight: w,
                    mean_actual: b.actual.value() / w,
                    mean_expected: b.expected.value() / w,
                }
            })
            .collect();
        Some(ValidationResult {
            n: t.n,
            weight,
            buckets,
            mae: t.abs_error.value() / weight,
            rmse: (t.sq_error.value() / weight).max(0.0).sqrt(),
            total_expected: t.expected.value(),
            total_actual,
            bias,
            relative_bias: (total_actual > 0.0).then(|| bias / total_actual),
            correlation: t.moments.correlation(),
            buyers: t.buyers,
            purchase_share: t.buyers_weight.value() / weight,
            scored: t.scored,
            brier: (t.scored > 0).then(|| t.brier.value() / t.scored_weight.value()),
            auc: self.auc(),
        })
    }

    /// Mann–Whitney with midranks over the cells in ascending P(alive).
    fn auc(&self) -> Option<f64> {
        let mut positives = CompensatedSum::default();
        let mut negatives = CompensatedSum::default();
        for c in self.cells.values() {
            positives.add(c.positive);
            negatives.add(c.negative);
        }
        let (p, n) = (positives.value(), negatives.value());
        if !(p > 0.0 && n > 0.0) {
            return None;
        }
        let mut below = CompensatedSum::default();
        let mut u = CompensatedSum::default();
        for c in self.cells.values() {
            u.add(c.positive / p * ((below.value() + 0.5 * c.negative) / n));
            below.add(c.negative);
        }
        Some(u.value().clamp(0.0, 1.0))
    }

    /// Version 1: magic `V`, version, varints n, buyers, scored; the compensated sums (sum and
    /// compensation, f64 little-endian) of weight, expected, actual, residual, absolute error,
    /// squared error, buyers' weight, scored weight and Brier; the co-moments (weight, mean of
    /// expected, mean of actual, their M2s, co-moment; f64); per bucket 0 ..= 7 a varint count
    /// and, when it is not 0, the sums of weight, expected and actual; then the P(alive) cells:
    /// one scale byte for their weights (see `state::put_column`), a varint count, and per cell
    /// in ascending P(alive) the varint delta of its bits from the previous cell's (from 0 for
    /// the first) and its positive and negative weights (packed).
    pub fn encode(&self) -> Vec<u8> {
        let t = &self.totals;
        let mut out = Vec::with_capacity(400 + 4 * self.cells.len());
        out.extend_from_slice(&[VALIDATION_MAGIC, VERSION]);
        put_varint(&mut out, t.n);
        put_varint(&mut out, t.buyers);
        put_varint(&mut out, t.scored);
        for s in t.sums() {
            put_sum(&mut out, s);
        }
        t.moments.put(&mut out);
        for b in &t.buckets {
            put_varint(&mut out, b.customers);
            if b.customers > 0 {
                put_sum(&mut out, &b.weight);
                put_sum(&mut out, &b.expected);
                put_sum(&mut out, &b.actual);
            }
        }
        let scale = put_scale(
            &mut out,
            common_scale(self.cells.values().flat_map(|c| [c.positive, c.negative])),
        );
        put_varint(&mut out, self.cells.len() as u64);
        let mut previous = 0u64;
        for (&k, c) in &self.cells {
            put_varint(&mut out, k - previous);
            previous = k;
            put_packed(&mut out, c.positive, scale, &mut 0);
            put_packed(&mut out, c.negative, scale, &mut 0);
        }
        out
    }

    pub fn decode(buf: &[u8]) -> Result<Self, CoreError> {
        let mut r = Reader { buf };
        r.header_version(VALIDATION_MAGIC, VERSION)?;
        let mut t = Totals {
            n: r.varint()?,
            buyers: r.varint()?,
            scored: r.varint()?,
            ..Totals::default()
        };
        t.weight = read_sum(&mut r)?;
        t.expected = read_sum(&mut r)?;
        t.actual = read_sum(&mut r)?;
        t.residual = read_sum(&mut r)?;
        t.abs_error = read_sum(&mut r)?;
        t.sq_error = read_sum(&mut r)?;
        t.buyers_weight = read_sum(&mut r)?;
        t.scored_weight = read_sum(&mut r)?;
        t.brier = read_sum(&mut r)?;
        t.moments = CoMoments::read(&mut r)?;
        let mut customers = 0u64;
        for b in t.buckets.iter_mut() {
            b.customers = r.varint()?;
            if b.customers > 0 {
                b.weight = read_sum(&mut r)?;
                b.expected = read_sum(&mut r)?;
                b.actual = read_sum(&mut r)?;
            }
            customers = customers
                .checked_add(b.customers)
                .ok_or_else(|| corrupt("is inconsistent"))?;
        }
        let scale = r.scale()?;
        // every cell takes at least 3 bytes, so the count is bounded by the input
        let count = r.packed_count(3)?;
        let mut cells = BTreeMap::new();
        let mut previous: Option<u64> = None;
        for _ in 0..count {
            let delta = r.varint()?;
            let key = match previous {
                None => Some(delta),
                Some(p) if delta > 0 => p.checked_add(delta),
                Some(_) => None,
            }
            .filter(|&k| k <= ONE_BITS)
            .ok_or_else(|| corrupt("has a bad P(alive) value"))?;
            previous = Some(key);
            let cell = Cell {
                positive: r.packed(scale, &mut 0)?,
                negative: r.packed(scale, &mut 0)?,
            };
            if !(cell.positive >= 0.0
                && cell.negative >= 0.0
                && cell.positive + cell.negative > 0.0)
            {
                return Err(corrupt("has a bad P(alive) cell"));
            }
            cells.insert(key, cell);
        }
        r.end()?;
        let empty = t.n == 0;
        let consistent = t.is_valid()
            && customers == t.n
            && t.buyers <= t.n
            && t.scored <= t.n
            && cells.len() as u64 <= t.scored
            && (t.scored > 0 || t.scored_weight == CompensatedSum::default())
            && (empty || t.weight.value() > 0.0)
            && (!empty || (t == Totals::default() && cells.is_empty()));
        if !consistent {
            return Err(corrupt("is inconsistent"));
        }
        Ok(ValidationAccumulator { totals: t, cells })
    }
}

// ---------------------------------------------------------------------------------------------
// Spend
// ---------------------------------------------------------------------------------------------

/// Expected (Gamma-Gamma) against actual mean spend per transaction of the customers with a
/// holdout purchase.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SpendAccumulator {
    n: u64,
    weight: CompensatedSum,
    expected: CompensatedSum,
    actual: CompensatedSum,
    residual: CompensatedSum,
    abs_error: CompensatedSum,
    sq_error: CompensatedSum,
    moments: CoMoments,
}

/// The result of a [`SpendAccumulator`] (definitions in the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct SpendResult {
    pub n: u64,
    pub weight: f64,
    pub mean_expected: f64,
    pub mean_actual: f64,
    pub mae: f64,
    pub rmse: f64,
    /// Mean of expected − actual per customer.
    pub bias: f64,
    /// Σ(expected − actual) / Σ actual; `None` when the actual spend sums to 0.
    pub relative_bias: Option<f64>,
    /// Pearson's r; `None` when either is constant.
    pub correlation: Option<f64>,
}

impl SpendAccumulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one customer with weight 1.
    pub fn add(&mut self, expected_spend: f64, actual_spend: f64) -> Result<(), CoreError> {
        self.add_weighted(expected_spend, actual_spend, 1.0)
    }

    /// [`add`](Self::add) with a weight (finite, `> 0`). The state is unchanged on error.
    pub fn add_weighted(
        &mut self,
        expected_spend: f64,
        actual_spend: f64,
        weight: f64,
    ) -> Result<(), CoreError> {
        check_non_negative("expected_spend", expected_spend)?;
        check_non_negative("actual_spend", actual_spend)?;
        check_weight(weight)?;
        let mut s = *self;
        s.n = s.n.checked_add(1).ok_or_else(too_many)?;
        s.weight.add(weight);
        s.expected.add(weight * expected_spend);
        s.actual.add(weight * actual_spend);
        let error = expected_spend - actual_spend;
        s.residual.add(weight * error);
        s.abs_error.add(weight * error.abs());
        s.sq_error.add(weight * error * error);
        s.moments.add(expected_spend, actual_spend, weight);
        if !s.is_valid() {
            return Err(overflow());
        }
        *self = s;
        Ok(())
    }

    /// Combines a partial state. Unchanged on error.
    pub fn merge(&mut self, other: &SpendAccumulator) -> Result<(), CoreError> {
        let mut s = *self;
        s.n = s.n.checked_add(other.n).ok_or_else(too_many)?;
        s.weight.merge(&other.weight);
        s.expected.merge(&other.expected);
        s.actual.merge(&other.actual);
        s.residual.merge(&other.residual);
        s.abs_error.merge(&other.abs_error);
        s.sq_error.merge(&other.sq_error);
        s.moments.merge(&other.moments);
        if !s.is_valid() {
            return Err(overflow());
        }
        *self = s;
        Ok(())
    }

    pub fn n(&self) -> u64 {
        self.n
    }

    fn sums(&self) -> [&CompensatedSum; 6] {
        [
            &self.weight,
            &self.expected,
            &self.actual,
            &self.residual,
            &self.abs_error,
            &self.sq_error,
        ]
    }

    fn is_valid(&self) -> bool {
        self.sums().into_iter().all(finite) && self.moments.is_valid()
    }

    /// The metrics, `None` without any customer.
    pub fn result(&self) -> Option<SpendResult> {
        if self.n == 0 {
            return None;
        }
        let weight = self.weight.value();
        let total_actual = self.actual.value();
        let residual = self.residual.value();
        Some(SpendResult {
            n: self.n,
            weight,
            mean_expected: self.expected.value() / weight,
            mean_actual: total_actual / weight,
            mae: self.abs_error.value() / weight,
            rmse: (self.sq_error.value() / weight).max(0.0).sqrt(),
            bias: residual / weight,
            relative_bias: (total_actual > 0.0).then(|| residual / total_actual),
            correlation: self.moments.correlation(),
        })
    }

    /// Version 1: magic `G`, version, varint n, the compensated sums (sum and compensation, f64
    /// little-endian) of weight, expected, actual, residual, absolute and squared error, then the
    /// co-moments (weight, means, M2s, co-moment; f64).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        out.extend_from_slice(&[SPEND_MAGIC, VERSION]);
        put_varint(&mut out, self.n);
        for s in self.sums() {
            put_sum(&mut out, s);
        }
        self.moments.put(&mut out);
        out
    }

    pub fn decode(buf: &[u8]) -> Result<Self, CoreError> {
        let mut r = Reader { buf };
        r.header_version(SPEND_MAGIC, VERSION)?;
        let s = SpendAccumulator {
            n: r.varint()?,
            weight: read_sum(&mut r)?,
            expected: read_sum(&mut r)?,
            actual: read_sum(&mut r)?,
            residual: read_sum(&mut r)?,
            abs_error: read_sum(&mut r)?,
            sq_error: read_sum(&mut r)?,
            moments: CoMoments::read(&mut r)?,
        };
        r.end()?;
        let consistent = s.is_valid()
            && if s.n == 0 {
                s == SpendAccumulator::default()
            } else {
                s.weight.value() > 0.0
            };
        if !consistent {
            return Err(corrupt("is inconsistent"));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The deterministic customers of the reference data sets. The Python references below
    /// rebuild them with the same formulas (the same IEEE operations, hence the same doubles):
    ///
    /// ```python
    /// def row(i):
    ///     frequency = float((i * 7) % 13)
    ///     actual = float(max((i * 37) % 11 - 4, 0))
    ///     expected = actual * 0.6 + frequency * 0.2 + ((i * 13) % 17) / 10.0
    ///     p_alive = None if i % 10 == 9 else (((i * 29) % 21) + (10 if actual > 0 else 0)) / 30.0
    ///     weight = 1.0 + (i % 4) * 0.5
    ///     return frequency, expected, actual, p_alive, weight
    /// rows = [row(i) for i in range(300)]
    /// ```
    ///
    /// and compute, with w the weights (or ones), a = actual, e = expected, y = a > 0 and s the
    /// rows with a P(alive):
    ///
    /// ```python
    /// b = np.minimum(f, 7); per k in np.unique(b): m = b == k, m.sum(), math.fsum(w[m]),
    ///     np.average(a[m], weights=w[m]), np.average(e[m], weights=w[m])
    /// mean_absolute_error(a, e, sample_weight=w); math.sqrt(mean_squared_error(a, e, sample_weight=w))
    /// te, ta = math.fsum(w * e), math.fsum(w * a); bias = te - ta; bias / ta
    /// c = np.cov(e, a, aweights=w); c[0, 1] / math.sqrt(c[0, 0] * c[1, 1])  # = stats.pearsonr(e, a)
    /// math.fsum(w * (a > 0)) / math.fsum(w)
    /// brier_score_loss(y[s], p, sample_weight=w[s]); roc_auc_score(y[s], p, sample_weight=w[s])
    /// # unweighted: roc_auc_score == stats.mannwhitneyu(p[y == 1], p[y == 0]).statistic / (n1 * n0)
    /// ```
    /// (numpy 2.4.6, scipy 1.17.1, scikit-learn 1.9.1; `sample_weight=None` for the unweighted
    /// sets.)
    fn row(i: u64) -> (f64, f64, f64, Option<f64>, f64) {
        let frequency = ((i * 7) % 13) as f64;
        let actual = ((i * 37) % 11).saturating_sub(4) as f64;
        let expected = actual * 0.6 + frequency * 0.2 + ((i * 13) % 17) as f64 / 10.0;
        let p_alive = (i % 10 != 9)
            .then(|| (((i * 29) % 21) + if actual > 0.0 { 10 } else { 0 }) as f64 / 30.0);
        let weight = 1.0 + (i % 4) as f64 * 0.5;
        (frequency, expected, actual, p_alive, weight)
    }

    fn fold(rows: impl IntoIterator<Item = u64>, weighted: bool) -> ValidationAccumulator {
        let mut acc = ValidationAccumulator::new();
        for i in rows {
            let (f, e, a, p, w) = row(i);
            if weighted {
                acc.add_weighted(f, e, a, p, w).unwrap();
            } else {
                acc.add(f, e, a, p).unwrap();
            }
        }
        acc
    }

    fn close(got: f64, want: f64, tol: f64) -> bool {
        (got - want).abs() <= tol * want.abs().max(1e-3)
    }

    #[track_caller]
    fn assert_close(got: f64, want: f64, what: &str) {
        assert!(
            close(got, want, 1e-12),
            "{what}: got {got:?}, want {want:?}"
        );
    }

    #[track_caller]
    fn assert_close_opt(got: Option<f64>, want: Option<f64>, what: &str) {
        match (got, want) {
            (Some(g), Some(w)) => assert_close(g, w, what),
            (None, None) => {}
            _ => panic!("{what}: got {got:?}, want {want:?}"),
        }
    }

    struct Reference {
        n: u64,
        weight: f64,
        /// frequency, customers, weight, mean actual, mean expected
        buckets: &'static [(u32, u64, f64, f64, f64)],
        mae: f64,
        rmse: f64,
        total_expected: f64,
        total_actual: f64,
        bias: f64,
        relative_bias: Option<f64>,
        correlation: Option<f64>,
        buyers: u64,
        purchase_share: f64,
        scored: u64,
        brier: Option<f64>,
        auc: Option<f64>,
    }

    #[track_caller]
    fn check(r: &ValidationResult, e: &Reference) {
        assert_eq!(r.n, e.n);
        assert_close(r.weight, e.weight, "weight");
        assert_eq!(r.buckets.len(), e.buckets.len());
        for (b, &(frequency, customers, weight, mean_actual, mean_expected)) in
            r.buckets.iter().zip(e.buckets)
        {
            assert_eq!((b.frequency, b.customers), (frequency, customers));
            assert_close(b.weight, weight, "bucket weight");
            assert_close(b.mean_actual, mean_actual, "bucket mean actual");
            assert_close(b.mean_expected, mean_expected, "bucket mean expected");
        }
        assert_close(r.mae, e.mae, "mae");
        assert_close(r.rmse, e.rmse, "rmse");
        assert_close(r.total_expected, e.total_expected, "total expected");
        assert_close(r.total_actual, e.total_actual, "total actual");
        assert_close(r.bias, e.bias, "bias");
        assert_close_opt(r.relative_bias, e.relative_bias, "relative bias");
        assert_close_opt(r.correlation, e.correlation, "correlation");
        assert_eq!(r.buyers, e.buyers);
        assert_close(r.purchase_share, e.purchase_share, "purchase share");
        assert_eq!(r.scored, e.scored);
        assert_close_opt(r.brier, e.brier, "brier");
        assert_close_opt(r.auc, e.auc, "auc");
    }

    #[track_caller]
    fn assert_same(a: &ValidationResult, b: &ValidationResult) {
        let buckets: Vec<_> = b
            .buckets
            .iter()
            .map(|b| {
                (
                    b.frequency,
                    b.customers,
                    b.weight,
                    b.mean_actual,
                    b.mean_expected,
                )
            })
            .collect();
        let e = Reference {
            n: b.n,
            weight: b.weight,
            buckets: Box::leak(buckets.into_boxed_slice()),
            mae: b.mae,
            rmse: b.rmse,
            total_expected: b.total_expected,
            total_actual: b.total_actual,
            bias: b.bias,
            relative_bias: b.relative_bias,
            correlation: b.correlation,
            buyers: b.buyers,
            purchase_share: b.purchase_share,
            scored: b.scored,
            brier: b.brier,
            auc: b.auc,
        };
        check(a, &e);
    }

    /// `report("mixed", rows, False)`
    const MIXED: Reference = Reference {
        n: 300,
        weight: 300.0,
        buckets: &[
            (0, 24, 24.0, 1.9166666666666667, 2.0541666666666667),
            (1, 23, 23.0, 2.0, 2.1608695652173915),
            (2, 23, 23.0, 1.8695652173913044, 2.369565217391304),
            (3, 23, 23.0, 1.826086956521739, 2.482608695652174),
            (4, 23, 23.0, 2.0869565217391304, 2.8521739130434782),
            (5, 23, 23.0, 1.9565217391304348, 2.9869565217391307),
            (6, 23, 23.0, 1.826086956521739, 3.0478260869565217),
            (7, 138, 138.0, 1.8768115942028984, 3.81304347826087),
        ],
        mae: 1.4680000000000002,
        rmse: 1.7443050191981908,
        total_expected: 941.2,
        total_actual: 571.0,
        bias: 370.20000000000005,
        relative_bias: Some(0.6483362521891419),
        correlation: Some(0.8253869674066782),
        buyers: 163,
        purchase_share: 0.5433333333333333,
        scored: 270,
        brier: Some(0.14630864197530863),
        auc: Some(0.8753038002651348),
    };

    /// `report("mixed weighted", rows, True)`
    const MIXED_WEIGHTED: Reference = Reference {
        n: 300,
        weight: 525.0,
        buckets: &[
            (0, 24, 42.0, 1.7738095238095237, 2.0035714285714286),
            (1, 23, 40.5, 1.6666666666666667, 1.9382716049382716),
            (2, 23, 39.5, 2.037974683544304, 2.50126582278481),
            (3, 23, 40.5, 2.185185185185185, 2.7074074074074077),
            (4, 23, 39.5, 2.0126582278481013, 2.792405063291139),
            (5, 23, 40.5, 1.6666666666666667, 2.8333333333333335),
            (6, 23, 39.5, 1.7848101265822784, 3.0050632911392405),
            (7, 138, 243.0, 1.9362139917695473, 3.853909465020576),
        ],
        mae: 1.4692380952380955,
        rmse: 1.7366058850527948,
        total_expected: 1651.35,
        total_actual: 999.0,
        bias: 652.3499999999999,
        relative_bias: Some(0.653003003003003),
        correlation: Some(0.8313341120878316),
        buyers: 163,
        purchase_share: 0.5438095238095239,
        scored: 270,
        brier: Some(0.14809080047789724),
        auc: Some(0.870585415347954),
    };

    /// `report("buyers only", [r for r in rows if r[2] > 0], False)`: one label, no AUC.
    const BUYERS_ONLY: Reference = Reference {
        n: 163,
        weight: 163.0,
        buckets: &[
            (0, 13, 13.0, 3.5384615384615383, 3.0846153846153848),
            (1, 13, 13.0, 3.5384615384615383, 3.1076923076923078),
            (2, 13, 13.0, 3.3076923076923075, 3.207692307692308),
            (3, 12, 12.0, 3.5, 3.4499999999999997),
            (4, 13, 13.0, 3.6923076923076925, 3.823076923076923),
            (5, 13, 13.0, 3.4615384615384617, 3.7923076923076917),
            (6, 12, 12.0, 3.5, 3.9916666666666667),
            (7, 74, 74.0, 3.5, 4.81891891891892),
        ],
        mae: 1.0202453987730062,
        rmse: 1.266001870534289,
        total_expected: 667.1,
        total_actual: 571.0,
        bias: 96.10000000000002,
        relative_bias: Some(0.1683012259194396),
        correlation: Some(0.7542378370883132),
        buyers: 163,
        purchase_share: 1.0,
        scored: 146,
        brier: Some(0.14636225266362254),
        auc: None,
    };

    /// `report("non-buyers only", [r for r in rows if r[2] == 0], False)`: no AUC, no relative
    /// bias, and actual is constant so no correlation (pearsonr gives NaN).
    const NON_BUYERS_ONLY: Reference = Reference {
        n: 137,
        weight: 137.0,
        buckets: &[
            (0, 11, 11.0, 0.0, 0.8363636363636363),
            (1, 10, 10.0, 0.0, 0.9299999999999999),
            (2, 10, 10.0, 0.0, 1.2799999999999998),
            (3, 11, 11.0, 0.0, 1.4272727272727275),
            (4, 10, 10.0, 0.0, 1.5899999999999999),
            (5, 10, 10.0, 0.0, 1.9400000000000002),
            (6, 11, 11.0, 0.0, 2.0181818181818185),
            (7, 64, 64.0, 0.0, 2.6500000000000004),
        ],
        mae: 2.0007299270072996,
        rmse: 2.1807552431799713,
        total_expected: 274.1,
        total_actual: 0.0,
        bias: 274.1,
        relative_bias: None,
        correlation: None,
        buyers: 0,
        purchase_share: 0.0,
        scored: 124,
        brier: Some(0.14624551971326166),
        auc: None,
    };

    /// `report("single", [row(5)], False)`: frequency 9 falls in the 7+ bucket.
    const SINGLE: Reference = Reference {
        n: 1,
        weight: 1.0,
        buckets: &[(7, 1, 1.0, 5.0, 6.199999999999999)],
        mae: 1.1999999999999993,
        rmse: 1.1999999999999993,
        total_expected: 6.199999999999999,
        total_actual: 5.0,
        bias: 1.1999999999999993,
        relative_bias: Some(0.23999999999999985),
        correlation: None,
        buyers: 1,
        purchase_share: 1.0,
        scored: 1,
        brier: Some(0.0011111111111111107),
        auc: None,
    };

    #[test]
    fn validation_matches_python_references() {
        check(&fold(0..300, false).result().unwrap(), &MIXED);
        check(&fold(0..300, true).result().unwrap(), &MIXED_WEIGHTED);
        let buyers: Vec<u64> = (0..300).filter(|&i| row(i).2 > 0.0).collect();
        let non_buyers: Vec<u64> = (0..300).filter(|&i| row(i).2 == 0.0).collect();
        check(&fold(buyers, false).result().unwrap(), &BUYERS_ONLY);
        check(&fold(non_buyers, false).result().unwrap(), &NON_BUYERS_ONLY);
        check(&fold([5], false).result().unwrap(), &SINGLE);
        // 31 distinct P(alive) values are all the state keeps for the AUC
        assert_eq!(fold(0..300, false).distinct_p_alive(), 31);
    }

    #[test]
    fn validation_empty_and_unscored() {
        assert_eq!(ValidationAccumulator::new().result(), None);
        let mut acc = ValidationAccumulator::new();
        acc.add(0.0, 0.0, 0.0, None).unwrap();
        acc.add(3.0, 1.0, 2.0, None).unwrap();
        let r = acc.result().unwrap();
        assert_eq!((r.scored, r.brier, r.auc), (0, None, None));
        assert_eq!(r.buyers, 1);
        assert_eq!(r.purchase_share, 0.5);
        // two points: r = 1 exactly up to rounding
        assert!((r.correlation.unwrap() - 1.0).abs() < 1e-15);
        assert_eq!(
            r.buckets.iter().map(|b| b.frequency).collect::<Vec<_>>(),
            [0, 3]
        );
    }

    #[test]
    fn auc_counts_ties_as_one_half() {
        // buyers at 0.8 and 0.5, non-buyers at 0.5 and 0.2: of the 4 pairs, 3 are ordered
        // correctly and one is a tie, so AUC = 3.5 / 4.
        let mut acc = ValidationAccumulator::new();
        acc.add(1.0, 1.0, 1.0, Some(0.8)).unwrap();
        acc.add(1.0, 1.0, 2.0, Some(0.5)).unwrap();
        acc.add(1.0, 1.0, 0.0, Some(0.5)).unwrap();
        acc.add(1.0, 1.0, 0.0, Some(0.2)).unwrap();
        assert_eq!(acc.result().unwrap().auc, Some(0.875));
        // all tied: 0.5; -0 and +0 are one value
        let mut acc = ValidationAccumulator::new();
        acc.add(0.0, 1.0, 1.0, Some(0.0)).unwrap();
        acc.add(0.0, 1.0, 0.0, Some(-0.0)).unwrap();
        assert_eq!(acc.result().unwrap().auc, Some(0.5));
        assert_eq!(acc.distinct_p_alive(), 1);
        // perfectly reversed ranking
        let mut acc = ValidationAccumulator::new();
        acc.add(0.0, 1.0, 1.0, Some(0.0)).unwrap();
        acc.add(0.0, 1.0, 0.0, Some(1.0)).unwrap();
        assert_eq!(acc.result().unwrap().auc, Some(0.0));
    }

    #[test]
    fn validation_merge_equals_one_pass() {
        for weighted in [false, true] {
            let whole = fold(0..300, weighted).result().unwrap();
            for cut in [0, 1, 77, 150, 299, 300] {
                let mut a = fold(0..cut, weighted);
                a.merge(&fold(cut..300, weighted)).unwrap();
                assert_same(&a.result().unwrap(), &whole);
                // the other way round, and through the binary state
                let mut b =
                    ValidationAccumulator::decode(&fold(cut..300, weighted).encode()).unwrap();
                b.merge(&ValidationAccumulator::decode(&fold(0..cut, weighted).encode()).unwrap())
                    .unwrap();
                assert_same(&b.result().unwrap(), &whole);
            }
            // interleaved thirds
            let mut parts: Vec<_> = (0..3)
                .map(|k| fold((0..300).filter(|i| i % 3 == k), weighted))
                .collect();
            let last = parts.pop().unwrap();
            let mut acc = parts.pop().unwrap();
            acc.merge(&last).unwrap();
            parts[0].merge(&acc).unwrap();
            assert_same(&parts[0].result().unwrap(), &whole);
        }
    }

    #[test]
    fn validation_is_independent_of_row_order() {
        for weighted in [false, true] {
            let whole = fold(0..300, weighted).result().unwrap();
            // 97 is prime to 300: a permutation of the rows
            let shuffled = fold((0..300).map(|i| (i * 97) % 300), weighted);
            assert_same(&shuffled.result().unwrap(), &whole);
            assert_same(&fold((0..300).rev(), weighted).result().unwrap(), &whole);
        }
    }

    #[test]
    fn validation_rejects_bad_inputs_naming_the_field() {
        let mut acc = fold(0..10, false);
        let before = acc.clone();
        let field = |e: CoreError| match e {
            CoreError::InvalidParameter(m) => m.split_whitespace().next().unwrap().to_owned(),
            other => panic!("not InvalidParameter: {other:?}"),
        };
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, -1e-300] {
            assert_eq!(
                field(acc.add(bad, 1.0, 1.0, None).unwrap_err()),
                "frequency"
            );
            assert_eq!(field(acc.add(1.0, bad, 1.0, None).unwrap_err()), "expected");
            assert_eq!(field(acc.add(1.0, 1.0, bad, None).unwrap_err()), "actual");
            assert_eq!(
                field(acc.add(1.0, 1.0, 1.0, Some(bad)).unwrap_err()),
                "p_alive"
            );
            assert_eq!(
                field(acc.add_weighted(1.0, 1.0, 1.0, None, bad).unwrap_err()),
                "weight"
            );
        }
        assert_eq!(
            field(acc.add(1.5, 1.0, 1.0, None).unwrap_err()),
            "frequency"
        );
        let e = acc
            .add(1.0, 1.0, 1.0, Some(1.0000000000000002))
            .unwrap_err();
        assert!(e.to_string().contains("[0, 1]"), "{e}");
        assert_eq!(
            field(acc.add_weighted(1.0, 1.0, 1.0, None, 0.0).unwrap_err()),
            "weight"
        );
        // values whose squares overflow: OutOfRange
        assert!(matches!(
            acc.add(1.0, 1e200, 0.0, None),
            Err(CoreError::OutOfRange(_))
        ));
        assert_eq!(acc, before);
        // the edges are accepted
        acc.add(1e300, 0.0, 0.0, Some(0.0)).unwrap();
        acc.add(0.0, 0.0, 0.0, Some(1.0)).unwrap();
        assert_eq!(
            acc.result().unwrap().buckets.last().unwrap().frequency,
            FREQUENCY_CAP
        );
    }

    #[test]
    fn validation_round_trip_and_every_truncation() {
        for acc in [
            ValidationAccumulator::new(),
            fold([5], false),
            fold(0..300, false),
            fold(0..300, true),
            fold((0..300).filter(|&i| row(i).3.is_none()), false),
        ] {
            let bytes = acc.encode();
            assert_eq!(ValidationAccumulator::decode(&bytes).unwrap(), acc);
            for cut in 0..bytes.len() {
                assert!(
                    ValidationAccumulator::decode(&bytes[..cut]).is_err(),
                    "cut at {cut} of {}",
                    bytes.len()
                );
            }
            let mut extra = bytes.clone();
            extra.push(0);
            assert!(ValidationAccumulator::decode(&extra).is_err());
            let mut version = bytes.clone();
            version[1] = 2;
            assert!(ValidationAccumulator::decode(&version).is_err());
            assert!(SpendAccumulator::decode(&bytes).is_err());
        }
        // unit weights pack into a few bytes per distinct P(alive)
        let big = fold(0..30_000, false);
        assert_eq!(big.distinct_p_alive(), 31);
        assert!(big.encode().len() < 1000, "{}", big.encode().len());
    }

    #[test]
    fn validation_decode_rejects_damage_without_panicking() {
        let bytes = fold(0..300, true).encode();
        // every byte flipped in several ways: an error or a state, never a panic
        for k in 0..bytes.len() {
            for x in [0x01u8, 0x80, 0xff, 0x3c] {
                let mut b = bytes.clone();
                b[k] ^= x;
                if let Ok(acc) = ValidationAccumulator::decode(&b) {
                    let _ = acc.result();
                    let _ = acc.encode();
                }
            }
        }
        // a cell count far beyond the input
        let empty = ValidationAccumulator::new().encode();
        let mut huge = empty[..empty.len() - 1].to_vec();
        put_varint(&mut huge, 1 << 60);
        huge.extend_from_slice(&[0; 32]);
        assert!(ValidationAccumulator::decode(&huge).is_err());
        // a customer count that the buckets do not add up to
        let mut acc = ValidationAccumulator::new();
        acc.add(2.0, 1.0, 1.0, Some(0.5)).unwrap();
        let good = acc.encode();
        assert_eq!(good[2], 1);
        let mut bad = good.clone();
        bad[2] = 2;
        assert!(ValidationAccumulator::decode(&bad).is_err());
        // hand-built cell sections after the totals of a state with two scored customers
        let mut acc = ValidationAccumulator::new();
        acc.add(2.0, 1.0, 1.0, Some(0.5)).unwrap();
        acc.add(2.0, 1.0, 0.0, Some(0.75)).unwrap();
        let no_cells = ValidationAccumulator {
            totals: acc.totals,
            cells: BTreeMap::new(),
        }
        .encode();
        // empty cells: scale byte 0 (integers), count 0
        assert_eq!(no_cells[no_cells.len() - 2..], [0, 0]);
        let prefix = &no_cells[..no_cells.len() - 2];
        let build = |cells: &[(u64, u8, u8)]| {
            let mut out = prefix.to_vec();
            out.push(0);
            put_varint(&mut out, cells.len() as u64);
            for &(delta, positive, negative) in cells {
                put_varint(&mut out, delta);
                out.extend_from_slice(&[positive, negative]); // zigzag of 0 and 1
            }
            out
        };
        let (half, three_quarters) = (0.5f64.to_bits(), 0.75f64.to_bits());
        let good = build(&[(half, 2, 0), (three_quarters - half, 0, 2)]);
        assert_eq!(good, acc.encode());
        assert_eq!(ValidationAccumulator::decode(&good).unwrap(), acc);
        // the same key twice (a zero delta)
        assert!(ValidationAccumulator::decode(&build(&[(half, 2, 0), (0, 0, 2)])).is_err());
        // a P(alive) above 1
        let above = 1.5f64.to_bits() - half;
        assert!(ValidationAccumulator::decode(&build(&[(half, 2, 0), (above, 0, 2)])).is_err());
        // a cell without weight, a negative weight (zigzag 1 = -1)
        assert!(ValidationAccumulator::decode(&build(&[(half, 2, 0), (1, 0, 0)])).is_err());
        assert!(ValidationAccumulator::decode(&build(&[(half, 2, 0), (1, 1, 2)])).is_err());
        // more cells than scored customers
        let three = [(half, 2, 0), (1, 0, 2), (1, 0, 2)];
        assert!(ValidationAccumulator::decode(&build(&three)).is_err());
        // a key delta that overflows u64
        assert!(ValidationAccumulator::decode(&build(&[(half, 2, 0), (u64::MAX, 0, 2)])).is_err());
    }

    // -----------------------------------------------------------------------------------------
    // Spend
    // -----------------------------------------------------------------------------------------

    /// ```python
    /// def spend_row(i):
    ///     expected = 20.0 + ((i * 17) % 23) * 1.5
    ///     actual = 15.0 + ((i * 31) % 29) * 1.25 + ((i * 17) % 23) * 0.9
    ///     weight = 1.0 + (i % 3) * 0.25
    ///     return expected, actual, weight
    /// ```
    /// References with e, a, w as above (w = ones when unweighted): `np.average(e, weights=w)`,
    /// `np.average(a, weights=w)`, `mean_absolute_error(a, e, sample_weight=w)`,
    /// `sqrt(mean_squared_error(a, e, sample_weight=w))`,
    /// `(fsum(w * e) - fsum(w * a)) / fsum(w)`, `(fsum(w * e) - fsum(w * a)) / fsum(w * a)`,
    /// the `np.cov(e, a, aweights=w)` correlation (= `stats.pearsonr(e, a)` unweighted).
    fn spend_row(i: u64) -> (f64, f64, f64) {
        let expected = 20.0 + ((i * 17) % 23) as f64 * 1.5;
        let actual = 15.0 + ((i * 31) % 29) as f64 * 1.25 + ((i * 17) % 23) as f64 * 0.9;
        let weight = 1.0 + (i % 3) as f64 * 0.25;
        (expected, actual, weight)
    }

    fn spend_fold(rows: impl IntoIterator<Item = u64>, weighted: bool) -> SpendAccumulator {
        let mut acc = SpendAccumulator::new();
        for i in rows {
            let (e, a, w) = spend_row(i);
            if weighted {
                acc.add_weighted(e, a, w).unwrap();
            } else {
                acc.add(e, a).unwrap();
            }
        }
        acc
    }

    #[track_caller]
    fn check_spend(r: &SpendResult, e: &SpendResult) {
        assert_eq!(r.n, e.n);
        assert_close(r.weight, e.weight, "weight");
        assert_close(r.mean_expected, e.mean_expected, "mean expected");
        assert_close(r.mean_actual, e.mean_actual, "mean actual");
        assert_close(r.mae, e.mae, "mae");
        assert_close(r.rmse, e.rmse, "rmse");
        assert_close(r.bias, e.bias, "bias");
        assert_close_opt(r.relative_bias, e.relative_bias, "relative bias");
        assert_close_opt(r.correlation, e.correlation, "correlation");
    }

    #[test]
    fn spend_matches_python_references() {
        // spend("plain", srows, False)
        let plain = SpendResult {
            n: 200,
            weight: 200.0,
            mean_expected: 36.5075,
            mean_actual: 42.19825,
            mae: 10.32175,
            rmse: 12.507547221577859,
            bias: -5.690749999999998,
            relative_bias: Some(-0.13485748816597842),
            correlation: Some(0.4986252366770356),
        };
        // spend("weighted", srows, True)
        let weighted = SpendResult {
            n: 200,
            weight: 249.75,
            mean_expected: 36.531531531531535,
            mean_actual: 42.246246246246244,
            mae: 10.37757757757758,
            rmse: 12.499584577681556,
            bias: -5.714714714714715,
            relative_bias: Some(-0.1352715382428206),
            correlation: Some(0.5010340772418301),
        };
        check_spend(&spend_fold(0..200, false).result().unwrap(), &plain);
        check_spend(&spend_fold(0..200, true).result().unwrap(), &weighted);
        for (w, reference) in [(false, &plain), (true, &weighted)] {
            for cut in [0, 1, 99, 200] {
                let mut a = spend_fold(0..cut, w);
                a.merge(&spend_fold(cut..200, w)).unwrap();
                check_spend(&a.result().unwrap(), reference);
            }
            let shuffled = spend_fold((0..200).map(|i| (i * 77) % 200), w);
            check_spend(&shuffled.result().unwrap(), reference);
        }
        assert_eq!(SpendAccumulator::new().result(), None);
        // a single customer: no correlation; zero actual spend: no relative bias
        let mut one = SpendAccumulator::new();
        one.add(10.0, 0.0).unwrap();
        let r = one.result().unwrap();
        assert_eq!((r.mae, r.rmse, r.bias), (10.0, 10.0, 10.0));
        assert_eq!((r.relative_bias, r.correlation), (None, None));
    }

    #[test]
    fn spend_rejects_bad_inputs_and_damaged_states() {
        let mut acc = spend_fold(0..5, false);
        let before = acc;
        for bad in [f64::NAN, f64::INFINITY, -0.01] {
            let e = acc.add(bad, 1.0).unwrap_err();
            assert!(
                matches!(&e, CoreError::InvalidParameter(m) if m.starts_with("expected_spend"))
            );
            let e = acc.add(1.0, bad).unwrap_err();
            assert!(matches!(&e, CoreError::InvalidParameter(m) if m.starts_with("actual_spend")));
            let e = acc.add_weighted(1.0, 1.0, bad).unwrap_err();
            assert!(matches!(&e, CoreError::InvalidParameter(m) if m.starts_with("weight")));
        }
        assert!(matches!(acc.add(1e200, 0.0), Err(CoreError::OutOfRange(_))));
        assert_eq!(acc, before);
        for acc in [SpendAccumulator::new(), spend_fold(0..200, true)] {
            let bytes = acc.encode();
            assert_eq!(SpendAccumulator::decode(&bytes).unwrap(), acc);
            for cut in 0..bytes.len() {
                assert!(SpendAccumulator::decode(&bytes[..cut]).is_err());
            }
            let mut extra = bytes.clone();
            extra.push(0);
            assert!(SpendAccumulator::decode(&extra).is_err());
            assert!(ValidationAccumulator::decode(&bytes).is_err());
            for k in 0..bytes.len() {
                let mut b = bytes.clone();
                b[k] ^= 0xff;
                let _ = SpendAccumulator::decode(&b).map(|s| s.result());
            }
        }
        // a NaN where a sum should be
        let mut nan = spend_fold(0..3, false).encode();
        nan[3..11].copy_from_slice(&f64::NAN.to_le_bytes());
        assert!(SpendAccumulator::decode(&nan).is_err());
    }
}
