"""mlfix: find and fix the three mistakes that make Docker builds of ML projects slow.

The engine is a library first (`mlfix.engine.run`); the CLI, the bot and `verify`
are thin callers of it.
"""

__version__ = "0.1.0"
