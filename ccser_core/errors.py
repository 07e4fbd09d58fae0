"""Specific exceptions, so CLIs can turn user mistakes into one clear line."""


class CcserError(Exception):
    """Base class: a problem with the user's input, not a bug."""


class CorpusError(CcserError):
    """A corpus folder, file name or CSV does not follow the expected rules."""


class EmotionError(CcserError):
    """An unknown emotion name, or an emotion a corpus does not have."""


class AudioError(CcserError):
    """An audio file is missing, empty, unreadable or in an unsupported format."""


class ModelError(CcserError):
    """A model folder is missing, corrupt, or inconsistent with this code."""
