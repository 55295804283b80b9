"""lightcnn's Hydra sweeper: a multi-objective Optuna search whose trials are ordinary lightcnn
runs (``hydra/sweeper=front``; the search itself is :mod:`lightcnn.search`)."""
