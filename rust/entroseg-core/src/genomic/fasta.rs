//! Streaming FASTA/FASTQ records, plain or compressed (gzip, bzip2, xz, zstd), on the
//! `needletail` parser.
//!
//! The format (FASTA or FASTQ) and the compression are detected from the first bytes, so
//! a file, a pipe or any `Read` works the same way. Records come one at a time into a
//! caller-owned [`Record`] whose buffers are reused: memory is bounded by the longest
//! record (the parser holds one record in its buffer), not by the size of the input.
//!
//! Every record is checked as it is read: its sequence must be nucleotide letters (A, C,
//! G, T or an IUPAC ambiguity code, either case; see [`crate::genomic::dna`]), a FASTQ quality line
//! must be as long as its sequence, and an empty record is, by default, an error. Errors
//! name the input, the record (its name, number and line) and the position in it; a
//! truncated or corrupt compressed stream is a format error, never a silent end of input.

use crate::error::{Error, ErrorKind, Result};
use crate::genomic::dna;
use crate::genomic::reads::{BatchLimits, RecordBatch};
use needletail::errors::{ParseError, ParseErrorKind};
use needletail::parser::Format as ParserFormat;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The record format of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `>name description` headers and sequence lines.
    Fasta,
    /// Four-line records with qualities.
    Fastq,
}

impl Format {
    /// `"fasta"` or `"fastq"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fasta => "fasta",
            Self::Fastq => "fastq",
        }
    }
}

/// The compression of an input, detected from its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain text.
    None,
    /// gzip (also BGZF and concatenated members).
    Gzip,
    /// bzip2.
    Bzip2,
    /// xz.
    Xz,
    /// Zstandard.
    Zstd,
}

impl Compression {
    /// Detects the compression from the first bytes of a stream.
    pub fn detect(head: &[u8]) -> Self {
        match head {
            [0x1F, 0x8B, ..] => Self::Gzip,
            [b'B', b'Z', b'h', ..] => Self::Bzip2,
            [0xFD, b'7', b'z', b'X', b'Z', 0x00, ..] => Self::Xz,
            [0x28, 0xB5, 0x2F, 0xFD, ..] => Self::Zstd,
            _ => Self::None,
        }
    }

    /// `"none"`, `"gzip"`, `"bzip2"`, `"xz"` or `"zstd"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Bzip2 => "bzip2",
            Self::Xz => "xz",
            Self::Zstd => "zstd",
        }
    }
}

/// What to do with a record that has no bases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmptyRecords {
    /// Fail with [`ErrorKind::EmptyInput`] naming the record (the default: an empty record
    /// usually means a broken file).
    #[default]
    Raise,
    /// Skip it silently.
    Skip,
    /// Return it like any other record.
    Keep,
}

impl EmptyRecords {
    /// Parses `"raise"`, `"skip"` or `"keep"`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "raise" => Ok(Self::Raise),
            "skip" => Ok(Self::Skip),
            "keep" => Ok(Self::Keep),
            other => Err(Error::parameter(format!(
                "empty must be 'raise', 'skip' or 'keep', got {other:?}"
            ))),
        }
    }
}

/// Options of a [`FastxReader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderOptions {
    /// Policy for records without bases.
    pub empty: EmptyRecords,
    /// Check that sequences are nucleotide letters (turn off only for non-DNA data that
    /// will not be encoded).
    pub validate: bool,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        Self {
            empty: EmptyRecords::Raise,
            validate: true,
        }
    }
}

/// One record; the reader refills it in place so its buffers are reused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// The identifier: the header up to the first whitespace.
    pub name: String,
    /// The rest of the header line, trimmed (empty if none).
    pub description: String,
    /// The sequence letters as in the file, line breaks removed.
    pub sequence: Vec<u8>,
    /// FASTQ quality letters (`None` for FASTA).
    pub quality: Option<Vec<u8>>,
    /// 0-based number of the record in the input.
    pub index: u64,
    /// 1-based line of the record's header.
    pub line: u64,
}

/// Opens the decoder of a gzip stream (every member in turn, each member's CRC and
/// length checked, a truncated stream an error): see [`FastxReader::from_reader_with`].
pub type GzipDecoder =
    Box<dyn FnOnce(Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> + Send>;

/// A `Read` adapter counting the bytes that pass through (for progress reporting: the
/// count is of the input as stored, before decompression).
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Streaming reader of FASTA/FASTQ records.
pub struct FastxReader {
    inner: Option<Box<dyn needletail::parser::FastxReader>>,
    source: String,
    compression: Compression,
    format: Option<Format>,
    options: ReaderOptions,
    /// Records parsed so far (returned or skipped).
    records: u64,
    /// Name of the last record parsed, for errors that come after it.
    last_name: Option<Vec<u8>>,
    /// An error met while filling a batch that already held records: returned by the
    /// next call.
    pending: Option<Error>,
    bytes_read: Arc<AtomicU64>,
}

impl std::fmt::Debug for FastxReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastxReader")
            .field("source", &self.source)
            .field("compression", &self.compression)
            .field("format", &self.format)
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

impl FastxReader {
    /// Opens a file.
    pub fn open(path: &Path, options: ReaderOptions) -> Result<Self> {
        Self::open_with(path, options, None)
    }

    /// Opens a file, decoding gzip with `gzip` (see [`FastxReader::from_reader_with`]).
    pub fn open_with(
        path: &Path,
        options: ReaderOptions,
        gzip: Option<GzipDecoder>,
    ) -> Result<Self> {
        let source = format!("'{}'", path.display());
        let file = File::open(path).map_err(|e| {
            let kind = if e.kind() == io::ErrorKind::NotFound {
                ErrorKind::FileNotFound
            } else {
                ErrorKind::Io
            };
            Error::new(kind, format!("cannot open {source}: {e}"))
        })?;
        Self::from_reader_with(file, source, options, gzip)
    }

    /// Reads from any byte stream; `source` names it in error messages.
    pub fn from_reader<R: Read + Send + 'static>(
        reader: R,
        source: impl Into<String>,
        options: ReaderOptions,
    ) -> Result<Self> {
        Self::from_reader_with(reader, source, options, None)
    }

    /// As [`FastxReader::from_reader`], with gzip input decoded by `gzip` (all members,
    /// each checked) instead of the built-in [`crate::genomic::gzip::MultiGzip`] when
    /// given: a binding can plug in a faster inflate (ISA-L) that it cannot link here.
    /// Any error the decoder returns is reported as a truncated or corrupt stream.
    pub fn from_reader_with<R: Read + Send + 'static>(
        reader: R,
        source: impl Into<String>,
        options: ReaderOptions,
        gzip: Option<GzipDecoder>,
    ) -> Result<Self> {
        let source = source.into();
        let bytes_read = Arc::new(AtomicU64::new(0));
        let mut counting = Counting {
            inner: reader,
            count: Arc::clone(&bytes_read),
        };
        // Peek at the magic bytes (to name the compression in messages), then hand the
        // parser a stream that starts with them again.
        let mut head = [0u8; 6];
        let mut got = 0;
        while got < head.len() {
            match counting.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::new(
                        ErrorKind::Io,
                        format!("cannot read {source}: {e}"),
                    ))
                }
            }
        }
        let compression = Compression::detect(&head[..got]);
        let stream = io::Cursor::new(head[..got].to_vec()).chain(counting);
        let plain = Self::decoded(stream, compression, &source, gzip)?;
        let inner = needletail::parse_fastx_reader(plain)
            .map_err(|e| Self::error_for(&source, compression, 0, None, e))?;
        Ok(Self {
            inner: Some(inner),
            source,
            compression,
            format: None,
            options,
            records: 0,
            last_name: None,
            pending: None,
            bytes_read,
        })
    }

    /// The decoded bytes of `stream` (all members of a multi-member file), starting with
    /// the first one read here: a compressed stream that ends before it is empty when the
    /// decoder finished cleanly and truncated or corrupt when it did not (a bzip2 stream
    /// cut inside its first block decodes to nothing at all, which the parser alone would
    /// report as an empty file).
    fn decoded<R: Read + Send + 'static>(
        stream: R,
        compression: Compression,
        source: &str,
        gzip: Option<GzipDecoder>,
    ) -> Result<Box<dyn Read + Send>> {
        let mut decoder: Box<dyn Read + Send> = match compression {
            Compression::None => return Ok(Box::new(stream)),
            Compression::Gzip => match gzip {
                Some(open) => open(Box::new(stream))
                    .map_err(|e| Error::new(ErrorKind::Io, format!("cannot read {source}: {e}")))?,
                None => Box::new(crate::genomic::gzip::MultiGzip::new(stream)),
            },
            Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(stream)),
            Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(stream)),
            Compression::Zstd => Box::new(
                zstd::stream::read::Decoder::new(stream)
                    .map_err(|e| Error::new(ErrorKind::Io, format!("cannot read {source}: {e}")))?,
            ),
        };
        // Two bytes, as the parser's format check reads them: a stream cut after its
        // first decoded byte is truncated, not an empty file.
        let mut first = [0u8; 2];
        let mut got = 0;
        while got < first.len() {
            match decoder.read(&mut first[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::new(
                        ErrorKind::InvalidFormat,
                        format!(
                            "{source}: the {} stream is truncated or corrupt ({e}) before its \
                             first record",
                            compression.name()
                        ),
                    ))
                }
            }
        }
        Ok(Box::new(
            io::Cursor::new(first[..got].to_vec()).chain(decoder),
        ))
    }

    /// The input's name as used in messages.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The detected compression.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The record format (known once the first record has been read).
    pub fn format(&self) -> Option<Format> {
        self.format
    }

    /// Records parsed so far (including skipped empty ones).
    pub fn records_read(&self) -> u64 {
        self.records
    }

    /// Bytes of the input consumed so far (compressed bytes for compressed input).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    /// A shared handle on [`FastxReader::bytes_read`], readable from another thread while
    /// this reader works (for progress bars).
    pub fn bytes_read_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.bytes_read)
    }

    /// Reads the next record into `record`; `Ok(false)` at the end of the input. After an
    /// error the reader is finished (further calls return `Ok(false)`).
    pub fn next_record(&mut self, record: &mut Record) -> Result<bool> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        loop {
            let result = self.parse_next(record);
            match result {
                Ok(true) if record.sequence.is_empty() => match self.options.empty {
                    EmptyRecords::Keep => return Ok(true),
                    EmptyRecords::Skip => continue,
                    EmptyRecords::Raise => {
                        self.inner = None;
                        return Err(self.empty_record_error(
                            &record.name,
                            record.index,
                            record.line,
                        ));
                    }
                },
                Err(e) => {
                    self.inner = None;
                    return Err(e);
                }
                other => return other,
            }
        }
    }

    fn parse_next(&mut self, record: &mut Record) -> Result<bool> {
        let parsed = self.parse_with(|header, sequence, quality, index, line, _| {
            let split = header
                .iter()
                .position(|b| b.is_ascii_whitespace())
                .unwrap_or(header.len());
            record.name.clear();
            record
                .name
                .push_str(&String::from_utf8_lossy(&header[..split]));
            record.description.clear();
            record
                .description
                .push_str(String::from_utf8_lossy(&header[split..]).trim());
            record.sequence.clear();
            record.sequence.extend_from_slice(sequence);
            match quality {
                Some(q) => {
                    let buf = record.quality.get_or_insert_with(Vec::new);
                    buf.clear();
                    buf.extend_from_slice(q);
                }
                None => record.quality = None,
            }
            record.index = index;
            record.line = line;
        })?;
        Ok(parsed.is_some())
    }

    /// Reads the next batch of records into `batch` (emptied first): records until one
    /// reaches `limits.bases` bases in the batch or the batch holds `limits.records`;
    /// `Ok(false)` at the end of the input. Records are checked and empty ones handled as
    /// by [`FastxReader::next_record`]. An error after some records of a batch were read
    /// returns those records first and the error on the next call, so a batch reader
    /// yields exactly the records a record-at-a-time reader yields before it fails.
    pub fn next_batch(&mut self, batch: &mut RecordBatch, limits: BatchLimits) -> Result<bool> {
        batch.clear();
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        while batch.len() < limits.records && batch.bases() < limits.bases {
            let parsed = self.parse_with(|header, sequence, quality, index, line, plain| {
                batch.push(header, sequence, quality, index, line, plain);
                sequence.is_empty()
            });
            let failure = match parsed {
                Ok(None) => break,
                Ok(Some(false)) => continue,
                Ok(Some(true)) => match self.options.empty {
                    EmptyRecords::Keep => continue,
                    EmptyRecords::Skip => {
                        batch.pop();
                        continue;
                    }
                    EmptyRecords::Raise => {
                        let last = batch.len() - 1;
                        let e = self.empty_record_error(
                            &String::from_utf8_lossy(batch.name(last)),
                            batch.indices[last],
                            batch.lines[last],
                        );
                        batch.pop();
                        e
                    }
                },
                Err(e) => e,
            };
            self.inner = None;
            if batch.is_empty() {
                return Err(failure);
            }
            self.pending = Some(failure);
            break;
        }
        batch.format = self.format;
        Ok(!batch.is_empty())
    }

    fn empty_record_error(&self, name: &str, index: u64, line: u64) -> Error {
        Error::new(
            ErrorKind::EmptyInput,
            format!(
                "{}: {} has no bases; pass empty='skip' to drop empty records \
                 or empty='keep' to keep them",
                self.source,
                describe_record(name, index, line)
            ),
        )
    }

    /// Parses the next record and hands its header, sequence, quality, number and line
    /// to `sink` (after checking the sequence), with whether the sequence is upper-case
    /// A, C, G and T only; `Ok(None)` at the end of the input.
    fn parse_with<T>(
        &mut self,
        sink: impl FnOnce(&[u8], &[u8], Option<&[u8]>, u64, u64, bool) -> T,
    ) -> Result<Option<T>> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(None);
        };
        let parsed = match inner.next() {
            None => {
                self.inner = None;
                return Ok(None);
            }
            Some(Err(e)) => {
                let last = self.last_name.as_deref().map(String::from_utf8_lossy);
                return Err(Self::error_for(
                    &self.source,
                    self.compression,
                    self.records,
                    last.as_deref(),
                    e,
                ));
            }
            Some(Ok(parsed)) => parsed,
        };
        self.format = Some(match parsed.format() {
            ParserFormat::Fasta => Format::Fasta,
            ParserFormat::Fastq => Format::Fastq,
        });
        let header = parsed.id();
        let index = self.records;
        let line = parsed.start_line_number();
        self.records += 1;
        let split = header
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(header.len());
        // One buffer reused for every record: errors after this record name it.
        let last = self.last_name.get_or_insert_with(Vec::new);
        last.clear();
        last.extend_from_slice(&header[..split]);
        let sequence = parsed.seq();
        // One vector-at-a-time pass clears the common read (valid, nothing ambiguous or
        // soft-masked); anything else goes through the full check.
        let plain = plain_acgt(&sequence);
        if self.options.validate && !plain {
            dna::validate(&sequence).map_err(|e| {
                e.with_context(format!(
                    "{}: {}",
                    self.source,
                    describe_record(&String::from_utf8_lossy(&header[..split]), index, line)
                ))
            })?;
        }
        Ok(Some(sink(
            header,
            &sequence,
            parsed.qual(),
            index,
            line,
            plain,
        )))
    }

    /// Turns a parser error into ours, naming the input and the record.
    fn error_for(
        source: &str,
        compression: Compression,
        records: u64,
        last_name: Option<&str>,
        e: ParseError,
    ) -> Error {
        let after = match last_name {
            Some(name) => format!(" (after record {records}, '{name}')"),
            None => String::new(),
        };
        let line = e.position.line;
        let at = if line > 0 {
            format!(" at line {line}")
        } else {
            String::new()
        };
        let what = format!("record {}", records + 1);
        match e.kind {
            ParseErrorKind::EmptyFile => Error::new(
                ErrorKind::EmptyInput,
                format!("{source} is empty: no FASTA or FASTQ record"),
            ),
            ParseErrorKind::UnknownFormat => Error::new(
                ErrorKind::InvalidFormat,
                format!("{source} is not FASTA or FASTQ: {}", e.msg),
            ),
            ParseErrorKind::Io if compression != Compression::None => Error::new(
                ErrorKind::InvalidFormat,
                format!(
                    "{source}: the {} stream is truncated or corrupt ({}) while reading {what}{after}",
                    compression.name(),
                    e.msg
                ),
            ),
            ParseErrorKind::Io => Error::new(
                ErrorKind::Io,
                format!("cannot read {source} ({}) while reading {what}{after}", e.msg),
            ),
            ParseErrorKind::UnexpectedEnd => Error::new(
                ErrorKind::InvalidFormat,
                format!(
                    "{source}: the input ends in the middle of {what}{at}{after}: a header without \
                     sequence, or a truncated FASTQ record"
                ),
            ),
            _ => {
                let id = e
                    .position
                    .id
                    .as_deref()
                    .map(|id| format!(" '{}'", id.split_whitespace().next().unwrap_or(id)))
                    .unwrap_or_default();
                Error::new(
                    ErrorKind::InvalidFormat,
                    format!("{source}: {what}{id}{at}: {}", e.msg),
                )
            }
        }
    }
}

/// True when every byte is an upper-case A, C, G or T (checked a block at a time,
/// branch-free, so that it vectorizes).
fn plain_acgt(seq: &[u8]) -> bool {
    seq.chunks(64).all(|block| {
        block.iter().fold(true, |ok, &b| {
            ok & ((b == b'A') | (b == b'C') | (b == b'G') | (b == b'T'))
        })
    })
}

/// `record 'name' (record 3, line 45)`.
fn describe_record(name: &str, index: u64, line: u64) -> String {
    format!("record '{name}' (record {}, line {line})", index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    fn read_all(data: &[u8], options: ReaderOptions) -> Result<Vec<Record>> {
        let mut reader =
            FastxReader::from_reader(io::Cursor::new(data.to_vec()), "'test'", options)?;
        let mut out = Vec::new();
        let mut record = Record::default();
        while reader.next_record(&mut record)? {
            out.push(record.clone());
        }
        Ok(out)
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn plugged_gzip_decoder_plain_batches_and_one_byte_streams() {
        let fq = b"@a\nACGT\n+\nIIII\n@b\nACgN\n+\nIIII\n@c\nTTTT\n+\nIIII\n";
        let gz = gzip(fq);
        // A plugged decoder is used for gzip input (here one that counts its calls).
        let calls = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&calls);
        let decoder: GzipDecoder = Box::new(move |stream| {
            seen.fetch_add(1, Ordering::Relaxed);
            Ok(Box::new(crate::genomic::gzip::MultiGzip::new(stream)))
        });
        let mut reader = FastxReader::from_reader_with(
            io::Cursor::new(gz.clone()),
            "'t'",
            ReaderOptions::default(),
            Some(decoder),
        )
        .unwrap();
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        // The batch is plain only while every sequence is upper-case A/C/G/T.
        let mut batch = RecordBatch::default();
        let limits = BatchLimits::new(4, 10).unwrap();
        assert!(reader.next_batch(&mut batch, limits).unwrap());
        assert!(batch.plain && batch.len() == 1);
        assert!(reader.next_batch(&mut batch, limits).unwrap());
        assert!(!batch.plain && batch.name(0) == b"b");
        assert!(reader.next_batch(&mut batch, limits).unwrap());
        assert!(batch.plain && batch.name(0) == b"c");
        // A decoder that fails to start is a read error naming the input.
        let failing: GzipDecoder = Box::new(|_| Err(io::Error::other("no decoder")));
        let e = FastxReader::from_reader_with(
            io::Cursor::new(gz.clone()),
            "'t'",
            ReaderOptions::default(),
            Some(failing),
        )
        .unwrap_err();
        assert!(e.message().contains("cannot read 't': no decoder"), "{e}");
        // A stream cut after its first decoded byte is truncated, not empty.
        for cut in 2..gz.len() {
            if let Err(e) = read_all(&gz[..cut], ReaderOptions::default()) {
                assert_eq!(e.kind(), ErrorKind::InvalidFormat, "cut {cut}: {e}");
            }
        }
    }

    #[test]
    fn fasta_multiline_headers_and_fastq() {
        let recs = read_all(
            b">chr1 first one\nACGT\nnnAC\n>chr2\r\nRYacgt\r\n",
            ReaderOptions::default(),
        )
        .unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].name, "chr1");
        assert_eq!(recs[0].description, "first one");
        assert_eq!(recs[0].sequence, b"ACGTnnAC");
        assert_eq!((recs[0].index, recs[0].line), (0, 1));
        assert_eq!(recs[1].name, "chr2");
        assert_eq!(recs[1].sequence, b"RYacgt");
        assert_eq!(recs[1].quality, None);
        let recs = read_all(
            b"@r1 x\nACGT\n+\nIIII\n@r2\nAC\n+r2\n#!\n",
            Default::default(),
        )
        .unwrap();
        assert_eq!(recs[1].quality.as_deref(), Some(&b"#!"[..]));
        assert_eq!(recs[1].line, 5);
    }

    #[test]
    fn compressed_inputs_read_like_plain_ones() {
        let plain = b">a\nACGTACGT\n>b\nTTTT\n".repeat(100);
        let want = read_all(&plain, Default::default()).unwrap();
        let gz = gzip(&plain);
        let mut reader =
            FastxReader::from_reader(io::Cursor::new(gz.clone()), "'x.gz'", Default::default())
                .unwrap();
        assert_eq!(reader.compression(), Compression::Gzip);
        let mut r = Record::default();
        let mut n = 0;
        while reader.next_record(&mut r).unwrap() {
            assert_eq!(r, want[n]);
            n += 1;
        }
        assert_eq!(n, want.len());
        assert_eq!(reader.bytes_read(), gz.len() as u64);
        assert_eq!(reader.format(), Some(Format::Fasta));
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(&plain).unwrap();
        assert_eq!(
            read_all(&bz.finish().unwrap(), Default::default()).unwrap(),
            want
        );
        let zs = zstd::encode_all(&plain[..], 3).unwrap();
        assert_eq!(read_all(&zs, Default::default()).unwrap(), want);
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
        xz.write_all(&plain).unwrap();
        assert_eq!(
            read_all(&xz.finish().unwrap(), Default::default()).unwrap(),
            want
        );
    }

    #[test]
    fn bad_inputs_are_typed_errors_naming_record_and_position() {
        let o = ReaderOptions::default();
        let kind = |data: &[u8]| read_all(data, o).unwrap_err();
        let e = kind(b">a\nACGT\n>b\nAC-T\n");
        assert_eq!(e.kind(), ErrorKind::InvalidSequence { position: 2 });
        assert!(
            e.message().contains("record 'b' (record 2, line 3)")
                && e.message().contains("'-' (0x2D) at position 2"),
            "{e}"
        );
        let e = kind(b"@r1\nACGT\n+\nIII\n");
        assert_eq!(e.kind(), ErrorKind::InvalidFormat);
        assert!(
            e.message().contains("'r1'") && e.message().contains("quality length is 3"),
            "{e}"
        );
        let e = kind(b">a\nACGT\n>b\n");
        assert_eq!(e.kind(), ErrorKind::InvalidFormat);
        assert!(
            e.message().contains("record 2") && e.message().contains("'a'"),
            "{e}"
        );
        let e = kind(b">a\n\n>b\nACGT\n");
        assert_eq!(e.kind(), ErrorKind::EmptyInput);
        assert!(
            e.message()
                .contains("record 'a' (record 1, line 1) has no bases"),
            "{e}"
        );
        let skip = ReaderOptions {
            empty: EmptyRecords::Skip,
            ..o
        };
        let names: Vec<String> = read_all(b">a\n\n>b\nACGT\n", skip)
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["b"]);
        let keep = ReaderOptions {
            empty: EmptyRecords::Keep,
            ..o
        };
        assert_eq!(read_all(b">a\n\n>b\nACGT\n", keep).unwrap().len(), 2);
        assert_eq!(kind(b"").kind(), ErrorKind::EmptyInput);
        let e = kind(b"hello world\n");
        assert_eq!(e.kind(), ErrorKind::InvalidFormat);
        assert!(e.message().contains("not FASTA or FASTQ"), "{e}");
        // A truncated gzip stream is an error, not a short file.
        let gz = gzip(&b">r\nACGTTGCA\n".repeat(2000));
        let e = kind(&gz[..gz.len() / 2]);
        assert_eq!(e.kind(), ErrorKind::InvalidFormat);
        assert!(
            e.message().contains("gzip stream is truncated or corrupt"),
            "{e}"
        );
        let e = FastxReader::open(Path::new("/no/such/file.fa"), o).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::FileNotFound);
        assert!(e.message().contains("/no/such/file.fa"), "{e}");
        fn assert_send<T: Send>() {}
        assert_send::<FastxReader>();
    }

    /// Every record of `data` by batches of the given limits, flattened back to records.
    fn read_batches(
        data: &[u8],
        options: ReaderOptions,
        limits: BatchLimits,
    ) -> Result<Vec<Record>> {
        let mut reader =
            FastxReader::from_reader(io::Cursor::new(data.to_vec()), "'test'", options)?;
        let mut batch = RecordBatch::default();
        let mut out = Vec::new();
        while reader.next_batch(&mut batch, limits)? {
            assert!(!batch.is_empty() && batch.len() <= limits.records);
            for i in 0..batch.len() {
                let (a, b) = (
                    batch.sequence_offsets[i] as usize,
                    batch.sequence_offsets[i + 1] as usize,
                );
                let (d0, d1) = (
                    batch.description_offsets[i] as usize,
                    batch.description_offsets[i + 1] as usize,
                );
                out.push(Record {
                    name: String::from_utf8_lossy(batch.name(i)).into_owned(),
                    description: String::from_utf8_lossy(&batch.descriptions[d0..d1]).into_owned(),
                    sequence: batch.sequence(i).to_vec(),
                    quality: (batch.format == Some(Format::Fastq))
                        .then(|| batch.qualities[a..b].to_vec()),
                    index: batch.indices[i],
                    line: batch.lines[i],
                });
            }
        }
        Ok(out)
    }

    #[test]
    fn batches_hold_the_records_and_defer_errors() {
        let data = b"@r1 x\nACGT\n+\nIIII\n@r2\n\n+\n\n@r3\nAC\n+r3\n#!\n".repeat(5);
        let keep = ReaderOptions {
            empty: EmptyRecords::Keep,
            validate: true,
        };
        let want = read_all(&data, keep).unwrap();
        for (bases, records) in [(1, 100), (3, 2), (1000, 1), (1000, 1000)] {
            let got = read_batches(&data, keep, BatchLimits::new(bases, records).unwrap()).unwrap();
            assert_eq!(got, want, "bases {bases} records {records}");
        }
        let skip = ReaderOptions {
            empty: EmptyRecords::Skip,
            validate: true,
        };
        assert_eq!(
            read_batches(&data, skip, BatchLimits::default()).unwrap(),
            read_all(&data, skip).unwrap()
        );
        // The records before a bad one come out in a batch; the error follows.
        let bad = b">a\nACGT\n>b\nAC-T\n";
        let mut reader = FastxReader::from_reader(
            io::Cursor::new(bad.to_vec()),
            "'t'",
            ReaderOptions::default(),
        )
        .unwrap();
        let mut batch = RecordBatch::default();
        assert!(reader
            .next_batch(&mut batch, BatchLimits::default())
            .unwrap());
        assert_eq!(batch.len(), 1);
        let e = reader
            .next_batch(&mut batch, BatchLimits::default())
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSequence { position: 2 });
        assert!(e.message().contains("record 'b' (record 2, line 3)"), "{e}");
        assert!(!reader
            .next_batch(&mut batch, BatchLimits::default())
            .unwrap());
        let e = read_batches(&data, ReaderOptions::default(), BatchLimits::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::EmptyInput);
        assert!(
            e.message()
                .contains("record 'r2' (record 2, line 5) has no bases"),
            "{e}"
        );
        // Truncated FASTQ: the error names the record after the last good one.
        let e = read_batches(
            b"@r1\nACGT\n+\nIIII\n@r2\nAC\n",
            ReaderOptions::default(),
            BatchLimits::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidFormat);
        assert!(
            e.message().contains("record 2") && e.message().contains("'r1'"),
            "{e}"
        );
    }

    #[test]
    fn concatenated_gzip_members_read_as_one_stream() {
        // BGZF and `cat a.gz b.gz` are several gzip members back to back.
        let a = b"@a\nACGT\n+\nIIII\n".repeat(300);
        let b = b"@b\nTTGA\n+\nIIII\n".repeat(200);
        let mut both = gzip(&a);
        both.extend(gzip(&b));
        let mut plain = a.clone();
        plain.extend_from_slice(&b);
        let got = read_batches(
            &both,
            ReaderOptions::default(),
            BatchLimits::new(100, 1000).unwrap(),
        )
        .unwrap();
        assert_eq!(got.len(), 500);
        assert_eq!(got, read_all(&plain, ReaderOptions::default()).unwrap());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Arbitrary bytes, plain or gzip, never panic: they parse or fail with a typed
        /// error, and every record returned holds only nucleotide letters.
        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(prop::sample::select(b">@+\nACGTNacgtn \r-IX\x1f\x8b".to_vec()), 0..300),
            compress in any::<bool>(),
        ) {
            let data = if compress { gzip(&bytes) } else { bytes };
            if let Ok(recs) = read_all(&data, ReaderOptions { empty: EmptyRecords::Keep, validate: true }) {
                for r in recs {
                    prop_assert!(dna::first_invalid(&r.sequence).is_none());
                    if let Some(q) = &r.quality {
                        prop_assert_eq!(q.len(), r.sequence.len());
                    }
                }
            }
        }

        /// Writing records and reading them back gives them back, whatever the line width.
        #[test]
        fn round_trip(
            seqs in proptest::collection::vec(proptest::collection::vec(prop::sample::select(b"ACGTNacgtnRY".to_vec()), 1..200), 1..10),
            width in 1usize..80,
        ) {
            let mut data = Vec::new();
            for (i, s) in seqs.iter().enumerate() {
                data.extend_from_slice(format!(">seq{i} some description\n").as_bytes());
                for line in s.chunks(width) {
                    data.extend_from_slice(line);
                    data.push(b'\n');
                }
            }
            let recs = read_all(&data, Default::default()).unwrap();
            prop_assert_eq!(recs.len(), seqs.len());
            for (r, s) in recs.iter().zip(&seqs) {
                prop_assert_eq!(&r.sequence, s);
                prop_assert_eq!(&r.description, "some description");
            }
        }
    }
}
