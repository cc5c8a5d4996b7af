"""crlm.clinical.rules."""
