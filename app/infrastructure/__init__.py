"""Adapters that implement the ports on real and embedded backends."""
