"""Generation queues: in this process (the embedded defaults), or on Redis with SAQ."""
