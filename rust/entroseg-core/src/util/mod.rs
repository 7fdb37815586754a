//! Small shared pieces every estimator or pass leans on: exact fixed-point sums,
//! tabulated `c ln c`, hashing, large buffers, the checkpoint format and the one thread
//! pool.

pub mod accumulate;
pub mod buffer;
pub(crate) mod checkpoint;
pub mod exact;
pub mod hash;
pub mod pool;
#[cfg(test)]
pub(crate) mod testing;

/// `body` framed as the checkpoint bytes of the object tagged `tag` (magic, version,
/// tag, a valid checksum), so that a fuzzer reaches the state parsers behind the
/// checksum check. Not a stable API.
#[doc(hidden)]
pub fn frame_checkpoint(tag: &str, body: &[u8]) -> Vec<u8> {
    checkpoint::frame(tag, body)
}
