from __future__ import annotations

import numpy as np
import pytest

core = pytest.importorskip("vqdsp._core", reason="the native extension was not built")


def test_version_matches_the_package() -> None:
    import vqdsp

    assert core.__version__ == vqdsp.__version__


def test_nearest_code_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    z = rng.standard_normal((97, 13)).astype(np.float32)
    codebook = rng.standard_normal((29, 13)).astype(np.float32)
    indices, distances = core.nearest_code(z, codebook)
    brute = ((z[:, None] - codebook[None]) ** 2).sum(-1)
    assert np.array_equal(indices, brute.argmin(1))
    assert np.allclose(distances, brute.min(1), rtol=1e-4, atol=1e-4)


def test_bad_shapes_raise_instead_of_crashing() -> None:
    with pytest.raises(ValueError, match="same D"):
        core.nearest_code(np.zeros((4, 3), np.float32), np.zeros((5, 2), np.float32))
    with pytest.raises(ValueError, match="empty"):
        core.nearest_code(np.zeros((4, 3), np.float32), np.zeros((0, 3), np.float32))
