"""Exceptions for user-facing errors. The CLI prints their message on one line and exits with status 2."""


class BaisegError(Exception):
    """Base class of errors caused by the user's input; the message says what is wrong and how to fix it."""


class DataError(BaisegError):
    """A dataset file, description YAML or image is missing, unreadable or inconsistent."""


class WeightsError(BaisegError):
    """A weights or checkpoint file is missing, corrupt or does not fit the model."""
