"""Credential scrubbing of exception text (:func:`mcp_otel.telemetry.scrubbing.scrub`).

- One exact example per rule: what is replaced, and what around it stays.
- Properties (hypothesis, derandomized): a generated credential of every recognised shape, put inside
  realistic error messages, dict reprs and real Python tracebacks (chained, several frames), never survives
  scrubbing; ordinary text (error wording, tool names, URLs without userinfo, file paths, ids, timestamps) and
  tracebacks without credentials come out unchanged; scrubbing twice changes nothing more.
"""

from __future__ import annotations

import base64
import string
import traceback

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_otel.telemetry.scrubbing import REDACTED, scrub

PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

GHP = "ghp_" + "aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zA4"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"

EXAMPLES = [
    # rule, text, scrubbed
    (
        "url userinfo",
        "connect to https://admin:s3cr3t@db.example.com:5432/app failed",
        "connect to https://REDACTED:REDACTED@db.example.com:5432/app failed",
    ),
    (
        "url userinfo, user only",
        f"git clone https://{GHP}@github.com/o/r.git",
        "git clone https://REDACTED@github.com/o/r.git",
    ),  # noqa: E501
    ("url userinfo, @ in password", "redis://:p@ss@cache:6379/0", "redis://REDACTED:REDACTED@cache:6379/0"),
    ("key=value", "db error password=hunter2 user=bob", "db error password=REDACTED user=bob"),
    ("key: value", "password: hunter2", "password: REDACTED"),
    ("json", '{"password": "hun\'ter2", "user": "bob"}', '{"password": "REDACTED", "user": "bob"}'),
    ("python repr", "Settings(api_key='abc123xyz', debug=True)", "Settings(api_key='REDACTED', debug=True)"),
    ("bytes repr", "secret=b'abc123xyz'", "secret=b'REDACTED'"),
    ("query string", "GET /v1?access_token=abc123&page=2", "GET /v1?access_token=REDACTED&page=2"),
    (
        "env style",
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_SECRET_ACCESS_KEY=REDACTED",
    ),
    ("header", "X-Api-Key: 9f8e7d6c5b", "X-Api-Key: REDACTED"),
    ("authorization header", "Authorization: Bearer abc.def-123", "Authorization: Bearer REDACTED"),
    (
        "authorization in a dict",
        "headers={'Authorization': 'Basic dXNlcjpwYXNz', 'Accept': 'json'}",
        "headers={'Authorization': 'Basic REDACTED', 'Accept': 'json'}",
    ),
    ("bearer anywhere", "sent Bearer AbCdEf0123456789 upstream", "sent Bearer REDACTED upstream"),
    ("jwt", f"token {JWT} expired", "token REDACTED expired"),
    ("github", f"401 for {GHP}", "401 for REDACTED"),
    ("github fine-grained", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "REDACTED"),
    ("gitlab", "glpat-AbCdEf0123456789xyzQ", "REDACTED"),
    (
        "aws access key and secret on one line",
        "AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY rejected",
        "REDACTED / REDACTED rejected",
    ),
    ("openai", "invalid key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD", "invalid key REDACTED"),
    ("anthropic", "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789-ABCDEFG: 401", "REDACTED: 401"),
    ("stripe", "sk_live_abcdefghijklmnop0123 declined", "REDACTED declined"),
    ("slack token", "slack xoxb-123456789012-1234567890123-abcdefghijkl", "slack REDACTED"),
    (
        "slack webhook",
        "POST https://hooks.slack.com/services/T000/B000/XXXXXXXX failed",
        "POST https://hooks.slack.com/services/REDACTED failed",
    ),
    ("google api key", "key AIzaSyA-abcdefghijklmnopqrstuvwxyz01234 invalid", "key REDACTED invalid"),
    ("google oauth", "ya29.a0AfH6SMBabcdefghijklmnop expired", "REDACTED expired"),
    ("hugging face", "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH denied", "REDACTED denied"),
    (
        "private key",
        "bad key -----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY----- end",
        "bad key REDACTED end",
    ),
]

ORDINARY = [
    "ValueError: invalid literal for int() with base 10: 'abc'",
    "GET https://example.com/api/v1/items?page=2&email=a@b.com returned 500",
    "Bearer authentication failed. Basic Authentication required",
    'File "/srv/app/auth.py", line 3, in login\n    if token == expected:',
    "KeyError: 'token'",
    "token=None max_tokens=100 input_tokens: 5 password: null",
    "tool get_forecast failed: city 'Paris' not found (request 7, session 191c4850af6c49e0)",
    "task-abcdefghijklmnopqrstuvwxyz finished; risk-assessment-model-v2 loaded",
    "secretary: Bob; author: Ada; oauth2 flow",
    "İstanbul: no route to host",
]


@pytest.mark.parametrize(("rule", "text", "expected"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_each_rule(rule: str, text: str, expected: str) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_unchanged(text: str) -> None:
    assert scrub(text) == text


def test_unicode_that_changes_length_when_lowered() -> None:
    assert scrub("İİ password=hunter2 İ") == "İİ password=REDACTED İ"


# --- strategies -------------------------------------------------------------------------------------------

ALNUM = string.ascii_letters + string.digits
B64URL = ALNUM + "-_"


def _text(alphabet: str, min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=min_size, max_size=max_size)


def _random_looking(alphabet: str, min_size: int, max_size: int) -> st.SearchStrategy[str]:
    """A random-looking token: a letter and a digit in it (a generated key has both; "aaaaaaaa" is a word)."""
    return _text(alphabet, min_size, max_size).filter(
        lambda s: any(c.isdigit() for c in s) and any(c.isalpha() for c in s)
    )


# (embedded text, the secret that must not survive)
Secret = tuple[str, str]


@st.composite
def url_userinfo(draw: st.DrawFn) -> Secret:
    scheme = draw(st.sampled_from(["https", "http", "postgresql", "redis", "mongodb+srv", "amqp", "mysql"]))
    user = draw(_text(ALNUM + "._-", 1, 12))
    password = draw(_random_looking(ALNUM + "-._~!$&*+,;=%@", 6, 24))
    host = draw(st.sampled_from(["db.internal", "10.0.0.7", "cache", "api.example.com", "[::1]"]))
    port = draw(st.sampled_from(["", ":5432", ":6379", ":8443"]))
    return f"{scheme}://{user}:{password}@{host}{port}/app", password


@st.composite
def keyed(draw: st.DrawFn) -> Secret:
    key = draw(
        st.sampled_from(
            [
                "password", "passwd", "PASSWORD", "db_password", "PGPASSWORD", "secret", "client_secret",
                "token", "access_token", "refresh_token", "api_key", "apikey", "x-api-key", "X-Api-Key",
                "aws_secret_access_key", "SecretAccessKey", "private_key", "credentials", "auth", "pwd",
            ]
        )
    )  # fmt: skip
    # not starting with "=" or ":": "password == x" is a comparison in a source line, not a value
    value = draw(_random_looking(ALNUM + "!#$%*+-./=?@^_~", 4, 30).filter(lambda v: v[0] not in "=:"))
    form = draw(
        st.sampled_from(["{k}={v}", "{k}: {v}", '"{k}": "{v}"', "'{k}': '{v}'", "{k}='{v}'", "{k} = {v}"])
    )
    return form.format(k=key, v=value), value


@st.composite
def auth_scheme(draw: st.DrawFn) -> Secret:
    if draw(st.booleans()):
        user, password = draw(_text(ALNUM, 3, 10)), draw(_random_looking(ALNUM, 6, 16))
        value = base64.b64encode(f"{user}:{password}".encode()).decode()
        scheme = "Basic"
    else:
        value, scheme = draw(_random_looking(ALNUM + "-._~+/", 16, 64)), "Bearer"
    prefix = draw(st.sampled_from(["Authorization: ", "sent ", "'Authorization': '", "header "]))
    return f"{prefix}{scheme} {value}", value


@st.composite
def shaped(draw: st.DrawFn) -> Secret:
    kind = draw(st.sampled_from(["gh", "pat", "aws", "jwt", "sk", "ant", "slack", "google", "hf"]))
    if kind == "gh":
        value = draw(st.sampled_from(["ghp_", "gho_", "ghs_", "ghu_", "ghr_"])) + draw(_text(ALNUM, 36, 36))
    elif kind == "pat":
        value = "github_pat_" + draw(_text(ALNUM, 22, 22)) + "_" + draw(_text(ALNUM, 59, 59))
    elif kind == "aws":
        key_id = draw(st.sampled_from(["AKIA", "ASIA"])) + draw(
            _text(string.ascii_uppercase + string.digits, 16, 16)
        )
        secret = draw(_random_looking(ALNUM + "/+", 40, 40))
        return f"key {key_id} secret {secret}", secret
    elif kind == "jwt":
        parts = [draw(_text(B64URL, 10, 60)) for _ in range(3)]
        value = f"eyJ{parts[0]}.eyJ{parts[1]}.{parts[2]}"
    elif kind == "sk":
        value = (
            "sk-" + draw(st.sampled_from(["", "proj-", "svcacct-"])) + draw(_random_looking(B64URL, 20, 60))
        )
    elif kind == "ant":
        value = "sk-ant-api03-" + draw(_random_looking(B64URL, 40, 95))
    elif kind == "slack":
        kind_letter, team = draw(st.sampled_from("bpaor")), draw(_text(string.digits, 10, 13))
        value = f"xox{kind_letter}-{team}-{draw(_text(ALNUM, 12, 32))}"
    elif kind == "google":
        value = "AIza" + draw(_text(B64URL, 35, 35))
    else:
        value = "hf_" + draw(_text(ALNUM, 34, 34))
    return value, value


SECRETS = st.one_of(url_userinfo(), keyed(), auth_scheme(), shaped())
MESSAGES = st.sampled_from(
    [
        "connect to {s} failed: timeout after 30s",
        "401 Unauthorized ({s})",
        "request failed with {s}; retrying in 2.0s",
        "tool search_docs raised: upstream said no for {s}",
        "config={{'url': 'https://api.example.com', 'extra': \"{s}\", 'retries': 3}}",
        "{s}",
        "line one\n{s}\nline three",
    ]
)


def _traceback(message: str, chained: bool) -> str:
    """A real formatted traceback (three frames, optionally a chained cause) whose message is ``message``."""

    def connect() -> None:
        raise ConnectionError(message)

    def call_tool() -> None:
        connect()

    try:
        if chained:
            try:
                call_tool()
            except ConnectionError as cause:
                raise RuntimeError("tool crashed") from cause
        call_tool()
    except Exception as exc:
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    raise AssertionError("unreachable")


def _survives(secret: str, template: str, scrubbed: str) -> bool:
    return secret in scrubbed and secret not in template.replace("{s}", "")


@PROPERTY_SETTINGS
@given(SECRETS, MESSAGES)
def test_secret_never_survives_in_messages(secret: Secret, template: str) -> None:
    text, value = secret
    out = scrub(template.replace("{s}", text))
    assert not _survives(value, template, out), out
    assert REDACTED in out


@PROPERTY_SETTINGS
@given(SECRETS, MESSAGES, st.booleans())
def test_secret_never_survives_in_tracebacks(secret: Secret, template: str, chained: bool) -> None:
    text, value = secret
    formatted = _traceback(template.replace("{s}", text), chained)
    out = scrub(formatted)
    assert value not in out, out
    assert "Traceback (most recent call last):" in out and "in connect" in out  # still a readable traceback


# No auth scheme word: "Bearer <uuid>" is a bearer token.
WORDS = st.sampled_from(
    [
        "failed", "timeout", "not", "found", "for", "request", "session", "token", "password", "key", "tool",
        "retry", "after", "the", "server", "returned", "invalid", "argument", "secret",
        "resource", "error", "connection", "refused", "missing", "authentication", "required", "keys", "sk",
    ]
)  # fmt: skip
TOOL_NAMES = st.from_regex(r"[a-z][a-z0-9]{0,10}(_[a-z0-9]{1,8}){0,3}", fullmatch=True)
PLAIN_URLS = st.builds(
    "{}://{}{}{}".format,
    st.sampled_from(["https", "http", "file"]),
    st.sampled_from(["example.com", "api.example.com:8443", "localhost", ""]),
    st.from_regex(r"(/[a-z0-9._-]{1,12}){0,4}", fullmatch=True),
    st.from_regex(r"(\?[a-z]{1,8}=[a-z0-9]{1,8}(&[a-z]{1,6}=[0-9]{1,4}){0,2})?", fullmatch=True),
)
IDS = st.one_of(
    st.uuids().map(str),
    st.integers(0, 10**9).map(str),
    st.datetimes().map(lambda d: d.isoformat()),
    st.from_regex(r"/[a-z]{2,8}(/[a-z_]{2,10}){1,4}\.py", fullmatch=True),
)
ORDINARY_PIECES = st.lists(st.one_of(WORDS, TOOL_NAMES, PLAIN_URLS, IDS), min_size=1, max_size=14)


@PROPERTY_SETTINGS
@given(ORDINARY_PIECES, st.sampled_from([" ", ", ", "; ", " - ", "\n"]))
def test_ordinary_text_stays_readable(pieces: list[str], separator: str) -> None:
    text = separator.join(pieces)
    assert scrub(text) == text


@PROPERTY_SETTINGS
@given(ORDINARY_PIECES, st.booleans())
def test_traceback_without_credentials_unchanged(pieces: list[str], chained: bool) -> None:
    formatted = _traceback(" ".join(pieces), chained)
    assert scrub(formatted) == formatted


@PROPERTY_SETTINGS
@given(st.one_of(SECRETS.map(lambda s: s[0]), ORDINARY_PIECES.map(" ".join)), MESSAGES)
def test_scrubbing_twice_changes_nothing_more(text: str, template: str) -> None:
    once = scrub(template.replace("{s}", text))
    assert scrub(once) == once


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x" * 100_000, "x" * 100_000),
        ("://" * 30_000, "://" * 30_000),
        ("password=x " * 20_000, "password=REDACTED " * 20_000),
        ("https://" + "a" * 50_000, "https://" + "a" * 50_000),
        ("Bearer " * 20_000, "Bearer " * 20_000),
    ],
    ids=["letters", "separators", "many keyed values", "long userinfo-less url", "scheme words"],
)
def test_long_and_repetitive_text(text: str, expected: str) -> None:
    assert scrub(text) == expected  # and it returns: no pattern backtracks without bound
