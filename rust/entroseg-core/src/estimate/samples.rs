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

impl<'a> Samples<'a> {
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

    /// The float samples (empty for symbols).
    pub fn values(&self) -> &'a [f64] {
        match *self {
            Samples::Values(x) => x,
            _ => &[],
        }
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

/// A multichannel input: `count()` channels of `len()` samples each, of one kind (all
/// floats or all symbols). Channel `k` is a [`Samples`] of its own (contiguous), so each
/// channel's estimator reads it as it reads a 1-D input. A 1-D input is one channel.
#[derive(Debug, Clone)]
pub struct Channels<'a> {
    each: Vec<Samples<'a>>,
}

impl<'a> Channels<'a> {
    /// A 1-D input as one channel.
    pub fn one(x: Samples<'a>) -> Self {
        Self { each: vec![x] }
    }

    /// Channels of equal length and kind; at least one.
    pub fn new(each: Vec<Samples<'a>>) -> crate::Result<Self> {
        let Some(first) = each.first() else {
            return Err(crate::Error::parameter(
                "a multichannel input needs at least 1 channel, got 0 channels",
            ));
        };
        let (n, symbols) = (first.len(), first.is_symbols());
        for (k, c) in each.iter().enumerate() {
            if c.len() != n {
                return Err(crate::Error::parameter(format!(
                    "channel {k} has {} samples, channel 0 has {n}: every channel needs \
                     the same number of samples",
                    c.len()
                )));
            }
            if c.is_symbols() != symbols {
                return Err(crate::Error::parameter(format!(
                    "channel {k} is {}, channel 0 is {}: the channels must be of one kind",
                    kind_name(c),
                    kind_name(first)
                )));
            }
        }
        Ok(Self { each })
    }

    /// Channels stored one after the other (channel-major: channel `k` is
    /// `data[k * n..(k + 1) * n]`, `n = data.len() / count`), as a transposed (n, c)
    /// array lays them out.
    pub fn channel_major(data: Samples<'a>, count: usize) -> crate::Result<Self> {
        if count == 0 {
            return Err(crate::Error::parameter(format!(
                "a multichannel input needs at least 1 channel, got 0 channels ({} values)",
                data.len()
            )));
        }
        if data.len() % count != 0 {
            return Err(crate::Error::parameter(format!(
                "{} values do not split into {count} channels of equal length",
                data.len()
            )));
        }
        let n = data.len() / count;
        Ok(Self {
            each: (0..count).map(|k| data.slice(k * n..(k + 1) * n)).collect(),
        })
    }

    /// Number of channels (at least 1).
    pub fn count(&self) -> usize {
        self.each.len()
    }

    /// Samples per channel.
    pub fn len(&self) -> usize {
        self.each[0].len()
    }

    /// True when the channels hold no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Channel `k`.
    pub fn channel(&self, k: usize) -> Samples<'a> {
        self.each[k]
    }

    /// Every channel, in order.
    pub fn iter(&self) -> impl Iterator<Item = Samples<'a>> + '_ {
        self.each.iter().copied()
    }

    /// True for symbols, false for float samples.
    pub fn is_symbols(&self) -> bool {
        self.each[0].is_symbols()
    }

    /// The samples `range` of every channel.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Self {
        Self {
            each: self.each.iter().map(|c| c.slice(range.clone())).collect(),
        }
    }

    /// The channel with the largest symbol (channel 0 for floats): what an inferred
    /// alphabet must cover.
    pub fn widest(&self) -> Samples<'a> {
        self.iter()
            .max_by_key(|c| c.max_symbol().unwrap_or(0))
            .unwrap_or(self.each[0])
    }
}

fn kind_name(x: &Samples) -> &'static str {
    if x.is_symbols() {
        "integer symbols"
    } else {
        "float values"
    }
}
