"""Live sessions: what the daemon injects into running agent sessions (issue 12)."""
