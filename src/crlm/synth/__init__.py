"""crlm.synth."""
