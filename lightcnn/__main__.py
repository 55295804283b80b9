"""``python -m lightcnn …``: the ``lightcnn`` command, for a checkout on ``PYTHONPATH`` that was
never installed (no console script), as on a machine lent for a GPU check."""

from lightcnn.cli import main

if __name__ == "__main__":
    main()
