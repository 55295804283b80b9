"""Which filters of which convs can go, read from the model's graph (not from attribute names).

Torch-Pruning's ``DependencyGraph`` traces one forward pass and, for a conv's output channels,
returns every tensor dimension that must fall with them: the BN after it, depthwise convs that
carry the channels on, the inputs of the convs and linear layers that read them (through
flattens: one channel is H·W features), and the other convs coupled to them by a residual sum.
:func:`prunable_convs` turns that group into a :class:`PrunableConv`:

* a conv whose channels no other (non-depthwise) conv shares is pruned **physically**: its
  filters, its BN, its depthwise followers and its consumers' inputs shrink together;
* a conv coupled to others (it writes into a residual stream, or into an OctConv sum) computes
  only its kept filters and :class:`~lightcnn.methods.pruning.surgery.ScatterChannels` puts them
  back in place in a full-width tensor (zeros elsewhere): its own weights and its BN shrink, its
  consumers keep their inputs — HRank's masks, without computing the masked filters;
* a depthwise conv is not a unit of its own: it follows the conv that feeds it;
* anything the surgery does not know how to cut (a concatenation's channel offsets, a norm layer
  other than BatchNorm2d) makes the conv a scatter unit too, which is always shape-safe.

HRank ranks a unit's feature map after its activation: the first activation module reached
from the conv through its BN and element-wise ops (for a ResNet block's second conv, the ReLU
after the residual sum, as HRank's code does). Where the activation is a function (OctConv's
``F.relu``), the unit's BN (else conv) output is ranked through a ReLU.

Why Torch-Pruning's graph and not ``torch.fx`` (measured on this project's models, CIFAR input,
2-core CPU shared with a training run): ``torch.fx.symbolic_trace`` fails on ``oct_resnet`` and
``pwise_oct_resnet`` ("symbolically traced variables cannot be used as inputs to control flow":
the OctConv branches test their inputs for None), while the dependency graph traces every
registered model unchanged, in 0.1 s (template_cnn) to 6 s (Pwise-Oct-ResNet-20, 637 convs), once
per pruning run.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lightcnn.engine.inspection import inspecting
from lightcnn.errors import ConfigValueError

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Hardtanh, nn.Hardswish, nn.SiLU, nn.GELU)


@dataclass(frozen=True)
class PrunableConv:
    conv: str  # dotted module path
    bn: str | None  # the BatchNorm2d only this conv feeds (None: none)
    activation: str  # the module whose output HRank ranks (see rank_through_relu)
    consumers: tuple[str, ...] = ()  # convs and linear layers whose inputs are this conv's filters
    scatter: bool = False  # coupled to other convs: kept filters go back to full width
    followers: tuple[str, ...] = ()  # depthwise convs and their BNs whose channels go with the filters
    inputs_per_filter: tuple[int, ...] = ()  # per consumer: input features per filter (H·W after a flatten)
    rank_through_relu: bool = False  # the activation is a function: rank relu(output of `activation`)

    def per_filter(self, index: int) -> int:
        return self.inputs_per_filter[index] if self.inputs_per_filter else 1


def all_convs(model: nn.Module) -> list[str]:
    return [name for name, module in model.named_modules() if isinstance(module, nn.Conv2d)]


def is_depthwise(conv: nn.Conv2d) -> bool:
    return conv.groups > 1 and conv.groups == conv.in_channels == conv.out_channels


def prunable_convs(model: nn.Module, input_shape: tuple[int, int, int]) -> list[PrunableConv]:
    """Every conv of ``model`` that can lose filters, in module order (HRank's rate order),
    read from one traced forward pass of a ``(1, *input_shape)`` input."""
    graph = ModelGraph(model, input_shape)
    units = [graph.unit(name) for name in all_convs(model) if not is_depthwise(model.get_submodule(name))]
    if not units:
        raise ConfigValueError("model", type(model).__name__, "a model with a convolution that can lose filters")
    return units


class ModelGraph:
    """The dependency graph of ``model`` with the names of its modules and activations."""

    def __init__(self, model: nn.Module, input_shape: tuple[int, int, int]) -> None:
        import torch_pruning as tp

        self.tp, self.model = tp, model
        self.names = {module: name for name, module in model.named_modules()}
        calls: dict[object, nn.Module] = {}  # grad_fn of an activation module's output → the module

        def record(module, inputs, output):
            calls[output.grad_fn] = module

        parameter = next(model.parameters())
        example = torch.zeros(1, *input_shape, device=parameter.device, dtype=parameter.dtype)
        hooks = [(m, record) for m in model.modules() if isinstance(m, ACTIVATIONS)]
        with inspecting(model, hooks), torch.enable_grad():  # the graph is read off autograd: callers may be in no_grad
            self.graph = tp.DependencyGraph().build_dependency(model, example_inputs=example, verbose=False)
        uses = [id(m) for m in calls.values()]  # a module applied twice ranks two maps: not one unit's
        self.activations = {fn: m for fn, m in calls.items() if uses.count(id(m)) == 1}

    def unit(self, name: str) -> PrunableConv:
        conv = self.model.get_submodule(name)
        node = self.graph.module2node[conv]
        bn = self._own_bn(node)
        activation, through_relu = self._activation(node)
        group = self.graph.get_pruning_group(conv, self.tp.prune_conv_out_channels, idxs=[0])
        followers, consumers, per_filter, coupled = [], [], [], False
        for dependency, idxs in group:
            module, handler = dependency.target.module, getattr(dependency.handler, "__name__", "")
            if module is conv or module not in self.names:  # itself, or an op (add, relu, view…)
                continue
            target = self.names[module]
            if target == bn:
                continue
            if isinstance(module, nn.Conv2d) and handler == "prune_out_channels":
                coupled |= not is_depthwise(module)
                followers.append(target)
            elif isinstance(module, nn.BatchNorm2d) and handler == "prune_out_channels":
                followers.append(target)
            elif isinstance(module, nn.Conv2d) and handler == "prune_in_channels" and list(idxs) == [0]:
                consumers.append(target)
                per_filter.append(1)
            elif (
                isinstance(module, nn.Linear)
                and handler == "prune_in_channels"
                and list(idxs) == list(range(len(idxs)))
            ):
                consumers.append(target)
                per_filter.append(len(idxs))
            else:  # a dimension the surgery cannot cut (offsets of a concatenation, another norm): scatter
                coupled = True
        ranked = activation or bn or name
        if coupled:
            return PrunableConv(name, bn, ranked, (), True, rank_through_relu=through_relu and not activation)
        return PrunableConv(name, bn, ranked, tuple(consumers), False, tuple(followers), tuple(per_filter),
                            rank_through_relu=through_relu and not activation)  # fmt: skip

    def _own_bn(self, node) -> str | None:
        """The BatchNorm2d that reads only this conv's output, right after it."""
        if len(node.outputs) == 1:
            after = node.outputs[0]
            if isinstance(after.module, nn.BatchNorm2d) and after.module in self.names and len(after.inputs) == 1:
                return self.names[after.module]
        return None

    def _activation(self, node) -> tuple[str | None, bool]:
        """The first activation module after the conv through its BN and element-wise ops; and
        whether a functional ReLU was passed on the way."""
        frontier, seen, through_relu = list(node.outputs), set(), False
        while frontier:
            current = frontier.pop(0)
            if id(current) in seen:
                continue
            seen.add(id(current))
            if current.grad_fn in self.activations:
                return self.names[self.activations[current.grad_fn]], through_relu
            if isinstance(current.module, nn.BatchNorm2d):
                frontier += current.outputs
            elif current.type == self.tp.ops.OPTYPE.ELEMENTWISE:
                through_relu |= "Relu" in type(current.grad_fn).__name__
                frontier += current.outputs
        return None, through_relu
