use pyo3::prelude::*;
#[pymodule]
fn _entroseg(_m: &Bound<'_, PyModule>) -> PyResult<()> { Ok(()) }
