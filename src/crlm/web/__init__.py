"""crlm.web."""
