"""LittleWriter: children and parents write illustrated picture books together."""
