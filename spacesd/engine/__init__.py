"""The Spaces engine: the reducers as pure logic over a SQLite store (the embedded backend)."""
