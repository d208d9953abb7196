//! Evaluation of a compiled rule on one customer row, in SQL's three-valued logic: the
//! [`Value`]s of a row, the operators and the pure functions. Nothing here can fail: division
//! by zero, functions outside their domain and NaN give NULL.

use super::parser::{Arith, Expr, Func, Lit};
use super::Rule;

/// A value during evaluation. `Text` borrows from the row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Number(f64),
    Text(&'a str),
}

/// Three-valued truth.
type Tri = Option<bool>;

fn num(v: Value) -> Option<f64> {
    match v {
        Value::Number(x) if !x.is_nan() => Some(x),
        _ => None,
    }
}

fn compare(a: Value, b: Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if !x.is_nan() && !y.is_nan() => x.partial_cmp(&y),
        (Value::Text(x), Value::Text(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(&y)),
        _ => None,
    }
}

fn truth(v: Value) -> Tri {
    match v {
        Value::Bool(b) => Some(b),
        _ => None,
    }
}

fn tri(t: Tri) -> Value<'static> {
    t.map_or(Value::Null, Value::Bool)
}

fn finite(x: f64) -> Value<'static> {
    if x.is_nan() {
        Value::Null
    } else {
        Value::Number(x)
    }
}

impl Rule {
    /// Evaluates the rule on a row: `row[k]` is the value of `COLUMNS[k]` (only the indexes in
    /// `self.columns` are read). TRUE tags the customer; FALSE and NULL do not.
    pub fn matches(&self, row: &[Value]) -> bool {
        eval(&self.expr, row) == Value::Bool(true)
    }
}

fn eval<'a>(e: &'a Expr, row: &[Value<'a>]) -> Value<'a> {
    match e {
        Expr::Column(k) => match row.get(*k).copied().unwrap_or(Value::Null) {
            Value::Number(x) if x.is_nan() => Value::Null,
            v => v,
        },
        Expr::Lit(l) => match l {
            Lit::Null => Value::Null,
            Lit::Bool(b) => Value::Bool(*b),
            Lit::Number(x) => Value::Number(*x),
            Lit::Text(s) => Value::Text(s),
        },
        Expr::Not(a) => tri(truth(eval(a, row)).map(|b| !b)),
        Expr::And(a, b) => match truth(eval(a, row)) {
            Some(false) => Value::Bool(false),
            x => match (x, truth(eval(b, row))) {
                (_, Some(false)) => Value::Bool(false),
                (Some(true), Some(true)) => Value::Bool(true),
                _ => Value::Null,
            },
        },
        Expr::Or(a, b) => match truth(eval(a, row)) {
            Some(true) => Value::Bool(true),
            x => match (x, truth(eval(b, row))) {
                (_, Some(true)) => Value::Bool(true),
                (Some(false), Some(false)) => Value::Bool(false),
                _ => Value::Null,
            },
        },
        Expr::Cmp(op, a, b) => {
            let o = compare(eval(a, row), eval(b, row));
            tri(o.map(|o| op.holds(o)))
        }
        Expr::Arith(op, a, b) => match (num(eval(a, row)), num(eval(b, row))) {
            (Some(x), Some(y)) => match op {
                Arith::Add => finite(x + y),
                Arith::Sub => finite(x - y),
                Arith::Mul => finite(x * y),
                Arith::Div if y == 0.0 => Value::Null,
                Arith::Div => finite(x / y),
            },
            _ => Value::Null,
        },
        Expr::Neg(a) => num(eval(a, row)).map_or(Value::Null, |x| Value::Number(-x)),
        Expr::IsNull(a, negated) => Value::Bool((eval(a, row) == Value::Null) != *negated),
        Expr::IsBool(a, want, negated) => {
            Value::Bool((truth(eval(a, row)) == Some(*want)) != *negated)
        }
        Expr::Between(x, lo, hi, negated) => {
            let v = eval(x, row);
            let ge = compare(v, eval(lo, row)).map(|o| o.is_ge());
            let le = compare(v, eval(hi, row)).map(|o| o.is_le());
            let r = match (ge, le) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            };
            tri(if *negated { r.map(|b| !b) } else { r })
        }
        Expr::In(x, items, negated) => {
            let v = eval(x, row);
            let mut r = Some(false);
            for it in items {
                match compare(v, eval(it, row)) {
                    Some(o) if o.is_eq() => {
                        r = Some(true);
                        break;
                    }
                    Some(_) => {}
                    None => r = None,
                }
            }
            tri(if *negated { r.map(|b| !b) } else { r })
        }
        Expr::Call(f, args) => call(*f, args, row),
    }
}

fn call<'a>(f: Func, args: &'a [Expr], row: &[Value<'a>]) -> Value<'a> {
    match f {
        Func::Coalesce => args
            .iter()
            .map(|a| eval(a, row))
            .find(|v| *v != Value::Null)
            .unwrap_or(Value::Null),
        Func::Nullif => {
            let a = eval(&args[0], row);
            match compare(a, eval(&args[1], row)) {
                Some(o) if o.is_eq() => Value::Null,
                _ => a,
            }
        }
        Func::Least | Func::Greatest => {
            // SQL ignores NULL arguments; NULL only when all are NULL.
            let mut best: Option<f64> = None;
            for a in args {
                if let Some(x) = num(eval(a, row)) {
                    best = Some(match best {
                        None => x,
                        Some(b) if f == Func::Least => b.min(x),
                        Some(b) => b.max(x),
                    });
                }
            }
            best.map_or(Value::Null, Value::Number)
        }
        _ => {
            let Some(x) = num(eval(&args[0], row)) else {
                return Value::Null;
            };
            match f {
                Func::Abs => Value::Number(x.abs()),
                Func::Floor => Value::Number(x.floor()),
                Func::Ceil => Value::Number(x.ceil()),
                Func::Sqrt if x < 0.0 => Value::Null,
                Func::Sqrt => Value::Number(x.sqrt()),
                Func::Ln if x <= 0.0 => Value::Null,
                Func::Ln => finite(x.ln()),
                Func::Round => {
                    let digits = match args.get(1) {
                        None => Some(0.0),
                        Some(d) => num(eval(d, row)),
                    };
                    match digits {
                        None => Value::Null,
                        Some(d) => {
                            let s = 10f64.powi(d.clamp(-300.0, 300.0) as i32);
                            finite((x * s).round() / s)
                        }
                    }
                }
                _ => unreachable!(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{row, rule};
    use super::*;

    #[test]
    fn evaluates_like_sql() {
        let r = row(&[
            ("frequency", Value::Number(3.0)),
            ("since_last", Value::Number(40.0)),
            ("segment", Value::Text("Champions")),
        ]);
        let t = |s: &str| rule(s).matches(&r);
        assert!(t("frequency >= 3 AND since_last < 2 * 30"));
        assert!(!t("frequency > 3"));
        assert!(t("segment IN ('Loyal', 'Champions')"));
        assert!(t("segment NOT IN ('Loyal')"));
        assert!(t("since_last BETWEEN $x AND 40"));
        assert!(!t("since_last NOT BETWEEN 40 AND 50"));
        assert!(t("p_alive IS NULL AND monetary IS NULL"));
        assert!(!t("p_alive < 0.5"), "NULL comparison is not TRUE");
        assert!(!t("NOT p_alive < 0.5"), "NOT NULL is NULL");
        assert!(t("p_alive < 0.5 OR frequency = 3"), "NULL OR TRUE is TRUE");
        assert!(!t("p_alive < 0.5 AND frequency = 3"));
        assert!(t("(p_alive < 0.5 AND frequency = 4) IS FALSE"));
        assert!(t("(p_alive < 0.5) IS NOT TRUE"));
        assert!(t("coalesce(p_alive, 1) = 1"));
        assert!(t("since_last / 0 IS NULL"), "division by zero is NULL");
        assert!(t("ln(0) IS NULL AND sqrt(-1) IS NULL"));
        assert!(t("least(p_alive, 4, 2) = 2 AND greatest(1, NULL) = 1"));
        assert!(t(
            "round(2.55, 1) = 2.6 AND floor(-1.5) = -2 AND ceil(1.2) = 2 AND abs(-3) = 3"
        ));
        assert!(t("nullif(frequency, 3) IS NULL"));
        assert!(t(
            "-frequency = -3 AND +frequency = 3 AND 1e1 = 10 AND .5 = 0.5"
        ));
        assert!(t("\"segment\" = 'Champions' AND SEGMENT = 'Champions'"));
        assert!(t("'it''s' <> 'its'"));
        assert!(
            !t("frequency IN (1, NULL)"),
            "x IN (.., NULL) without match is NULL"
        );
        assert!(t("frequency IN (3, NULL)"));
        // NaN in a column is NULL
        let nan = row(&[("p_alive", Value::Number(f64::NAN))]);
        assert!(rule("p_alive IS NULL").matches(&nan));
        // precedence: AND binds tighter than OR, NOT tighter than AND
        assert!(rule("true OR false AND false").matches(&r));
        assert!(!rule("NOT true AND true").matches(&r));
        assert!(
            rule("1 + 2 * 3 = 7 AND (1 + 2) * 3 = 9 AND 8 - 2 - 1 = 5 AND 8 / 2 / 2 = 2")
                .matches(&r)
        );
    }
}
