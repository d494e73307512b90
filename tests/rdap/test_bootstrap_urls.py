"""Which of a bootstrap service's URLs rdaplab uses: https, plain http only on loopback."""

from __future__ import annotations

import pytest

from rdaplab.rdap.bootstrap_urls import choose_base_url, is_loopback_url


@pytest.mark.parametrize(
    ("urls", "expected"),
    [
        (["http://127.0.0.1:8080/rdap"], "http://127.0.0.1:8080/rdap/"),
        (["http://localhost:9/"], "http://localhost:9/"),
        (["http://[::1]:9/x/"], "http://[::1]:9/x/"),
        (["http://127.0.0.1/", "https://127.0.0.1/"], "https://127.0.0.1/"),
        (["http://example.net/rdap/"], "https://example.net/rdap/"),
        (["http://example.net:80/rdap/"], "https://example.net/rdap/"),
        (["http://example.net:8080/rdap"], "https://example.net:8080/rdap/"),
        (["mailto:x@example.net", "https://example.net/"], "https://example.net/"),
        (["ftp://example.net/"], None),
        (["https:///nohost/"], None),
        ([], None),
    ],
)
def test_choose_base_url(urls: list[str], expected: str | None) -> None:
    chosen = choose_base_url(urls)
    assert (chosen[0] if chosen else None) == expected


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8080/rdap/", True),
        ("http://127.255.0.9/", True),
        ("http://[::1]:8080/", True),
        ("http://[::ffff:127.0.0.1]/", True),
        ("http://localhost/", True),
        ("http://LOCALHOST:80/", True),
        ("http://128.0.0.1/", False),
        ("http://10.0.0.1/", False),
        ("http://example.com/", False),
        ("http://localhost.example.com/", False),
        ("http://x.localhost/", False),
        ("http://127.0.0.1.nip.io/", False),
        ("http://[::1/", False),  # malformed
        ("not a url", False),
        ("", False),
    ],
)
def test_is_loopback_url(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback
