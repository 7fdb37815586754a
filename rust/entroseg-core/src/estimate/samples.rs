//! One input type for every score method: real samples or integer symbols.
//!
//! Permutation entropy and caller-given scores read floats; conditional entropy and the
//! context model read symbols, kept in the narrowest unsigned type the caller has (a
//! byte stream or DNA codes stay `u8`, with no widening copy). Functions that take any
//! input take a [`Samples`], and [`for_symbols!`](crate::for_symbols) expands the one
//! generic symbol path for the three widths.

/// A borrowed input: float samples, or symbols of one of three widths.
#[derive(Debug, Clone, Copy)]
pub enum Samples<'a> {
    /// Real-valued samples (permutation entropy, scores).
    Values(&'a [f64]),
    /// Symbols that fit a byte.
    U8(&'a [u8]),
    /// Symbols that fit 16 bits.
    U16(&'a [u16]),
    /// Symbols that fit 32 bits.
    U32(&'a [u32]),
}

impl Samples<'_> {
    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Samples::Values(x) => x.len(),
            Samples::U8(x) => x.len(),
            Samples::U16(x) => x.len(),
            Samples::U32(x) => x.len(),
        }
    }

    /// True when there is no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True for symbols, false for float samples.
    pub fn is_symbols(&self) -> bool {
        !matches!(self, Samples::Values(_))
    }

    /// The largest symbol (None for floats or an empty input).
    pub fn max_symbol(&self) -> Option<u64> {
        match self {
            Samples::Values(_) => None,
            Samples::U8(x) => x.iter().max().map(|&v| v as u64),
            Samples::U16(x) => x.iter().max().map(|&v| v as u64),
            Samples::U32(x) => x.iter().max().map(|&v| v as u64),
        }
    }

    /// The alphabet the symbols need: the largest symbol plus one (1 for an empty input),
    /// or an error when that exceeds `limit`.
    pub fn inferred_alphabet(&self, limit: usize) -> crate::Result<usize> {
        let max = self.max_symbol().unwrap_or(0);
        if max >= limit as u64 {
            return Err(crate::Error::parameter(format!(
                "symbols go up to {max}, beyond the largest alphabet ({limit} symbols)"
            )));
        }
        Ok(max as usize + 1)
    }

    /// The samples `range` (same kind).
    pub fn slice(&self, range: std::ops::Range<usize>) -> Self {
        match *self {
            Samples::Values(x) => Samples::Values(&x[range]),
            Samples::U8(x) => Samples::U8(&x[range]),
            Samples::U16(x) => Samples::U16(&x[range]),
            Samples::U32(x) => Samples::U32(&x[range]),
        }
    }
}

impl<'a> From<&'a [f64]> for Samples<'a> {
    fn from(x: &'a [f64]) -> Self {
        Samples::Values(x)
    }
}

impl<'a> From<&'a [u8]> for Samples<'a> {
    fn from(x: &'a [u8]) -> Self {
        Samples::U8(x)
    }
}

impl<'a> From<&'a [u16]> for Samples<'a> {
    fn from(x: &'a [u16]) -> Self {
        Samples::U16(x)
    }
}

impl<'a> From<&'a [u32]> for Samples<'a> {
    fn from(x: &'a [u32]) -> Self {
        Samples::U32(x)
    }
}

/// Expands `$body` once per symbol width with `$s` bound to the typed slice; float
/// samples go to `$values`. The one place the three widths are spelled out.
#[macro_export]
macro_rules! for_symbols {
    ($samples:expr, $s:ident => $body:expr, $v:ident => $values:expr) => {
        match $samples {
            $crate::Samples::Values($v) => $values,
            $crate::Samples::U8($s) => $body,
            $crate::Samples::U16($s) => $body,
            $crate::Samples::U32($s) => $body,
        }
    };
}
