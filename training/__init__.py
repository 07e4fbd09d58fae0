"""Offline half of ccser: corpus metadata, feature cache, search, evaluation, export, CLI."""
