"""The Spaces daemon: one asyncio process that owns the backend, the socket and the outbox."""
