//! Rules compiled for fast evaluation: the expression tree of each rule is rewritten once (per
//! statement, in the extension's call-site cache) into typed nodes — number, text and boolean
//! expressions are separate node types, so evaluation never builds or inspects [`Value`]s, and
//! a column is a slot index resolved at compile time. `AND`/`OR` chains are flattened and the
//! common `column <op> constant` comparisons are single nodes. The results are those of
//! [`Rule::matches`] for every row (a unit test checks both on many rules and rows).
//!
//! Numbers are `Option<f64>`: `None` is NULL, and a NaN column value reads as NULL (as in
//! `eval.rs`).
//!
//! [`Value`]: super::Value
//! [`Rule::matches`]: super::Rule::matches

use super::columns::{Kind, COLUMNS};
use super::parser::{Arith, Cmp, Expr, Func, Lit};
use super::Rule;
use std::cmp::Ordering;

/// The most columns a program reads (every column of [`COLUMNS`] at most once).
pub const MAX_SLOTS: usize = COLUMNS.len();

/// The values of one row for a [`Program`]: slot `i` holds the column `program.columns()[i]`,
/// in the array of its kind (the other two arrays are not read at `i`). A NULL number is NaN.
pub struct Slots<'a> {
    pub num: [f64; MAX_SLOTS],
    pub text: [Option<&'a str>; MAX_SLOTS],
    pub boolean: [Option<bool>; MAX_SLOTS],
}

impl Default for Slots<'_> {
    fn default() -> Self {
        Slots {
            num: [f64::NAN; MAX_SLOTS],
            text: [None; MAX_SLOTS],
            boolean: [None; MAX_SLOTS],
        }
    }
}

/// Rules compiled together over one slot layout.
#[derive(Clone, Debug)]
pub struct Program {
    rules: Vec<B>,
    columns: Vec<usize>,
}

impl Program {
    /// Compiles `rules` (in this order) over the union of the columns they read.
    pub fn new<'r>(rules: impl IntoIterator<Item = &'r Rule> + Clone) -> Program {
        let mut columns: Vec<usize> = rules
            .clone()
            .into_iter()
            .flat_map(|r| r.columns.iter().copied())
            .collect();
        columns.sort_unstable();
        columns.dedup();
        let mut slot_of = [usize::MAX; MAX_SLOTS];
        for (i, &k) in columns.iter().enumerate() {
            slot_of[k] = i;
        }
        let c = Compiler { slot_of };
        let rules = rules.into_iter().map(|r| c.boolean(&r.expr)).collect();
        Program { rules, columns }
    }

    /// The columns read (indexes into [`COLUMNS`], ascending): slot `i` is `columns()[i]`.
    pub fn columns(&self) -> &[usize] {
        &self.columns
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether rule `i` is TRUE for the row (FALSE and NULL are not).
    #[inline]
    pub fn matches(&self, i: usize, row: &Slots) -> bool {
        self.rules[i].eval(row) == TRUE
    }
}

/// A number expression.
#[derive(Clone, Debug)]
enum N {
    Col(usize),
    Const(Option<f64>),
    Arith(Arith, Box<N>, Box<N>),
    Neg(Box<N>),
    /// abs, floor, ceil, sqrt, ln
    Unary(Func, Box<N>),
    Round(Box<N>, Option<Box<N>>),
    Coalesce(Box<[N]>),
    Nullif(Box<N>, Box<N>),
    Least(Box<[N]>),
    Greatest(Box<[N]>),
}

/// A text expression.
#[derive(Clone, Debug)]
enum T {
    Col(usize),
    Const(Option<Box<str>>),
    Coalesce(Box<[T]>),
    Nullif(Box<T>, Box<T>),
}

/// The operands of a comparison, `BETWEEN`, `IN` or `IS NULL`, all of one kind.
#[derive(Clone, Debug)]
enum Ops {
    Num(Box<[N]>),
    Text(Box<[T]>),
    Bool(Box<[B]>),
}

/// `number column <op> constant` (the constant is not NULL): op, slot, constant.
type Simple = (Cmp, usize, f64);

/// A boolean expression (three-valued).
#[derive(Clone, Debug)]
enum B {
    Col(usize),
    Const(Option<bool>),
    Not(Box<B>),
    /// The operands of an AND: the `number column <op> constant` ones apart, evaluated in a
    /// loop without a call each (the order of operands does not change the result).
    And(Box<[Simple]>, Box<[B]>),
    /// The operands of an OR, as for AND.
    Or(Box<[Simple]>, Box<[B]>),
    /// `column <op> constant` on a number column (the constant is not NULL).
    NumColConst(Cmp, usize, f64),
    /// `column <op> constant` on a text column (the constant is not NULL).
    TextColConst(Cmp, usize, Box<str>),
    /// Two operands.
    Cmp(Cmp, Ops),
    /// One operand.
    IsNull(Ops, bool),
    IsBool(Box<B>, bool, bool),
    /// x, lo, hi.
    Between(Ops, bool),
    /// x, then the items.
    In(Ops, bool),
    Coalesce(Box<[B]>),
    Nullif(Box<B>, Box<B>),
}

struct Compiler {
    slot_of: [usize; MAX_SLOTS],
}

/// The kind of an expression, as the type checker found it (None for an untyped NULL).
fn kind_of(e: &Expr) -> Option<Kind> {
    match e {
        Expr::Column(k) => Some(COLUMNS[*k].kind),
        Expr::Lit(Lit::Null) => None,
        Expr::Lit(Lit::Bool(_)) => Some(Kind::Bool),
        Expr::Lit(Lit::Number(_)) => Some(Kind::Number),
        Expr::Lit(Lit::Text(_)) => Some(Kind::Text),
        Expr::Not(_)
        | Expr::And(..)
        | Expr::Or(..)
        | Expr::Cmp(..)
        | Expr::IsNull(..)
        | Expr::IsBool(..)
        | Expr::Between(..)
        | Expr::In(..) => Some(Kind::Bool),
        Expr::Arith(..) | Expr::Neg(_) => Some(Kind::Number),
        Expr::Call(Func::Coalesce | Func::Nullif, args) => args.iter().find_map(kind_of),
        Expr::Call(..) => Some(Kind::Number),
    }
}

/// The common kind of operands (an all-NULL list compiles as numbers: every NULL is alike).
fn kind_of_all<'e>(es: impl IntoIterator<Item = &'e Expr>) -> Kind {
    es.into_iter().find_map(kind_of).unwrap_or(Kind::Number)
}

fn non_nan(x: f64) -> Option<f64> {
    (!x.is_nan()).then_some(x)
}

impl Compiler {
    fn slot(&self, k: usize) -> usize {
        self.slot_of[k]
    }

    fn ops(&self, kind: Kind, es: &[&Expr]) -> Ops {
        match kind {
            Kind::Number => Ops::Num(es.iter().map(|e| self.number(e)).collect()),
            Kind::Text => Ops::Text(es.iter().map(|e| self.text(e)).collect()),
            Kind::Bool => Ops::Bool(es.iter().map(|e| self.boolean(e)).collect()),
        }
    }

    fn number(&self, e: &Expr) -> N {
        match e {
            Expr::Column(k) => N::Col(self.slot(*k)),
            Expr::Lit(Lit::Number(x)) => N::Const(non_nan(*x)),
            Expr::Lit(_) => N::Const(None),
            Expr::Arith(op, a, b) => {
                N::Arith(*op, Box::new(self.number(a)), Box::new(self.number(b)))
            }
            Expr::Neg(a) => N::Neg(Box::new(self.number(a))),
            Expr::Call(f, args) => {
                let all = || args.iter().map(|a| self.number(a)).collect();
                match f {
                    Func::Coalesce => N::Coalesce(all()),
                    Func::Nullif => N::Nullif(
                        Box::new(self.number(&args[0])),
                        Box::new(self.number(&args[1])),
                    ),
                    Func::Least => N::Least(all()),
                    Func::Greatest => N::Greatest(all()),
                    Func::Round => N::Round(
                        Box::new(self.number(&args[0])),
                        args.get(1).map(|d| Box::new(self.number(d))),
                    ),
                    _ => N::Unary(*f, Box::new(self.number(&args[0]))),
                }
            }
            // a boolean or text expression never stands where a number is expected (checked)
            _ => N::Const(None),
        }
    }

    fn text(&self, e: &Expr) -> T {
        match e {
            Expr::Column(k) => T::Col(self.slot(*k)),
            Expr::Lit(Lit::Text(s)) => T::Const(Some(s.as_str().into())),
            Expr::Call(Func::Coalesce, args) => {
                T::Coalesce(args.iter().map(|a| self.text(a)).collect())
            }
            Expr::Call(Func::Nullif, args) => {
                T::Nullif(Box::new(self.text(&args[0])), Box::new(self.text(&args[1])))
            }
            _ => T::Const(None),
        }
    }

    fn boolean(&self, e: &Expr) -> B {
        match e {
            Expr::Column(k) => B::Col(self.slot(*k)),
            Expr::Lit(Lit::Bool(b)) => B::Const(Some(*b)),
            Expr::Lit(_) => B::Const(None),
            Expr::Not(a) => B::Not(Box::new(self.boolean(a))),
            Expr::And(..) | Expr::Or(..) => {
                let and = matches!(e, Expr::And(..));
                let mut items = Vec::new();
                self.flatten(e, and, &mut items);
                let (mut simple, mut rest) = (Vec::new(), Vec::new());
                for it in items {
                    match it {
                        B::NumColConst(op, slot, c) => simple.push((op, slot, c)),
                        other => rest.push(other),
                    }
                }
                if and {
                    B::And(simple.into(), rest.into())
                } else {
                    B::Or(simple.into(), rest.into())
                }
            }
            Expr::Cmp(op, a, b) => {
                let kind = kind_of_all([&**a, &**b]);
                match (kind, &**a, &**b) {
                    (Kind::Number, Expr::Column(k), Expr::Lit(Lit::Number(c))) if !c.is_nan() => {
                        B::NumColConst(*op, self.slot(*k), *c)
                    }
                    (Kind::Number, Expr::Lit(Lit::Number(c)), Expr::Column(k)) if !c.is_nan() => {
                        B::NumColConst(flip(*op), self.slot(*k), *c)
                    }
                    (Kind::Text, Expr::Column(k), Expr::Lit(Lit::Text(c))) => {
                        B::TextColConst(*op, self.slot(*k), c.as_str().into())
                    }
                    (Kind::Text, Expr::Lit(Lit::Text(c)), Expr::Column(k)) => {
                        B::TextColConst(flip(*op), self.slot(*k), c.as_str().into())
                    }
                    _ => B::Cmp(*op, self.ops(kind, &[a, b])),
                }
            }
            Expr::IsNull(a, negated) => B::IsNull(self.ops(kind_of_all([&**a]), &[a]), *negated),
            Expr::IsBool(a, want, negated) => B::IsBool(Box::new(self.boolean(a)), *want, *negated),
            Expr::Between(x, lo, hi, negated) => {
                let kind = kind_of_all([&**x, &**lo, &**hi]);
                B::Between(self.ops(kind, &[x, lo, hi]), *negated)
            }
            Expr::In(x, items, negated) => {
                let kind = kind_of_all(std::iter::once(&**x).chain(items));
                let all: Vec<&Expr> = std::iter::once(&**x).chain(items).collect();
                B::In(self.ops(kind, &all), *negated)
            }
            Expr::Call(Func::Coalesce, args) => {
                B::Coalesce(args.iter().map(|a| self.boolean(a)).collect())
            }
            Expr::Call(Func::Nullif, args) => B::Nullif(
                Box::new(self.boolean(&args[0])),
                Box::new(self.boolean(&args[1])),
            ),
            // a number or text expression never stands where a boolean is expected (checked)
            _ => B::Const(None),
        }
    }

    /// The operands of a chain of ANDs (`and`) or ORs, in order.
    fn flatten(&self, e: &Expr, and: bool, out: &mut Vec<B>) {
        match (e, and) {
            (Expr::And(a, b), true) | (Expr::Or(a, b), false) => {
                self.flatten(a, and, out);
                self.flatten(b, and, out);
            }
            _ => out.push(self.boolean(e)),
        }
    }
}

/// `a op b` as `b op' a`.
fn flip(op: Cmp) -> Cmp {
    match op {
        Cmp::Lt => Cmp::Gt,
        Cmp::Le => Cmp::Ge,
        Cmp::Gt => Cmp::Lt,
        Cmp::Ge => Cmp::Le,
        o => o,
    }
}

#[inline]
fn holds(op: Cmp, o: Ordering) -> bool {
    match op {
        Cmp::Eq => o.is_eq(),
        Cmp::Ne => o.is_ne(),
        Cmp::Lt => o.is_lt(),
        Cmp::Le => o.is_le(),
        Cmp::Gt => o.is_gt(),
        Cmp::Ge => o.is_ge(),
    }
}

/// The ordering of two non-NULL values (numbers are never NaN here).
#[inline]
fn order<V: PartialOrd>(a: Option<V>, b: Option<V>) -> Option<Ordering> {
    a?.partial_cmp(&b?)
}

fn finite(x: f64) -> Option<f64> {
    non_nan(x)
}

impl N {
    fn eval(&self, row: &Slots) -> Option<f64> {
        match self {
            N::Col(s) => non_nan(row.num[*s]),
            N::Const(c) => *c,
            N::Arith(op, a, b) => {
                let (x, y) = (a.eval(row)?, b.eval(row)?);
                match op {
                    Arith::Add => finite(x + y),
                    Arith::Sub => finite(x - y),
                    Arith::Mul => finite(x * y),
                    Arith::Div if y == 0.0 => None,
                    Arith::Div => finite(x / y),
                }
            }
            N::Neg(a) => a.eval(row).map(|x| -x),
            N::Unary(f, a) => {
                let x = a.eval(row)?;
                match f {
                    Func::Abs => Some(x.abs()),
                    Func::Floor => Some(x.floor()),
                    Func::Ceil => Some(x.ceil()),
                    Func::Sqrt if x < 0.0 => None,
                    Func::Sqrt => Some(x.sqrt()),
                    Func::Ln if x <= 0.0 => None,
                    Func::Ln => finite(x.ln()),
                    // only the functions above are compiled to Unary
                    _ => None,
                }
            }
            N::Round(a, digits) => {
                let x = a.eval(row)?;
                let d = match digits {
                    None => 0.0,
                    Some(d) => d.eval(row)?,
                };
                let s = 10f64.powi(d.clamp(-300.0, 300.0) as i32);
                finite((x * s).round() / s)
            }
            N::Coalesce(args) => args.iter().find_map(|a| a.eval(row)),
            N::Nullif(a, b) => {
                let x = a.eval(row);
                match order(x, b.eval(row)) {
                    Some(Ordering::Equal) => None,
                    _ => x,
                }
            }
            N::Least(args) => args.iter().filter_map(|a| a.eval(row)).reduce(f64::min),
            N::Greatest(args) => args.iter().filter_map(|a| a.eval(row)).reduce(f64::max),
        }
    }
}

impl T {
    fn eval<'a>(&'a self, row: &Slots<'a>) -> Option<&'a str> {
        match self {
            T::Col(s) => row.text[*s],
            T::Const(c) => c.as_deref(),
            T::Coalesce(args) => args.iter().find_map(|a| a.eval(row)),
            T::Nullif(a, b) => {
                let x = a.eval(row);
                match order(x, b.eval(row)) {
                    Some(Ordering::Equal) => None,
                    _ => x,
                }
            }
        }
    }
}

/// SQL's `x [NOT] BETWEEN lo AND hi` on evaluated operands.
fn between<V: PartialOrd + Copy>(x: Option<V>, lo: Option<V>, hi: Option<V>) -> Option<bool> {
    let ge = order(x, lo).map(|o| o.is_ge());
    let le = order(x, hi).map(|o| o.is_le());
    match (ge, le) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

/// SQL's `x IN (items)` on evaluated operands.
fn within<V: PartialOrd + Copy>(
    x: Option<V>,
    items: impl Iterator<Item = Option<V>>,
) -> Option<bool> {
    let mut r = Some(false);
    for it in items {
        match order(x, it) {
            Some(Ordering::Equal) => return Some(true),
            Some(_) => {}
            None => r = None,
        }
    }
    r
}

fn negate_if(r: Option<bool>, negated: bool) -> Option<bool> {
    if negated {
        r.map(|b| !b)
    } else {
        r
    }
}

/// Three-valued truth as a number, so that AND is the minimum and OR the maximum of their
/// operands and NOT is `TRUE - x`: evaluated without data-dependent branches.
type Tri = u8;
const FALSE: Tri = 0;
const NULL: Tri = 1;
const TRUE: Tri = 2;

#[inline]
fn tri(b: Option<bool>) -> Tri {
    match b {
        Some(true) => TRUE,
        Some(false) => FALSE,
        None => NULL,
    }
}

#[inline]
fn untri(t: Tri) -> Option<bool> {
    match t {
        TRUE => Some(true),
        FALSE => Some(false),
        _ => None,
    }
}

/// `number column <op> constant` on a row.
#[inline(always)]
fn simple(row: &Slots, &(op, s, c): &Simple) -> Tri {
    let x = row.num[s];
    let r = match op {
        Cmp::Eq => x == c,
        Cmp::Ne => x != c,
        Cmp::Lt => x < c,
        Cmp::Le => x <= c,
        Cmp::Gt => x > c,
        Cmp::Ge => x >= c,
    };
    // NaN (NULL) compares as NULL
    if x.is_nan() {
        NULL
    } else {
        TRUE * r as Tri
    }
}

impl B {
    /// The rule's truth on the row. The operands of AND and OR are all evaluated (none can fail
    /// or has an effect, so only the result matters), which avoids a branch on each.
    fn eval(&self, row: &Slots) -> Tri {
        match self {
            B::NumColConst(op, s, c) => simple(row, &(*op, *s, *c)),
            B::TextColConst(op, s, c) => tri(row.text[*s].map(|x| holds(*op, x.cmp(c)))),
            B::And(simples, items) => {
                let t = simples.iter().fold(TRUE, |acc, s| acc.min(simple(row, s)));
                items.iter().fold(t, |acc, it| acc.min(it.eval(row)))
            }
            B::Or(simples, items) => {
                let t = simples.iter().fold(FALSE, |acc, s| acc.max(simple(row, s)));
                items.iter().fold(t, |acc, it| acc.max(it.eval(row)))
            }
            B::Col(s) => tri(row.boolean[*s]),
            B::Const(c) => tri(*c),
            B::Not(a) => TRUE - a.eval(row),
            B::Cmp(op, ops) => {
                let o = match ops {
                    Ops::Num(v) => order(v[0].eval(row), v[1].eval(row)),
                    Ops::Text(v) => order(v[0].eval(row), v[1].eval(row)),
                    Ops::Bool(v) => order(v[0].value(row), v[1].value(row)),
                };
                tri(o.map(|o| holds(*op, o)))
            }
            B::IsNull(ops, negated) => {
                let null = match ops {
                    Ops::Num(v) => v[0].eval(row).is_none(),
                    Ops::Text(v) => v[0].eval(row).is_none(),
                    Ops::Bool(v) => v[0].eval(row) == NULL,
                };
                tri(Some(null != *negated))
            }
            B::IsBool(a, want, negated) => tri(Some((a.value(row) == Some(*want)) != *negated)),
            B::Between(ops, negated) => {
                let r = match ops {
                    Ops::Num(v) => between(v[0].eval(row), v[1].eval(row), v[2].eval(row)),
                    Ops::Text(v) => between(v[0].eval(row), v[1].eval(row), v[2].eval(row)),
                    Ops::Bool(v) => between(v[0].value(row), v[1].value(row), v[2].value(row)),
                };
                tri(negate_if(r, *negated))
            }
            B::In(ops, negated) => {
                let r = match ops {
                    Ops::Num(v) => within(v[0].eval(row), v[1..].iter().map(|i| i.eval(row))),
                    Ops::Text(v) => within(v[0].eval(row), v[1..].iter().map(|i| i.eval(row))),
                    Ops::Bool(v) => within(v[0].value(row), v[1..].iter().map(|i| i.value(row))),
                };
                tri(negate_if(r, *negated))
            }
            B::Coalesce(args) => args
                .iter()
                .map(|a| a.eval(row))
                .find(|&t| t != NULL)
                .unwrap_or(NULL),
            B::Nullif(a, b) => {
                let x = a.value(row);
                match order(x, b.value(row)) {
                    Some(Ordering::Equal) => NULL,
                    _ => tri(x),
                }
            }
        }
    }

    fn value(&self, row: &Slots) -> Option<bool> {
        untri(self.eval(row))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::params;
    use super::super::{column_index, compile, Value, PRESETS};
    use super::*;

    /// A small deterministic generator (xorshift).
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a, X>(&mut self, xs: &'a [X]) -> &'a X {
            &xs[(self.next() % xs.len() as u64) as usize]
        }
        fn list(&mut self, d: usize, f: fn(&mut Gen, usize) -> String) -> String {
            let n = 1 + (self.next() % 3) as usize;
            (0..n).map(|_| f(self, d)).collect::<Vec<_>>().join(", ")
        }
    }

    const NUM_COLS: &[&str] = &["frequency", "recency", "since_last", "p_alive", "m", "clv"];
    const TEXT_COLS: &[&str] = &["segment", "abc_class", "tier"];
    const CMPS: &[&str] = &["=", "<>", "<", "<=", ">", ">="];

    fn num(g: &mut Gen, d: usize) -> String {
        let leaf = d == 0 || g.next().is_multiple_of(3);
        if leaf {
            return match g.next() % 4 {
                0 | 1 => g.pick(NUM_COLS).to_string(),
                2 => g
                    .pick(&["0", "1", "2", "0.5", "3", "1e308", "$x"])
                    .to_string(),
                _ => "NULL".into(),
            };
        }
        let d = d - 1;
        match g.next() % 13 {
            0 => format!("({} + {})", num(g, d), num(g, d)),
            1 => format!("({} - {})", num(g, d), num(g, d)),
            2 => format!("({} * {})", num(g, d), num(g, d)),
            3 => format!("({} / {})", num(g, d), num(g, d)),
            4 => format!("-({})", num(g, d)),
            5 => format!(
                "{}({})",
                g.pick(&["abs", "floor", "ceil", "sqrt", "ln", "round"]),
                num(g, d)
            ),
            6 => format!("round({}, {})", num(g, d), num(g, d)),
            7 => format!("coalesce({})", g.list(d, num)),
            8 => format!("nullif({}, {})", num(g, d), num(g, d)),
            9 => format!("least({})", g.list(d, num)),
            10 => format!("greatest({})", g.list(d, num)),
            _ => g.pick(NUM_COLS).to_string(),
        }
    }

    fn text(g: &mut Gen, d: usize) -> String {
        if d == 0 || g.next().is_multiple_of(2) {
            return match g.next() % 4 {
                0 | 1 => g.pick(TEXT_COLS).to_string(),
                2 => g.pick(&["'A'", "'B'", "''", "'Champions'"]).to_string(),
                _ => "NULL".into(),
            };
        }
        let d = d - 1;
        match g.next() % 2 {
            0 => format!("coalesce({})", g.list(d, text)),
            _ => format!("nullif({}, {})", text(g, d), text(g, d)),
        }
    }

    fn boolean(g: &mut Gen, d: usize) -> String {
        if d == 0 {
            return match g.next() % 5 {
                0 => g.pick(&["TRUE", "FALSE", "NULL"]).to_string(),
                1 | 2 => format!("{} {} {}", g.pick(NUM_COLS), g.pick(CMPS), num(g, 0)),
                _ => format!("{} {} {}", text(g, 0), g.pick(CMPS), g.pick(TEXT_COLS)),
            };
        }
        let d = d - 1;
        let not = if g.next().is_multiple_of(2) {
            ""
        } else {
            "NOT "
        };
        match g.next() % 16 {
            0 => format!("({} AND {})", boolean(g, d), boolean(g, d)),
            1 => format!("({} OR {})", boolean(g, d), boolean(g, d)),
            2 => format!("NOT ({})", boolean(g, d)),
            3 => format!("({} {} {})", num(g, d), g.pick(CMPS), num(g, d)),
            4 => format!("({} {} {})", text(g, d), g.pick(CMPS), text(g, d)),
            5 => format!("(({}) {} ({}))", boolean(g, d), g.pick(CMPS), boolean(g, d)),
            6 => format!("({} IS {}NULL)", num(g, d), not),
            7 => format!("({} IS {}NULL)", text(g, d), not),
            8 => format!(
                "(({}) IS {}{})",
                boolean(g, d),
                not,
                g.pick(&["TRUE", "FALSE"])
            ),
            9 => format!(
                "({} {}BETWEEN {} AND {})",
                num(g, d),
                not,
                num(g, d),
                num(g, d)
            ),
            10 => format!(
                "({} {}BETWEEN {} AND {})",
                text(g, d),
                not,
                text(g, d),
                text(g, d)
            ),
            11 => format!("({} {}IN ({}))", num(g, d), not, g.list(d, num)),
            12 => format!("({} {}IN ({}))", text(g, d), not, g.list(d, text)),
            13 => format!("coalesce({})", g.list(d, boolean)),
            14 => format!("nullif({}, {})", boolean(g, d), boolean(g, d)),
            _ => format!("({} {} {})", g.pick(NUM_COLS), g.pick(CMPS), num(g, d)),
        }
    }

    /// A random row: each column NULL or a value of its kind (numbers include NaN, ±0 and ∞).
    fn random_row(g: &mut Gen) -> Vec<Value<'static>> {
        COLUMNS
            .iter()
            .map(|c| {
                if g.next().is_multiple_of(5) {
                    return Value::Null;
                }
                match c.kind {
                    Kind::Number => Value::Number(*g.pick(&[
                        0.0,
                        -0.0,
                        1.0,
                        2.0,
                        -1.0,
                        0.5,
                        3.0,
                        10.0,
                        400.0,
                        f64::NAN,
                        f64::INFINITY,
                        f64::NEG_INFINITY,
                        1e308,
                    ])),
                    Kind::Text => {
                        let t: &&'static str = g.pick(&["A", "B", "", "Champions", "a"]);
                        Value::Text(t)
                    }
                    Kind::Bool => Value::Bool(g.next().is_multiple_of(2)),
                }
            })
            .collect()
    }

    /// The slots of `program` filled from a row indexed like [`COLUMNS`].
    fn slots<'a>(program: &Program, row: &[Value<'a>]) -> Slots<'a> {
        let mut s = Slots::default();
        for (i, &k) in program.columns().iter().enumerate() {
            match row[k] {
                Value::Number(x) => s.num[i] = x,
                Value::Text(t) => s.text[i] = Some(t),
                Value::Bool(b) => s.boolean[i] = Some(b),
                Value::Null => {}
            }
        }
        s
    }

    /// Checks the program against the tree evaluator on random rows; returns (TRUE, all) counts.
    fn assert_same(rules: &[Rule], sources: &[String], g: &mut Gen, rows: usize) -> (usize, usize) {
        let program = Program::new(rules.iter());
        let mut hits = 0;
        assert_eq!(program.len(), rules.len());
        for _ in 0..rows {
            let row = random_row(g);
            let s = slots(&program, &row);
            for (i, r) in rules.iter().enumerate() {
                let m = program.matches(i, &s);
                assert_eq!(m, r.matches(&row), "rule {} on row {row:?}", sources[i]);
                hits += m as usize;
            }
        }
        (hits, rows * rules.len())
    }

    #[test]
    fn compiled_rules_match_the_tree_evaluator() {
        let mut g = Gen(0x9e37_79b9_7f4a_7c15);
        let ps = params(&[("x", 10.0)]);
        let (mut compiled, mut hits, mut all) = (0, 0, 0);
        for round in 0..400 {
            // a statement's rules are compiled together (shared slots)
            let mut rules = Vec::new();
            let mut sources = Vec::new();
            for _ in 0..8 {
                let src = boolean(&mut g, 1 + round % 4);
                match compile(&src, &ps) {
                    Ok((r, _)) => {
                        rules.push(r);
                        sources.push(src);
                    }
                    Err(e) => panic!("{src}: {e}"),
                }
            }
            compiled += rules.len();
            let (h, a) = assert_same(&rules, &sources, &mut g, 60);
            hits += h;
            all += a;
        }
        assert!(compiled >= 3000);
        // both outcomes are common, so the comparison says something
        assert!(hits * 5 > all && hits * 5 < 4 * all, "{hits} of {all} TRUE");
    }

    #[test]
    fn compiled_presets_match_the_tree_evaluator() {
        let rules: Vec<Rule> = PRESETS
            .iter()
            .map(|p| {
                let ps: Vec<_> = p
                    .params
                    .iter()
                    .map(|(n, v)| (n.to_string(), super::super::Param::Number(*v)))
                    .collect();
                compile(p.expression, &ps).unwrap().0
            })
            .collect();
        let sources: Vec<String> = PRESETS.iter().map(|p| p.expression.to_string()).collect();
        let (hits, all) = assert_same(&rules, &sources, &mut Gen(7), 20_000);
        assert!(hits * 10 > all, "{hits} of {all} TRUE");
        let program = Program::new(rules.iter());
        let mut want: Vec<usize> = rules.iter().flat_map(|r| r.columns.clone()).collect();
        want.sort_unstable();
        want.dedup();
        assert_eq!(program.columns(), want);
        assert!(program
            .columns()
            .contains(&column_index("since_last").unwrap()));
    }

    #[test]
    fn rejects_nan_parameters() {
        let ps = vec![("x".to_string(), super::super::Param::Number(f64::NAN))];
        let e = compile("frequency > $x", &ps).unwrap_err().to_string();
        assert!(
            e.contains("parameter $x (at character 13) is not a number"),
            "{e}"
        );
    }

    #[test]
    fn empty_program() {
        let p = Program::new(std::iter::empty());
        assert!(p.is_empty() && p.columns().is_empty());
    }
}
