"""classify(): every throttle shape registries use, and ordinary answers that are not one."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from rdaplab._data import responses_dir
from rdaplab.engine.throttle import QUOTA_RETRY_AFTER_S, Signal, classify

RDAP = {"content-type": "application/rdap+json"}
HTML = {"content-type": "text/html; charset=utf-8"}


def rdap_error(code: int, title: str, *description: str, **extra: Any) -> bytes:
    return json.dumps(
        {"errorCode": code, "title": title, "description": list(description), **extra}
    ).encode()


def notice_only(title: str, *description: str) -> bytes:
    doc = {
        "rdapConformance": ["rdap_level_0"],
        "notices": [{"title": title, "description": list(description)}],
    }
    return json.dumps(doc).encode()


def kind(signal: Signal | None) -> str | None:
    return None if signal is None else signal.kind


# -- the throttle shapes ----------------------------------------------------------------------


def test_429_is_a_throttle_with_or_without_retry_after():
    bare = classify(429, {}, b"")
    assert bare == Signal("throttle", "HTTP 429", None)
    body = rdap_error(429, "Too Many Requests", "Query rate limit exceeded.")
    sig = classify(429, {**RDAP, "retry-after": "7"}, body, retry_after_s=7.0)
    assert sig is not None and sig.kind == "throttle" and sig.retry_after_s == 7.0
    assert sig.reason.startswith("HTTP 429") and "Too Many Requests" in sig.reason


def test_503_is_a_throttle_only_with_retry_after_or_throttle_words():
    assert kind(classify(503, {"retry-after": "2"}, b"", retry_after_s=2.0)) == "throttle"
    words = rdap_error(503, "Service Unavailable", "Too many requests, slow down.")
    assert kind(classify(503, RDAP, words)) == "throttle"
    # A plain outage is a server error (retried with backoff), not a reason to slow down.
    assert classify(503, RDAP, rdap_error(503, "Service Unavailable", "Maintenance")) is None
    assert classify(503, {}, b"") is None


def test_403_html_allowed_queries_exceeded_is_a_throttle():
    page = (
        b"<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1>"
        b"<p>Number of allowed queries exceeded.</p></body></html>"
    )
    sig = classify(403, HTML, page, retry_after_s=3.0)
    assert sig is not None and sig.kind == "throttle" and sig.retry_after_s == 3.0
    assert "allowed queries exceeded" in sig.reason
    assert "<" not in sig.reason  # the words, not the tags


@pytest.mark.parametrize("status", [400, 422])
def test_rdap_error_saying_too_fast_is_a_throttle(status):
    body = rdap_error(status, "Too fast", "Queries are being sent too fast; slow down.")
    sig = classify(status, RDAP, body)
    assert sig is not None and sig.kind == "throttle" and sig.reason.startswith(f"HTTP {status}")
    # The decoded document (as the scheduler passes it) gives the same verdict.
    assert classify(status, RDAP, body, document=json.loads(body)) == sig


def test_200_with_only_a_rate_limit_notice_is_a_throttle():
    body = notice_only(
        "Rate Limit Notice", "Query rate limit exceeded. Please slow down and retry later."
    )
    sig = classify(200, RDAP, body, retry_after_s=1.0)
    assert sig is not None and sig.kind == "throttle" and sig.retry_after_s == 1.0
    assert sig.reason.startswith("HTTP 200 notice")
    assert classify(200, RDAP, body, retry_after_s=1.0, document=json.loads(body)) == sig


def test_200_rate_limit_notice_next_to_an_object_is_not_a_throttle():
    doc = json.loads(notice_only("Rate Limit Notice", "You may send 10 queries a minute."))
    doc.update({"objectClassName": "domain", "ldhName": "example.test"})
    body = json.dumps(doc).encode()
    assert classify(200, RDAP, body) is None
    assert classify(200, RDAP, body, document=doc) is None


# -- escalation: quota and block --------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (429, RDAP, rdap_error(429, "Too Many Requests", "Daily quota exceeded.")),
        (429, RDAP, rdap_error(429, "Limit", "You have used your allowance for today.")),
        (403, HTML, b"<p>Number of allowed queries per day exceeded</p>"),
        (422, RDAP, rdap_error(422, "Too many queries", "Limit of 1000 queries per 24h.")),
        (
            403,
            RDAP,
            rdap_error(403, "Forbidden", "Access from your host has been temporarily denied."),
        ),
        (200, RDAP, notice_only("Rate Limit Notice", "Daily query quota reached.")),
    ],
)
def test_quota_by_words(status, headers, body):
    sig = classify(status, headers, body)
    assert sig is not None and sig.kind == "quota", sig


def test_quota_by_a_retry_after_longer_than_anyone_would_sleep():
    long = QUOTA_RETRY_AFTER_S + 1
    assert kind(classify(429, {}, b"", retry_after_s=long)) == "quota"
    assert kind(classify(503, {}, b"", retry_after_s=long)) == "quota"
    assert kind(classify(429, {}, b"", retry_after_s=QUOTA_RETRY_AFTER_S)) == "throttle"
    page = b"<p>Number of allowed queries exceeded</p>"
    sig = classify(403, HTML, page, retry_after_s=6 * 3600.0)
    assert sig is not None and sig.kind == "quota" and sig.retry_after_s == 6 * 3600.0


def test_block_pages():
    page = b"<html><body><h1>Access blocked</h1><p>Your IP address has been blocked.</p></body>"
    sig = classify(403, HTML, page)
    assert sig is not None and sig.kind == "block" and "blocked" in sig.reason
    banned = rdap_error(429, "Banned", "This client is banned.")
    assert kind(classify(429, RDAP, banned)) == "block"
    # Throttle words win over block words: "slow down or be blocked" is still a throttle.
    warn = rdap_error(429, "Too Many Requests", "Slow down or you will be blocked.")
    assert kind(classify(429, RDAP, warn)) == "throttle"


# -- ordinary answers are not throttles --------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (400, RDAP, rdap_error(400, "Bad Request", "Invalid domain name.")),
        (403, RDAP, rdap_error(403, "Forbidden", "Authentication required.")),
        (403, HTML, b"<html><body><h1>403 Forbidden</h1>Access denied</body></html>"),
        (404, RDAP, rdap_error(404, "Not Found", "Too many requests would not change this.")),
        (404, RDAP, b""),
        (422, RDAP, rdap_error(422, "Unprocessable Entity", "Unsupported query type.")),
        (500, RDAP, rdap_error(500, "Internal Server Error", "Too many open files.")),
        (500, HTML, b"<h1>Internal Server Error</h1>"),
        (502, {}, b""),
        (301, {}, b""),
        (204, {}, b""),
        (200, RDAP, b'{"objectClassName": "domain", "ldhName": "x.test"}'),
        (200, RDAP, b"{}"),
    ],
)
def test_ordinary_answers_are_not_throttles(status, headers, body):
    assert classify(status, headers, body) is None


@pytest.mark.parametrize(
    "path",
    ["pir/wikipedia.org.json", "identity-digital/google.ai.json"],
)
def test_real_answers_whose_terms_describe_throttling_are_not_throttles(path):
    body = (responses_dir() / path).read_bytes()
    doc = json.loads(body)
    # Guard: the fixture really does talk about throttling, else this test proves nothing.
    terms = " ".join(doc["notices"][0]["description"])
    assert "Queries to the RDAP services are throttled" in terms
    assert classify(200, RDAP, body) is None
    assert classify(200, RDAP, body, document=doc) is None
    # Even without the object (as in a help answer) the notices are ordinary: their titles
    # ("Terms of Service"...) do not announce a throttle.
    bare = {"rdapConformance": doc["rdapConformance"], "notices": doc["notices"]}
    assert classify(200, RDAP, json.dumps(bare).encode()) is None
    assert classify(200, RDAP, b"", document=bare) is None


def test_real_404_error_body_with_throttling_terms_is_not_a_throttle():
    body = (responses_dir() / "pir/markwatch-nonexistent-7f3kq9.org.json").read_bytes()
    assert b"throttled" in body
    assert classify(404, RDAP, body) is None
    # The same notices on a 400/422 error: only the error's own title/description count.
    doc = json.loads(body)
    for status in (400, 422, 403):
        doc["errorCode"] = status
        assert classify(status, RDAP, json.dumps(doc).encode()) is None, status


@pytest.mark.parametrize(
    "description",
    [
        "Invalid domain name: too many labels.",
        "Query length exceeded the maximum of 253 characters.",
    ],
)
def test_validation_errors_mentioning_too_many_or_exceeded_are_not_throttles(description):
    assert classify(400, RDAP, rdap_error(400, "Bad Request", description)) is None


def test_403_page_naming_an_abuse_contact_is_not_a_block():
    page = b"<html><body><h1>403 Forbidden</h1><p>Questions: abuse@registry.example</p></body>"
    assert classify(403, HTML, page) is None


# -- robustness ---------------------------------------------------------------------------


GARBAGE = [
    b"",
    b"{",
    b"[]",
    b"null",
    b"\xff\xfe\x00{\x00",
    b"{" * 10_000,
    b'{"title": 5, "description": {"a": 1}}',
    b'{"title": ["too", 3, null], "description": [null, ["x"]]}',
    b'{"notices": "Rate Limit Notice"}',
    b'{"notices": [1, null, {"title": {"x": 1}}, {"title": ["Rate Limit Notice", 7]}]}',
    b'{"notices": [{"title": "Rate limit", "description": 42}]}',
    b"<html>" + b"x" * 100_000 + b"too many requests</html>",
    "<p>trop de requ\u00eates \u2014 rate limit</p>".encode("utf-16"),
    b"otice" * 1000,
]


@pytest.mark.parametrize("status", [200, 400, 403, 404, 418, 422, 429, 500, 503, 509])
@pytest.mark.parametrize("ctype", [RDAP, HTML, {}])
def test_garbage_bodies_never_raise(status, ctype):
    rng = random.Random(status)
    bodies = GARBAGE + [rng.randbytes(rng.randrange(0, 600)) for _ in range(30)]
    for body in bodies:
        sig = classify(status, ctype, body, retry_after_s=rng.choice([None, 0.0, 1e9]))
        assert sig is None or sig.kind in ("throttle", "quota", "block")
    documents: list[Any] = [None, [], "x", 3, {"title": None}, {"notices": [None]}]
    for document in documents:
        classify(status, ctype, b"", document=document)


def test_only_the_start_of_a_large_non_json_page_is_scanned():
    # Throttle words deep in a large page are not a signal (and are not searched for).
    page = b"<html>" + b"<p>ordinary</p>" * 1000 + b"<p>too many requests</p></html>"
    assert classify(403, HTML, page) is None
    assert kind(classify(403, HTML, b"<p>too many requests</p>" + page)) == "throttle"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (429, rdap_error(429, "Too Many Requests", "Too many connections.")),
        (503, rdap_error(503, "Service Unavailable", "Too many concurrent requests")),
        (429, rdap_error(429, "Too Many Requests", "Concurrency limit exceeded")),
        (429, b"<html><body>Too many open connections from your address</body></html>"),
    ],
)
def test_refusals_about_connections_say_so(status, body):
    signal = classify(status, {}, body, retry_after_s=1.0)
    assert signal is not None and signal.kind == "throttle"
    assert signal.scope == "connections"


@pytest.mark.parametrize(
    "body",
    [
        rdap_error(429, "Too Many Requests", "Query rate limit exceeded."),
        rdap_error(422, "Too fast", "Queries are being sent too fast; slow down."),
        b"",
    ],
)
def test_rate_throttles_keep_the_rate_scope(body):
    signal = classify(429, {}, body)
    assert signal is not None and signal.scope == "rate"
