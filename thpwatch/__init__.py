"""thpwatch: observe transparent huge pages on kernels with and without the THP patch series."""

__version__ = "0.1.0"
