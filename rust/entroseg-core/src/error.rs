//! The one error type of the core.
//!
//! Every fallible core operation returns [`Error`]. Its [`ErrorKind`] tells the bindings
//! which Python exception to raise (one conversion point, in the bindings crate); its
//! message names the offending value and the limit it broke, so a user can fix the call
//! without reading our source.

use std::fmt;

/// What went wrong, coarsely: enough for a binding to pick an exception type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An option is out of range (order, delay, window, bins, context ...).
    InvalidParameter,
    /// An option has the wrong type, or no option has that name.
    InvalidType,
    /// The input is empty where at least one sample is required.
    EmptyInput,
    /// A NaN or infinity was found under `NanPolicy::Raise`.
    NonFinite {
        /// Index of the first non-finite sample, counted in the slice that was passed.
        index: usize,
    },
    /// A symbol is outside `0..alphabet_size`.
    SymbolOutOfRange {
        /// Index of the first offending symbol, counted in the slice that was passed.
        index: usize,
    },
    /// A checkpoint could not be restored (wrong estimator, corrupt or foreign bytes).
    InvalidCheckpoint,
    /// An operation that the object's state does not allow (push after finish).
    InvalidState,
    /// A byte of a DNA sequence is not a nucleotide letter (A, C, G, T or an IUPAC code).
    InvalidSequence {
        /// Position of the byte, counted from the first base of its record.
        position: u64,
    },
    /// A FASTA/FASTQ input is malformed, or its compressed stream is corrupt or truncated.
    InvalidFormat,
    /// An input file does not exist.
    FileNotFound,
    /// Reading an input failed for another reason (permissions, a device error ...).
    Io,
}

/// A core error: a kind and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message)
    }

    pub(crate) fn checkpoint(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidCheckpoint, message)
    }

    /// `Ok` while a stream is open; after `finish()` the error every streaming class
    /// gives for more input.
    pub(crate) fn check_open(finished: bool) -> Result<()> {
        if finished {
            return Err(Self::new(
                ErrorKind::InvalidState,
                "push() after finish(): the stream is closed; call reset() to start a new one",
            ));
        }
        Ok(())
    }

    /// The same error with `context` (what was being read: a file, a record) in front of
    /// its message.
    pub fn with_context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The same error, its message prefixed with the series it happened in.
    pub fn in_series(self, series: usize) -> Self {
        Self {
            kind: self.kind,
            message: format!("series {series}: {}", self.message),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, naming the bad value and the limit.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Result alias of the core.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_send_sync_and_displays_message() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
        let e = Error::parameter("order must be in 2..=10, got 1");
        assert_eq!(e.to_string(), "order must be in 2..=10, got 1");
        assert_eq!(e.kind(), ErrorKind::InvalidParameter);
    }
}
