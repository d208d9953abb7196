//! The columns of a customer row that a tag rule may read ([`COLUMNS`]) and the types of
//! columns, parameters and expressions ([`Kind`]). A row is passed to evaluation as a slice
//! indexed like [`COLUMNS`].

/// The type of a column, a parameter or an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Number,
    Text,
    Bool,
}

impl Kind {
    /// The name used in error messages.
    pub(super) fn name(self) -> &'static str {
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
