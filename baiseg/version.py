"""The package version (a leaf module: lower layers read it without importing the package's ``__init__``)."""

__version__ = "0.1.0"
