"""The retry policy of fault tests: real retries with tiny waits, so they finish in milliseconds."""

from __future__ import annotations

import sora_async as sa

FAST_RETRY = sa.RetryPolicy(max_attempts=4, initial_backoff=0.001, max_backoff=0.005, max_retry_after=0.05)
"""Real retries with tiny waits, so fault tests finish in milliseconds."""
