//! `entroseg._entroseg`: registers the Python-facing surfaces. Each surface lives in its
//! own file and only adapts types around `entroseg-core`.

use pyo3::prelude::*;

mod changepoint;
mod convert;
mod error;
mod genomic;
mod merge;
mod numpy_api;
#[cfg(feature = "polars")]
mod polars_expr;
mod segmenter;
mod streaming;

#[pymodule]
fn _entroseg(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MAX_ORDER", entroseg_core::estimate::ordinal::MAX_ORDER)?;
    m.add(
        "MAX_ALPHABET",
        entroseg_core::estimate::conditional::MAX_ALPHABET,
    )?;
    error::register(m)?;
    m.add_function(wrap_pyfunction!(numpy_api::permutation_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(numpy_api::statistical_complexity, m)?)?;
    m.add_function(wrap_pyfunction!(numpy_api::missing_patterns, m)?)?;
    m.add_function(wrap_pyfunction!(numpy_api::ordinal_patterns, m)?)?;
    m.add_function(wrap_pyfunction!(numpy_api::conditional_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(
        numpy_api::conditional_permutation_entropy,
        m
    )?)?;
    m.add_function(wrap_pyfunction!(numpy_api::quantize, m)?)?;
    m.add_class::<streaming::PyRollingPermutationEntropy>()?;
    m.add_class::<streaming::PyRollingConditionalEntropy>()?;
    m.add_class::<streaming::PyRollingConditionalPermutationEntropy>()?;
    m.add_function(wrap_pyfunction!(numpy_api::next_symbol_entropy, m)?)?;
    m.add_class::<streaming::PyNextSymbolEntropy>()?;
    m.add_class::<segmenter::PySegmentSpec>()?;
    m.add_function(wrap_pyfunction!(segmenter::_spec_from_options, m)?)?;
    m.add_function(wrap_pyfunction!(segmenter::_segment, m)?)?;
    m.add_function(wrap_pyfunction!(segmenter::_profile, m)?)?;
    m.add_class::<segmenter::PyProfiler>()?;
    m.add_function(wrap_pyfunction!(segmenter::_segment_batch, m)?)?;
    m.add_function(wrap_pyfunction!(segmenter::_segment_parallel, m)?)?;
    m.add_class::<segmenter::PySegmenter>()?;
    m.add_function(wrap_pyfunction!(merge::_merge_plan, m)?)?;
    m.add_function(wrap_pyfunction!(merge::_assign_rates, m)?)?;
    m.add_function(wrap_pyfunction!(changepoint::_change_points, m)?)?;
    // The Polars plugin's functions are C symbols that Polars looks up in this file;
    // only the build-time option check is a Python function.
    #[cfg(feature = "polars")]
    m.add_function(wrap_pyfunction!(polars_expr::_check_expr_kwargs, m)?)?;
    m.add(
        "REASONS",
        pyo3::types::PyTuple::new(m.py(), entroseg_core::segment::rules::reason::NAMES)?,
    )?;
    m.add_function(wrap_pyfunction!(genomic::encode_dna, m)?)?;
    m.add_function(wrap_pyfunction!(genomic::dna_profile, m)?)?;
    m.add_function(wrap_pyfunction!(genomic::dust_mask, m)?)?;
    m.add_class::<genomic::PyFastxReader>()?;
    Ok(())
}
