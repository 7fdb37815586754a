//! Checkpoint framing: a small, versioned, little-endian binary format.
//!
//! A checkpoint starts with the magic `b"ESEG"`, a format version and a tag naming the
//! estimator, so bytes of one estimator fed to another fail with a clear error instead of
//! restoring garbage, and ends with a 64-bit FNV-1a checksum of everything before it, so
//! corrupted or truncated bytes are refused instead of restoring a state that merely
//! parses (a flipped bit in a stored sample would otherwise change later results
//! silently). Restoring also validates every length and range it reads; malformed bytes
//! give `ErrorKind::InvalidCheckpoint`, never a panic. Count tables are not stored: they
//! are rebuilt from the retained history, which keeps checkpoints small (O(window)).
//!
//! Layout: `ESEG`, version (u32), tag (u64 length + bytes), the estimator's fields
//! (u64 / f64 little-endian, flags as one byte, sequences as u64 length + items), then
//! the checksum (u64).

use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"ESEG";
/// Version 2 added the checksum and the lane count of conditional estimators.
/// 3: the segmenter's state is its profiler's then its engine's, and the online
/// controller keeps its warm-up count (2 cannot be read: the layout changed).
const VERSION: u32 = 5;
const CHECKSUM_BYTES: usize = 8;

/// 64-bit FNV-1a: any single changed byte changes the result (each step is a bijection
/// of the running value), other corruptions are missed with probability ~2^-64.
pub(crate) fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Appends values to a byte buffer.
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn new(tag: &str) -> Self {
        let mut w = Self { buf: Vec::new() };
        w.buf.extend_from_slice(MAGIC);
        w.buf.extend_from_slice(&VERSION.to_le_bytes());
        w.bytes(tag.as_bytes());
        w
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn f64(&mut self, v: f64) {
        self.u64(v.to_bits());
    }
    pub(crate) fn bool(&mut self, v: bool) {
        self.buf.push(v as u8);
    }
    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.u64(v.len() as u64);
        self.buf.extend_from_slice(v);
    }
    pub(crate) fn f64s(&mut self, v: &[f64]) {
        self.u64(v.len() as u64);
        for x in v {
            self.f64(*x);
        }
    }
    pub(crate) fn u32s(&mut self, v: &[u32]) {
        self.u64(v.len() as u64);
        for x in v {
            self.buf.extend_from_slice(&x.to_le_bytes());
        }
    }
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let sum = fnv1a(&self.buf);
        self.u64(sum);
        self.buf
    }
}

/// Reads values back, checking every bound.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Opens a checkpoint and checks that it was written for `tag`.
    pub(crate) fn open(data: &'a [u8], tag: &str) -> Result<Self> {
        let mut r = Self { data, pos: 0 };
        if !data.starts_with(MAGIC) {
            return Err(Error::checkpoint(
                "not an entroseg checkpoint (bad magic bytes)",
            ));
        }
        if r.take(4)? != MAGIC {
            return Err(Error::checkpoint(
                "not an entroseg checkpoint (bad magic bytes)",
            ));
        }
        let version = u32::from_le_bytes(r.take(4)?.try_into().expect("4 bytes"));
        if version != VERSION {
            return Err(Error::checkpoint(format!(
                "checkpoint format version {version} is not supported (this build reads {VERSION})"
            )));
        }
        let body = data
            .len()
            .checked_sub(CHECKSUM_BYTES)
            .filter(|&b| b >= r.pos)
            .ok_or_else(|| Error::checkpoint("checkpoint is truncated"))?;
        let stored = u64::from_le_bytes(data[body..].try_into().expect("8 bytes"));
        if fnv1a(&data[..body]) != stored {
            return Err(Error::checkpoint(
                "checkpoint is corrupt or truncated (checksum mismatch)",
            ));
        }
        // From here on only the body is parsed.
        r.data = &data[..body];
        let found = r.bytes()?;
        if found != tag.as_bytes() {
            return Err(Error::checkpoint(format!(
                "checkpoint was written by {:?}, not by {tag:?}",
                String::from_utf8_lossy(found)
            )));
        }
        Ok(r)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(end) => {
                let s = &self.data[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(Error::checkpoint("checkpoint is truncated")),
        }
    }
    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    pub(crate) fn usize(&mut self) -> Result<usize> {
        usize::try_from(self.u64()?).map_err(|_| Error::checkpoint("checkpoint value out of range"))
    }
    pub(crate) fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_bits(self.u64()?))
    }
    pub(crate) fn bool(&mut self) -> Result<bool> {
        match self.take(1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(Error::checkpoint(format!(
                "invalid flag byte {b} in checkpoint"
            ))),
        }
    }
    /// Bytes not read yet: restoring code checks claimed sizes (a window's ring is
    /// stored in the checkpoint) against it before allocating anything.
    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Fails unless `n` items of `item_bytes` each can still follow.
    pub(crate) fn expect_items(&self, n: usize, item_bytes: usize) -> Result<()> {
        if n.checked_mul(item_bytes)
            .is_none_or(|b| b > self.remaining())
        {
            return Err(Error::checkpoint(
                "checkpoint is truncated (the window it claims is not in it)",
            ));
        }
        Ok(())
    }

    fn len(&mut self, item: usize) -> Result<usize> {
        let n = self.usize()?;
        if n.checked_mul(item)
            .is_none_or(|b| b > self.data.len() - self.pos)
        {
            return Err(Error::checkpoint("checkpoint is truncated"));
        }
        Ok(n)
    }
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.len(1)?;
        self.take(n)
    }
    pub(crate) fn f64s(&mut self) -> Result<Vec<f64>> {
        let n = self.len(8)?;
        (0..n).map(|_| self.f64()).collect()
    }
    pub(crate) fn u32s(&mut self) -> Result<Vec<u32>> {
        let n = self.len(4)?;
        Ok(self
            .take(n * 4)?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4")))
            .collect())
    }
    pub(crate) fn finish(self) -> Result<()> {
        if self.pos != self.data.len() {
            return Err(Error::checkpoint("checkpoint has trailing bytes"));
        }
        Ok(())
    }
}

/// `body` framed as checkpoint bytes of `tag` (magic, version, tag, checksum).
pub(crate) fn frame(tag: &str, body: &[u8]) -> Vec<u8> {
    let mut w = Writer::new(tag);
    w.buf.extend_from_slice(body);
    w.finish()
}

/// A checkpoint of one object: `write` its state under `tag`.
pub(crate) fn save(tag: &str, write: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::new(tag);
    write(&mut w);
    w.finish()
}

/// The object of a checkpoint made by [`save`] under `tag`: `read` its state, then
/// check that nothing is left over.
pub(crate) fn load<T>(
    bytes: &[u8],
    tag: &str,
    read: impl FnOnce(&mut Reader) -> crate::Result<T>,
) -> crate::Result<T> {
    let mut r = Reader::open(bytes, tag)?;
    let value = read(&mut r)?;
    r.finish()?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_changed_byte_is_detected() {
        let mut w = Writer::new("demo");
        w.u64(7);
        w.f64s(&[1.5, -2.0, 1e300]);
        let bytes = w.finish();
        for i in 0..bytes.len() {
            for flip in [1u8, 0x80, 0xff] {
                let mut bad = bytes.clone();
                bad[i] ^= flip;
                let res = Reader::open(&bad, "demo").and_then(|mut r| {
                    r.u64()?;
                    r.f64s()?;
                    r.finish()
                });
                assert!(res.is_err(), "byte {i} ^ {flip:#x} went unnoticed");
            }
        }
        let e = Reader::open(&bytes[..bytes.len() - 1], "demo").unwrap_err();
        assert!(e.message().contains("checksum"), "{}", e.message());
    }

    #[test]
    fn round_trip_and_rejections() {
        let mut w = Writer::new("demo");
        w.u64(7);
        w.f64s(&[1.5, f64::NAN]);
        w.bool(true);
        let bytes = w.finish();
        let mut r = Reader::open(&bytes, "demo").unwrap();
        assert_eq!(r.u64().unwrap(), 7);
        let v = r.f64s().unwrap();
        assert!(v[0] == 1.5 && v[1].is_nan());
        assert!(r.bool().unwrap());
        r.finish().unwrap();
        assert!(Reader::open(&bytes, "other")
            .unwrap_err()
            .message()
            .contains("demo"));
        assert!(Reader::open(&bytes[..3], "demo").is_err());
        for cut in 0..bytes.len() {
            // Every truncation fails cleanly somewhere, never panics.
            let res = Reader::open(&bytes[..cut], "demo").and_then(|mut r| {
                r.u64()?;
                r.f64s()?;
                r.bool()?;
                r.finish()
            });
            assert!(res.is_err());
        }
    }
}
