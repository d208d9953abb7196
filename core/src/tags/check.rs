//! Type checking: the typing rules of the language. The parser applies them to each node as it
//! builds it (so the first error in reading order is the one reported), and [`result`] to the
//! whole rule. A bare `NULL` has no type and fits anywhere.

use super::columns::Kind;
use super::err;
use super::parser::{Arith, Expr, Func};
use crate::CoreError;

/// An expression and its type (None for a bare NULL).
pub(super) type Typed = (Expr, Option<Kind>);

/// An operand of AND, OR, NOT or IS TRUE/FALSE: must be boolean.
pub(super) fn logical(t: Typed, op: &str) -> Result<Expr, CoreError> {
    match t.1 {
        Some(Kind::Bool) | None => Ok(t.0),
        Some(k) => Err(err(format!(
            "argument of {op} must be boolean, not {}",
            k.name()
        ))),
    }
}

/// An operand of arithmetic, negation or a numeric function: must be a number.
pub(super) fn numeric(t: &Typed, at: usize, what: &str) -> Result<(), CoreError> {
    match t.1 {
        Some(Kind::Number) | None => Ok(()),
        Some(k) => Err(err(format!(
            "cannot {what} a {} value (at character {at}): a number is needed",
            k.name()
        ))),
    }
}

/// Operands that are compared with each other (or are alternatives, as in `coalesce`): all of
/// one type. Returns that type (None if all are bare NULLs).
pub(super) fn same_kind(
    items: &[&Typed],
    at: usize,
    what: &str,
) -> Result<Option<Kind>, CoreError> {
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

/// `l op r` for `+ - * /`: both numbers, the result a number.
pub(super) fn arith(op: Arith, l: Typed, r: Typed, at: usize) -> Result<Typed, CoreError> {
    numeric(&l, at, "do arithmetic on")?;
    numeric(&r, at, "do arithmetic on")?;
    Ok((
        Expr::Arith(op, Box::new(l.0), Box::new(r.0)),
        Some(Kind::Number),
    ))
}

/// A call of `f` (written `name` at character `at`): the number of arguments, their types, and
/// the type of the result.
pub(super) fn call(
    f: Func,
    name: &str,
    args: &[Typed],
    at: usize,
) -> Result<Option<Kind>, CoreError> {
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
    match f {
        Func::Coalesce | Func::Nullif => {
            let refs: Vec<&Typed> = args.iter().collect();
            same_kind(&refs, at, name)
        }
        _ => {
            for a in args {
                numeric(a, at, name)?;
            }
            Ok(Some(Kind::Number))
        }
    }
}

/// The type of a whole rule: boolean (or a bare NULL, which never matches).
pub(super) fn result(kind: Option<Kind>) -> Result<(), CoreError> {
    match kind {
        Some(k) if k != Kind::Bool => Err(err(format!("must be boolean, not {}", k.name()))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::msg;

    #[test]
    fn rejects_wrong_types() {
        for (src, expect) in [
            ("frequency + 1", "must be boolean, not number"),
            ("segment", "must be boolean, not text"),
            (
                "segment > 1",
                "cannot compare text with number (at character 9)",
            ),
            ("1 IN (1, 'a')", "cannot compare number with text"),
            ("1 BETWEEN true AND 2", "cannot compare number with boolean"),
            ("segment + 1 > 0", "cannot do arithmetic on a text"),
            ("-segment > 0", "cannot negate a text value"),
            ("frequency AND true", "argument of AND must be boolean"),
            ("true OR 1", "argument of OR must be boolean, not number"),
            ("NOT frequency", "argument of NOT must be boolean"),
            ("1 IS TRUE", "argument of IS TRUE/FALSE must be boolean"),
            ("abs(1, 2) > 0", "does not take 2"),
            (
                "round() > 0",
                "round() at character 1 does not take 0 argument(s)",
            ),
            ("nullif(1) > 0", "does not take 1"),
            ("abs('a') > 0", "cannot abs a text value"),
            ("coalesce(1, 'a') > 0", "cannot coalesce number with text"),
        ] {
            let m = msg(src);
            assert!(m.contains(expect), "{src}: {m}");
        }
    }

    #[test]
    fn null_fits_anywhere() {
        use super::super::test_util::rule;
        for src in [
            "NULL",
            "NULL AND NOT NULL",
            "NULL = 1 AND 'a' = NULL",
            "-NULL + 1 > abs(NULL)",
            "coalesce(NULL, NULL) IS NULL",
            "segment IN (NULL, 'a')",
        ] {
            rule(src);
        }
    }
}
