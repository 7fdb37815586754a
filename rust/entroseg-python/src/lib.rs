//! `entroseg._entroseg`: registers the Python-facing surfaces. Each surface lives in its
//! own file and only adapts types around `entroseg-core`.

use pyo3::prelude::*;

mod changepoint;
mod convert;
mod error;
mod estimate;
mod estimate_stream;
mod genomic;
mod inflate;
mod longdust;
mod merge;
#[cfg(feature = "polars")]
mod polars_expr;
mod reads;
mod segment;
mod tantan;

#[pymodule]
fn _entroseg(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MAX_ORDER", entroseg_core::estimate::ordinal::MAX_ORDER)?;
    m.add(
        "BLT_DEFAULT_THRESHOLD",
        entroseg_core::segment::spec::BLT_DEFAULT_THRESHOLD,
    )?;
    m.add(
        "MAX_ALPHABET",
        entroseg_core::estimate::conditional::MAX_ALPHABET,
    )?;
    error::register(m)?;
    m.add_function(wrap_pyfunction!(estimate::permutation_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(estimate::statistical_complexity, m)?)?;
    m.add_function(wrap_pyfunction!(estimate::missing_patterns, m)?)?;
    m.add_function(wrap_pyfunction!(estimate::ordinal_patterns, m)?)?;
    m.add_function(wrap_pyfunction!(estimate::conditional_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(
        estimate::conditional_permutation_entropy,
        m
    )?)?;
    m.add_function(wrap_pyfunction!(estimate::quantize, m)?)?;
    m.add_class::<estimate_stream::PyRollingPermutationEntropy>()?;
    m.add_class::<estimate_stream::PyRollingConditionalEntropy>()?;
    m.add_class::<estimate_stream::PyRollingConditionalPermutationEntropy>()?;
    m.add_function(wrap_pyfunction!(estimate::next_symbol_entropy, m)?)?;
    m.add_class::<estimate_stream::PyNextSymbolEntropy>()?;
    m.add_class::<segment::PySegmentSpec>()?;
    m.add_function(wrap_pyfunction!(segment::_spec_from_options, m)?)?;
    m.add_function(wrap_pyfunction!(segment::_segment, m)?)?;
    m.add_function(wrap_pyfunction!(segment::_profile, m)?)?;
    m.add_class::<segment::PyProfiler>()?;
    m.add_function(wrap_pyfunction!(segment::_segment_batch, m)?)?;
    m.add_function(wrap_pyfunction!(segment::_segment_parallel, m)?)?;
    m.add_class::<segment::PySegmenter>()?;
    m.add_function(wrap_pyfunction!(merge::_merge_plan, m)?)?;
    m.add_class::<merge::PyMergePlanner>()?;
    m.add_function(wrap_pyfunction!(merge::_merge_stream_push, m)?)?;
    m.add_function(wrap_pyfunction!(merge::_merge_stream_finish, m)?)?;
    m.add_function(wrap_pyfunction!(merge::_assign_rates, m)?)?;
    m.add_function(wrap_pyfunction!(changepoint::_change_points, m)?)?;
    m.add_function(wrap_pyfunction!(changepoint::_default_penalty, m)?)?;
    m.add_class::<changepoint::PyChangePointDetector>()?;
    m.add(
        "SHORT_SERIES",
        entroseg_core::plan::changepoint::SHORT_SERIES,
    )?;
    // The Polars plugin's functions are C symbols that Polars looks up in this file;
    // only the build-time option check is a Python function.
    #[cfg(feature = "polars")]
    m.add_function(wrap_pyfunction!(polars_expr::_check_expr_kwargs, m)?)?;
    m.add(
        "REASONS",
        pyo3::types::PyTuple::new(m.py(), entroseg_core::segment::rules::reason::NAMES)?,
    )?;
    m.add_function(wrap_pyfunction!(genomic::encode_dna, m)?)?;
    m.add_function(wrap_pyfunction!(genomic::_dna_profile, m)?)?;
    m.add_function(wrap_pyfunction!(genomic::dust_mask, m)?)?;
    m.add_function(wrap_pyfunction!(longdust::longdust_mask, m)?)?;
    m.add_function(wrap_pyfunction!(longdust::_longdust_mask_batch, m)?)?;
    m.add_class::<genomic::PyFastxReader>()?;
    m.add_function(wrap_pyfunction!(reads::_dust_mask_batch, m)?)?;
    m.add_function(wrap_pyfunction!(reads::_dna_profile_batch, m)?)?;
    m.add_function(wrap_pyfunction!(reads::_dna_tokens_batch, m)?)?;
    m.add_function(wrap_pyfunction!(reads::_bed_lines, m)?)?;
    m.add_function(wrap_pyfunction!(reads::_profile_summary_lines, m)?)?;
    m.add_function(wrap_pyfunction!(tantan::tantan_mask, m)?)?;
    m.add_function(wrap_pyfunction!(tantan::tantan_probabilities, m)?)?;
    m.add_function(wrap_pyfunction!(tantan::_tantan_mask_batch, m)?)?;
    Ok(())
}
