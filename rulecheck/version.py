"""The version of rulecheck, in a module of its own: the layers below the facade read it without importing it."""

__version__ = "0.1.0"
