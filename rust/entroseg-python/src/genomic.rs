//! The genomic surface: a streaming FASTA/FASTQ record reader, DNA encoding, DNA entropy
//! profiles and the SDUST low-complexity masker. Each function converts its arguments,
//! releases the GIL around the core call and converts the result.

use crate::convert::{count_option, fill_output, symbol_array, Symbols};
use crate::error::{core, InvalidParameterError};
use entroseg_core::genomic::dna::{self, DnaProfiler, ProfileKind, ProfileOptions};
use entroseg_core::genomic::dust::{self, DustOptions};
use entroseg_core::genomic::fasta::{EmptyRecords, FastxReader, Format, ReaderOptions, Record};
use entroseg_core::genomic::reads::{BatchLimits, RecordBatch};
use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, TryLockError};

/// A DNA sequence argument: letters (bytes or str, borrowed) or base codes 0..=4.
pub(crate) enum Sequence<'py> {
    Bytes(Bound<'py, PyBytes>),
    Str(Bound<'py, PyString>),
    Owned(Vec<u8>),
    Codes(Vec<u8>),
    CodesArray(Bound<'py, PyArray1<u8>>),
}

impl<'py> Sequence<'py> {
    pub(crate) fn extract(obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(Self::Bytes(b.clone()));
        }
        if let Ok(s) = obj.cast::<PyString>() {
            return Ok(Self::Str(s.clone()));
        }
        if obj.hasattr("__array_interface__")? || obj.hasattr("__array__")? {
            return Ok(match symbol_array(obj, "sequence")? {
                Symbols::U8(a) => Self::CodesArray(a),
                Symbols::U16(a) => Self::Codes(narrow(a.readonly().as_slice()?)?),
                Symbols::U32(a) => Self::Codes(narrow(a.readonly().as_slice()?)?),
            });
        }
        if let Ok(v) = obj.extract::<Vec<u8>>() {
            // bytearray, memoryview and other buffers: one copy.
            if !obj.is_instance_of::<pyo3::types::PyList>() {
                return Ok(Self::Owned(v));
            }
        }
        Err(PyTypeError::new_err(format!(
            "sequence must be bytes, str or a uint8 array of base codes (0..=4), got {}",
            obj.get_type().name()?
        )))
    }
}

/// Wider integer codes to u8 (codes above 4 are left for the core to reject by index).
fn narrow<T: Copy + Into<u64>>(codes: &[T]) -> PyResult<Vec<u8>> {
    Ok(codes
        .iter()
        .map(|&c| c.into().min(u8::MAX as u64) as u8)
        .collect())
}

/// Runs `letters` or `codes` on the sequence's bytes with the GIL released.
pub(crate) fn with_sequence<'py, T: Send>(
    py: Python<'py>,
    seq: &Sequence<'py>,
    letters: impl FnOnce(&[u8]) -> T + Send,
    codes: impl FnOnce(&[u8]) -> T + Send,
) -> PyResult<T> {
    Ok(match seq {
        Sequence::Bytes(b) => {
            let s = b.as_bytes();
            py.detach(|| letters(s))
        }
        Sequence::Str(s) => {
            let s = s.to_str()?.as_bytes();
            py.detach(|| letters(s))
        }
        Sequence::Owned(v) => py.detach(|| letters(v)),
        Sequence::Codes(v) => py.detach(|| codes(v)),
        Sequence::CodesArray(a) => {
            let ro = a.readonly();
            let s = ro.as_slice()?;
            py.detach(|| codes(s))
        }
    })
}

impl Sequence<'_> {
    fn len(&self) -> PyResult<usize> {
        Ok(match self {
            Sequence::Bytes(b) => b.as_bytes().len(),
            Sequence::Str(s) => s.to_str()?.len(),
            Sequence::Owned(v) | Sequence::Codes(v) => v.len(),
            Sequence::CodesArray(a) => a.len()?,
        })
    }
}

/// `[start, end)` pairs as an int64 array of shape (n, 2).
pub(crate) fn intervals_array<'py>(
    py: Python<'py>,
    intervals: &[(u64, u64)],
) -> PyResult<Bound<'py, PyArray2<i64>>> {
    let flat: Vec<i64> = intervals
        .iter()
        .flat_map(|&(s, e)| [s as i64, e as i64])
        .collect();
    PyArray1::from_vec(py, flat).reshape([intervals.len(), 2])
}

/// Encodes a DNA sequence into base codes: A, C, G, T (either case) to 0, 1, 2, 3 and
/// every other IUPAC nucleotide code (N, R, Y, ...) to 4.
///
/// The GIL is released while encoding.
///
/// Parameters
/// ----------
/// sequence : bytes or str
///     Nucleotide letters.
///
/// Returns
/// -------
/// numpy.ndarray
///     uint8 codes, one per letter.
///
/// Raises
/// ------
/// InvalidSequenceError
///     A character is not a nucleotide letter; the message names it and its position.
///
/// Examples
/// --------
/// >>> import entroseg
/// >>> entroseg.encode_dna("ACgtNr").tolist()
/// [0, 1, 2, 3, 4, 4]
#[pyfunction]
#[pyo3(signature = (sequence, /))]
pub fn encode_dna<'py>(
    py: Python<'py>,
    sequence: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray1<u8>>> {
    let seq = Sequence::extract(sequence)?;
    if matches!(seq, Sequence::Codes(_) | Sequence::CodesArray(_)) {
        return Err(PyTypeError::new_err(
            "encode_dna takes letters (bytes or str), not an array of codes",
        ));
    }
    let codes = with_sequence(py, &seq, dna::encode, |c| Ok(c.to_vec()))?;
    Ok(PyArray1::from_vec(py, core(codes)?))
}

pub(crate) fn profile_options(
    (method, method_name): (&str, &str),
    (length, length_name): (i64, &str),
    window: Option<i64>,
    normalize: bool,
) -> PyResult<ProfileOptions> {
    let kind = core(ProfileKind::parse_named(method, method_name))?;
    let k = usize::try_from(length).map_err(|_| {
        InvalidParameterError::new_err(format!("{length_name} must be >= 0, got {length}"))
    })?;
    let window = window.map(|w| count_option(w, "window", 1)).transpose()?;
    let options = ProfileOptions {
        kind,
        k,
        window,
        normalize,
    };
    // Validate before touching the data so option errors win over data errors.
    core(DnaProfiler::new(options))?;
    Ok(options)
}

/// The DNA profile behind `entroseg.dna_profile` (python/entroseg/genomic.py resolves
/// its keyword options, old spellings included): `method` and the k-mer or context
/// `length`, with the names the caller used for the error messages. Releases the GIL.
#[pyfunction]
#[pyo3(signature = (sequence, /, method, length, window=None, normalize=true, method_name="method", length_name="context"))]
#[allow(clippy::too_many_arguments)]
pub fn _dna_profile<'py>(
    py: Python<'py>,
    sequence: &Bound<'py, PyAny>,
    method: &str,
    length: i64,
    window: Option<i64>,
    normalize: bool,
    method_name: &str,
    length_name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let options = profile_options(
        (method, method_name),
        (length, length_name),
        window,
        normalize,
    )?;
    let seq = Sequence::extract(sequence)?;
    let mut profiler = core(DnaProfiler::new(options))?;
    if options.per_base() {
        let n = seq.len()?;
        let out = match &seq {
            Sequence::Bytes(b) => {
                let s = b.as_bytes();
                fill_output(py, n, |out| profiler.update_letters(s, out))
            }
            Sequence::Str(st) => {
                let s = st.to_str()?.as_bytes();
                fill_output(py, n, |out| profiler.update_letters(s, out))
            }
            Sequence::Owned(v) => fill_output(py, n, |out| profiler.update_letters(v, out)),
            Sequence::Codes(v) => fill_output(py, n, |out| profiler.update_codes(v, out)),
            Sequence::CodesArray(a) => {
                let ro = a.readonly();
                let s = ro.as_slice()?;
                fill_output(py, n, |out| profiler.update_codes(s, out))
            }
        };
        Ok(core(out)?.into_any())
    } else {
        let value = with_sequence(
            py,
            &seq,
            |s| {
                let mut p = profiler.clone();
                p.update_letters(s, &mut []).and_then(|_| p.value())
            },
            |s| {
                let mut p = profiler.clone();
                p.update_codes(s, &mut []).and_then(|_| p.value())
            },
        )?;
        Ok(pyo3::types::PyFloat::new(py, core(value)?).into_any())
    }
}

/// Low-complexity intervals of a DNA sequence by SDUST, the symmetric DUST algorithm of
/// NCBI ``dustmasker`` (Morgulis et al. 2006), identical to pydustmasker's ``DustMasker``.
///
/// Triplet repeats are scored in a sliding window; the union of all "perfect"
/// low-complexity intervals is reported, intervals that overlap or touch merged (as
/// dustmasker's default linker). Case is ignored (soft-masked bases are masked too); an
/// ambiguous base (N or another IUPAC code) splits the sequence and is never masked. The
/// GIL is released.
///
/// Parameters
/// ----------
/// sequence : bytes, str or numpy.ndarray
///     Nucleotide letters, or base codes 0..=4.
/// window : int, default 64
///     Window in bases (dustmasker ``-window``), 4..=65536.
/// level : int, default 20
///     Score threshold times 10 (dustmasker ``-level``).
/// threads : int or None, default None
///     Threads for one long sequence (chunks are masked apart and joined; the result is
///     identical). None uses every core; each thread gets at least 1 Mi bases, so shorter
///     sequences run on one thread.
///
/// Returns
/// -------
/// numpy.ndarray
///     int64 array of shape (n, 2): 0-based, half-open ``[start, end)`` intervals in
///     increasing order (BED coordinates; dustmasker's inclusive end plus one).
///
/// Raises
/// ------
/// InvalidParameterError
///     ``window`` or ``level`` out of range.
/// InvalidSequenceError
///     A character is not a nucleotide letter.
///
/// Examples
/// --------
/// >>> import entroseg
/// >>> seq = "GATTACAGGCTTACCGATGCA" + "CA" * 20 + "TTGACGGATCCAGTAGCTTAC"
/// >>> entroseg.dust_mask(seq).tolist()
/// [[19, 61]]
/// >>> entroseg.dust_mask("AAAAAAAAAAAANAAAAAAAAAAAA").tolist()  # N splits the sequence
/// [[0, 12], [13, 25]]
#[pyfunction]
#[pyo3(signature = (sequence, /, *, window=64, level=20, threads=None))]
pub fn dust_mask<'py>(
    py: Python<'py>,
    sequence: &Bound<'py, PyAny>,
    window: i64,
    level: i64,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyArray2<i64>>> {
    let options = dust_options(window, level)?;
    let threads = crate::convert::threads_option(threads)?;
    let seq = Sequence::extract(sequence)?;
    let intervals = with_sequence(
        py,
        &seq,
        |s| dust::sdust_parallel(s, options, threads),
        |s| dust::sdust_codes_parallel(s, options, threads),
    )?;
    intervals_array(py, &core(intervals)?)
}

pub(crate) fn dust_options(window: i64, level: i64) -> PyResult<DustOptions> {
    let level = u32::try_from(level).map_err(|_| {
        InvalidParameterError::new_err(format!("level must be in 0..={}, got {level}", u32::MAX))
    })?;
    let options = DustOptions {
        window: count_option(window, "window", 0)?,
        level,
    };
    core(dust::Sdust::new(options))?;
    Ok(options)
}

/// A Python binary file object as a `Read` (the GIL is taken for each read).
struct PyFile {
    file: Py<PyAny>,
}

impl Read for PyFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Python::attach(|py| {
            let data = self
                .file
                .bind(py)
                .call_method1("read", (buf.len(),))
                .map_err(|e| io::Error::other(e.to_string()))?;
            let data = data.cast::<PyBytes>().map_err(|_| {
                io::Error::other("read() returned text; open the file in binary mode ('rb')")
            })?;
            let bytes = data.as_bytes();
            let n = bytes.len().min(buf.len());
            buf[..n].copy_from_slice(&bytes[..n]);
            Ok(n)
        })
    }
}

/// A batch's BED text with its records, bases, masked bases and intervals.
type BedBatch<'py> = (Bound<'py, PyBytes>, usize, usize, u64, usize);

struct ReaderState {
    reader: FastxReader,
    batch: RecordBatch,
    record: Record,
    codes: Vec<u8>,
    ambiguous: Vec<(u64, u64)>,
    soft_masked: Vec<(u64, u64)>,
    ambiguous_offsets: Vec<i64>,
    soft_masked_offsets: Vec<i64>,
}

impl PyFastxReader {
    /// The reader's state, or an error when another thread is reading it.
    fn lock(&self) -> PyResult<std::sync::MutexGuard<'_, Option<ReaderState>>> {
        match self.state.try_lock() {
            Ok(g) => Ok(g),
            Err(TryLockError::WouldBlock) => Err(PyRuntimeError::new_err(
                "this FastxReader is being read by another thread",
            )),
            Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
        }
    }
}

/// Streaming reader of FASTA/FASTQ records (plain, gzip, bzip2, xz or zstd, detected from
/// the content). Use ``entroseg.read_fastx``, which wraps each record in a
/// ``FastxRecord``; this class yields plain tuples ``(name, description, sequence,
/// codes, ambiguous, soft_masked, quality, index, line)``.
///
/// ``source`` is a path, or a binary file object (``sys.stdin.buffer``, an open file).
/// gzip input is inflated by ISA-L when the ``isal`` package is installed
/// (``inflate="auto"``), else by zlib-rs; ``inflate="isal"`` or ``"zlib-rs"`` picks one
/// (the records are the same).
/// Records are read and checked with the GIL released: sequences must be nucleotide
/// letters, FASTQ qualities as long as their sequences, and empty records follow
/// ``empty`` ("raise", "skip" or "keep"). Memory is bounded by the longest record.
///
/// Examples
/// --------
/// >>> import io, entroseg
/// >>> r = entroseg.FastxReader(io.BytesIO(b">s1 demo\nACGTNN\nacgt\n"), codes=True)
/// >>> name, description, sequence, codes, ambiguous, soft, quality, index, line = next(r)
/// >>> name, description, sequence, codes.tolist()
/// ('s1', 'demo', b'ACGTNNacgt', [0, 1, 2, 3, 4, 4, 0, 1, 2, 3])
/// >>> ambiguous.tolist(), soft.tolist(), r.format, r.compression
/// ([[4, 6]], [[6, 10]], 'fasta', 'none')
#[pyclass(module = "entroseg._entroseg", name = "FastxReader")]
pub struct PyFastxReader {
    state: Mutex<Option<ReaderState>>,
    bytes_read: Arc<AtomicU64>,
    source: String,
    compression: &'static str,
    format: Mutex<Option<&'static str>>,
    records: AtomicU64,
    want_sequence: bool,
    want_codes: bool,
}

#[pymethods]
impl PyFastxReader {
    #[new]
    #[pyo3(signature = (source, /, *, empty="raise", sequence=true, codes=false, inflate="auto"))]
    fn new(
        py: Python<'_>,
        source: &Bound<'_, PyAny>,
        empty: &str,
        sequence: bool,
        codes: bool,
        inflate: &str,
    ) -> PyResult<Self> {
        let options = ReaderOptions {
            empty: core(EmptyRecords::parse(empty))?,
            validate: true,
        };
        let gzip = crate::inflate::gzip_decoder(py, crate::inflate::Inflate::parse(inflate)?)?;
        let reader = if let Ok(path) = source.extract::<PathBuf>() {
            core(py.detach(|| FastxReader::open_with(&path, options, gzip)))?
        } else if source.hasattr("read")? {
            let name = match source.getattr("name") {
                Ok(n) => format!("'{}'", n.str()?),
                Err(_) => "the input stream".to_string(),
            };
            let file = PyFile {
                file: source.clone().unbind(),
            };
            core(py.detach(|| FastxReader::from_reader_with(file, name, options, gzip)))?
        } else {
            return Err(PyTypeError::new_err(format!(
                "source must be a path or a binary file object, got {}",
                source.get_type().name()?
            )));
        };
        Ok(Self {
            bytes_read: reader.bytes_read_counter(),
            source: reader.source().to_string(),
            compression: reader.compression().name(),
            format: Mutex::new(None),
            records: AtomicU64::new(0),
            state: Mutex::new(Some(ReaderState {
                reader,
                batch: RecordBatch::default(),
                record: Record::default(),
                codes: Vec::new(),
                ambiguous: Vec::new(),
                soft_masked: Vec::new(),
                ambiguous_offsets: Vec::new(),
                soft_masked_offsets: Vec::new(),
            })),
            want_sequence: sequence,
            want_codes: codes,
        })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let mut guard = self.lock()?;
        let Some(state) = guard.as_mut() else {
            return Ok(None);
        };
        let want_codes = self.want_codes;
        let got = py.detach(|| -> entroseg_core::Result<bool> {
            if !state.reader.next_record(&mut state.record)? {
                return Ok(false);
            }
            let seq = &state.record.sequence;
            state.codes.clear();
            if want_codes {
                dna::encode_into(seq, &mut state.codes)?;
            }
            state.ambiguous.clear();
            dna::ambiguous_intervals_into(seq, &mut state.ambiguous);
            state.soft_masked.clear();
            dna::soft_masked_intervals_into(seq, &mut state.soft_masked);
            Ok(true)
        });
        let got = match got {
            Ok(g) => g,
            Err(e) => {
                *guard = None;
                return Err(crate::error::CoreError(e).into());
            }
        };
        if !got {
            *guard = None;
            return Ok(None);
        }
        if let Ok(mut f) = self.format.lock() {
            *f = state.reader.format().map(|f| f.name());
        }
        self.records
            .store(state.reader.records_read(), Ordering::Relaxed);
        let r = &state.record;
        let sequence = if self.want_sequence {
            PyBytes::new(py, &r.sequence).into_any()
        } else {
            py.None().into_bound(py)
        };
        let codes = if want_codes {
            PyArray1::from_vec(py, std::mem::take(&mut state.codes)).into_any()
        } else {
            py.None().into_bound(py)
        };
        let quality = match &r.quality {
            Some(q) => PyBytes::new(py, q).into_any(),
            None => py.None().into_bound(py),
        };
        let items: [Bound<'py, PyAny>; 9] = [
            PyString::new(py, &r.name).into_any(),
            PyString::new(py, &r.description).into_any(),
            sequence,
            codes,
            intervals_array(py, &state.ambiguous)?.into_any(),
            intervals_array(py, &state.soft_masked)?.into_any(),
            quality,
            r.index.into_pyobject(py)?.into_any(),
            r.line.into_pyobject(py)?.into_any(),
        ];
        Ok(Some(PyTuple::new(py, items)?))
    }

    /// The next batch of records in flat buffers, or None at the end of the input.
    ///
    /// A batch ends with the record that brings it to ``batch_bases`` bases, or at
    /// ``batch_records`` records. Returns a tuple of numpy arrays ``(sequences,
    /// sequence_offsets, qualities, names, name_offsets, descriptions,
    /// description_offsets, indices, lines, ambiguous, ambiguous_offsets, soft_masked,
    /// soft_masked_offsets)``: uint8 buffers with int64 offsets (``n + 1``, from 0);
    /// ``qualities`` shares the sequence offsets (None for FASTA); interval arrays are
    /// int64 ``(m, 2)`` ``[start, end)`` within their record, ``ambiguous[
    /// ambiguous_offsets[i]:ambiguous_offsets[i + 1]]`` belonging to record ``i``.
    /// Records are read and checked with the GIL released. An error met after some
    /// records of a batch is raised by the next call, after those records.
    #[pyo3(signature = (*, batch_bases=1_048_576, batch_records=65_536))]
    fn read_batch<'py>(
        &self,
        py: Python<'py>,
        batch_bases: i64,
        batch_records: i64,
    ) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let limits = batch_limits(batch_bases, batch_records)?;
        let mut guard = self.lock()?;
        let Some(state) = guard.as_mut() else {
            return Ok(None);
        };
        let got = py.detach(|| -> entroseg_core::Result<bool> {
            if !state.reader.next_batch(&mut state.batch, limits)? {
                return Ok(false);
            }
            let b = &state.batch;
            state.ambiguous.clear();
            state.soft_masked.clear();
            state.ambiguous_offsets.clear();
            state.soft_masked_offsets.clear();
            state.ambiguous_offsets.push(0);
            state.soft_masked_offsets.push(0);
            if b.plain {
                // The reader found every base upper-case A/C/G/T: nothing to look for.
                state.ambiguous_offsets.resize(b.len() + 1, 0);
                state.soft_masked_offsets.resize(b.len() + 1, 0);
                return Ok(true);
            }
            for i in 0..b.len() {
                let seq = b.sequence(i);
                dna::ambiguous_intervals_into(seq, &mut state.ambiguous);
                dna::soft_masked_intervals_into(seq, &mut state.soft_masked);
                state.ambiguous_offsets.push(state.ambiguous.len() as i64);
                state
                    .soft_masked_offsets
                    .push(state.soft_masked.len() as i64);
            }
            Ok(true)
        });
        let got = match got {
            Ok(g) => g,
            Err(e) => {
                *guard = None;
                return Err(crate::error::CoreError(e).into());
            }
        };
        if !got {
            *guard = None;
            return Ok(None);
        }
        if let Ok(mut f) = self.format.lock() {
            *f = state.reader.format().map(|f| f.name());
        }
        self.records
            .store(state.reader.records_read(), Ordering::Relaxed);
        // The buffers move into numpy arrays (no copy); the next batch starts with the
        // same capacities (no regrowing).
        let next = RecordBatch::with_capacity_of(&state.batch);
        let b = std::mem::replace(&mut state.batch, next);
        let qualities = if b.format == Some(Format::Fastq) {
            PyArray1::from_vec(py, b.qualities).into_any()
        } else {
            py.None().into_bound(py)
        };
        let to_i64 = |v: Vec<u64>| v.into_iter().map(|x| x as i64).collect::<Vec<i64>>();
        let items: [Bound<'py, PyAny>; 13] = [
            PyArray1::from_vec(py, b.sequences).into_any(),
            PyArray1::from_vec(py, b.sequence_offsets).into_any(),
            qualities,
            PyArray1::from_vec(py, b.names).into_any(),
            PyArray1::from_vec(py, b.name_offsets).into_any(),
            PyArray1::from_vec(py, b.descriptions).into_any(),
            PyArray1::from_vec(py, b.description_offsets).into_any(),
            PyArray1::from_vec(py, to_i64(b.indices)).into_any(),
            PyArray1::from_vec(py, to_i64(b.lines)).into_any(),
            intervals_array(py, &state.ambiguous)?.into_any(),
            PyArray1::from_slice(py, &state.ambiguous_offsets).into_any(),
            intervals_array(py, &state.soft_masked)?.into_any(),
            PyArray1::from_slice(py, &state.soft_masked_offsets).into_any(),
        ];
        Ok(Some(PyTuple::new(py, items)?))
    }

    /// SDUST intervals of the next batch of records as BED3 text: ``(text, records,
    /// bases, masked, intervals)``, or None at the end of the input. ``text`` is
    /// ``name<TAB>start<TAB>end`` lines (bytes; names as in the file), ``masked`` the
    /// bases the intervals cover. Batches as ``read_batch``; each record masked alone,
    /// as ``dust_mask`` masks it, over ``threads`` threads (None: every core). Reading,
    /// masking and formatting run in Rust with the GIL released: ``entroseg dna mask``
    /// writes BED this way, without numpy arrays or a per-record scan for the batch's
    /// ambiguous and soft-masked bases.
    #[pyo3(signature = (*, window=64, level=20, batch_bases=1_048_576, batch_records=65_536, threads=None))]
    fn _dust_bed_batch<'py>(
        &self,
        py: Python<'py>,
        window: i64,
        level: i64,
        batch_bases: i64,
        batch_records: i64,
        threads: Option<i64>,
    ) -> PyResult<Option<BedBatch<'py>>> {
        let options = dust_options(window, level)?;
        let threads = crate::convert::threads_option(threads)?;
        let limits = batch_limits(batch_bases, batch_records)?;
        let mut guard = self.lock()?;
        let Some(state) = guard.as_mut() else {
            return Ok(None);
        };
        let got = py.detach(|| -> entroseg_core::Result<Option<_>> {
            if !state.reader.next_batch(&mut state.batch, limits)? {
                return Ok(None);
            }
            let b = &state.batch;
            let masks = entroseg_core::genomic::reads::sdust_batch(
                &b.sequences,
                &b.sequence_offsets,
                options,
                threads,
            )?;
            let (mut starts, mut ends) = (
                Vec::with_capacity(masks.values.len()),
                Vec::with_capacity(masks.values.len()),
            );
            let mut masked = 0u64;
            for &(s, e) in &masks.values {
                starts.push(s as i64);
                ends.push(e as i64);
                masked += e - s;
            }
            let text = entroseg_core::genomic::reads::bed_lines(
                &b.names,
                &b.name_offsets,
                &starts,
                &ends,
                &masks.value_offsets,
            )?;
            Ok(Some((text, b.len(), b.bases(), masked, masks.values.len())))
        });
        let got = match got {
            Ok(g) => g,
            Err(e) => {
                *guard = None;
                return Err(crate::error::CoreError(e).into());
            }
        };
        let Some((text, records, bases, masked, intervals)) = got else {
            *guard = None;
            return Ok(None);
        };
        if let Ok(mut f) = self.format.lock() {
            *f = state.reader.format().map(|f| f.name());
        }
        self.records
            .store(state.reader.records_read(), Ordering::Relaxed);
        Ok(Some((
            PyBytes::new(py, &text),
            records,
            bases,
            masked,
            intervals,
        )))
    }

    /// Bytes of the input consumed so far (compressed bytes for compressed input), for
    /// progress reporting.
    #[getter]
    fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    /// Records read so far.
    #[getter]
    fn records_read(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    /// The input's name as used in messages.
    #[getter]
    fn source(&self) -> &str {
        &self.source
    }

    /// "none", "gzip", "bzip2", "xz" or "zstd".
    #[getter]
    fn compression(&self) -> &'static str {
        self.compression
    }

    /// "fasta" or "fastq" once a record has been read, None before.
    #[getter]
    fn format(&self) -> Option<&'static str> {
        self.format.lock().ok().and_then(|f| *f)
    }
}

/// The `batch_bases` / `batch_records` options of a batch read, checked (each at least 1).
fn batch_limits(batch_bases: i64, batch_records: i64) -> PyResult<BatchLimits> {
    Ok(BatchLimits {
        bases: count_option(batch_bases, "batch_bases", 1)?,
        records: count_option(batch_records, "batch_records", 1)?,
    })
}
