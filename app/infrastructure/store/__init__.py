"""The book-in-progress store: the Redis adapter, on a real Redis or an in-process fakeredis."""
