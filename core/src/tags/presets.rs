//! The preset tag rules shipped with the extension ([`PRESETS`]): each is an ordinary tag
//! expression with default parameters, compiled like a user's rule.

/// A preset tag rule: name, Chinese label, expression, default parameters, description.
pub struct Preset {
    pub tag: &'static str,
    pub label_zh: &'static str,
    pub expression: &'static str,
    pub params: &'static [(&'static str, f64)],
    pub description: &'static str,
}

/// The preset tags. Times are in the time unit of the customer's summary (days by default).
pub const PRESETS: &[Preset] = &[
    Preset {
        tag: "new",
        label_zh: "新客",
        expression: "tenure <= $window",
        params: &[("window", 30.0)],
        description: "first purchase within the last $window time units",
    },
    Preset {
        tag: "active",
        label_zh: "活跃",
        expression: "since_last <= $window",
        params: &[("window", 90.0)],
        description: "a purchase within the last $window time units",
    },
    Preset {
        tag: "dormant",
        label_zh: "沉睡",
        expression: "frequency >= 1 AND since_last > $min_idle AND since_last > $factor * recency / frequency",
        params: &[("factor", 3.0), ("min_idle", 30.0)],
        description: "a repeat buyer silent for more than $factor times their mean inter-purchase time (recency / frequency) and more than $min_idle time units",
    },
    Preset {
        tag: "churn_risk",
        label_zh: "流失预警",
        expression: "(p_alive < $max_p_alive OR since_last > $idle) AND since_last <= $lost_after",
        params: &[("max_p_alive", 0.5), ("idle", 180.0), ("lost_after", 365.0)],
        description: "P(alive) below $max_p_alive or no purchase for more than $idle time units, and not yet lost",
    },
    Preset {
        tag: "lost",
        label_zh: "流失",
        expression: "since_last > $lost_after",
        params: &[("lost_after", 365.0)],
        description: "no purchase for more than $lost_after time units",
    },
    Preset {
        tag: "one_time",
        label_zh: "一次性客户",
        expression: "frequency = 0 AND tenure > $window",
        params: &[("window", 30.0)],
        description: "a single purchase occasion, longer ago than the $window that makes a customer new",
    },
    Preset {
        tag: "vip",
        label_zh: "VIP",
        expression: "abc_class = 'A' AND frequency >= $min_frequency AND since_last <= $window",
        params: &[("min_frequency", 2.0), ("window", 180.0)],
        description: "ABC class A, at least $min_frequency repeat purchases and a purchase within $window time units",
    },
    Preset {
        tag: "big_spender",
        label_zh: "高消费",
        expression: "m >= $min_m",
        params: &[("min_m", 5.0)],
        description: "RFM monetary score at least $min_m (the top quintile with 5 bins)",
    },
    Preset {
        tag: "frequent",
        label_zh: "高频",
        expression: "f >= $min_f",
        params: &[("min_f", 5.0)],
        description: "RFM frequency score at least $min_f (the top quintile with 5 bins)",
    },
    Preset {
        tag: "declining",
        label_zh: "消费下降",
        expression: "earlier_spend > 0 AND coalesce(recent_spend, 0) < $ratio * earlier_spend",
        params: &[("ratio", 0.5)],
        description: "spend in the recent window below $ratio times the spend in the window before it",
    },
];

#[cfg(test)]
mod tests {
    use super::super::test_util::row;
    use super::super::{column_index, compile, Param, Value};
    use super::*;

    #[test]
    fn presets_compile_and_behave() {
        for p in PRESETS {
            let ps: Vec<(String, Param)> = p
                .params
                .iter()
                .map(|(n, v)| (n.to_string(), Param::Number(*v)))
                .collect();
            let (_, used) = compile(p.expression, &ps).unwrap();
            assert_eq!(used.len(), p.params.len(), "{} uses all its params", p.tag);
        }
        let get = |tag: &str| {
            let p = PRESETS.iter().find(|p| p.tag == tag).unwrap();
            let ps: Vec<(String, Param)> = p
                .params
                .iter()
                .map(|(n, v)| (n.to_string(), Param::Number(*v)))
                .collect();
            compile(p.expression, &ps).unwrap().0
        };
        // a customer who bought every 10 days, silent for 31 days: dormant (31 > 3*10, > 30)
        let c = row(&[
            ("frequency", Value::Number(5.0)),
            ("recency", Value::Number(50.0)),
            ("since_last", Value::Number(31.0)),
            ("tenure", Value::Number(81.0)),
        ]);
        assert!(get("dormant").matches(&c));
        assert!(get("active").matches(&c));
        assert!(!get("new").matches(&c));
        assert!(!get("churn_risk").matches(&c), "no p_alive, idle < 180");
        let mut c2 = c.clone();
        c2[column_index("p_alive").unwrap()] = Value::Number(0.3);
        assert!(get("churn_risk").matches(&c2));
        // one-time buyers are never dormant (no inter-purchase time)
        let one = row(&[
            ("frequency", Value::Number(0.0)),
            ("recency", Value::Number(0.0)),
            ("since_last", Value::Number(400.0)),
            ("tenure", Value::Number(400.0)),
        ]);
        assert!(!get("dormant").matches(&one));
        assert!(get("one_time").matches(&one));
        assert!(get("lost").matches(&one));
        assert!(!get("churn_risk").matches(&one), "lost, not at risk");
        let d = row(&[
            ("recent_spend", Value::Null),
            ("earlier_spend", Value::Number(100.0)),
        ]);
        assert!(get("declining").matches(&d));
        let d2 = row(&[
            ("recent_spend", Value::Number(50.0)),
            ("earlier_spend", Value::Number(100.0)),
        ]);
        assert!(
            !get("declining").matches(&d2),
            "exactly half is not below half"
        );
    }
}
