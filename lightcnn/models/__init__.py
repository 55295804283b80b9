"""Model registry and the model families (one module each; importing registers them)."""

from lightcnn.models import aca_cnn, mobilenet, oct_resnet, resnet, template_cnn, vgg  # noqa: F401
from lightcnn.models.registry import InputSpec, build_model, is_slow, model_config, model_names, register_model

__all__ = ["InputSpec", "build_model", "is_slow", "model_config", "model_names", "register_model"]
