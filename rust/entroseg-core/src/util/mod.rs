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
