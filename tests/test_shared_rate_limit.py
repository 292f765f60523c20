"""Rate limits shared by several API servers through Redis (the `limits` library): two real servers on
one database and one Redis draw from one budget per key; without the storage each has its own."""

from __future__ import annotations

import uuid

import grpc
import pytest

from veriframe.service.client import Client, RateLimited

REDIS = "redis://127.0.0.1:6379/0"


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        pytest.skip(f"no Redis at {REDIS} ({error}); start one (the CI machine runs one there)")


def _calls_until_limited(client: Client, job_id: str, limit: int) -> int:
    from veriframe.service.client import NotFound

    for n in range(limit):
        try:
            client.get_job(job_id)
        except NotFound:
            continue
        except RateLimited:
            return n
    return limit


def test_two_api_servers_share_one_budget_per_key(make_live_server, tmp_path) -> None:
    _redis_or_skip()
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    limits = {"rate_limit_burst": 5, "rate_limit_per_minute": 6, "workers": 0, "database_url": url}
    first = make_live_server(rate_limit_storage=REDIS, **limits)
    second = make_live_server(rate_limit_storage=REDIS, **limits)
    key = first.key("client", f"rl-{uuid.uuid4().hex[:8]}")
    missing = str(uuid.uuid4())
    with Client(first.address, key, retries=1) as a, Client(second.address, key, retries=1) as b:
        assert _calls_until_limited(a, missing, 3) == 3  # 3 of the 5 on the first server
        assert _calls_until_limited(b, missing, 10) == 2  # only 2 left on the second
        with pytest.raises(RateLimited) as caught:
            a.get_job(missing)
        assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED and caught.value.retry_after > 0


def test_without_shared_storage_each_server_has_its_own_budget(make_live_server, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'local.db'}"
    limits = {"rate_limit_burst": 5, "rate_limit_per_minute": 6, "workers": 0, "database_url": url}
    first, second = make_live_server(**limits), make_live_server(**limits)
    key = first.key("client", "rl-local")
    missing = str(uuid.uuid4())
    with Client(first.address, key, retries=1) as a, Client(second.address, key, retries=1) as b:
        assert _calls_until_limited(a, missing, 10) == 5
        assert _calls_until_limited(b, missing, 10) == 5


def test_an_unreachable_storage_stops_the_start_with_the_fix(make_live_server) -> None:
    from veriframe.service.server.app import StartupError

    with pytest.raises(StartupError, match="rate_limit_storage"):
        make_live_server(workers=0, rate_limit_storage="redis://127.0.0.1:1/0")
