"""crlm.reports."""
