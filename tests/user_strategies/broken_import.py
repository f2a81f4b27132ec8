"""A user module that fails while it is imported (not with an ImportError)."""

raise RuntimeError("the strategy's settings file is missing")
