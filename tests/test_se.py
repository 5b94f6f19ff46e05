import pytest
import torch

from vqdsp.model.config import ModelConfig
from vqdsp.model.se import SqueezeExcitation
from vqdsp.model.unet import SEUNet


def test_se_follows_the_features_dtype_under_autocast():
    se = SqueezeExcitation(8, 2)
    x = torch.randn(2, 8, 5, 5, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = se(x.bfloat16())
    assert y.dtype == torch.bfloat16
    y.float().sum().backward()
    assert se.squeeze.weight.grad is not None
    assert se.squeeze.weight.dtype == torch.float32


@pytest.mark.parametrize("training", [True, False])
def test_the_model_runs_under_bfloat16_autocast(training):
    """Training on CUDA uses bf16 autocast; the CPU autocast exercises the same mixed dtypes."""
    model = SEUNet(ModelConfig(channels=(8, 16), codebook_size=16)).train(training)
    x = torch.randn(2, 64, 64) - 4
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.set_grad_enabled(training):
        out = model(x)
    assert out.log_gain.shape == x.shape
    assert torch.isfinite(out.log_gain.float()).all()
