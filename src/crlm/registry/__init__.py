"""crlm.registry."""
