"""The Book aggregate, its value objects and the rules it guards. Imports no framework."""
