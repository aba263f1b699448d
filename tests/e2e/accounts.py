"""Account fixtures for the tests that act as two tenants: a test module takes
`alice, bob = account_fixtures("cloud", "alice", "bob")` and has one module-scoped fixture
per name, the account of that name in the environment fixture named first (anything with
.account(name): a lone controller, a cloud, the object service)."""

from __future__ import annotations

import pytest


def account_fixtures(env: str, *names: str):
    def fixture_for(name: str):
        @pytest.fixture(scope="module")
        def account(request):
            return request.getfixturevalue(env).account(name)

        return account

    return tuple(fixture_for(name) for name in names)
