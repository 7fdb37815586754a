//! The one conversion from core errors to Python exceptions.
//!
//! Every exception subclasses the built-in it means: all of ours are `ValueError`s
//! (through `EntrosegError`), so `except ValueError` keeps working for users who do not
//! care about the finer types. Wrong types and shapes raise `TypeError` / `ValueError`
//! at the array intake (see `convert.rs`).

use entroseg_core::{Error, ErrorKind};
use pyo3::create_exception;
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyValueError};
use pyo3::prelude::*;

create_exception!(
    entroseg,
    EntrosegError,
    PyValueError,
    "Base class of entroseg's errors; a ValueError, so `except ValueError` catches them all."
);
create_exception!(
    entroseg,
    InvalidParameterError,
    EntrosegError,
    "An option (order, delay, window, bins, context ...) or the input's shape or range is outside what is supported (e.g. a 2-D array, |x| > 1e100 for weighted entropy); the message names the value and the limit."
);
create_exception!(
    entroseg,
    EmptyInputError,
    EntrosegError,
    "The input is empty or too short for the requested statistic; the message names the length needed."
);
create_exception!(
    entroseg,
    NonFiniteError,
    EntrosegError,
    "NaN or infinity in the input under nan_policy='raise'; the message names the first bad index."
);
create_exception!(
    entroseg,
    SymbolOutOfRangeError,
    EntrosegError,
    "A symbol is outside 0..alphabet_size; the message names the symbol, its index and the alphabet size."
);
create_exception!(
    entroseg,
    CheckpointError,
    EntrosegError,
    "A checkpoint cannot be restored: written by another class, truncated, corrupt or from another format version."
);

create_exception!(
    entroseg,
    InvalidSequenceError,
    EntrosegError,
    "A DNA sequence holds a character that is not a nucleotide letter (A, C, G, T or an IUPAC code); the message names the character, its position and the record."
);
create_exception!(
    entroseg,
    FastxFormatError,
    EntrosegError,
    "A FASTA/FASTQ input is malformed (bad header, quality length differing from the sequence, truncated record) or its compressed stream is truncated or corrupt; the message names the record and line."
);
create_exception!(
    entroseg,
    StreamClosedError,
    EntrosegError,
    "An operation on a finished stream (push after finish); call reset() to start anew."
);

/// Wrapper so `?` converts core errors (orphan rule: `From<Error> for PyErr` must live here).
pub struct CoreError(pub Error);

impl From<Error> for CoreError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl From<CoreError> for PyErr {
    fn from(CoreError(e): CoreError) -> Self {
        let msg = e.message().to_string();
        match e.kind() {
            ErrorKind::InvalidParameter => InvalidParameterError::new_err(msg),
            ErrorKind::InvalidType => pyo3::exceptions::PyTypeError::new_err(msg),
            ErrorKind::EmptyInput => EmptyInputError::new_err(msg),
            ErrorKind::NonFinite { .. } => NonFiniteError::new_err(msg),
            ErrorKind::SymbolOutOfRange { .. } => SymbolOutOfRangeError::new_err(msg),
            ErrorKind::InvalidCheckpoint => CheckpointError::new_err(msg),
            ErrorKind::InvalidState => StreamClosedError::new_err(msg),
            ErrorKind::InvalidSequence { .. } => InvalidSequenceError::new_err(msg),
            ErrorKind::InvalidFormat => FastxFormatError::new_err(msg),
            ErrorKind::FileNotFound => PyFileNotFoundError::new_err(msg),
            ErrorKind::Io => PyOSError::new_err(msg),
            _ => EntrosegError::new_err(msg),
        }
    }
}

/// Converts a core result.
pub fn core<T>(r: entroseg_core::Result<T>) -> PyResult<T> {
    r.map_err(|e| CoreError(e).into())
}

/// Registers the exception types on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("EntrosegError", py.get_type::<EntrosegError>())?;
    m.add(
        "InvalidParameterError",
        py.get_type::<InvalidParameterError>(),
    )?;
    m.add("EmptyInputError", py.get_type::<EmptyInputError>())?;
    m.add("NonFiniteError", py.get_type::<NonFiniteError>())?;
    m.add(
        "SymbolOutOfRangeError",
        py.get_type::<SymbolOutOfRangeError>(),
    )?;
    m.add("CheckpointError", py.get_type::<CheckpointError>())?;
    m.add("StreamClosedError", py.get_type::<StreamClosedError>())?;
    m.add(
        "InvalidSequenceError",
        py.get_type::<InvalidSequenceError>(),
    )?;
    m.add("FastxFormatError", py.get_type::<FastxFormatError>())?;
    Ok(())
}
