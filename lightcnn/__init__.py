"""lightcnn: a configuration-driven experiment runner for lightweight CNNs."""

__version__ = "0.1.0"
