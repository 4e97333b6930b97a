"""Use cases: they talk to the domain and to ports, never to a vendor."""
