"""Make the shared case generators in ``_cases.py`` importable from the kernel tests, and give them
the compiled backends to check: numba, and the CuPy kernels' CUDA C source on the emulated CuPy."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(scope="session")
def _emulator_cache(tmp_path_factory):
    import _cuda_emulator as E

    if not E.have_compiler():
        pytest.skip(f"the CUDA-on-CPU emulation needs a C++ compiler ({E.CXX} not found)")
    E.set_cache_dir(tmp_path_factory.mktemp("cuda-emu"))
    return E


@pytest.fixture
def emulated_cupy(_emulator_cache, monkeypatch):
    """Route olc.kernels.cupy_gpu to the emulated CuPy and let backend="cupy" resolve here."""
    from olc import backend
    from olc.kernels import cupy_gpu as G

    fake = _emulator_cache.fake_cupy()
    monkeypatch.setattr(G, "_cp", lambda: fake)
    monkeypatch.setattr(G, "_cache", {})          # never leave emulated kernels in the real cache
    why = backend._why_unavailable
    monkeypatch.setattr(backend, "_why_unavailable", lambda name: None if name == "cupy" else why(name))
    return fake


@pytest.fixture(params=["numba", "cupy"])
def compiled(request):
    """The name of a compiled backend, checked against the numpy reference: ``"numba"``, or ``"cupy"``
    run on the emulated CuPy (tests/kernels/_cuda_emulator.py); skipped where it cannot run."""
    if request.param == "numba":
        pytest.importorskip("numba")
    else:
        request.getfixturevalue("emulated_cupy")
    return request.param
