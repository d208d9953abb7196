//! The parser: tokens to the abstract syntax tree ([`Expr`]), by recursive descent with SQL's
//! precedence (OR < AND < NOT < comparisons, IS, BETWEEN, IN < `+ -` < `* /` < unary sign).
//! Parameters are replaced by their values, column names by their index in
//! [`COLUMNS`], and each node is type-checked (module `check`) as it is built. Nesting is
//! limited to [`MAX_DEPTH`] levels.

use super::check::{self, Typed};
use super::columns::{column_index, Kind, COLUMNS};
use super::lexer::{Keyword, Token};
use super::{err, Param, MAX_DEPTH};
use crate::CoreError;

/// The functions tag rules may call (all pure, NULL in → NULL out except `coalesce`).
pub const FUNCTIONS: &[&str] = &[
    "coalesce", "nullif", "least", "greatest", "abs", "round", "floor", "ceil", "sqrt", "ln",
];

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    /// Whether the comparison holds for the ordering `o` of its left side to its right.
    #[inline]
    pub(super) fn holds(self, o: std::cmp::Ordering) -> bool {
        match self {
            Cmp::Eq => o.is_eq(),
            Cmp::Ne => o.is_ne(),
            Cmp::Lt => o.is_lt(),
            Cmp::Le => o.is_le(),
            Cmp::Gt => o.is_gt(),
            Cmp::Ge => o.is_ge(),
        }
    }
}

/// An arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

/// A function of [`FUNCTIONS`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Func {
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

/// A literal (a parameter is a literal once its value is substituted).
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Lit {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
}

/// An expression: the abstract syntax tree of a rule.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Expr {
    /// A column, by its index in [`COLUMNS`].
    Column(usize),
    Lit(Lit),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(Cmp, Box<Expr>, Box<Expr>),
    Arith(Arith, Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    /// `x IS [NOT] NULL`: (x, negated)
    IsNull(Box<Expr>, bool),
    /// `x IS [NOT] TRUE/FALSE`: (x, TRUE?, negated)
    IsBool(Box<Expr>, bool, bool),
    /// `x [NOT] BETWEEN lo AND hi`: (x, lo, hi, negated)
    Between(Box<Expr>, Box<Expr>, Box<Expr>, bool),
    /// `x [NOT] IN (items)`: (x, items, negated)
    In(Box<Expr>, Vec<Expr>, bool),
    Call(Func, Vec<Expr>),
}

/// A parsed and type-checked expression with what it refers to.
pub(super) struct Parsed {
    pub expr: Expr,
    /// The type of the expression (None for a bare NULL).
    pub kind: Option<Kind>,
    /// Indexes into [`COLUMNS`] of the columns read, in order of first use, without repeats.
    pub columns: Vec<usize>,
    /// The parameters used, in order of first use, without repeats.
    pub used_params: Vec<String>,
}

/// Parses the tokens of a whole expression (ending with [`Token::End`]), substituting `params`.
pub(super) fn parse(
    toks: Vec<(Token, usize)>,
    params: &[(String, Param)],
) -> Result<Parsed, CoreError> {
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        params,
        used_params: Vec::new(),
        columns: Vec::new(),
    };
    let (expr, kind) = p.or()?;
    if *p.peek() != Token::End {
        return Err(p.unexpected("the end of the expression"));
    }
    Ok(Parsed {
        expr,
        kind,
        columns: p.columns,
        used_params: p.used_params,
    })
}

struct Parser<'p> {
    toks: Vec<(Token, usize)>,
    pos: usize,
    depth: usize,
    params: &'p [(String, Param)],
    used_params: Vec<String>,
    columns: Vec<usize>,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.toks[self.pos].0
    }
    /// The 1-based character position of the next token.
    fn at(&self) -> usize {
        self.toks[self.pos].1 + 1
    }
    /// Consumes the next token; at the end, stays on [`Token::End`].
    fn next(&mut self) -> Token {
        let t = self.toks[self.pos].0.clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn is_kw(&self, kw: Keyword) -> bool {
        matches!(self.peek(), Token::Keyword(k) if *k == kw)
    }
    fn eat_kw(&mut self, kw: Keyword) -> bool {
        if self.is_kw(kw) {
            self.next();
            true
        } else {
            false
        }
    }
    fn is(&self, tok: &Token) -> bool {
        self.peek() == tok
    }
    fn expect(&mut self, tok: Token) -> Result<(), CoreError> {
        if self.is(&tok) {
            self.next();
            Ok(())
        } else {
            Err(self.unexpected(&tok.to_string()))
        }
    }
    fn unexpected(&self, wanted: &str) -> CoreError {
        err(format!(
            "expected {wanted} at character {}, found {}",
            self.at(),
            self.peek()
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
        while self.eat_kw(Keyword::Or) {
            let r = self.and()?;
            l = (
                Expr::Or(
                    Box::new(check::logical(l, "OR")?),
                    Box::new(check::logical(r, "OR")?),
                ),
                Some(Kind::Bool),
            );
        }
        self.depth -= 1;
        Ok(l)
    }
    fn and(&mut self) -> Result<Typed, CoreError> {
        let mut l = self.not()?;
        while self.eat_kw(Keyword::And) {
            let r = self.not()?;
            l = (
                Expr::And(
                    Box::new(check::logical(l, "AND")?),
                    Box::new(check::logical(r, "AND")?),
                ),
                Some(Kind::Bool),
            );
        }
        Ok(l)
    }
    fn not(&mut self) -> Result<Typed, CoreError> {
        if self.eat_kw(Keyword::Not) {
            self.enter()?;
            let e = self.not()?;
            self.depth -= 1;
            return Ok((
                Expr::Not(Box::new(check::logical(e, "NOT")?)),
                Some(Kind::Bool),
            ));
        }
        self.predicate()
    }
    fn predicate(&mut self) -> Result<Typed, CoreError> {
        let l = self.additive()?;
        let cmp = match self.peek() {
            Token::Eq => Some(Cmp::Eq),
            Token::Ne => Some(Cmp::Ne),
            Token::Lt => Some(Cmp::Lt),
            Token::Le => Some(Cmp::Le),
            Token::Gt => Some(Cmp::Gt),
            Token::Ge => Some(Cmp::Ge),
            _ => None,
        };
        if let Some(op) = cmp {
            let at = self.at();
            self.next();
            let r = self.additive()?;
            check::same_kind(&[&l, &r], at, "compare")?;
            return Ok((
                Expr::Cmp(op, Box::new(l.0), Box::new(r.0)),
                Some(Kind::Bool),
            ));
        }
        if self.eat_kw(Keyword::Is) {
            let negated = self.eat_kw(Keyword::Not);
            return match self.next() {
                Token::Keyword(Keyword::Null) => {
                    Ok((Expr::IsNull(Box::new(l.0), negated), Some(Kind::Bool)))
                }
                Token::Keyword(k @ (Keyword::True | Keyword::False)) => {
                    let l = check::logical(l, "IS TRUE/FALSE")?;
                    Ok((
                        Expr::IsBool(Box::new(l), k == Keyword::True, negated),
                        Some(Kind::Bool),
                    ))
                }
                _ => {
                    // back to the offending token (or, at the end, to the one before it)
                    self.pos -= 1;
                    Err(self.unexpected("NULL, TRUE or FALSE after IS"))
                }
            };
        }
        let negated = self.is_kw(Keyword::Not)
            && matches!(
                self.toks.get(self.pos + 1),
                Some((Token::Keyword(Keyword::Between | Keyword::In), _))
            );
        if negated {
            self.next();
        }
        if self.eat_kw(Keyword::Between) {
            let at = self.at();
            let lo = self.additive()?;
            if !self.eat_kw(Keyword::And) {
                return Err(self.unexpected("AND in BETWEEN"));
            }
            let hi = self.additive()?;
            check::same_kind(&[&l, &lo, &hi], at, "compare")?;
            return Ok((
                Expr::Between(Box::new(l.0), Box::new(lo.0), Box::new(hi.0), negated),
                Some(Kind::Bool),
            ));
        }
        if self.eat_kw(Keyword::In) {
            let at = self.at();
            self.expect(Token::LParen)?;
            let mut items = vec![self.additive()?];
            while self.is(&Token::Comma) {
                self.next();
                items.push(self.additive()?);
            }
            self.expect(Token::RParen)?;
            let mut all: Vec<&Typed> = vec![&l];
            all.extend(items.iter());
            check::same_kind(&all, at, "compare")?;
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
                Token::Plus => Arith::Add,
                Token::Minus => Arith::Sub,
                _ => return Ok(l),
            };
            let at = self.at();
            self.next();
            let r = self.multiplicative()?;
            l = check::arith(op, l, r, at)?;
        }
    }
    fn multiplicative(&mut self) -> Result<Typed, CoreError> {
        let mut l = self.unary()?;
        loop {
            let op = match self.peek() {
                Token::Star => Arith::Mul,
                Token::Slash => Arith::Div,
                _ => return Ok(l),
            };
            let at = self.at();
            self.next();
            let r = self.unary()?;
            l = check::arith(op, l, r, at)?;
        }
    }
    fn unary(&mut self) -> Result<Typed, CoreError> {
        let minus = match self.peek() {
            Token::Minus => true,
            Token::Plus => false,
            _ => return self.primary(),
        };
        let at = self.at();
        self.next();
        self.enter()?;
        let e = self.unary()?;
        self.depth -= 1;
        check::numeric(&e, at, "negate")?;
        Ok(if minus {
            (Expr::Neg(Box::new(e.0)), Some(Kind::Number))
        } else {
            e
        })
    }
    fn primary(&mut self) -> Result<Typed, CoreError> {
        let at = self.at();
        match self.next() {
            Token::Number(v) => Ok((Expr::Lit(Lit::Number(v)), Some(Kind::Number))),
            Token::Str(s) => Ok((Expr::Lit(Lit::Text(s)), Some(Kind::Text))),
            Token::Param(name) => match self
                .params
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
            {
                None => Err(err(format!(
                    "parameter ${name} (at character {at}) is not defined in the rule's params"
                ))),
                Some(Param::Number(v)) if v.is_nan() => Err(err(format!(
                    "parameter ${name} (at character {at}) is not a number (NaN)"
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
            Token::LParen => {
                let e = self.or()?;
                self.expect(Token::RParen)?;
                Ok(e)
            }
            Token::Keyword(Keyword::Null) => Ok((Expr::Lit(Lit::Null), None)),
            Token::Keyword(k @ (Keyword::True | Keyword::False)) => {
                Ok((Expr::Lit(Lit::Bool(k == Keyword::True)), Some(Kind::Bool)))
            }
            // a word followed by "(" is a function call (a keyword one is refused by name)
            Token::Ident(s) if self.is(&Token::LParen) => self.call(&s, at),
            Token::Keyword(k) if self.is(&Token::LParen) => self.call(k.word(), at),
            Token::Ident(s) | Token::Quoted(s) => {
                if self.is(&Token::LParen) {
                    return Err(err(format!("function \"{s}\" is not allowed")));
                }
                if matches!(self.peek(), Token::Ident(_)) {
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
                // back to the offending token (or, at the end, to the one before it)
                self.pos -= 1;
                Err(self.unexpected("a column, a literal or a parameter"))
            }
        }
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
        self.expect(Token::LParen)?;
        self.enter()?;
        let mut args = Vec::new();
        if !self.is(&Token::RParen) {
            args.push(self.or()?);
            while self.is(&Token::Comma) {
                self.next();
                args.push(self.or()?);
            }
        }
        self.expect(Token::RParen)?;
        self.depth -= 1;
        let kind = check::call(f, name, &args, at)?;
        Ok((Expr::Call(f, args.into_iter().map(|a| a.0).collect()), kind))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{msg, rule};
    use super::*;

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
    fn builds_the_tree_with_sql_precedence() {
        let f = Expr::Column(column_index("frequency").unwrap());
        let n = |v: f64| Expr::Lit(Lit::Number(v));
        let b = Box::new;
        // NOT binds looser than a comparison, AND tighter than OR, * tighter than +
        assert_eq!(
            rule("NOT frequency > 1 OR true AND 1 + 2 * $x = 3").expr,
            Expr::Or(
                b(Expr::Not(b(Expr::Cmp(Cmp::Gt, b(f.clone()), b(n(1.0)))))),
                b(Expr::And(
                    b(Expr::Lit(Lit::Bool(true))),
                    b(Expr::Cmp(
                        Cmp::Eq,
                        b(Expr::Arith(
                            Arith::Add,
                            b(n(1.0)),
                            b(Expr::Arith(Arith::Mul, b(n(2.0)), b(n(10.0))))
                        )),
                        b(n(3.0))
                    ))
                ))
            )
        );
        assert_eq!(
            rule("(frequency NOT BETWEEN -1 AND 2) IS NOT TRUE").expr,
            Expr::IsBool(
                b(Expr::Between(
                    b(f.clone()),
                    b(Expr::Neg(b(n(1.0)))),
                    b(n(2.0)),
                    true
                )),
                true,
                true
            )
        );
        assert_eq!(
            rule("ceiling(frequency) NOT IN (1, NULL)").expr,
            Expr::In(
                b(Expr::Call(Func::Ceil, vec![f])),
                vec![n(1.0), Expr::Lit(Lit::Null)],
                true
            )
        );
    }

    #[test]
    fn rejects_wrong_syntax() {
        for (src, expect) in [
            (
                "pg_sleep(10) IS NULL",
                "function \"pg_sleep\" is not allowed",
            ),
            (
                "EXISTS (SELECT 1)",
                "function \"exists\" is not allowed (allowed: ",
            ),
            ("\"abs\"(1) > 0", "function \"abs\" is not allowed"),
            ("(SELECT 1) = 1", "expected a column"),
            ("bogus > 1", "unknown column \"bogus\""),
            ("frequency > $y", "parameter $y"),
            ("frequency > ", "expected a column"),
            ("(frequency > 1", "expected \")\""),
            ("frequency > 1)", "expected the end"),
            ("frequency frequency", "expected an operator"),
            ("frequency IS 1", "NULL, TRUE or FALSE"),
            ("frequency NOT 1", "expected the end"),
            ("frequency BETWEEN 1 OR 2", "expected AND in BETWEEN"),
            ("frequency IN 1", "expected \"(\" at character 14, found 1"),
            ("current_user = 'x'", "unknown column \"current_user\""),
        ] {
            let m = msg(src);
            assert!(m.contains(expect), "{src}: {m}");
        }
        // at the end of the input, the message points at the token before it
        assert_eq!(
            msg("frequency > "),
            "tag expression: expected a column, a literal or a parameter at character 11, found \">\""
        );
        let deep = format!("{}true{}", "(".repeat(100), ")".repeat(100));
        assert!(msg(&deep).contains("nested deeper"));
        let deep_not = format!("{}true", "NOT ".repeat(100));
        assert!(msg(&deep_not).contains("nested deeper"));
        let deep_neg = format!("{}1 > 0", "-".repeat(100));
        assert!(msg(&deep_neg).contains("nested deeper") || msg(&deep_neg).contains("comments"));
        let deep_sign = format!("{}1 > 0", "- ".repeat(100));
        assert!(msg(&deep_sign).contains("nested deeper"));
        let deep_call = format!("{}1{} > 0", "abs(".repeat(100), ")".repeat(100));
        assert!(msg(&deep_call).contains("nested deeper"));
    }
}
