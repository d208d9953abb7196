//! Rules compiled for fast evaluation: the rules of a statement are rewritten once (per
//! statement, in the extension's call-site cache) into one flat list of instructions over typed
//! registers — numbers (`f64`, NaN is NULL), truth values (three-valued, as a byte) and texts (a
//! reference to a column or a constant) — so evaluation is a single loop with no recursion, no
//! boxed nodes and no [`Value`]s. A column is a register filled from the row; constants are
//! registers filled once at compile time; every other instruction writes a register of its own
//! (each is written once per row, after the registers it reads). `AND`/`OR` chains, `BETWEEN`
//! and `IN` become chains of comparisons in three-valued logic (AND is the minimum, OR the
//! maximum, NOT `TRUE - x`). The results are those of [`Rule::matches`] for every row (a unit
//! test checks both on many rules and rows).
//!
//! Numbers need no NULL flag: a NaN column value reads as NULL (as in `eval.rs`), arithmetic
//! carries NaN through as SQL carries NULL, and where `eval.rs` turns a value into NULL (division
//! by zero, `ln` of a non-positive number, an undefined result such as `∞ - ∞`) the result is NaN.
//!
//! [`Value`]: super::Value
//! [`Rule::matches`]: super::Rule::matches

use super::columns::{Kind, COLUMNS};
use super::parser::{Arith, Cmp, Expr, Func, Lit};
use super::Rule;

/// The most columns a program reads (every column of [`COLUMNS`] at most once).
pub const MAX_SLOTS: usize = COLUMNS.len();

/// Three-valued truth as a number, so that AND is the minimum and OR the maximum of their
/// operands and NOT is `TRUE - x`: evaluated without data-dependent branches.
type Tri = u8;
const FALSE: Tri = 0;
const NULL: Tri = 1;
const TRUE: Tri = 2;

/// A register: an index into the program's number, truth or text registers (which one is given
/// by the instruction). Registers `0..columns().len()` are the slots of the row.
type R = u32;

/// The content of a text register: [`NO_TEXT`] (NULL), `1 + slot` (the row's text in that
/// slot) or `TEXT_CONST + i` (the program's constant `i`).
type TextRef = u32;
const NO_TEXT: TextRef = 0;
const TEXT_CONST: TextRef = 1 + MAX_SLOTS as TextRef;

/// One instruction: the first register is the one written, the others are read. Number
/// instructions read and write number registers, comparisons write a truth register.
#[derive(Clone, Copy, Debug)]
enum Op {
    Add(R, R, R),
    Sub(R, R, R),
    Mul(R, R, R),
    /// NULL for a zero divisor.
    Div(R, R, R),
    Neg(R, R),
    Abs(R, R),
    Floor(R, R),
    Ceil(R, R),
    Sqrt(R, R),
    Ln(R, R),
    /// `round(x, digits)`.
    Round(R, R, R),
    /// The first operand unless it is NULL, else the second (a chain makes `coalesce(...)`).
    Coalesce(R, R, R),
    Nullif(R, R, R),
    /// The smaller operand, ignoring a NULL (a chain makes `least(...)`).
    Least(R, R, R),
    Greatest(R, R, R),
    Lt(R, R, R),
    Le(R, R, R),
    Gt(R, R, R),
    Ge(R, R, R),
    Eq(R, R, R),
    Ne(R, R, R),
    NumIsNull(R, R),
    TextCmp(Cmp, R, R, R),
    TextCoalesce(R, R, R),
    TextNullif(R, R, R),
    TextIsNull(R, R),
    And(R, R, R),
    Or(R, R, R),
    Not(R, R),
    BoolCmp(Cmp, R, R, R),
    BoolIsNull(R, R),
    /// `x IS [NOT] TRUE/FALSE`: (result, x, TRUE?, negated).
    IsBool(R, R, bool, bool),
    BoolCoalesce(R, R, R),
    BoolNullif(R, R, R),
}

/// Rules compiled together over one slot layout, with their registers.
#[derive(Clone, Debug)]
pub struct Program {
    code: Vec<Op>,
    columns: Vec<usize>,
    /// The truth register of each rule's result.
    results: Vec<R>,
    num: Vec<f64>,
    truth: Vec<Tri>,
    text: Vec<TextRef>,
    /// The text constants (`TEXT_CONST + i` refers to `consts[i]`).
    consts: Vec<Box<str>>,
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
        let n = columns.len();
        let mut c = Compiler {
            slot_of,
            p: Program {
                code: Vec::new(),
                results: Vec::new(),
                num: vec![f64::NAN; n],
                truth: vec![NULL; n],
                text: (0..n as TextRef).map(|i| 1 + i).collect(),
                consts: Vec::new(),
                columns,
            },
        };
        for r in rules {
            let t = c.boolean(&r.expr);
            c.p.results.push(t);
        }
        c.p
    }

    /// The columns read (indexes into [`COLUMNS`], ascending): slot `i` is `columns()[i]`.
    pub fn columns(&self) -> &[usize] {
        &self.columns
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.results.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    /// Starts a row: every slot NULL. Slot `i` holds the column `columns()[i]`; number and
    /// boolean slots are then set with [`Program::set_number`] and [`Program::set_bool`], text
    /// slots are passed to [`Program::run`].
    #[inline]
    pub fn clear(&mut self) {
        let n = self.columns.len();
        self.num[..n].fill(f64::NAN);
        self.truth[..n].fill(NULL);
    }

    /// Sets number slot `i` of the row (NaN is NULL).
    #[inline]
    pub fn set_number(&mut self, i: usize, x: f64) {
        self.num[i] = x;
    }

    /// Sets boolean slot `i` of the row.
    #[inline]
    pub fn set_bool(&mut self, i: usize, b: bool) {
        self.truth[i] = tri(Some(b));
    }

    /// Evaluates every rule on the row whose slots were set, with the row's text slots
    /// (`row_text[i]` for text slot `i`; no other entries are read); [`Program::matches`] then
    /// tells the results.
    pub fn run(&mut self, row_text: &[Option<&str>]) {
        let Program {
            code,
            num,
            truth,
            text,
            consts,
            ..
        } = self;
        let resolve = |r: TextRef| resolve(r, row_text, consts);
        for op in code.iter() {
            match *op {
                Op::Add(d, a, b) => num[d as usize] = num[a as usize] + num[b as usize],
                Op::Sub(d, a, b) => num[d as usize] = num[a as usize] - num[b as usize],
                Op::Mul(d, a, b) => num[d as usize] = num[a as usize] * num[b as usize],
                Op::Div(d, a, b) => {
                    let y = num[b as usize];
                    num[d as usize] = if y == 0.0 {
                        f64::NAN
                    } else {
                        num[a as usize] / y
                    };
                }
                Op::Neg(d, a) => num[d as usize] = -num[a as usize],
                Op::Abs(d, a) => num[d as usize] = num[a as usize].abs(),
                Op::Floor(d, a) => num[d as usize] = num[a as usize].floor(),
                Op::Ceil(d, a) => num[d as usize] = num[a as usize].ceil(),
                // the square root of a negative number is NaN (NULL)
                Op::Sqrt(d, a) => num[d as usize] = num[a as usize].sqrt(),
                Op::Ln(d, a) => {
                    let x = num[a as usize];
                    num[d as usize] = if x <= 0.0 { f64::NAN } else { x.ln() };
                }
                Op::Round(d, a, b) => {
                    let (x, digits) = (num[a as usize], num[b as usize]);
                    num[d as usize] = if digits.is_nan() {
                        f64::NAN
                    } else {
                        let s = 10f64.powi(digits.clamp(-300.0, 300.0) as i32);
                        (x * s).round() / s
                    };
                }
                Op::Coalesce(d, a, b) => {
                    let x = num[a as usize];
                    num[d as usize] = if x.is_nan() { num[b as usize] } else { x };
                }
                Op::Nullif(d, a, b) => {
                    let x = num[a as usize];
                    // equal only when neither is NULL
                    num[d as usize] = if x == num[b as usize] { f64::NAN } else { x };
                }
                // f64::min and max ignore a NaN operand
                Op::Least(d, a, b) => num[d as usize] = num[a as usize].min(num[b as usize]),
                Op::Greatest(d, a, b) => num[d as usize] = num[a as usize].max(num[b as usize]),
                Op::Lt(d, a, b) => truth[d as usize] = compare(num, a, b, |x, y| x < y),
                Op::Le(d, a, b) => truth[d as usize] = compare(num, a, b, |x, y| x <= y),
                Op::Gt(d, a, b) => truth[d as usize] = compare(num, a, b, |x, y| x > y),
                Op::Ge(d, a, b) => truth[d as usize] = compare(num, a, b, |x, y| x >= y),
                Op::Eq(d, a, b) => truth[d as usize] = compare(num, a, b, |x, y| x == y),
                Op::Ne(d, a, b) => truth[d as usize] = compare(num, a, b, |x, y| x != y),
                Op::NumIsNull(d, a) => truth[d as usize] = TRUE * num[a as usize].is_nan() as Tri,
                Op::TextCmp(op, d, a, b) => {
                    let (x, y) = (resolve(text[a as usize]), resolve(text[b as usize]));
                    truth[d as usize] = match (x, y) {
                        (Some(x), Some(y)) => TRUE * op.holds(x.cmp(y)) as Tri,
                        _ => NULL,
                    };
                }
                Op::TextCoalesce(d, a, b) => {
                    let x = text[a as usize];
                    text[d as usize] = if resolve(x).is_some() {
                        x
                    } else {
                        text[b as usize]
                    };
                }
                Op::TextNullif(d, a, b) => {
                    let x = text[a as usize];
                    let (u, v) = (resolve(x), resolve(text[b as usize]));
                    text[d as usize] = if u.is_some() && u == v { NO_TEXT } else { x };
                }
                Op::TextIsNull(d, a) => {
                    truth[d as usize] = TRUE * resolve(text[a as usize]).is_none() as Tri;
                }
                Op::And(d, a, b) => truth[d as usize] = truth[a as usize].min(truth[b as usize]),
                Op::Or(d, a, b) => truth[d as usize] = truth[a as usize].max(truth[b as usize]),
                Op::Not(d, a) => truth[d as usize] = TRUE - truth[a as usize],
                Op::BoolCmp(op, d, a, b) => {
                    let (x, y) = (truth[a as usize], truth[b as usize]);
                    // FALSE < TRUE, as SQL orders booleans
                    truth[d as usize] = if x == NULL || y == NULL {
                        NULL
                    } else {
                        TRUE * op.holds(x.cmp(&y)) as Tri
                    };
                }
                Op::BoolIsNull(d, a) => {
                    truth[d as usize] = TRUE * (truth[a as usize] == NULL) as Tri
                }
                Op::IsBool(d, a, want, negated) => {
                    let is = truth[a as usize] == if want { TRUE } else { FALSE };
                    truth[d as usize] = TRUE * (is != negated) as Tri;
                }
                Op::BoolCoalesce(d, a, b) => {
                    let x = truth[a as usize];
                    truth[d as usize] = if x == NULL { truth[b as usize] } else { x };
                }
                Op::BoolNullif(d, a, b) => {
                    let x = truth[a as usize];
                    let equal = x != NULL && x == truth[b as usize];
                    truth[d as usize] = if equal { NULL } else { x };
                }
            }
        }
    }

    /// Whether rule `i` was TRUE for the row of the last [`Program::run`] (FALSE and NULL are
    /// not).
    #[inline]
    pub fn matches(&self, i: usize) -> bool {
        self.truth[self.results[i] as usize] == TRUE
    }
}

/// The text a text register refers to.
#[inline(always)]
fn resolve<'x>(r: TextRef, row: &[Option<&'x str>], consts: &'x [Box<str>]) -> Option<&'x str> {
    match r {
        NO_TEXT => None,
        r if r < TEXT_CONST => row[r as usize - 1],
        r => Some(&consts[(r - TEXT_CONST) as usize]),
    }
}

/// A comparison of two number registers: NULL when either is NULL (NaN).
#[inline(always)]
fn compare(num: &[f64], a: R, b: R, f: impl Fn(f64, f64) -> bool) -> Tri {
    let (x, y) = (num[a as usize], num[b as usize]);
    if x.is_nan() || y.is_nan() {
        NULL
    } else {
        TRUE * f(x, y) as Tri
    }
}

#[inline]
fn tri(b: Option<bool>) -> Tri {
    match b {
        Some(true) => TRUE,
        Some(false) => FALSE,
        None => NULL,
    }
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

/// A register of an operand of a comparison, of the comparison's kind.
#[derive(Clone, Copy)]
struct Operand(Kind, R);

struct Compiler {
    slot_of: [usize; MAX_SLOTS],
    p: Program,
}

impl Compiler {
    fn slot(&self, k: usize) -> R {
        self.slot_of[k] as R
    }

    /// A new number register holding `x` until an instruction writes it.
    fn num_reg(&mut self, x: f64) -> R {
        self.p.num.push(x);
        (self.p.num.len() - 1) as R
    }

    fn truth_reg(&mut self, t: Tri) -> R {
        self.p.truth.push(t);
        (self.p.truth.len() - 1) as R
    }

    fn text_reg(&mut self, t: TextRef) -> R {
        self.p.text.push(t);
        (self.p.text.len() - 1) as R
    }

    /// Appends the instruction `op(d)` writing a new number register `d`.
    fn num_op(&mut self, op: impl FnOnce(R) -> Op) -> R {
        let d = self.num_reg(f64::NAN);
        self.p.code.push(op(d));
        d
    }

    fn truth_op(&mut self, op: impl FnOnce(R) -> Op) -> R {
        let d = self.truth_reg(NULL);
        self.p.code.push(op(d));
        d
    }

    fn text_op(&mut self, op: impl FnOnce(R) -> Op) -> R {
        let d = self.text_reg(NO_TEXT);
        self.p.code.push(op(d));
        d
    }

    fn number(&mut self, e: &Expr) -> R {
        match e {
            Expr::Column(k) => self.slot(*k),
            // a literal is never NaN (parameters are checked); NaN would read as NULL anyway
            Expr::Lit(Lit::Number(x)) => self.num_reg(*x),
            Expr::Lit(_) => self.num_reg(f64::NAN),
            Expr::Arith(op, a, b) => {
                let (a, b) = (self.number(a), self.number(b));
                self.num_op(|d| match op {
                    Arith::Add => Op::Add(d, a, b),
                    Arith::Sub => Op::Sub(d, a, b),
                    Arith::Mul => Op::Mul(d, a, b),
                    Arith::Div => Op::Div(d, a, b),
                })
            }
            Expr::Neg(a) => {
                let a = self.number(a);
                self.num_op(|d| Op::Neg(d, a))
            }
            Expr::Call(f, args) => match f {
                Func::Coalesce | Func::Least | Func::Greatest => {
                    let mut acc = self.number(&args[0]);
                    for a in &args[1..] {
                        let b = self.number(a);
                        acc = self.num_op(|d| match f {
                            Func::Coalesce => Op::Coalesce(d, acc, b),
                            Func::Least => Op::Least(d, acc, b),
                            _ => Op::Greatest(d, acc, b),
                        });
                    }
                    acc
                }
                Func::Nullif => {
                    let (a, b) = (self.number(&args[0]), self.number(&args[1]));
                    self.num_op(|d| Op::Nullif(d, a, b))
                }
                Func::Round => {
                    let x = self.number(&args[0]);
                    let digits = match args.get(1) {
                        Some(e) => self.number(e),
                        None => self.num_reg(0.0),
                    };
                    self.num_op(|d| Op::Round(d, x, digits))
                }
                Func::Abs | Func::Floor | Func::Ceil | Func::Sqrt | Func::Ln => {
                    let a = self.number(&args[0]);
                    self.num_op(|d| match f {
                        Func::Abs => Op::Abs(d, a),
                        Func::Floor => Op::Floor(d, a),
                        Func::Ceil => Op::Ceil(d, a),
                        Func::Sqrt => Op::Sqrt(d, a),
                        _ => Op::Ln(d, a),
                    })
                }
            },
            // a boolean or text expression never stands where a number is expected (checked)
            _ => self.num_reg(f64::NAN),
        }
    }

    fn text(&mut self, e: &Expr) -> R {
        match e {
            Expr::Column(k) => self.slot(*k),
            Expr::Lit(Lit::Text(s)) => {
                self.p.consts.push(s.as_str().into());
                let i = (self.p.consts.len() - 1) as TextRef;
                self.text_reg(TEXT_CONST + i)
            }
            Expr::Call(Func::Coalesce, args) => {
                let mut acc = self.text(&args[0]);
                for a in &args[1..] {
                    let b = self.text(a);
                    acc = self.text_op(|d| Op::TextCoalesce(d, acc, b));
                }
                acc
            }
            Expr::Call(Func::Nullif, args) => {
                let (a, b) = (self.text(&args[0]), self.text(&args[1]));
                self.text_op(|d| Op::TextNullif(d, a, b))
            }
            _ => self.text_reg(NO_TEXT),
        }
    }

    fn operand(&mut self, kind: Kind, e: &Expr) -> Operand {
        Operand(
            kind,
            match kind {
                Kind::Number => self.number(e),
                Kind::Text => self.text(e),
                Kind::Bool => self.boolean(e),
            },
        )
    }

    /// `a op b` on two operands of one kind.
    fn compare(&mut self, op: Cmp, Operand(kind, a): Operand, Operand(_, b): Operand) -> R {
        self.truth_op(|d| match kind {
            Kind::Number => match op {
                Cmp::Eq => Op::Eq(d, a, b),
                Cmp::Ne => Op::Ne(d, a, b),
                Cmp::Lt => Op::Lt(d, a, b),
                Cmp::Le => Op::Le(d, a, b),
                Cmp::Gt => Op::Gt(d, a, b),
                Cmp::Ge => Op::Ge(d, a, b),
            },
            Kind::Text => Op::TextCmp(op, d, a, b),
            Kind::Bool => Op::BoolCmp(op, d, a, b),
        })
    }

    fn not_if(&mut self, t: R, negated: bool) -> R {
        if negated {
            self.truth_op(|d| Op::Not(d, t))
        } else {
            t
        }
    }

    fn boolean(&mut self, e: &Expr) -> R {
        match e {
            Expr::Column(k) => self.slot(*k),
            Expr::Lit(Lit::Bool(b)) => self.truth_reg(tri(Some(*b))),
            Expr::Lit(_) => self.truth_reg(NULL),
            Expr::Not(a) => {
                let a = self.boolean(a);
                self.truth_op(|d| Op::Not(d, a))
            }
            Expr::And(..) | Expr::Or(..) => {
                let and = matches!(e, Expr::And(..));
                let mut items = Vec::new();
                flatten(e, and, &mut items);
                let mut acc = self.boolean(items[0]);
                for it in &items[1..] {
                    let b = self.boolean(it);
                    acc = self.truth_op(|d| {
                        if and {
                            Op::And(d, acc, b)
                        } else {
                            Op::Or(d, acc, b)
                        }
                    });
                }
                acc
            }
            Expr::Cmp(op, a, b) => {
                let kind = kind_of_all([&**a, &**b]);
                let (a, b) = (self.operand(kind, a), self.operand(kind, b));
                self.compare(*op, a, b)
            }
            Expr::IsNull(a, negated) => {
                let Operand(kind, a) = self.operand(kind_of_all([&**a]), a);
                let t = self.truth_op(|d| match kind {
                    Kind::Number => Op::NumIsNull(d, a),
                    Kind::Text => Op::TextIsNull(d, a),
                    Kind::Bool => Op::BoolIsNull(d, a),
                });
                self.not_if(t, *negated)
            }
            Expr::IsBool(a, want, negated) => {
                let a = self.boolean(a);
                self.truth_op(|d| Op::IsBool(d, a, *want, *negated))
            }
            // x >= lo AND x <= hi, in three-valued logic
            Expr::Between(x, lo, hi, negated) => {
                let kind = kind_of_all([&**x, &**lo, &**hi]);
                let x = self.operand(kind, x);
                let lo = self.operand(kind, lo);
                let hi = self.operand(kind, hi);
                let ge = self.compare(Cmp::Ge, x, lo);
                let le = self.compare(Cmp::Le, x, hi);
                let t = self.truth_op(|d| Op::And(d, ge, le));
                self.not_if(t, *negated)
            }
            // x = item OR x = item ..., in three-valued logic
            Expr::In(x, items, negated) => {
                let kind = kind_of_all(std::iter::once(&**x).chain(items));
                let x = self.operand(kind, x);
                let mut acc = self.truth_reg(FALSE);
                for it in items {
                    let it = self.operand(kind, it);
                    let eq = self.compare(Cmp::Eq, x, it);
                    acc = self.truth_op(|d| Op::Or(d, acc, eq));
                }
                self.not_if(acc, *negated)
            }
            Expr::Call(Func::Coalesce, args) => {
                let mut acc = self.boolean(&args[0]);
                for a in &args[1..] {
                    let b = self.boolean(a);
                    acc = self.truth_op(|d| Op::BoolCoalesce(d, acc, b));
                }
                acc
            }
            Expr::Call(Func::Nullif, args) => {
                let (a, b) = (self.boolean(&args[0]), self.boolean(&args[1]));
                self.truth_op(|d| Op::BoolNullif(d, a, b))
            }
            // a number or text expression never stands where a boolean is expected (checked)
            _ => self.truth_reg(NULL),
        }
    }
}

/// The operands of a chain of ANDs (`and`) or ORs, in order.
fn flatten<'e>(e: &'e Expr, and: bool, out: &mut Vec<&'e Expr>) {
    match (e, and) {
        (Expr::And(a, b), true) | (Expr::Or(a, b), false) => {
            flatten(a, and, out);
            flatten(b, and, out);
        }
        _ => out.push(e),
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

    /// Runs `program` on a row indexed like [`COLUMNS`].
    fn run(program: &mut Program, row: &[Value]) {
        let mut text = [None; MAX_SLOTS];
        program.clear();
        for (i, &k) in program.columns().to_vec().iter().enumerate() {
            match row[k] {
                Value::Number(x) => program.set_number(i, x),
                Value::Text(t) => text[i] = Some(t),
                Value::Bool(b) => program.set_bool(i, b),
                Value::Null => {}
            }
        }
        program.run(&text);
    }

    /// Checks the program against the tree evaluator on random rows; returns (TRUE, all) counts.
    fn assert_same(rules: &[Rule], sources: &[String], g: &mut Gen, rows: usize) -> (usize, usize) {
        let mut program = Program::new(rules.iter());
        let mut hits = 0;
        assert_eq!(program.len(), rules.len());
        for _ in 0..rows {
            let row = random_row(g);
            run(&mut program, &row);
            for (i, r) in rules.iter().enumerate() {
                let m = program.matches(i);
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
