//! Deterministic test data shared by the unit tests of every module.

/// One step of the 64-bit linear congruential generator the tests draw data from
/// (Knuth's MMIX constants): reproducible on every platform, no dependency.
pub(crate) fn lcg_step(state: u64) -> u64 {
    state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
}

/// The next uniform draw in [0, 1) from the generator of [`lcg_step`], advancing
/// `state` (53 high bits, so every draw is an exact double).
pub(crate) fn lcg_uniform(state: &mut u64) -> f64 {
    *state = lcg_step(*state);
    (*state >> 11) as f64 / (1u64 << 53) as f64
}
