"""Shared core of ccser: everything both training and the daemon need.

No CLI and no network here; `training/` and `daemon/` import this package,
never each other.
"""

__version__ = "0.1.0"
