import pytest
import torch
from torch import nn

from lightcnn.engine.profiling import conv_linear_flops, count_params, profile_model
from lightcnn.models.registry import InputSpec, build_model, model_config, model_names


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=True)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 8 * 8, 5)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.bn(self.conv(x))), 1))


def test_tiny_net_counts_by_hand():
    profile = profile_model(Tiny(), (3, 8, 8))
    conv_macs = 4 * 3 * 3 * 3 * 8 * 8  # out × in × k × k × output pixels; bias not counted
    fc_macs = 4 * 8 * 8 * 5
    assert profile.flops_conv == conv_macs + fc_macs == 8_192
    assert profile.flops == conv_macs + fc_macs + 2 * 4 * 8 * 8  # BN in eval: 2 per element
    assert profile.params == (4 * 27 + 4) + 8 + (256 * 5 + 5)


def test_shared_and_frozen_parameters():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, shared, nn.Linear(3, 2))
    model[2].weight.requires_grad_(False)
    assert count_params(model) == (12 + 8, 12 + 2)


def test_conv_linear_flops_ignores_other_ops():
    assert conv_linear_flops({"conv": 10, "linear": 5, "batch_norm": 7, "upsample_nearest2d": 3}) == 15


@pytest.mark.parametrize("name", model_names())
def test_totals_without_module_scopes_equal_fvcore_scoped_analysis(name):
    """The fast path (no per-module scopes) gives fvcore's own totals for every registered model."""
    from fvcore.nn import FlopCountAnalysis

    small = {"depth": 20} if "depth" in model_config(name).__dataclass_fields__ else {}
    model = build_model(model_config(name, **small), InputSpec(3, 32, 32, 10)).eval()
    fast = profile_model(model, (3, 32, 32), max_depth=None)
    reference = FlopCountAnalysis(model, torch.zeros(1, 3, 32, 32)).unsupported_ops_warnings(False)
    reference.uncalled_modules_warnings(False).tracer_warnings("none")
    assert fast.flops == reference.total() > 0
    assert fast.flops_by_operator == dict(reference.by_operator())
    assert fast.skipped_ops == dict(reference.unsupported_ops())


def test_inspecting_leaves_the_model_as_it_found_it_whatever_happens():
    import pytest
    import torch
    from torch import nn

    from lightcnn.engine.inspection import inspecting

    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout())
    seen = []
    with pytest.raises(RuntimeError, match="boom"):
        with inspecting(model, [(model[0], lambda m, i, o: seen.append(model.training))]):
            model(torch.zeros(1, 2))
            raise RuntimeError("boom")
    assert seen == [False] and model.training  # eval within, training mode back after
    model(torch.zeros(1, 2))
    assert seen == [False] and not model[0]._forward_hooks  # the hook is gone
