"""The errors of the image service; their messages end up in container statuses."""

from __future__ import annotations


class ImageError(Exception):
    """Base of the image service's errors."""


class ImageNotFound(ImageError, LookupError):
    """No such image in the local store (``kubelite image rm``, pull policy ``Never``)."""


class ImagePullError(ImageError):
    """Pulling or importing an image failed. The message is the pod worker's ErrImagePull message;
    ``reason`` is a short code (``NotFound``, ``Unauthorized``, ``DigestMismatch``, ``Unavailable``,
    ``InvalidImage``, ``InvalidReference``, ``Unsupported``)."""

    def __init__(self, message: str, reason: str = "Unknown") -> None:
        super().__init__(message)
        self.reason = reason


class DigestMismatch(ImagePullError):
    """Content did not hash to the digest that named it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "DigestMismatch")
