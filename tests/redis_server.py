"""The Redis that a few tests use (the optional RQ mail queue, shared rate-limit counters): skipped with a message
when it does not answer, except with CI=true (where .ci/run starts Redis), where that is a failure, as for
PostgreSQL and the browser tests. Nothing else in the suite needs Redis."""

from __future__ import annotations

import os

import pytest

# The Redis database the tests may write to and flush. `make test` runs the SQLite and the PostgreSQL halves at
# once and gives each half a database of its own, so that one half's flush cannot empty the other's counters.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_or_skip(url: str):
    """A client of URL after a ping; pytest.skip (or, with CI=true, pytest.fail) when Redis does not answer."""
    import redis

    connection = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError:
        connection.close()
        message = f"no Redis at {url}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} and CI=true: the Redis tests must run in CI")
        pytest.skip(message)
    return connection
