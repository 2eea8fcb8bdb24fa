"""Every exception sora_async raises, in one tree.

Catch ``SoraError`` to catch everything; catch a leaf to handle one situation::

    SoraError
    ├── ValidationError (also ValueError)   bad input, raised before any network I/O
    ├── ConfigurationError                  no key / base URL, insecure http, closed client, wrong route
    ├── APIError                            something went wrong talking to the relay
    │   ├── APIConnectionError              no usable HTTP answer (connect failed, connection dropped)
    │   │   └── APITimeoutError             ... because a timeout expired
    │   ├── APIResponseValidationError      an HTTP answer whose body we could not understand
    │   ├── DownloadError                   a video file did not arrive whole, or could not be saved
    │   └── APIStatusError                  the relay answered with an error status or code
    │       ├── BadRequestError             400, 422
    │       ├── AuthenticationError         401
    │       ├── PermissionDeniedError       403 (also CDN challenge pages)
    │       ├── NotFoundError               404, and ``task_not_exist``
    │       ├── RateLimitError              429
    │       └── ServerError                 5xx
    ├── AmbiguousSubmissionError            a create that may or may not have made a task
    ├── TaskFailedError                     the task finished with status FAILURE
    ├── TaskTimeoutError (also TimeoutError) wait_for_task ran out of time
    ├── UnexpectedError                     anything else went wrong; ``cause`` is the original
    └── RateLimiterUnavailableError         the fleet's Redis cannot be reached

Every exception says what to do about it, so that nothing downstream decides again:

* ``verdict`` (``Verdict.RETRY`` / ``AMBIGUOUS`` / ``FATAL``): may the same call be repeated, may the
  relay have acted on it (a create: maybe paid for), or would repeating it get the same answer;
* ``affects_all_requests``: every further request of this client would fail the same way (a wrong
  key, no permission, a wrong base URL, no channel for the model), so a batch should stop.

For answers from the relay, both come from the one table in ``_error_table``.

No exception text ever contains the API key: messages are built from status, code and the relay's
message only, and bodies are truncated copies of what the relay sent back.

Import the exceptions from here. The classes are written in four files, one branch each:
``_error_base`` (``Verdict``, ``SoraError`` and the errors raised before any I/O), ``_api_errors``
(no usable answer), ``_status_errors`` (an error answer) and ``_outcome_errors`` (the rest); every
class names this module as its own, so tracebacks and pickles do not depend on that split.
"""

from ._api_errors import BODY_EXCERPT_LIMIT as BODY_EXCERPT_LIMIT  # re-exported for the HTTP tests
from ._api_errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    DownloadError,
)
from ._error_base import ConfigurationError, SoraError, ValidationError, Verdict
from ._outcome_errors import (
    AmbiguousSubmissionError,
    RateLimiterUnavailableError,
    TaskFailedError,
    TaskTimeoutError,
    UnexpectedError,
)
from ._status_errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    status_error_class,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AmbiguousSubmissionError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "DownloadError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimiterUnavailableError",
    "ServerError",
    "SoraError",
    "TaskFailedError",
    "TaskTimeoutError",
    "UnexpectedError",
    "ValidationError",
    "Verdict",
    "status_error_class",
]
