"""API-base URLs of remote models: which are allowed (http and https, well formed), how they are
shown (credentials masked), how a stored one gets its credentials back, and how credentials in
a URL are sent.

A URL may carry credentials: `http://user:password@host/v1`, or parameters such as `?key=...`,
`?api_key=...`, `?token=...`. They are never printed (masked_url, redact) and never stored: a
search stores the masked URL (`http://***:***@host/v1?key=***`), and whoever loads the model later
gets the full URL back from this process (resolve_api_base: given when the search was made) or
from the PROMPTSEARCH_API_BASE environment variable (space-separated full URLs, matched by their
masked form), or a one-line error says how to pass it.
"""
from __future__ import annotations

import base64
import os
import re
from urllib.parse import unquote, urlsplit, urlunsplit

from promptsearch.errors import ConfigError

SECRET_PARAMS = ("key", "api_key", "apikey", "api-key", "token", "access_token", "auth", "password", "secret",
                 "sig", "signature", "code")
HIDDEN = "***"
ENV_API_BASE = "PROMPTSEARCH_API_BASE"  # full URLs (space-separated) whose credentials a search did not store
_KNOWN_URLS: dict[str, str] = {}  # masked URL -> the full one given in this process


def check_api_base(url: object, flag: str = "--api-base") -> str:
    """An API base as given: an http(s) URL with a host and a valid port. Anything else (file://,
    a path, a malformed URL) is a one-line ConfigError that never shows the URL's credentials.
    A URL with credentials is remembered by its masked form (see resolve_api_base)."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"{flag}: must be an http:// or https:// URL, got {_kind(url)}")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise ConfigError(f"{flag}: '{masked_url(url)}' contains spaces or control characters; give the "
                          f"server's URL, e.g. http://127.0.0.1:8000/v1")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as e:
        raise ConfigError(f"{flag}: '{masked_url(url)}' is not a valid URL ({e}); "
                          f"e.g. http://127.0.0.1:8000/v1") from None
    if parts.scheme.lower() not in ("http", "https"):
        shown = f"'{parts.scheme}://'" if parts.scheme else "no scheme"
        raise ConfigError(f"{flag}: '{masked_url(url)}' has {shown}; only http:// and https:// URLs are allowed, "
                          f"e.g. http://127.0.0.1:8000/v1")
    if not parts.hostname:
        raise ConfigError(f"{flag}: '{masked_url(url)}' names no host; e.g. http://127.0.0.1:8000/v1")
    if masked_url(url) != url:
        _KNOWN_URLS[masked_url(url)] = url
    return url


def _kind(value: object) -> str:
    return "an empty string" if isinstance(value, str) else f"a {type(value).__name__}"


def masked_url(url: str) -> str:
    """`url` with its password, user name and secret query values replaced by ***: what is
    printed, logged and stored in the database."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return _masked_text(url)
    if not parts.netloc:  # no scheme://host to go by ('bob:pw@host/v1', '://bob:pw@host')
        return _masked_text(url)
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
    if parts.username is not None or parts.password is not None:
        netloc = f"{HIDDEN}:{HIDDEN}@{netloc}" if parts.password is not None else f"{HIDDEN}@{netloc}"
    query = "&".join(_masked_param(p) for p in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _masked_text(url: str) -> str:
    """A URL that does not parse, still shown, with anything that may be a credential masked: what
    comes before an @ in its first part, and the values of secret-looking parameters."""
    url = re.sub(r"^((?:[^:/?#]*:)?//)?[^/?#]*@", lambda m: f"{m.group(1) or ''}{HIDDEN}@", url)
    return re.sub(r"([?&;][^=&#]*(?:key|token|auth|password|secret|sig|code)[^=&#]*=)[^&#]*", rf"\g<1>{HIDDEN}",
                  url, flags=re.IGNORECASE)


def _masked_param(param: str) -> str:
    name, eq, _ = param.partition("=")
    return f"{name}={HIDDEN}" if eq and name.lower() in SECRET_PARAMS else param


def has_secrets(url: str | None) -> bool:
    return bool(url) and masked_url(url) != url  # type: ignore[arg-type]


def resolve_api_base(url: str | None, what: str) -> str | None:
    """The URL to call for a stored API base: a stored one has its credentials masked (***), so
    the full URL comes from this process (given when the search was made) or from the
    PROMPTSEARCH_API_BASE environment variable; otherwise a one-line error says how to pass it."""
    if not url or HIDDEN not in url:
        return url
    if url in _KNOWN_URLS:
        return _KNOWN_URLS[url]
    for given in os.environ.get(ENV_API_BASE, "").split():
        if masked_url(given) == url:
            return check_api_base(given, ENV_API_BASE)
    raise ConfigError(f"{what}: the API base {url} had credentials, which are not stored in the database; "
                      f"pass the full URL in the {ENV_API_BASE} environment variable (e.g. export "
                      f"{ENV_API_BASE}='http://user:password@host/v1'), or put the key in OPENAI_API_KEY")


def known_api_bases() -> str:
    """The full URLs with credentials given in this process, as PROMPTSEARCH_API_BASE takes them
    (for worker processes started from here)."""
    return " ".join(_KNOWN_URLS.values())


def redact(text: str, url: str | None) -> str:
    """`text` (an error message) with the URL's credentials replaced by ***."""
    if not url:
        return text
    text = text.replace(url, masked_url(url))
    userinfo = re.search(r"//([^/?#]*)@", url) or re.match(r"([^/?#]*)@", url)
    secrets = re.split(r"[:@]", userinfo.group(1)) if userinfo else []
    query = url.partition("?")[2].partition("#")[0]
    secrets += [p.partition("=")[2] for p in query.split("&") if p.partition("=")[0].lower() in SECRET_PARAMS]
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, HIDDEN)
    return text


def with_auth(url: str, key: str) -> tuple[str, dict[str, str]]:
    """The URL to send and its Authorization header: credentials in the URL (user:password@) are
    sent as HTTP Basic authentication, not as part of the address; otherwise the API key."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, {"Authorization": f"Bearer {key}"}
    netloc = parts.netloc.rpartition("@")[2]
    user = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return (urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")),
            {"Authorization": "Basic " + base64.b64encode(user.encode()).decode()})
