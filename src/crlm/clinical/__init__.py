"""crlm.clinical."""
