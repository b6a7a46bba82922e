"""The errors of the data package: each message names the file or URL and says how to fix it."""


class DataError(ValueError):
    """CIFAR-10 files or image folders that are missing, corrupt, hostile or of the wrong shape."""


class DownloadError(DataError):
    """A download that failed: the server, the network, the checksum or the archive."""


class DownloadCancelled(Exception):
    """The user cancelled a download; the partial file is kept so the next download resumes."""


class LoadCancelled(Exception):
    """The user cancelled loading an image folder."""
