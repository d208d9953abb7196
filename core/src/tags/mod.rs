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
//!
//! # Pipeline
//!
//! [`compile`] runs once per rule, [`Rule::matches`] once per customer row:
//!
//! 1. **text → tokens** (`lexer.rs`): typed tokens (identifiers, keywords, `$parameters`,
//!    numbers, strings, operators, parentheses) with their positions; comments, casts and any
//!    character outside the language are refused here.
//! 2. **tokens → AST** (`parser.rs`): recursive descent with SQL's precedence into an
//!    expression tree; parameters become literals and column names indexes into [`COLUMNS`]
//!    (`columns.rs`); nesting is bounded by [`MAX_DEPTH`].
//! 3. **checked** (`check.rs`): each node is type-checked as the parser builds it, so the first
//!    error in reading order is reported; the whole rule must be boolean.
//! 4. **evaluated per customer row** (`eval.rs`): the tree is walked over a row of [`Value`]s
//!    indexed like [`COLUMNS`], in three-valued logic, never failing. This is the reference
//!    semantics ([`Rule::matches`]).
//! 5. **compiled for speed** (`compiled.rs`): the rules of a statement become a [`Program`]: one
//!    flat list of instructions over typed registers (the row's columns are the first ones),
//!    with the results of [`Rule::matches`]; the extension fills the column registers from the
//!    row and runs it per row.
//!
//! The preset rules shipped with the extension are in `presets.rs` ([`PRESETS`]).

mod check;
mod columns;
mod compiled;
mod eval;
mod lexer;
mod parser;
mod presets;

pub use columns::{column_index, Column, Kind, COLUMNS};
pub use compiled::{Program, MAX_SLOTS};
pub use eval::Value;
pub use parser::FUNCTIONS;
pub use presets::{Preset, PRESETS};

use crate::CoreError;

/// A parameter value of a rule (`$name` in the expression).
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    Number(f64),
    Text(String),
    Bool(bool),
}

/// A compiled, type-checked rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    expr: parser::Expr,
    /// Indexes into [`COLUMNS`] of the columns the rule reads, ascending, without repeats.
    pub columns: Vec<usize>,
}

/// Longest expression accepted, in bytes.
pub const MAX_LEN: usize = 10_000;
/// Deepest nesting accepted (keeps parsing and evaluation off the stack limit).
pub const MAX_DEPTH: usize = 64;

/// An error of a tag expression (every message starts with "tag expression: ").
fn err(msg: String) -> CoreError {
    CoreError::InvalidParameter(format!("tag expression: {msg}"))
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
    let toks = lexer::lex(src)?;
    let parsed = parser::parse(toks, params)?;
    check::result(parsed.kind)?;
    let mut columns = parsed.columns;
    columns.sort_unstable();
    Ok((
        Rule {
            expr: parsed.expr,
            columns,
        },
        parsed.used_params,
    ))
}

/// Helpers shared by the unit tests of the submodules.
#[cfg(test)]
mod test_util {
    use super::*;

    pub(super) fn params(p: &[(&str, f64)]) -> Vec<(String, Param)> {
        p.iter()
            .map(|(n, v)| (n.to_string(), Param::Number(*v)))
            .collect()
    }

    /// A rule compiled with `$x` = 10.
    pub(super) fn rule(src: &str) -> Rule {
        compile(src, &params(&[("x", 10.0)])).unwrap().0
    }

    /// A row with the given columns, NULL elsewhere.
    pub(super) fn row<'a>(pairs: &[(&str, Value<'a>)]) -> Vec<Value<'a>> {
        let mut r = vec![Value::Null; COLUMNS.len()];
        for (n, v) in pairs {
            r[column_index(n).unwrap()] = *v;
        }
        r
    }

    /// The error message of compiling `src` with `$x` = 10.
    pub(super) fn msg(src: &str) -> String {
        compile(src, &params(&[("x", 10.0)]))
            .unwrap_err()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::{msg, params};
    use super::*;

    #[test]
    fn compiles_with_parameters() {
        let ps = vec![
            ("x".to_string(), Param::Number(10.0)),
            ("s".to_string(), Param::Text("A".into())),
            ("unused".to_string(), Param::Bool(true)),
        ];
        let (r, used) = compile("abc_class = $S AND frequency > $x AND $x > 1", &ps).unwrap();
        assert_eq!(used, ["s", "x"], "in order of first use, without repeats");
        assert_eq!(
            r.columns,
            [
                column_index("frequency").unwrap(),
                column_index("abc_class").unwrap()
            ]
        );
        assert!(
            compile("NULL", &[]).is_ok(),
            "a bare NULL is allowed (never matches)"
        );
    }

    #[test]
    fn rejects_empty_and_long_expressions() {
        assert_eq!(msg(""), "tag expression: is empty");
        assert_eq!(msg(" \t\n"), "tag expression: is empty");
        assert!(msg(&"frequency > 1 AND ".repeat(1000)).contains("longer than"));
        let long = format!("frequency > 1{}", " ".repeat(MAX_LEN - 13));
        assert!(compile(&long, &[]).is_ok());
        assert_eq!(
            msg(&format!("{long} ")),
            "tag expression: longer than 10000 bytes"
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
