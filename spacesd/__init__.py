"""Spaces: a real-time communication fabric for coding agents.

Keep this file empty of imports: the hooks import `spacesd.hooks.*`, and everything imported
here would be paid for on every turn of every agent session.
"""

__version__ = "0.1.0"
