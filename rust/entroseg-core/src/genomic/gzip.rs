//! A streaming gzip decoder on zlib-rs: every member of a multi-member file (BGZF, or
//! `cat a.gz b.gz`) decoded in turn, each member's CRC-32 and length checked.
//!
//! Why not `flate2`'s `MultiGzDecoder`: its default backend (miniz_oxide) inflates short
//! reads' FASTQ about a third slower than zlib-rs, and switching `flate2`'s backend would
//! change a feature of a crate the Polars crates share (rebuilding all of them). Here
//! zlib-rs is used directly, through its safe `Inflate` API, with large buffers, inflating
//! straight into the caller's buffer.
//!
//! Zero bytes after a member are padding and skipped (as gzip(1), Python's `gzip` and
//! ISA-L's `igzip` skip them), so the decoders a reader may use agree on such files.
//!
//! Errors are `io::Error`s: `InvalidData` for a corrupt stream or bytes after a member
//! that do not start another member, `UnexpectedEof` for a stream that ends inside a
//! member. The reader never returns 0 (the end) before the last member's trailer has
//! been checked.

use std::io::{self, Read};
use zlib_rs::{Inflate, InflateFlush, Status};

/// Compressed bytes read from the source at a time.
const INPUT_BUFFER: usize = 1 << 18;
/// zlib's `windowBits` for a gzip header and trailer with a 32 KiB window.
const GZIP_WINDOW_BITS: u8 = 16 + 15;

/// Decodes a gzip stream of one or more members.
pub struct MultiGzip<R> {
    source: R,
    input: Box<[u8]>,
    /// Unconsumed input is `input[pos..len]`.
    pos: usize,
    len: usize,
    /// The current member's decoder; `None` between members.
    inflate: Option<Box<Inflate>>,
    /// The source is exhausted.
    source_done: bool,
    /// Every member ended and nothing follows.
    finished: bool,
    /// A member has ended (zero bytes after one are padding).
    after_member: bool,
}

impl<R: Read> MultiGzip<R> {
    /// A decoder over `source` (positioned at the first member's header).
    pub fn new(source: R) -> Self {
        Self {
            source,
            input: vec![0u8; INPUT_BUFFER].into_boxed_slice(),
            pos: 0,
            len: 0,
            inflate: None,
            source_done: false,
            finished: false,
            after_member: false,
        }
    }

    /// Refills the input buffer when it is empty; `Ok(false)` when the source is
    /// exhausted.
    fn fill(&mut self) -> io::Result<bool> {
        if self.pos < self.len {
            return Ok(true);
        }
        if self.source_done {
            return Ok(false);
        }
        loop {
            match self.source.read(&mut self.input) {
                Ok(0) => {
                    self.source_done = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.pos = 0;
                    self.len = n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl<R: Read> Read for MultiGzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.finished {
            return Ok(0);
        }
        loop {
            let have_input = self.fill()?;
            if self.inflate.is_none() {
                if !have_input {
                    // The input ended between members: the end of the stream.
                    self.finished = true;
                    return Ok(0);
                }
                if self.after_member && self.input[self.pos] == 0 {
                    let zeros = self.input[self.pos..self.len]
                        .iter()
                        .take_while(|&&b| b == 0)
                        .count();
                    self.pos += zeros;
                    continue;
                }
                self.inflate = Some(Box::new(Inflate::new(true, GZIP_WINDOW_BITS)));
            }
            let Some(inflate) = self.inflate.as_mut() else {
                unreachable!("set above")
            };
            if !have_input {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the gzip stream ends inside a member (truncated file)",
                ));
            }
            let (in_before, out_before) = (inflate.total_in(), inflate.total_out());
            let status = inflate
                .decompress(&self.input[self.pos..self.len], buf, InflateFlush::NoFlush)
                .map_err(|e| {
                    let detail = inflate.error_message().unwrap_or(e.as_str());
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("corrupt gzip data: {detail}"),
                    )
                })?;
            self.pos += (inflate.total_in() - in_before) as usize;
            let written = (inflate.total_out() - out_before) as usize;
            if status == Status::StreamEnd {
                // The member's trailer checked out; whatever follows is another member.
                self.inflate = None;
                self.after_member = true;
            }
            if written > 0 {
                return Ok(written);
            }
            // No output yet: a header, an empty block or a member's end consumed input;
            // the loop refills and goes on.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    fn gzip(data: &[u8], level: u32) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Reads everything with reads of `step` bytes.
    fn decode(data: &[u8], step: usize) -> io::Result<Vec<u8>> {
        let mut d = MultiGzip::new(io::Cursor::new(data.to_vec()));
        let mut out = Vec::new();
        let mut buf = vec![0u8; step];
        loop {
            let n = d.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    /// A source that hands out at most `step` bytes per read.
    struct Trickle(Vec<u8>, usize, usize);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.1).min(self.0.len() - self.2);
            buf[..n].copy_from_slice(&self.0[self.2..self.2 + n]);
            self.2 += n;
            Ok(n)
        }
    }

    #[test]
    fn members_truncation_and_garbage() {
        let a = b"@a\nACGT\n+\nIIII\n".repeat(5000);
        let b = b"@b\nTTGA\n+\nIIII\n".repeat(3000);
        let mut both = gzip(&a, 6);
        both.extend(gzip(b"", 6));
        both.extend(gzip(&b, 1));
        let mut want = a.clone();
        want.extend_from_slice(&b);
        for step in [1, 7, 4096, 1 << 20] {
            assert_eq!(decode(&both, step).unwrap(), want);
        }
        let mut d = MultiGzip::new(Trickle(both.clone(), 3, 0));
        let mut got = Vec::new();
        d.read_to_end(&mut got).unwrap();
        assert_eq!(got, want);
        // Cut anywhere inside: an error, never a short stream.
        for cut in [1, 10, both.len() / 3, both.len() - 1] {
            let e = decode(&both[..cut], 1 << 16).unwrap_err();
            assert!(
                matches!(
                    e.kind(),
                    io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData
                ),
                "{e}"
            );
        }
        // A flipped byte in the data or the CRC.
        for at in [40, both.len() - 6] {
            let mut bad = both.clone();
            bad[at] ^= 0x55;
            assert!(decode(&bad, 1 << 16).is_err());
        }
        // Zero padding after members (and between them) is skipped.
        let mut padded = gzip(&a, 6);
        padded.extend_from_slice(&[0; 700]);
        padded.extend(gzip(&b, 1));
        padded.extend_from_slice(&[0; 3]);
        for step in [1, 4096] {
            assert_eq!(decode(&padded, step).unwrap(), want);
        }
        // Bytes after a member that are not a member.
        let mut tail = gzip(&a, 6);
        tail.extend_from_slice(b"garbage");
        let e = decode(&tail, 1 << 16).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any split of any data into members decodes to the data, whatever the read
        /// sizes, and matches flate2's decoder.
        #[test]
        fn equals_flate2(
            data in proptest::collection::vec(prop::sample::select(b"ACGT\n@+I".to_vec()), 0..20_000),
            cuts in proptest::collection::vec(0usize..20_000, 0..4),
            step in 1usize..70_000,
            level in 0u32..10,
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut gz = Vec::new();
            let mut from = 0;
            for c in cuts.into_iter().chain([data.len()]) {
                gz.extend(gzip(&data[from..c], level));
                from = c;
            }
            let mut reference = Vec::new();
            flate2::read::MultiGzDecoder::new(&gz[..]).read_to_end(&mut reference).unwrap();
            prop_assert_eq!(&reference, &data);
            prop_assert_eq!(decode(&gz, step).unwrap(), data);
        }

        /// Arbitrary bytes after a gzip magic never panic.
        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..400),
        ) {
            let mut data = vec![0x1f, 0x8b, 8, 0];
            data.extend(bytes);
            let _ = decode(&data, 97);
        }
    }
}
