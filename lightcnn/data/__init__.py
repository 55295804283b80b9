"""Data: on-disk formats, download, synthetic data, and the device-resident data module."""
