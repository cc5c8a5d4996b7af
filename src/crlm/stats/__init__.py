"""crlm.stats."""
