"""tests/unit/conftest.py blocks sockets for every unit test, fixtures included."""

from __future__ import annotations

import socket

import pytest
from pytest_socket import SocketBlockedError


@pytest.fixture(scope="module")
def module_fixture_socket() -> str:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
    except SocketBlockedError:
        return "blocked"
    return "open"


@pytest.mark.filterwarnings("ignore:A test tried to use socket")  # the point of the test
def test_sockets_are_blocked_in_tests_and_their_fixtures(module_fixture_socket):
    assert module_fixture_socket == "blocked"
    with pytest.raises(SocketBlockedError):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
