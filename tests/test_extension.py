from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from vqdsp.model import ops

core = ops._core  # vqdsp._core, or the build $VQDSP_CORE names (make sanitize)
if core is None:
    pytest.skip("the native extension was not built", allow_module_level=True)


def test_version_matches_the_package() -> None:
    import vqdsp

    assert core.__version__ == vqdsp.__version__


def test_nearest_code_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    z = rng.standard_normal((97, 13)).astype(np.float32)
    codebook = rng.standard_normal((29, 13)).astype(np.float32)
    indices, quantized, distances = np.empty(97, np.int64), np.empty((97, 13), np.float32), np.empty(97, np.float32)
    core.nearest_code(z, codebook, indices, quantized, distances)
    brute = ((z[:, None] - codebook[None]) ** 2).sum(-1)
    assert np.array_equal(indices, brute.argmin(1))
    assert np.array_equal(quantized, codebook[indices])
    assert np.allclose(distances, brute.min(1), rtol=1e-4, atol=1e-4)


def test_bad_shapes_raise_instead_of_crashing() -> None:
    out = np.empty(4, np.int64), np.empty((4, 3), np.float32), np.empty(4, np.float32)
    with pytest.raises(ValueError, match="same D"):
        core.nearest_code(np.zeros((4, 3), np.float32), np.zeros((5, 2), np.float32), *out)
    with pytest.raises(ValueError, match="empty"):
        core.nearest_code(np.zeros((4, 3), np.float32), np.zeros((0, 3), np.float32), *out)


def test_simd_path_is_known() -> None:
    assert core.simd_isa() in {"portable", "avx2", "avx512"}


@pytest.mark.skipif(shutil.which("nvcc") is None or bool(os.environ.get("VQDSP_NO_CUDA")), reason="no nvcc on PATH")
def test_cuda_kernels_are_built_when_nvcc_is_found() -> None:
    assert core.built_with_cuda()
    assert hasattr(core, "nearest_code_cuda")
    assert hasattr(core, "se_nearest_code_cuda")


@pytest.mark.skipif(not os.environ.get("VQDSP_CORE"), reason="only when VQDSP_CORE names another build (make sanitize)")
def test_the_ops_run_the_build_named_by_vqdsp_core() -> None:
    from pathlib import Path

    from vqdsp.model import ops

    assert Path(ops._core.__file__).resolve() == Path(os.environ["VQDSP_CORE"]).resolve()
