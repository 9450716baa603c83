"""Credential scrubbing of free text (exception messages, stack traces, status descriptions).

:func:`scrub` replaces what looks like a credential with :data:`REDACTED` and leaves the rest of the text
as it was, so an error stays readable: ``connect to https://REDACTED:REDACTED@db:5432 failed``. It is a
table of regular expressions on values, like the OpenTelemetry Collector's ``redaction`` processor
(``blocked_values``), with the shapes below built in; sentry-sdk's ``EventScrubber`` works on keys (dict keys,
frame variable names) and never looks inside text, which is what this adds. No library fits (see
``docs/privacy.md``): secret scanners for source code (``detect-secrets``) miss half of these shapes, cost
about a millisecond per line and pull in ``requests``; PII scrubbers (``scrubadub``) look for e-mail
addresses and phone numbers, not keys.

What is replaced (each row is one entry of :data:`RULES`):

- URL userinfo: ``scheme://user:password@host`` → ``scheme://REDACTED:REDACTED@host`` (the conventions' rule
  for ``url.full``), ``scheme://token@host`` → ``scheme://REDACTED@host``;
- ``key=value``, ``key: value``, ``"key": "value"`` and ``key='value'`` where the key ends in ``password``,
  ``passwd``, ``passphrase``, ``pwd``, ``secret``, ``token``, ``api_key`` / ``apikey`` / ``api-key``,
  ``access_key``, ``secret_key``, ``private_key``, ``client_key``, ``credential(s)``, ``auth``,
  ``authorization``, ``cookie``, ``signature`` or ``sig`` (any case; ``aws_secret_access_key``,
  ``X-Api-Key``, ``PGPASSWORD`` …): the value, after an optional ``Bearer`` / ``Basic`` scheme word. ``None``,
  ``null``, ``true`` and ``false`` are kept (they are no secret, and they explain many errors);
- ``Bearer`` / ``Basic`` / ``Digest`` / ``Negotiate`` credentials anywhere (a value with a digit, an inner
  capital or inner punctuation: "Bearer authentication failed" stays);
- JSON Web Tokens (``eyJ….eyJ….…``) and PEM private key blocks;
- API keys by shape: GitHub (``ghp_`` ``gho_`` ``ghu_`` ``ghs_`` ``ghr_`` ``github_pat_``), GitLab
  (``glpat-``), AWS access key ids (``AKIA`` ``ASIA`` ``ABIA`` ``ACCA`` + 16) and a 40-character secret key on
  the same line, OpenAI / Anthropic style ``sk-…`` (``sk-proj-``, ``sk-ant-``), Stripe ``sk_live_`` /
  ``rk_live_``, Slack ``xox?-…`` tokens and webhook paths, Google ``AIza…`` keys and ``ya29.`` OAuth tokens,
  Hugging Face ``hf_…``, npm ``npm_…`` and PyPI ``pypi-AgE…`` tokens.

Ordinary text, URLs without userinfo, file paths, tool names and error wording stay as they are.
"""

from __future__ import annotations

import re

REDACTED = "REDACTED"
"""What a credential becomes (the word the conventions use for ``url.full``)."""

# Cost: each pattern runs only when the text holds one of its literal markers (``in`` is a fast C search),
# so text without credentials costs a few substring searches. Keyed values and auth schemes are matched on
# the lower-cased text (``str.lower`` keeps ASCII positions) so that no pattern needs IGNORECASE, and every
# pattern starts with literal alternatives, which lets the regex engine skip ahead to their first letters
# instead of trying every position (measured with valgrind: bench/exception_text.py).
_KEYED_MARKERS = ("pass", "pwd", "secret", "token", "cred", "auth", "cookie", "sig", "key")
_SCHEME_MARKERS = ("bearer", "basic", "digest", "negotiate")
_SHAPE_MARKERS = (
    "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "sk-", "k_live_", "k_test_", "xox",
    "AIza", "ya29.", "hf_", "npm_", "pypi-AgE", "eyJ",
)  # fmt: skip
_KEYED = re.compile(
    r"(?:password|passwd|passphrase|pwd|secret|token|credentials?|authorization|auth|cookie|signature|sig"
    r"|api[_\-]?key|access[_\-]?key|secret[_\-]?key|private[_\-]?key|client[_\-]?key)"
    r"(?![a-z0-9])[\"']?[ \t]{0,3}[:=](?![=:])[ \t]{0,3}"  # the end of the key, then the separator
    r"(?:b(?=[\"']))?(?P<q>[\"'])?(?:(?:bearer|basic|digest|negotiate|token)[ \t]+)?"  # b'…', quote, scheme
    r"(?!(?:none|null|nil|true|false|undefined)\b)"
    r"(?P<value>(?(q)(?:\\.|(?!(?P=q))[^\n\\])+|[^\s\"',;&(){}\[\]<>]+))"
)
_SCHEME = re.compile(r"(?:bearer|basic|digest|negotiate)[ \t]+(?P<value>[a-z0-9\-._~+/]{8,}=*)")
# Case-sensitive shapes, all starting with a literal (word boundaries are checked in _shape).
_SHAPES = re.compile(
    r"gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{30,255}|glpat-[A-Za-z0-9_\-]{20,}"
    r"|sk-[A-Za-z0-9_\-]{20,}|sk_(?:live|test)_[A-Za-z0-9]{16,}|rk_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|xox[abposre]-[A-Za-z0-9\-]{10,}|AIza[0-9A-Za-z_\-]{30,}|ya29\.[0-9A-Za-z_\-]{20,}"
    r"|hf_[A-Za-z0-9]{30,}|npm_[A-Za-z0-9]{36}|pypi-AgE[A-Za-z0-9_\-]{50,}"
    r"|eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"
)
_USERINFO = re.compile(r"://([^\s/?#\"'<>]+)@(?=[A-Za-z0-9\[])")
_PRIVATE_KEY = re.compile(
    r"-----BEGIN[A-Z ]{0,40}PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z ]{0,40}PRIVATE KEY-----|\Z)"
)
_SLACK_WEBHOOK = re.compile(r"hooks\.slack\.com/services/[A-Za-z0-9/]+")
_AWS_KEY_ID = re.compile(r"A(?:KIA|SIA|BIA|CCA)[A-Z0-9]{16}(?![A-Za-z0-9])")
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def scrub(text: str) -> str:
    """``text`` with every credential recognised (see the module docs) replaced by :data:`REDACTED`.

    A few regular-expression passes, linear in the length of ``text``; never raises for a ``str``.
    """
    lowered = text.lower()
    if len(lowered) != len(text):  # a few Unicode letters change length when lower-cased ("İ")
        lowered = text.translate(_ASCII_LOWER)
    spans: list[tuple[int, int]] = []
    if any(marker in lowered for marker in _KEYED_MARKERS):
        spans += [m.span("value") for m in _KEYED.finditer(lowered)]
    if any(marker in lowered for marker in _SCHEME_MARKERS):
        spans += [m.span("value") for m in _SCHEME.finditer(lowered) if _credentials(text, m)]
    if spans:
        text = _replace(text, spans)
    if any(marker in text for marker in _SHAPE_MARKERS):
        text = _SHAPES.sub(_shape, text)
    if "://" in text:
        text = _USERINFO.sub(_userinfo, text)
    if "-----BEGIN" in text:
        text = _PRIVATE_KEY.sub(REDACTED, text)
    if "hooks.slack.com" in text:
        text = _SLACK_WEBHOOK.sub(f"hooks.slack.com/services/{REDACTED}", text)
    if _AWS_KEY_ID.search(text):
        text = "\n".join(_aws_line(line) for line in text.split("\n"))
    return text


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each of the ``(start, end)`` spans replaced by :data:`REDACTED` (overlaps merged)."""
    out: list[str] = []
    pos = 0
    for start, end in sorted(spans):
        if start < pos:  # overlaps the span just replaced: extend it
            pos = max(pos, end)
            continue
        out.append(text[pos:start])
        out.append(REDACTED)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _credentials(text: str, match: re.Match[str]) -> bool:
    """Whether the word after an HTTP auth scheme is credentials (not "Bearer authentication failed")."""
    start = match.start()
    if start and text[start - 1] in _WORD:
        return False
    value = text[match.start("value") : match.end("value")].rstrip("=").rstrip(".,;:")
    return any(c.isdigit() for c in value) or any(c.isupper() for c in value[1:]) or not value.isalnum()


def _shape(match: re.Match[str]) -> str:
    start = match.start()
    if start and match.string[start - 1] in _WORD:
        return match.group(0)  # inside a longer word: "task-…", "mask_live_…"
    return REDACTED


def _userinfo(match: re.Match[str]) -> str:
    return f"://{REDACTED}:{REDACTED}@" if ":" in match.group(1) else f"://{REDACTED}@"


def _aws_line(line: str) -> str:
    """A line holding an AWS access key id: the id and any 40-character secret key on it."""
    if not _AWS_KEY_ID.search(line):
        return line
    return _AWS_SECRET.sub(REDACTED, _AWS_KEY_ID.sub(_shape, line))
