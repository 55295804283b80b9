"""``python -m lightcnn.reproduce``."""

from lightcnn.reproduce.cli import main

main()
