"""crlm: care and study of colorectal liver metastases."""

__version__ = "0.1.0"
