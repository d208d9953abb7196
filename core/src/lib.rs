//! Pure-Rust mathematics of the `customer_tiers` PostgreSQL extension.
//!
//! Nothing in this crate knows about PostgreSQL: it is tested with plain `cargo test`,
//! and the extension crate only converts types, checks arguments and raises errors.

// the exception: the AVX2 quadrature nodes behind a processor check (clv::power_integral) and
// their test against the portable code
#![deny(unsafe_code)]

pub mod abc;
pub mod bgbb;
pub mod clv;
pub mod evaluation;
pub mod fuzz;
pub mod intervals;
pub mod kmeans;
pub mod purchases;
pub mod quantile;
pub mod rfm;
pub mod state;
pub mod summary;
pub mod tags;
pub mod tiers;
pub mod time;
pub mod validation;

/// An error of the core, mapped by the SQL layer onto an SQLSTATE.
#[derive(Debug, Clone, PartialEq)]
pub enum CoreError {
    /// A parameter outside its accepted domain (SQLSTATE 22023).
    InvalidParameter(String),
    /// A value outside the representable or accepted range (SQLSTATE 22003).
    OutOfRange(String),
    /// A serialized state that cannot be decoded (SQLSTATE XX001 style: data corrupted).
    Corrupt(String),
}

impl std::fmt::Display for CoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CoreError::InvalidParameter(m) | CoreError::OutOfRange(m) | CoreError::Corrupt(m) => {
                f.write_str(m)
            }
        }
    }
}

impl std::error::Error for CoreError {}
