//! gzip input inflated by ISA-L (igzip) through the `isal` package (python-isal), when it
//! is installed: about 1.5x faster than the core's zlib-rs decoder on FASTQ, which was
//! most of the time of reading gzipped reads.
//!
//! ISA-L's own Rust bindings build it with nasm and autotools, which a fresh machine's
//! `pip install .` cannot count on; python-isal ships wheels with ISA-L built in (the
//! same inflate dnaio uses through xopen). Its `_GzipReader` is C: it reads compressed
//! bytes from a file-like object (here [`CompressedStream`], the reader's own counted
//! input) and inflates straight into the parser's buffer (a memoryview over it), every
//! member in turn, each member's CRC-32 and length checked, a stream that ends inside a
//! member an `EOFError`. Python is entered once per buffer (64 KiB of output), not per
//! record. Without the package the core's zlib-rs decoder is used, with the same
//! results.

use entroseg_core::genomic::fasta::GzipDecoder;
use pyo3::exceptions::{PyEOFError, PyImportError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PySlice};
use pyo3::{ffi, intern};
use std::io::{self, Read};
use std::os::raw::c_char;
use std::sync::Mutex;

/// CPython's `PyBUF_WRITE` (a writable memoryview); pyo3's ffi declares it only outside
/// the stable ABI of Python 3.10, though `PyMemoryView_FromMemory` is in it.
const PYBUF_WRITE: std::os::raw::c_int = 0x200;

/// Compressed bytes `_GzipReader` asks for at a time.
const INPUT_BUFFER: usize = 1 << 18;

/// Which inflate decodes gzip input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inflate {
    /// ISA-L when the `isal` package imports, zlib-rs otherwise.
    Auto,
    /// ISA-L; an error when the package is missing.
    Isal,
    /// The core's zlib-rs decoder.
    ZlibRs,
}

impl Inflate {
    pub(crate) fn parse(s: &str) -> PyResult<Self> {
        match s {
            "auto" => Ok(Self::Auto),
            "isal" => Ok(Self::Isal),
            "zlib-rs" => Ok(Self::ZlibRs),
            other => Err(PyValueError::new_err(format!(
                "inflate must be 'auto', 'isal' or 'zlib-rs', got {other:?}"
            ))),
        }
    }
}

/// The gzip decoder to hand a reader: ISA-L's, or None for the core's own.
pub(crate) fn gzip_decoder(py: Python<'_>, inflate: Inflate) -> PyResult<Option<GzipDecoder>> {
    if inflate == Inflate::ZlibRs {
        return Ok(None);
    }
    let class = match py
        .import(intern!(py, "isal.isal_zlib"))
        .and_then(|m| m.getattr(intern!(py, "_GzipReader")))
    {
        Ok(class) => class.unbind(),
        Err(_) if inflate == Inflate::Auto => return Ok(None),
        Err(e) => {
            return Err(PyImportError::new_err(format!(
                "inflate='isal' needs the isal package (pip install isal): {e}"
            )))
        }
    };
    Ok(Some(Box::new(move |stream| {
        Python::attach(|py| -> PyResult<Box<dyn Read + Send>> {
            let source = Py::new(
                py,
                CompressedStream {
                    inner: Mutex::new((stream, Vec::new())),
                },
            )?;
            let reader = class.bind(py).call1((source, INPUT_BUFFER))?;
            Ok(Box::new(IsalReader {
                reader: reader.unbind(),
            }))
        })
        .map_err(|e| io::Error::other(e.to_string()))
    })))
}

/// The reader's compressed input as a Python binary file (what `_GzipReader` reads).
#[pyclass(module = "entroseg._entroseg", name = "_CompressedStream")]
struct CompressedStream {
    /// The stream and a reusable chunk buffer.
    inner: Mutex<(Box<dyn Read + Send>, Vec<u8>)>,
}

impl CompressedStream {
    fn read_chunk<'py>(&self, py: Python<'py>, want: usize) -> PyResult<Bound<'py, PyBytes>> {
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (stream, chunk) = &mut *guard;
        chunk.resize(want, 0);
        let n = py.detach(|| loop {
            match stream.read(chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other,
            }
        })?;
        Ok(PyBytes::new(py, &chunk[..n.min(want)]))
    }
}

#[pymethods]
impl CompressedStream {
    /// Fills the start of `buffer`; returns the bytes written (0 at the end).
    fn readinto(&self, py: Python<'_>, buffer: &Bound<'_, PyAny>) -> PyResult<usize> {
        let data = self.read_chunk(py, buffer.len()?)?;
        let n = data.as_bytes().len();
        if n > 0 {
            buffer.set_item(PySlice::new(py, 0, n as isize, 1), data)?;
        }
        Ok(n)
    }

    /// Up to `size` bytes (`_GzipReader` takes an object with `read` as a file).
    #[pyo3(signature = (size=-1))]
    fn read<'py>(&self, py: Python<'py>, size: i64) -> PyResult<Bound<'py, PyBytes>> {
        let want = if size < 0 {
            INPUT_BUFFER
        } else {
            size as usize
        };
        self.read_chunk(py, want)
    }
}

/// The inflated bytes of a `_GzipReader`, read into the caller's buffer.
struct IsalReader {
    reader: Py<PyAny>,
}

impl Read for IsalReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        Python::attach(|py| {
            // SAFETY: the memoryview borrows `buf`, which outlives it: it is released
            // below, before this function returns, and `_GzipReader.readinto` keeps no
            // reference to its argument.
            let view = unsafe {
                Bound::from_owned_ptr_or_err(
                    py,
                    ffi::PyMemoryView_FromMemory(
                        buf.as_mut_ptr() as *mut c_char,
                        buf.len() as ffi::Py_ssize_t,
                        PYBUF_WRITE,
                    ),
                )
            }
            .map_err(|e| io::Error::other(e.to_string()))?;
            let result = self
                .reader
                .bind(py)
                .call_method1(intern!(py, "readinto"), (&view,));
            view.call_method0(intern!(py, "release"))
                .map_err(|e| io::Error::other(e.to_string()))?;
            let n = match result {
                Ok(n) => n
                    .extract::<usize>()
                    .map_err(|e| io::Error::other(e.to_string()))?,
                Err(e) if e.is_instance_of::<PyEOFError>(py) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("the gzip stream ends inside a member (truncated file): {e}"),
                    ))
                }
                Err(e) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("corrupt gzip data: {e}"),
                    ))
                }
            };
            if n > buf.len() {
                return Err(io::Error::other("readinto returned more than it was given"));
            }
            Ok(n)
        })
    }
}
