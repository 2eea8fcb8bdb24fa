"""sora_async: an async-first SDK and command-line tool for the Sora relay API.

As fast as the key allows, nothing lost, nothing paid twice, and a clear answer for every request.

>>> import sora_async as sa
>>> sa.VideoRequest(prompt="a fox in snow", size="1280x720", duration=10).n_frames
300
"""

import logging
from importlib.metadata import PackageNotFoundError, version

from ._client import SoraClient
from ._dialects import Dialect, Endpoint, get_dialect
from ._errors import (
    AmbiguousSubmissionError,
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DownloadError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    SoraError,
    TaskFailedError,
    TaskTimeoutError,
    UnexpectedError,
    ValidationError,
    Verdict,
)
from ._models import (
    Action,
    GenerationType,
    InpaintItem,
    InpaintType,
    Model,
    Operation,
    SDEdit,
    Size,
    Style,
    TaskStatus,
    VideoRequest,
    VideoTask,
)
from ._retry import RetryEvent, RetryPolicy
from ._submit import Submission, SubmitItem, SubmitResult
from ._transport import MockTransport, Transport, TransportRequest, TransportResponse
from .limits import AdaptiveLimiter, Limiter, RateLimit, RateLimiterUnavailableError, RedisRateLimiter

logging.getLogger("sora_async").addHandler(logging.NullHandler())

try:
    __version__ = version("sora-async")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "Action",
    "AdaptiveLimiter",
    "AmbiguousSubmissionError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "Dialect",
    "DownloadError",
    "Endpoint",
    "GenerationType",
    "InpaintItem",
    "InpaintType",
    "Limiter",
    "MockTransport",
    "Model",
    "NotFoundError",
    "Operation",
    "PermissionDeniedError",
    "RateLimit",
    "RateLimitError",
    "RateLimiterUnavailableError",
    "RedisRateLimiter",
    "RetryEvent",
    "RetryPolicy",
    "SDEdit",
    "ServerError",
    "Size",
    "SoraClient",
    "SoraError",
    "Style",
    "Submission",
    "SubmitItem",
    "SubmitResult",
    "TaskFailedError",
    "TaskStatus",
    "TaskTimeoutError",
    "Transport",
    "TransportRequest",
    "TransportResponse",
    "UnexpectedError",
    "ValidationError",
    "Verdict",
    "VideoRequest",
    "VideoTask",
    "__version__",
    "get_dialect",
]
