//! Tag rules: a small, safe subset of SQL boolean expressions over the columns of a customer
//! row (summary, RFM, ABC, CLV and tier columns), compiled once and evaluated per row.
//!
//! The language is deliberately closed: column names from [`COLUMNS`], `$parameters`, number,
//! string and boolean literals, `AND OR NOT`, comparisons, `IS [NOT] NULL`, `IS [NOT] TRUE/FALSE`,
//! `[NOT] BETWEEN`, `[NOT] IN (...)`, `+ - * /` and a fixed list of pure functions
//! ([`FUNCTIONS`]). There is no way to name a table, call any other function or run a statement,
//! so a rule cannot be used for SQL injection. Evaluation follows SQL's three-valued logic; a
//! row is tagged only when its rule is TRUE (NULL counts as not matched). Division by zero and
//! functions outside their domain (`ln(0)`, `sqrt(-1)`) give NULL instead of an error, and a NaN
//! input is NULL, so a single odd customer cannot abort a query over millions.

use crate::CoreError;

/// The type of a column, a parameter or an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Number,
    Text,
    Bool,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Number => "number",
            Kind::Text => "text",
            Kind::Bool => "boolean",
        }
    }
}

/// A column of a customer row that tag rules may reference.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub description: &'static str,
}

const fn col(name: &'static str, kind: Kind, description: &'static str) -> Column {
    Column {
        name,
        kind,
        description,
    }
}

/// The columns tag rules may reference (the `customer_summary` fields, the RFM, ABC, CLV and
/// tier columns of a tier view). A row that lacks a column gives NULL for it.
pub const COLUMNS: &[Column] = &[
    col(
        "orders",
        Kind::Number,
        "orders (rows with a positive amount)",
    ),
    col("returns", Kind::Number, "rows with a negative amount"),
    col("occasions", Kind::Number, "distinct purchase periods"),
    col(
        "frequency",
        Kind::Number,
        "repeat purchase occasions (occasions - 1)",
    ),
    col(
        "recency",
        Kind::Number,
        "time from the first to the last purchase",
    ),
    col(
        "tenure",
        Kind::Number,
        "time from the first purchase to as_of",
    ),
    col(
        "since_last",
        Kind::Number,
        "time from the last purchase to as_of",
    ),
    col(
        "monetary_total",
        Kind::Number,
        "net revenue of the customer",
    ),
    col(
        "monetary",
        Kind::Number,
        "mean value of the repeat occasions",
    ),
    col("recent_spend", Kind::Number, "revenue in the recent window"),
    col(
        "earlier_spend",
        Kind::Number,
        "revenue in the window before it",
    ),
    col("r", Kind::Number, "RFM recency score"),
    col("f", Kind::Number, "RFM frequency score"),
    col("m", Kind::Number, "RFM monetary score"),
    col("score", Kind::Text, "RFM cell, e.g. '545'"),
    col("segment", Kind::Text, "RFM segment name"),
    col("class8", Kind::Text, "8-class RFM label"),
    col("abc_class", Kind::Text, "ABC class: 'A', 'B' or 'C'"),
    col(
        "p_alive",
        Kind::Number,
        "probability that the customer is alive",
    ),
    col(
        "expected_purchases",
        Kind::Number,
        "expected purchases over the horizon",
    ),
    col(
        "expected_spend",
        Kind::Number,
        "expected mean spend per purchase",
    ),
    col(
        "clv",
        Kind::Number,
        "customer lifetime value over the horizon",
    ),
    col("value", Kind::Number, "the value that drives the tier"),
    col("tier", Kind::Text, "current tier"),
    col(
        "previous_tier",
        Kind::Text,
        "tier at the previous evaluation",
    ),
];

/// The index of a column in [`COLUMNS`].
pub fn column_index(name: &str) -> Option<usize> {
    COLUMNS.iter().position(|c| c.name == name)
}

/// The functions tag rules may call (all pure, NULL in → NULL out except `coalesce`).
pub const FUNCTIONS: &[&str] = &[
    "coalesce", "nullif", "least", "greatest", "abs", "round", "floor", "ceil", "sqrt", "ln",
];

/// A value during evaluation. `Text` borrows from the row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Number(f64),
    Text(&'a str),
}

/// A parameter value of a rule (`$name` in the expression).
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    Number(f64),
    Text(String),
    Bool(bool),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Func {
    Coalesce,
    Nullif,
    Least,
    Greatest,
    Abs,
    Round,
    Floor,
    Ceil,
    Sqrt,
    Ln,
}

#[derive(Clone, Debug, PartialEq)]
enum Lit {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
}

#[derive(Clone, Debug, PartialEq)]
enum Expr {
    Column(usize),
    Lit(Lit),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(Cmp, Box<Expr>, Box<Expr>),
    Arith(Arith, Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    IsNull(Box<Expr>, bool),
    IsBool(Box<Expr>, bool, bool),
    Between(Box<Expr>, Box<Expr>, Box<Expr>, bool),
    In(Box<Expr>, Vec<Expr>, bool),
    Call(Func, Vec<Expr>),
}

/// A compiled, type-checked rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    expr: Expr,
    /// Indexes into [`COLUMNS`] of the columns the rule reads, ascending, without repeats.
    pub columns: Vec<usize>,
}

/// Longest expression accepted, in bytes.
pub const MAX_LEN: usize = 10_000;
/// Deepest nesting accepted (keeps parsing and evaluation off the stack limit).
pub const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Quoted(String),
    Param(String),
    Number(f64),
    Str(String),
    Op(&'static str),
    End,
}

fn err(msg: String) -> CoreError {
    CoreError::InvalidParameter(format!("tag expression: {msg}"))
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, CoreError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if (c == b'-' && b.get(i + 1) == Some(&b'-')) || (c == b'/' && b.get(i + 1) == Some(&b'*'))
        {
            return Err(err(format!(
                "comments are not allowed (at character {})",
                i + 1
            )));
        }
        if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
                i += 1;
            }
            out.push((Tok::Ident(src[start..i].to_lowercase()), start));
        } else if c == b'$' {
            i += 1;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            if i == start + 1 || b[start + 1].is_ascii_digit() {
                return Err(err(format!(
                    "a parameter is written $name, with a name that starts with a letter (at character {})",
                    start + 1
                )));
            }
            out.push((Tok::Param(src[start + 1..i].to_lowercase()), start));
        } else if c.is_ascii_digit() || c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    i = j;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let text = &src[start..i];
            let v: f64 = text
                .parse()
                .map_err(|_| err(format!("bad number \"{text}\" at character {}", start + 1)))?;
            if !v.is_finite() {
                return Err(err(format!("number \"{text}\" is out of range")));
            }
            out.push((Tok::Number(v), start));
        } else if c == b'\'' || c == b'"' {
            let mut s = String::new();
            i += 1;
            loop {
                match src[i..].find(c as char) {
                    None => {
                        return Err(err(format!(
                            "unterminated {} at character {}",
                            if c == b'\'' {
                                "string"
                            } else {
                                "quoted identifier"
                            },
                            start + 1
                        )))
                    }
                    Some(k) => {
                        s.push_str(&src[i..i + k]);
                        i += k + 1;
                        if b.get(i) == Some(&c) {
                            s.push(c as char);
                            i += 1;
                        } else {
                            break;
                        }
                    }
                }
            }
            out.push((
                if c == b'\'' {
                    Tok::Str(s)
                } else {
                    Tok::Quoted(s)
                },
                start,
            ));
        } else {
            let two = src.get(i..i + 2).unwrap_or("");
            let op: &'static str = match two {
                "<=" => "<=",
                ">=" => ">=",
                "<>" => "<>",
                "!=" => "<>",
                "::" => {
                    return Err(err(format!(
                        "casts (::) are not allowed (at character {})",
                        i + 1
                    )))
                }
                _ => match c {
                    b'=' => "=",
                    b'<' => "<",
                    b'>' => ">",
                    b'+' => "+",
                    b'-' => "-",
                    b'*' => "*",
                    b'/' => "/",
                    b'(' => "(",
                    b')' => ")",
                    b',' => ",",
                    _ => {
                        let ch = src[i..].chars().next().unwrap_or('?');
                        return Err(err(format!(
                            "unexpected character '{ch}' at character {}",
                            i + 1
                        )));
                    }
                },
            };
            i += if op.len() == 2 || two == "!=" { 2 } else { 1 };
            out.push((Tok::Op(op), start));
        }
    }
    out.push((Tok::End, src.len()));
    Ok(out)
}

struct Parser<'p> {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
    params: &'p [(String, Param)],
    used_params: Vec<String>,
    columns: Vec<usize>,
}

const RESERVED: &[&str] = &[
    "and", "or", "not", "is", "null", "true", "false", "between", "in", "select", "from", "where",
    "case", "when", "then", "else", "end", "like", "ilike", "similar", "exists", "any", "all",
    "some", "array", "cast", "distinct", "unknown",
];

/// (expression, its type: None for a bare NULL)
type Typed = (Expr, Option<Kind>);

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }
    fn at(&self) -> usize {
        self.toks[self.pos].1 + 1
    }
    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].0.clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == kw)
    }
    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.next();
            true
        } else {
            false
        }
    }
    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }
    fn expect_op(&mut self, op: &str) -> Result<(), CoreError> {
        if self.is_op(op) {
            self.next();
            Ok(())
        } else {
            Err(self.unexpected(&format!("\"{op}\"")))
        }
    }
    fn unexpected(&self, wanted: &str) -> CoreError {
        let found = match self.peek() {
            Tok::End => "the end of the expression".to_string(),
            Tok::Ident(s) => format!("\"{s}\""),
            Tok::Quoted(s) => format!("\"{s}\""),
            Tok::Param(s) => format!("${s}"),
            Tok::Number(v) => format!("{v}"),
            Tok::Str(s) => format!("'{s}'"),
            Tok::Op(o) => format!("\"{o}\""),
        };
        err(format!(
            "expected {wanted} at character {}, found {found}",
            self.at()
        ))
    }
    fn enter(&mut self) -> Result<(), CoreError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Typed, CoreError> {
        self.enter()?;
        let mut l = self.and()?;
        while self.eat_kw("or") {
            let r = self.and()?;
            l = (
                Expr::Or(Box::new(logical(l, "OR")?), Box::new(logical(r, "OR")?)),
                Some(Kind::Bool),
            );
        }
        self.depth -= 1;
        Ok(l)
    }
    fn and(&mut self) -> Result<Typed, CoreError> {
        let mut l = self.not()?;
        while self.eat_kw("and") {
            let r = self.not()?;
            l = (
                Expr::And(Box::new(logical(l, "AND")?), Box::new(logical(r, "AND")?)),
                Some(Kind::Bool),
            );
        }
        Ok(l)
    }
    fn not(&mut self) -> Result<Typed, CoreError> {
        if self.eat_kw("not") {
            self.enter()?;
            let e = self.not()?;
            self.depth -= 1;
            return Ok((Expr::Not(Box::new(logical(e, "NOT")?)), Some(Kind::Bool)));
        }
        self.predicate()
    }
    fn predicate(&mut self) -> Result<Typed, CoreError> {
        let l = self.additive()?;
        let cmp = match self.peek() {
            Tok::Op("=") => Some(Cmp::Eq),
            Tok::Op("<>") => Some(Cmp::Ne),
            Tok::Op("<") => Some(Cmp::Lt),
            Tok::Op("<=") => Some(Cmp::Le),
            Tok::Op(">") => Some(Cmp::Gt),
            Tok::Op(">=") => Some(Cmp::Ge),
            _ => None,
        };
        if let Some(op) = cmp {
            let at = self.at();
            self.next();
            let r = self.additive()?;
            same_kind(&[&l, &r], at, "compare")?;
            return Ok((
                Expr::Cmp(op, Box::new(l.0), Box::new(r.0)),
                Some(Kind::Bool),
            ));
        }
        if self.eat_kw("is") {
            let negated = self.eat_kw("not");
            return match self.next() {
                Tok::Ident(s) if s == "null" => {
                    Ok((Expr::IsNull(Box::new(l.0), negated), Some(Kind::Bool)))
                }
                Tok::Ident(s) if s == "true" || s == "false" => {
                    let l = logical(l, "IS TRUE/FALSE")?;
                    Ok((
                        Expr::IsBool(Box::new(l), s == "true", negated),
                        Some(Kind::Bool),
                    ))
                }
                _ => {
                    self.pos -= 1;
                    Err(self.unexpected("NULL, TRUE or FALSE after IS"))
                }
            };
        }
        let negated = if self.is_kw("not") {
            match self.toks.get(self.pos + 1) {
                Some((Tok::Ident(s), _)) if s == "between" || s == "in" => {
                    self.next();
                    true
                }
                _ => false,
            }
        } else {
            false
        };
        if self.eat_kw("between") {
            let at = self.at();
            let lo = self.additive()?;
            if !self.eat_kw("and") {
                return Err(self.unexpected("AND in BETWEEN"));
            }
            let hi = self.additive()?;
            same_kind(&[&l, &lo, &hi], at, "compare")?;
            return Ok((
                Expr::Between(Box::new(l.0), Box::new(lo.0), Box::new(hi.0), negated),
                Some(Kind::Bool),
            ));
        }
        if self.eat_kw("in") {
            let at = self.at();
            self.expect_op("(")?;
            let mut items = vec![self.additive()?];
            while self.is_op(",") {
                self.next();
                items.push(self.additive()?);
            }
            self.expect_op(")")?;
            let mut all: Vec<&Typed> = vec![&l];
            all.extend(items.iter());
            same_kind(&all, at, "compare")?;
            return Ok((
                Expr::In(
                    Box::new(l.0),
                    items.into_iter().map(|t| t.0).collect(),
                    negated,
                ),
                Some(Kind::Bool),
            ));
        }
        if negated {
            return Err(self.unexpected("BETWEEN or IN after NOT"));
        }
        Ok(l)
    }
    fn additive(&mut self) -> Result<Typed, CoreError> {
        let mut l = self.multiplicative()?;
        loop {
            let op = match self.peek() {
                Tok::Op("+") => Arith::Add,
                Tok::Op("-") => Arith::Sub,
                _ => return Ok(l),
            };
            let at = self.at();
            self.next();
            let r = self.multiplicative()?;
            l = arith(op, l, r, at)?;
        }
    }
    fn multiplicative(&mut self) -> Result<Typed, CoreError> {
        let mut l = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Op("*") => Arith::Mul,
                Tok::Op("/") => Arith::Div,
                _ => return Ok(l),
            };
            let at = self.at();
            self.next();
            let r = self.unary()?;
            l = arith(op, l, r, at)?;
        }
    }
    fn unary(&mut self) -> Result<Typed, CoreError> {
        if self.is_op("-") || self.is_op("+") {
            let minus = self.is_op("-");
            let at = self.at();
            self.next();
            self.enter()?;
            let e = self.unary()?;
            self.depth -= 1;
            numeric(&e, at, "negate")?;
            return Ok(if minus {
                (Expr::Neg(Box::new(e.0)), Some(Kind::Number))
            } else {
                e
            });
        }
        self.primary()
    }
    fn primary(&mut self) -> Result<Typed, CoreError> {
        let at = self.at();
        match self.next() {
            Tok::Number(v) => Ok((Expr::Lit(Lit::Number(v)), Some(Kind::Number))),
            Tok::Str(s) => Ok((Expr::Lit(Lit::Text(s)), Some(Kind::Text))),
            Tok::Param(name) => match self
                .params
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
            {
                None => Err(err(format!(
                    "parameter ${name} (at character {at}) is not defined in the rule's params"
                ))),
                Some(p) => {
                    if !self.used_params.contains(&name) {
                        self.used_params.push(name);
                    }
                    Ok(match p {
                        Param::Number(v) => (Expr::Lit(Lit::Number(v)), Some(Kind::Number)),
                        Param::Text(s) => (Expr::Lit(Lit::Text(s)), Some(Kind::Text)),
                        Param::Bool(b) => (Expr::Lit(Lit::Bool(b)), Some(Kind::Bool)),
                    })
                }
            },
            Tok::Op("(") => {
                let e = self.or()?;
                self.expect_op(")")?;
                Ok(e)
            }
            Tok::Ident(s) if s == "null" => Ok((Expr::Lit(Lit::Null), None)),
            Tok::Ident(s) if s == "true" || s == "false" => {
                Ok((Expr::Lit(Lit::Bool(s == "true")), Some(Kind::Bool)))
            }
            Tok::Ident(s) if self.is_op("(") => self.call(&s, at),
            Tok::Ident(s) if RESERVED.contains(&s.as_str()) => {
                self.pos -= 1;
                Err(self.unexpected("a column, a literal or a parameter"))
            }
            Tok::Ident(s) | Tok::Quoted(s) => {
                if self.is_op("(") {
                    return Err(err(format!("function \"{s}\" is not allowed")));
                }
                if matches!(self.peek(), Tok::Ident(_)) && !self.is_reserved_next() {
                    return Err(self.unexpected("an operator"));
                }
                match column_index(&s) {
                    Some(k) => {
                        if !self.columns.contains(&k) {
                            self.columns.push(k);
                        }
                        Ok((Expr::Column(k), Some(COLUMNS[k].kind)))
                    }
                    None => Err(err(format!(
                        "unknown column \"{s}\" at character {at} (known columns: {})",
                        COLUMNS
                            .iter()
                            .map(|c| c.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))),
                }
            }
            _ => {
                self.pos -= 1;
                Err(self.unexpected("a column, a literal or a parameter"))
            }
        }
    }
    fn is_reserved_next(&self) -> bool {
        matches!(self.peek(), Tok::Ident(s) if RESERVED.contains(&s.as_str()))
    }
    fn call(&mut self, name: &str, at: usize) -> Result<Typed, CoreError> {
        let f = match name {
            "coalesce" => Func::Coalesce,
            "nullif" => Func::Nullif,
            "least" => Func::Least,
            "greatest" => Func::Greatest,
            "abs" => Func::Abs,
            "round" => Func::Round,
            "floor" => Func::Floor,
            "ceil" | "ceiling" => Func::Ceil,
            "sqrt" => Func::Sqrt,
            "ln" => Func::Ln,
            _ => {
                return Err(err(format!(
                    "function \"{name}\" is not allowed (allowed: {})",
                    FUNCTIONS.join(", ")
                )))
            }
        };
        self.expect_op("(")?;
        self.enter()?;
        let mut args = Vec::new();
        if !self.is_op(")") {
            args.push(self.or()?);
            while self.is_op(",") {
                self.next();
                args.push(self.or()?);
            }
        }
        self.expect_op(")")?;
        self.depth -= 1;
        let n = args.len();
        let arity_ok = match f {
            Func::Coalesce | Func::Least | Func::Greatest => n >= 1,
            Func::Nullif => n == 2,
            Func::Round => n == 1 || n == 2,
            _ => n == 1,
        };
        if !arity_ok {
            return Err(err(format!(
                "{name}() at character {at} does not take {n} argument(s)"
            )));
        }
        let kind = match f {
            Func::Coalesce | Func::Nullif => {
                let refs: Vec<&Typed> = args.iter().collect();
                same_kind(&refs, at, name)?
            }
            _ => {
                for a in &args {
                    numeric(a, at, name)?;
                }
                Some(Kind::Number)
            }
        };
        Ok((Expr::Call(f, args.into_iter().map(|a| a.0).collect()), kind))
    }
}

fn logical(t: Typed, op: &str) -> Result<Expr, CoreError> {
    match t.1 {
        Some(Kind::Bool) | None => Ok(t.0),
        Some(k) => Err(err(format!(
            "argument of {op} must be boolean, not {}",
            k.name()
        ))),
    }
}

fn numeric(t: &Typed, at: usize, what: &str) -> Result<(), CoreError> {
    match t.1 {
        Some(Kind::Number) | None => Ok(()),
        Some(k) => Err(err(format!(
            "cannot {what} a {} value (at character {at}): a number is needed",
            k.name()
        ))),
    }
}

fn same_kind(items: &[&Typed], at: usize, what: &str) -> Result<Option<Kind>, CoreError> {
    let mut kind = None;
    for t in items {
        match (kind, t.1) {
            (_, None) => {}
            (None, k) => kind = k,
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => {
                return Err(err(format!(
                    "cannot {what} {} with {} (at character {at})",
                    a.name(),
                    b.name()
                )))
            }
        }
    }
    Ok(kind)
}

fn arith(op: Arith, l: Typed, r: Typed, at: usize) -> Result<Typed, CoreError> {
    numeric(&l, at, "do arithmetic on")?;
    numeric(&r, at, "do arithmetic on")?;
    Ok((
        Expr::Arith(op, Box::new(l.0), Box::new(r.0)),
        Some(Kind::Number),
    ))
}

/// Parses and type-checks a rule. Every `$name` must be in `params`; the result must be boolean.
/// Returns the rule and the names of the parameters it uses.
pub fn compile(src: &str, params: &[(String, Param)]) -> Result<(Rule, Vec<String>), CoreError> {
    if src.len() > MAX_LEN {
        return Err(err(format!("longer than {MAX_LEN} bytes")));
    }
    if src.trim().is_empty() {
        return Err(err("is empty".into()));
    }
    let toks = lex(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        params,
        used_params: Vec::new(),
        columns: Vec::new(),
    };
    let (expr, kind) = p.or()?;
    if *p.peek() != Tok::End {
        return Err(p.unexpected(if p.is_op(";") {
            "no ';'"
        } else {
            "the end of the expression"
        }));
    }
    if let Some(k) = kind {
        if k != Kind::Bool {
            return Err(err(format!("must be boolean, not {}", k.name())));
        }
    }
    let mut columns = p.columns;
    columns.sort_unstable();
    Ok((Rule { expr, columns }, p.used_params))
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
            tri(o.map(|o| match op {
                Cmp::Eq => o.is_eq(),
                Cmp::Ne => o.is_ne(),
                Cmp::Lt => o.is_lt(),
                Cmp::Le => o.is_le(),
                Cmp::Gt => o.is_gt(),
                Cmp::Ge => o.is_ge(),
            }))
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
    use super::*;

    fn params(p: &[(&str, f64)]) -> Vec<(String, Param)> {
        p.iter()
            .map(|(n, v)| (n.to_string(), Param::Number(*v)))
            .collect()
    }

    fn rule(src: &str) -> Rule {
        compile(src, &params(&[("x", 10.0)])).unwrap().0
    }

    fn row<'a>(pairs: &[(&str, Value<'a>)]) -> Vec<Value<'a>> {
        let mut r = vec![Value::Null; COLUMNS.len()];
        for (n, v) in pairs {
            r[column_index(n).unwrap()] = *v;
        }
        r
    }

    fn msg(src: &str) -> String {
        compile(src, &params(&[("x", 10.0)]))
            .unwrap_err()
            .to_string()
    }

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

    #[test]
    fn collects_columns() {
        let r = rule("since_last > 1 AND frequency > 0 AND since_last < 9");
        let mut want = vec![
            column_index("frequency").unwrap(),
            column_index("since_last").unwrap(),
        ];
        want.sort();
        assert_eq!(r.columns, want);
    }

    #[test]
    fn rejects_unsafe_and_wrong_expressions() {
        for (src, expect) in [
            ("frequency > 1; DROP TABLE x", "unexpected character ';'"),
            (
                "pg_sleep(10) IS NULL",
                "function \"pg_sleep\" is not allowed",
            ),
            ("(SELECT 1) = 1", "expected a column"),
            ("frequency > 1 -- x", "comments are not allowed"),
            ("frequency > 1 /* x */", "comments are not allowed"),
            ("frequency::text = '1'", "casts (::) are not allowed"),
            ("bogus > 1", "unknown column \"bogus\""),
            ("frequency > $y", "parameter $y"),
            ("frequency + 1", "must be boolean, not number"),
            ("segment > 1", "cannot compare text with number"),
            ("segment + 1 > 0", "cannot do arithmetic on a text"),
            ("frequency AND true", "argument of AND must be boolean"),
            ("NOT frequency", "argument of NOT must be boolean"),
            ("frequency > ", "expected a column"),
            ("(frequency > 1", "expected \")\""),
            ("frequency > 1)", "expected the end"),
            ("segment = 'x", "unterminated string"),
            ("frequency frequency", "expected an operator"),
            ("x.y > 1", "unexpected character '.'"),
            ("abs(1, 2) > 0", "does not take 2"),
            ("", "is empty"),
            ("frequency IS 1", "NULL, TRUE or FALSE"),
            ("frequency NOT 1", "expected the end"),
            ("1e999 > 0", "out of range"),
            ("$1 > 0", "a parameter is written $name"),
            ("tiers.secret() > 0", "unexpected character '.'"),
            ("current_user = 'x'", "unknown column \"current_user\""),
        ] {
            let m = msg(src);
            assert!(m.contains(expect), "{src}: {m}");
        }
        let deep = format!("{}true{}", "(".repeat(100), ")".repeat(100));
        assert!(msg(&deep).contains("nested deeper"));
        let deep_not = format!("{}true", "NOT ".repeat(100));
        assert!(msg(&deep_not).contains("nested deeper"));
        let deep_neg = format!("{}1 > 0", "-".repeat(100));
        assert!(msg(&deep_neg).contains("nested deeper") || msg(&deep_neg).contains("comments"));
        assert!(msg(&"frequency > 1 AND ".repeat(1000)).contains("longer than"));
    }

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

    #[test]
    fn never_panics_on_garbage() {
        // a cheap deterministic fuzz: random byte strings from an expression alphabet
        let alphabet: Vec<&str> = vec![
            "(",
            ")",
            " AND ",
            " OR ",
            "NOT ",
            " IS ",
            "NULL",
            "TRUE",
            " IN ",
            " BETWEEN ",
            ",",
            "frequency",
            "segment",
            "'a'",
            "1",
            "1.5e3",
            "$x",
            "$",
            "=",
            "<",
            ">=",
            "+",
            "-",
            "*",
            "/",
            "coalesce(",
            "abs(",
            "\"",
            "'",
            "é",
            "::",
            ";",
            "--",
            ".",
            "e",
            "9",
        ];
        let mut seed: u64 = 42;
        for _ in 0..20_000 {
            let mut s = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let n = (seed % 24) as usize;
            for _ in 0..n {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push_str(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            if let Ok((r, _)) = compile(&s, &params(&[("x", 1.0)])) {
                let _ = r.matches(&vec![Value::Null; COLUMNS.len()]);
            }
        }
    }
}
