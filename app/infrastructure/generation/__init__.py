"""Generation adapters: the context generator, the question generator and the illustrator behind
the ports."""
