"""Errors that reach the user as one clear message instead of a traceback."""


class MnistExpError(Exception):
    """Base class for problems the user can fix: bad config, missing data, bad files."""


class ConfigError(MnistExpError):
    """The composed config has a wrong type, an unknown key or an impossible value."""


class DataError(MnistExpError):
    """A data source is missing, corrupt or not in the expected format."""
