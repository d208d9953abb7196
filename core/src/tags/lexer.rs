//! The lexer: the text of a tag expression as a list of typed [`Token`]s, each with the byte
//! offset where it starts. Comments, casts (`::`), `;` and every character outside the language
//! are rejected here, with the 1-based character position in the message.

use std::fmt;

use super::err;
use crate::CoreError;

/// Declares [`Keyword`] from a list of variants and their (lowercase) words.
macro_rules! keywords {
    ($($variant:ident = $word:literal,)*) => {
        /// A reserved word. Only the first nine have a meaning in the language; the others are
        /// reserved so that a rule cannot use them as column names, and so that SQL written by
        /// mistake (`SELECT`, `CASE`, `LIKE`...) gets a clear error.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(super) enum Keyword {
            $($variant,)*
        }

        impl Keyword {
            /// The keyword spelled by a lowercased word, if any.
            pub(super) fn from_word(word: &str) -> Option<Keyword> {
                match word {
                    $($word => Some(Keyword::$variant),)*
                    _ => None,
                }
            }

            /// The keyword in lowercase, as written in error messages and function names.
            pub(super) fn word(self) -> &'static str {
                match self {
                    $(Keyword::$variant => $word,)*
                }
            }
        }
    };
}

keywords! {
    And = "and",
    Or = "or",
    Not = "not",
    Is = "is",
    Null = "null",
    True = "true",
    False = "false",
    Between = "between",
    In = "in",
    Select = "select",
    From = "from",
    Where = "where",
    Case = "case",
    When = "when",
    Then = "then",
    Else = "else",
    End = "end",
    Like = "like",
    Ilike = "ilike",
    Similar = "similar",
    Exists = "exists",
    Any = "any",
    All = "all",
    Some = "some",
    Array = "array",
    Cast = "cast",
    Distinct = "distinct",
    Unknown = "unknown",
}

/// A token of a tag expression.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Token {
    /// An unquoted identifier that is not a keyword (a column or function name), lowercased.
    Ident(String),
    /// A double-quoted identifier, case kept and `""` unescaped; never a keyword.
    Quoted(String),
    /// A reserved word, written in any case.
    Keyword(Keyword),
    /// `$name`: a parameter, the name lowercased and without the `$`.
    Param(String),
    /// A number literal (always finite).
    Number(f64),
    /// A single-quoted string literal, `''` unescaped.
    Str(String),
    /// `=`
    Eq,
    /// `<>` or `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
    /// The end of the expression (always the last token).
    End,
}

impl Token {
    /// The spelling of an operator or punctuation token (`!=` is spelled `<>`).
    fn symbol(&self) -> Option<&'static str> {
        Some(match self {
            Token::Eq => "=",
            Token::Ne => "<>",
            Token::Lt => "<",
            Token::Le => "<=",
            Token::Gt => ">",
            Token::Ge => ">=",
            Token::Plus => "+",
            Token::Minus => "-",
            Token::Star => "*",
            Token::Slash => "/",
            Token::LParen => "(",
            Token::RParen => ")",
            Token::Comma => ",",
            _ => return None,
        })
    }
}

/// The token as named in "expected ..., found ..." messages.
impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::End => f.write_str("the end of the expression"),
            Token::Ident(s) | Token::Quoted(s) => write!(f, "\"{s}\""),
            Token::Keyword(k) => write!(f, "\"{}\"", k.word()),
            Token::Param(s) => write!(f, "${s}"),
            Token::Number(v) => write!(f, "{v}"),
            Token::Str(s) => write!(f, "'{s}'"),
            op => write!(f, "\"{}\"", op.symbol().unwrap_or("?")),
        }
    }
}

/// Splits `src` into tokens, each with the byte offset where it starts; the last is
/// [`Token::End`] at `src.len()`.
pub(super) fn lex(src: &str) -> Result<Vec<(Token, usize)>, CoreError> {
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
            let word = src[start..i].to_lowercase();
            let token = match Keyword::from_word(&word) {
                Some(k) => Token::Keyword(k),
                None => Token::Ident(word),
            };
            out.push((token, start));
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
            out.push((Token::Param(src[start + 1..i].to_lowercase()), start));
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
            out.push((Token::Number(v), start));
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
                    Token::Str(s)
                } else {
                    Token::Quoted(s)
                },
                start,
            ));
        } else {
            let two = src.get(i..i + 2).unwrap_or("");
            let (token, len) = match two {
                "<=" => (Token::Le, 2),
                ">=" => (Token::Ge, 2),
                "<>" | "!=" => (Token::Ne, 2),
                "::" => {
                    return Err(err(format!(
                        "casts (::) are not allowed (at character {})",
                        i + 1
                    )))
                }
                _ => (
                    match c {
                        b'=' => Token::Eq,
                        b'<' => Token::Lt,
                        b'>' => Token::Gt,
                        b'+' => Token::Plus,
                        b'-' => Token::Minus,
                        b'*' => Token::Star,
                        b'/' => Token::Slash,
                        b'(' => Token::LParen,
                        b')' => Token::RParen,
                        b',' => Token::Comma,
                        _ => {
                            let ch = src[i..].chars().next().unwrap_or('?');
                            return Err(err(format!(
                                "unexpected character '{ch}' at character {}",
                                i + 1
                            )));
                        }
                    },
                    1,
                ),
            };
            i += len;
            out.push((token, start));
        }
    }
    out.push((Token::End, src.len()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(src: &str) -> Vec<Token> {
        lex(src).unwrap().into_iter().map(|(t, _)| t).collect()
    }

    fn msg(src: &str) -> String {
        lex(src).unwrap_err().to_string()
    }

    #[test]
    fn typed_tokens_with_offsets() {
        use Token::*;
        let toks = lex("Since_Last >= $X AND \"Segment\" IN ('it''s', 1.5e3)").unwrap();
        let offsets: Vec<usize> = toks.iter().map(|(_, at)| *at).collect();
        assert_eq!(offsets, [0, 11, 14, 17, 21, 31, 34, 35, 42, 44, 49, 50]);
        let toks: Vec<Token> = toks.into_iter().map(|(t, _)| t).collect();
        assert_eq!(
            toks,
            [
                Ident("since_last".into()),
                Ge,
                Param("x".into()),
                Keyword(super::Keyword::And),
                Quoted("Segment".into()),
                Keyword(super::Keyword::In),
                LParen,
                Str("it's".into()),
                Comma,
                Number(1500.0),
                RParen,
                End,
            ]
        );
        assert_eq!(
            tokens("= <> != < <= > >= + - * / ( ) ,"),
            [Eq, Ne, Ne, Lt, Le, Gt, Ge, Plus, Minus, Star, Slash, LParen, RParen, Comma, End]
        );
        assert_eq!(
            tokens("1e1 .5 5. 1e"),
            [
                Number(10.0),
                Number(0.5),
                Number(5.0),
                Number(1.0),
                Ident("e".into()),
                End
            ]
        );
        // keywords in any case; a quoted keyword is an identifier
        assert_eq!(
            tokens("NOT Null \"and\" ceiling"),
            [
                Keyword(super::Keyword::Not),
                Keyword(super::Keyword::Null),
                Quoted("and".into()),
                Ident("ceiling".into()),
                End
            ]
        );
        assert_eq!(tokens("  "), [End]);
    }

    #[test]
    fn keywords_round_trip() {
        for w in ["and", "between", "select", "some", "unknown", "end"] {
            assert_eq!(Keyword::from_word(w).unwrap().word(), w);
        }
        assert_eq!(
            Keyword::from_word("AND"),
            None,
            "words are lowercased first"
        );
        assert_eq!(Keyword::from_word("frequency"), None);
    }

    #[test]
    fn displays_tokens_as_in_messages() {
        assert_eq!(Token::End.to_string(), "the end of the expression");
        assert_eq!(Token::Ident("x".into()).to_string(), "\"x\"");
        assert_eq!(Token::Keyword(Keyword::Select).to_string(), "\"select\"");
        assert_eq!(Token::Param("x".into()).to_string(), "$x");
        assert_eq!(Token::Number(1.5).to_string(), "1.5");
        assert_eq!(Token::Str("a".into()).to_string(), "'a'");
        assert_eq!(Token::Ne.to_string(), "\"<>\"");
        assert_eq!(Token::RParen.to_string(), "\")\"");
    }

    #[test]
    fn rejects_what_is_not_in_the_language() {
        for (src, expect) in [
            ("frequency > 1; DROP TABLE x", "unexpected character ';'"),
            ("frequency > 1 -- x", "comments are not allowed"),
            ("frequency > 1 /* x */", "comments are not allowed"),
            ("frequency::text = '1'", "casts (::) are not allowed"),
            ("segment = 'x", "unterminated string"),
            ("\"segment = 'x'", "unterminated quoted identifier"),
            ("x.y > 1", "unexpected character '.'"),
            ("1.2.3 > 0", "bad number \"1.2.3\" at character 1"),
            ("1e999 > 0", "out of range"),
            ("$1 > 0", "a parameter is written $name"),
            ("$ > 0", "a parameter is written $name"),
            ("tiers.secret() > 0", "unexpected character '.'"),
            ("1 ! 2", "unexpected character '!' at character 3"),
        ] {
            let m = msg(src);
            assert!(m.starts_with("tag expression: "), "{src}: {m}");
            assert!(m.contains(expect), "{src}: {m}");
        }
    }
}
