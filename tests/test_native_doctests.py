"""The examples in the native module's docstrings run (pytest's --doctest-modules only
collects .py files, so the compiled functions' examples are run here)."""

import doctest

import entroseg._entroseg as native


def test_native_docstring_examples_pass() -> None:
    result = doctest.testmod(native, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted >= 20, "the native docstrings lost their examples"
    assert result.failed == 0


def test_every_public_native_symbol_is_documented() -> None:
    for name in native.__all__:
        obj = getattr(native, name)
        if callable(obj):
            assert obj.__doc__ and len(obj.__doc__) > 40, f"{name} has no real docstring"
