//! RFM in SQL: the `rfm_model` aggregate, per-row scoring (`rfm_score`, `rfm_segment`,
//! `rfm_class8`) with per-call-site caches, and the rule-set helpers.

use crate::citus::config_query;
use crate::defaults;
use crate::names;
use crate::raw::*;
use crate::sql_function;
use crate::state::*;
use customer_tiers_core::quantile::check_bins;
use customer_tiers_core::rfm::{
    presets, RfmModel, RfmPopulation, RfmScore, RuleProblem, RuleSet, SegmentRule,
};
use pgrx::pg_sys;
use pgrx::prelude::*;

const AGG: &str = "rfm_model";

// ---------------------------------------------------------------- rfm_model aggregate

/// The transition of `rfm_model(since_last, frequency, monetary [, bins])`.
///
/// # Safety
///
/// `fcinfo` is the current call's, of an `rfm_model` transition function (argument 0 the state,
/// argument `bins` an `integer` `with_bins`).
unsafe fn model_transition(fcinfo: pg_sys::FunctionCallInfo, with_bins: bool) -> pg_sys::Datum {
    use crate::args::rfm_model::*;
    let bins = if with_bins {
        // SAFETY: `fcinfo` is the current call's (caller)
        match unsafe { arg(fcinfo, BINS) } {
            Some(d) => d.value() as i32,
            None => null_not_allowed(BINS.name),
        }
    } else {
        defaults::BINS
    };
    // SAFETY: argument 0 is the aggregate's state (caller)
    let (state, datum) = unsafe { state_or_init(fcinfo, AGG, || check(RfmPopulation::new(bins))) };
    // SAFETY: state_or_init returns the group's live state object, used by nothing else during
    // the call
    let state = unsafe { &mut *state };
    if state.bins as i32 != bins {
        invalid("bins must be the same for all rows of a group");
    }
    // SAFETY: `fcinfo` is the current call's (caller)
    let (r, f, m) = unsafe {
        (
            arg(fcinfo, SINCE_LAST),
            arg(fcinfo, FREQUENCY),
            arg(fcinfo, MONETARY),
        )
    };
    if let (Some(r), Some(f), Some(m)) = (r, f, m) {
        check(state.add(f8(r), f8(f), f8(m)));
    }
    datum
}

sql_function!(ct_rfm_model_trans, |fcinfo| {
    model_transition(fcinfo, false)
});
sql_function!(ct_rfm_model_trans_bins, |fcinfo| {
    model_transition(fcinfo, true)
});

sql_function!(ct_rfm_model_combine, |fcinfo| {
    combine_states(fcinfo, AGG, RfmPopulation::merge)
});

// serialize/deserialize of the internal-state aggregate of 0.2.0 catalogs (src/state.rs)
sql_function!(ct_rfm_model_serialize, |fcinfo| {
    serialize_state::<RfmPopulation>(fcinfo)
});

sql_function!(ct_rfm_model_deserialize, |fcinfo| {
    deserialize_state::<RfmPopulation>(fcinfo, AGG)
});

sql_function!(ct_rfm_model_final, |fcinfo| {
    let Some(p) = state_arg::<RfmPopulation>(fcinfo, STATE) else {
        return return_null(fcinfo);
    };
    let Some(m) = p.model() else {
        return return_null(fcinfo);
    };
    let values = [
        pg_sys::Datum::from(m.bins as i32),
        pg_sys::Datum::from(m.customers),
        m.r_breaks.into_datum().unwrap(),
        m.f_breaks.into_datum().unwrap(),
        m.m_breaks.into_datum().unwrap(),
        f8_datum(m.r_mean),
        f8_datum(m.f_mean),
        f8_datum(m.m_mean),
    ];
    with_call_cache::<(), _>(fcinfo, |cache| {
        composite(fcinfo, cache, &values, &[false; names::RFM_MODEL.len()])
    })
});

// ---------------------------------------------------------------- reading a model value

/// Parses a `tiers.rfm_model` composite datum (slow path, once per distinct model value).
/// The SQL signature guarantees the row type, so fields are read by position.
///
/// # Safety
///
/// `d` is a `tiers.rfm_model` datum of the current call.
unsafe fn parse_model(d: pg_sys::Datum) -> RfmModel {
    // SAFETY: `d` is a row of tiers.rfm_model (caller)
    let (values, nulls) = unsafe { deform::<{ names::RFM_MODEL.len() }>(d, "tiers.rfm_model") };
    const NAMES: [&str; 8] = names::RFM_MODEL;
    if let Some(i) = nulls.iter().position(|&n| n) {
        invalid(format!("model.{} must not be NULL", NAMES[i]));
    }
    let breaks = |i: usize| -> Vec<f64> {
        // SAFETY: the fields read with it (the breaks) are float8[], not NULL (checked above)
        unsafe { Vec::<Option<f64>>::from_datum(values[i], false) }
            .unwrap_or_default()
            .into_iter()
            .map(|v| {
                v.unwrap_or_else(|| invalid(format!("model.{} must not contain NULL", NAMES[i])))
            })
            .collect()
    };
    let bins = values[0].value() as i32;
    // the same check and SQLSTATE (22003) as the aggregate's bins argument, named model.bins
    check_named(check_bins(bins), &[("bins", "model.bins")]);
    let model = RfmModel {
        bins: bins as usize,
        customers: values[1].value() as i64,
        r_breaks: breaks(2),
        f_breaks: breaks(3),
        m_breaks: breaks(4),
        r_mean: f8(values[5]),
        f_mean: f8(values[6]),
        m_mean: f8(values[7]),
    };
    check(model.validate());
    model
}

/// What a scoring call site remembers between rows.
#[derive(Default)]
struct ScoreCache {
    model_bytes: Vec<u8>,
    model: Option<RfmModel>,
    rule_set_name: String,
    rules: Option<RuleSet>,
    /// Finished result rows per grid cell, for `cells_key` = (bins, rule set): a result depends
    /// only on the cell, so each is built once and copied per row (no per-row formatting).
    cells: Vec<Option<Kept>>,
    cells_key: (usize, String),
}

impl ScoreCache {
    /// The parsed model for this datum: re-parsed only when the bytes change (with
    /// `OVER ()` every row carries the same model, so this is a memcmp per row).
    ///
    /// # Safety
    ///
    /// `d` is a `tiers.rfm_model` datum of the current call.
    unsafe fn model(&mut self, d: pg_sys::Datum) -> &RfmModel {
        // SAFETY: `d` is a composite (varlena) datum of the current call (caller)
        let bytes = unsafe { varlena_bytes(&d) };
        if self.model.is_none() || self.model_bytes != bytes {
            // SAFETY: as above, a tiers.rfm_model
            self.model = Some(unsafe { parse_model(d) });
            self.model_bytes.clear();
            self.model_bytes.extend_from_slice(bytes);
        }
        self.model.as_ref().unwrap()
    }

    fn rules(&mut self, name: &str) -> &RuleSet {
        if self.rules.is_none() || self.rule_set_name != name {
            self.rules = Some(load_rule_set(name));
            self.rule_set_name = name.to_string();
        }
        self.rules.as_ref().unwrap()
    }
}

/// Reads a rule set from `tiers.rfm_rule_sets` / `tiers.rfm_segment_rules`.
fn load_rule_set(name: &str) -> RuleSet {
    let found = config_query(
        |from| {
            format!(
                "SELECT s.bins FROM {} AS s WHERE s.rule_set OPERATOR(pg_catalog.=) $1",
                from("rfm_rule_sets")
            )
        },
        &[SqlParam::from(name)],
        |row| row.get::<i32>(1),
    );
    let Some(bins) = found.first().copied().flatten() else {
        invalid(format!(
            "rule_set \"{name}\" does not exist in tiers.rfm_rule_sets"
        ))
    };
    let rules: Vec<SegmentRule> = config_query(
        |from| {
            format!(
                "SELECT r.segment, r.r_min, r.r_max, r.f_min, r.f_max, r.m_min, r.m_max \
                 FROM {} AS r WHERE r.rule_set OPERATOR(pg_catalog.=) $1 ORDER BY r.priority",
                from("rfm_segment_rules")
            )
        },
        &[SqlParam::from(name)],
        |row| {
            let b = |col: usize| -> u8 { row.get::<i32>(col).unwrap_or(0).clamp(0, 255) as u8 };
            SegmentRule {
                segment: row.get::<String>(1).unwrap_or_default(),
                r: (b(2), b(3)),
                f: (b(4), b(5)),
                m: (b(6), b(7)),
            }
        },
    );
    check(RuleSet::new(bins, rules))
}

/// The scores of arguments 0..2 under the model argument 3; None if any is NULL.
///
/// # Safety
///
/// `fcinfo` is the current call's, argument 3 a `tiers.rfm_model`.
#[inline]
unsafe fn scores(
    fcinfo: pg_sys::FunctionCallInfo,
    cache: &mut ScoreCache,
) -> Option<(RfmScore, usize)> {
    use crate::args::rfm_score::*;
    // SAFETY: `fcinfo` is the current call's (caller)
    let get = |a: Arg| unsafe { arg(fcinfo, a) };
    let (r, f, m, model) = (
        get(SINCE_LAST)?,
        get(FREQUENCY)?,
        get(MONETARY)?,
        get(MODEL)?,
    );
    // SAFETY: argument 3 is a tiers.rfm_model (caller)
    let model = unsafe { cache.model(model) };
    Some((check(model.score(f8(r), f8(f), f8(m))), model.bins))
}

/// `rfm_score(since_last, frequency, monetary, model [, rule_set])` with the rule set given.
///
/// # Safety
///
/// `fcinfo` is the current call's, of an `rfm_score` function (argument 3 a `tiers.rfm_model`,
/// the result `tiers.rfm_score`).
unsafe fn rfm_score(fcinfo: pg_sys::FunctionCallInfo, rule_set: Option<&str>) -> pg_sys::Datum {
    // SAFETY: the call site's cache (caller); the cells it keeps are this call site's, the row
    // a plain varlena just made, and the values the fields of tiers.rfm_score
    unsafe {
        with_call_cache::<ScoreCache, _>(fcinfo, |cache| {
            let Some((s, bins)) = scores(fcinfo, &mut cache.extra) else {
                return return_null(fcinfo);
            };
            let rules_name = rule_set.unwrap_or(defaults::RULE_SET);
            let c = &mut cache.extra;
            if c.cells_key.0 != bins || c.cells_key.1 != rules_name {
                c.cells = vec![None; bins * bins * bins];
                c.cells_key = (bins, rules_name.to_string());
            }
            let index =
                ((s.r as usize - 1) * bins + (s.f as usize - 1)) * bins + (s.m as usize - 1);
            if let Some(bytes) = c.cells[index] {
                return copy_out(bytes);
            }
            let rules = c.rules(rules_name);
            // A rule set only fits models of its own grid; otherwise the segment is NULL.
            let segment = if rules.bins as usize == bins {
                Some(text_datum(check(rules.segment(s))))
            } else if rule_set.is_some() {
                invalid(format!(
                    "rule_set \"{rules_name}\" is for {} bins, the model has {bins}",
                    rules.bins
                ))
            } else {
                None
            };
            let values: [pg_sys::Datum; names::RFM_SCORE.len()] = [
                pg_sys::Datum::from(s.r as i32),
                pg_sys::Datum::from(s.f as i32),
                pg_sys::Datum::from(s.m as i32),
                text_datum(&s.text(bins)),
                segment.unwrap_or(pg_sys::Datum::from(0usize)),
            ];
            let nulls = [false, false, false, false, segment.is_none()];
            let row = composite(fcinfo, cache, &values, &nulls);
            cache.extra.cells[index] = Some(keep(fcinfo, row));
            row
        })
    }
}

sql_function!(ct_rfm_score, |fcinfo| { rfm_score(fcinfo, None) });

sql_function!(ct_rfm_score_rules, |fcinfo| {
    use crate::args::rfm_score::RULE_SET;
    match arg(fcinfo, RULE_SET) {
        Some(d) => rfm_score(fcinfo, Some(text_str(&d))),
        None => null_not_allowed(RULE_SET.name),
    }
});

sql_function!(ct_rfm_segment, |fcinfo| {
    use crate::args::rfm_segment::*;
    let name_arg = if has(fcinfo, RULE_SET) {
        match arg(fcinfo, RULE_SET) {
            Some(d) => Some(d),
            None => null_not_allowed(RULE_SET.name),
        }
    } else {
        None
    };
    let name = match &name_arg {
        Some(d) => text_str(d),
        None => defaults::RULE_SET,
    };
    let (Some(r), Some(f), Some(m)) = (arg(fcinfo, R), arg(fcinfo, F), arg(fcinfo, M)) else {
        return return_null(fcinfo);
    };
    with_call_cache::<ScoreCache, _>(fcinfo, |cache| {
        let rules = cache.extra.rules(name);
        // scores outside 1..bins are reported as given (not clamped to a byte first)
        let score = |what: &str, d: pg_sys::Datum| -> u8 {
            let v = d.value() as i32;
            if v < 1 || v > rules.bins as i32 {
                out_of_range(format!(
                    "{what} score {v} is outside 1..{} of the rule set",
                    rules.bins
                ));
            }
            v as u8
        };
        let s = RfmScore {
            r: score(R.name, r),
            f: score(F.name, f),
            m: score(M.name, m),
        };
        text_datum(check(rules.segment(s)))
    })
});

sql_function!(ct_rfm_class8, |fcinfo| {
    use crate::args::rfm_class8::*;
    let lang_arg = if has(fcinfo, LANG) {
        arg(fcinfo, LANG)
    } else {
        None
    };
    let lang = crate::language::label_language(
        &fcinfo,
        lang_arg.as_ref().map(|d| text_str(d)),
        defaults::CLASS8_LANG,
    );
    let english = match lang {
        "zh" => false,
        "en" => true,
        other => invalid(format!("lang must be 'zh' or 'en', got '{other}'")),
    };
    let (Some(r), Some(f), Some(m), Some(model)) = (
        arg(fcinfo, SINCE_LAST),
        arg(fcinfo, FREQUENCY),
        arg(fcinfo, MONETARY),
        arg(fcinfo, MODEL),
    ) else {
        return return_null(fcinfo);
    };
    with_call_cache::<ScoreCache, _>(fcinfo, |cache| {
        let class = check(cache.extra.model(model).class8(f8(r), f8(f), f8(m)));
        let label = if english {
            class.label_en()
        } else {
            class.label_zh()
        };
        // the eight labels are kept per call site and copied per row
        let index = class.index() + if english { 8 } else { 0 };
        let c = &mut cache.extra;
        if c.cells.len() != 16 {
            c.cells = vec![None; 16];
        }
        if c.cells[index].is_none() {
            c.cells[index] = Some(keep(fcinfo, text_datum(label)));
        }
        copy_out(c.cells[index].unwrap())
    })
});

// ---------------------------------------------------------------- rule-set helpers

/// Gaps, overlaps and never-matching rules of a rule set.
#[allow(clippy::type_complexity)]
#[pg_extern(stable, parallel_safe, strict, name = "rfm_rule_check")]
fn rfm_rule_check(
    rule_set: &str,
) -> TableIterator<
    'static,
    (
        name!(problem, String),
        name!(segment, Option<String>),
        name!(other_segment, Option<String>),
        name!(cells, i32),
        name!(scores, Vec<String>),
    ),
> {
    let set = load_rule_set(rule_set);
    let bins = set.bins as usize;
    let texts =
        |cells: &[RfmScore]| -> Vec<String> { cells.iter().map(|c| c.text(bins)).collect() };
    let rows: Vec<_> = set
        .check()
        .into_iter()
        .map(|p| match p {
            RuleProblem::Gap { cells } => (
                "gap".to_string(),
                None,
                None,
                cells.len() as i32,
                texts(&cells),
            ),
            RuleProblem::Overlap {
                first,
                second,
                cells,
            } => (
                "overlap".to_string(),
                Some(set.rules[first].segment.clone()),
                Some(set.rules[second].segment.clone()),
                cells.len() as i32,
                texts(&cells),
            ),
            RuleProblem::Shadowed { rule } => (
                "never_matches".to_string(),
                Some(set.rules[rule].segment.clone()),
                None,
                0,
                vec![],
            ),
        })
        .collect();
    TableIterator::new(rows)
}

/// The preset rule sets compiled into the extension (used by the install script).
#[allow(clippy::type_complexity)]
#[pg_extern(immutable, parallel_safe, name = "rfm_preset_rules")]
fn rfm_preset_rules() -> TableIterator<
    'static,
    (
        name!(rule_set, String),
        name!(bins, i32),
        name!(description, String),
        name!(priority, i32),
        name!(segment, String),
        name!(r_min, i32),
        name!(r_max, i32),
        name!(f_min, i32),
        name!(f_max, i32),
        name!(m_min, i32),
        name!(m_max, i32),
    ),
> {
    let mut rows = Vec::new();
    for (set, bins, description, rules) in presets() {
        for (i, r) in rules.into_iter().enumerate() {
            rows.push((
                set.to_string(),
                bins,
                description.to_string(),
                (i as i32 + 1) * 10,
                r.segment,
                r.r.0 as i32,
                r.r.1 as i32,
                r.f.0 as i32,
                r.f.1 as i32,
                r.m.0 as i32,
                r.m.1 as i32,
            ));
        }
    }
    TableIterator::new(rows)
}
