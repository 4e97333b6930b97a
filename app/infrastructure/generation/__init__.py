"""Generation adapters: the page writer, question asker and illustrator behind the ports."""
