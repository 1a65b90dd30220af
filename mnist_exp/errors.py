"""Errors that reach the user as one clear message instead of a traceback."""

import errno


class MnistExpError(Exception):
    """Base class for problems the user can fix: bad config, missing data, bad files."""


class ConfigError(MnistExpError):
    """The composed config has a wrong type, an unknown key or an impossible value."""


class DataError(MnistExpError):
    """A data source is missing, corrupt or not in the expected format."""


_OS_ERROR_FIXES = {
    errno.EROFS: "the file system is read-only: copy the run directory to a writable place "
    "and use the copy",
    errno.ENOSPC: "the disk is full: free some space, then run this again",
    errno.EDQUOT: "the disk quota is used up: free some space, then run this again",
    errno.EACCES: "permission denied: run as a user who may write there, or copy it elsewhere",
    errno.EPERM: "not permitted: run as a user who may write there, or copy it elsewhere",
}


def os_error_text(error: OSError) -> str:
    """One line for a file-system error a user can fix: which file, what, and the fix."""
    where = f"{error.filename}: " if error.filename else ""
    fix = _OS_ERROR_FIXES.get(error.errno, "check the path and its permissions")
    return f"{where}{error.strerror or error} ({fix})."
