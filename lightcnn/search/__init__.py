"""Search for the accuracy–cost front (``lightcnn -m search=<name>``): a multi-objective Optuna
study whose trials are ordinary lightcnn runs launched through Hydra's configured launcher.

* :mod:`~lightcnn.search.space`: the search's space and objectives, checked against the composed
  config and the run record before any trial;
* :mod:`~lightcnn.search.study`: the study (SQLite in the results directory), the ask–launch–tell loop;
* :mod:`~lightcnn.search.page`: the front's page and plot.
"""
