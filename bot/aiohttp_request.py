"""PTB's BaseRequest over aiohttp: the Bot API calls at a third of httpx's CPU (decision 67).

PTB ships HTTPXRequest; httpx, httpcore, h11 and anyio cost ~0.48 ms of CPU per call on the
bench VM, aiohttp (its HTTP parser in C) ~0.14 ms. opsbot makes 2–4 calls per update, so this
is the largest single part of its cost over a bare echo bot. Used where the route has no
proxy; a proxy (SOCKS included) keeps HTTPXRequest (bot/connect.py).
"""

import secrets
import ssl
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, lru_cache

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


@contextmanager
def _certificates_left_unloaded() -> Iterator[None]:
    """While aiohttp is imported: SSLContext's loaders of the system's CA bundle do nothing.

    aiohttp.connector builds two contexts as it is imported, a verifying one and one that does
    not verify, each loading the whole bundle: ~25 ms each with OpenSSL 3 on the bench VM, a
    tenth of what opsbot's start adds to a bare PTB bot's. opsbot uses neither (AiohttpRequest
    passes its own, `system_tls`, and only to an https:// Bot API). Left without certificates,
    aiohttp's verifying context trusts no server: anything that used it would fail, never
    trust. Only the import's own thread runs then (it is the bot's first import of aiohttp).
    """
    own = ssl.SSLContext.load_default_certs
    ssl.SSLContext.load_default_certs = _load_nothing
    ssl.SSLContext.set_default_verify_paths = _load_nothing  # the C method, shadowed
    try:
        yield
    finally:
        ssl.SSLContext.load_default_certs = own
        del ssl.SSLContext.set_default_verify_paths


def _load_nothing(context: ssl.SSLContext, *args) -> None:
    """Stands in for both loaders while aiohttp is imported."""


if "aiohttp" in sys.modules:  # already imported (the simulator's server, in tests): as it is
    import aiohttp
else:
    with _certificates_left_unloaded():
        import aiohttp


@cache
def system_tls() -> ssl.SSLContext:
    """The system's CA certificates, as aiohttp's own verifying context would have them; built
    once per process, at the first https:// call (getMe, before polling or the webhook starts,
    so the ~25 ms of reading the bundle hold up no update)."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(("http/1.1",))
    return context


_HEADERS = {"User-Agent": BaseRequest.USER_AGENT}
# PTB's "not given" marker (DEFAULT_NONE, or a method's own default such as a media upload's).
DefaultValue = type(BaseRequest.DEFAULT_NONE)


class AiohttpRequest(BaseRequest):
    """A BaseRequest on one aiohttp ClientSession, with HTTPXRequest's timeouts and errors.

    `tls`: the certificates to trust; None is the system's (`system_tls`)."""

    __slots__ = ("_media_write_timeout", "_pool", "_session", "_timeouts", "_tls")

    def __init__(
        self,
        connection_pool_size: int = 256,
        *,
        tls: ssl.SSLContext | None = None,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool = connection_pool_size
        self._tls = tls
        self._timeouts = {
            "read": read_timeout,
            "write": write_timeout,
            "connect": connect_timeout,
            "pool": pool_timeout,
        }
        self._media_write_timeout = media_write_timeout
        # Made in initialize(): aiohttp wants the running loop for its session.
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """See BaseRequest.read_timeout: the default read timeout in seconds."""
        return self._timeouts["read"]

    async def initialize(self) -> None:
        """See BaseRequest.initialize: opens the session (again, after a shutdown)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool)  # TLS: per call (do_request)
            # No proxy from the environment: bot/connect.py chose this route knowing there is none.
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False)

    async def shutdown(self) -> None:
        """See BaseRequest.shutdown: closes the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout=BaseRequest.DEFAULT_NONE,
        write_timeout=BaseRequest.DEFAULT_NONE,
        connect_timeout=BaseRequest.DEFAULT_NONE,
        pool_timeout=BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """See BaseRequest.do_request: (HTTP status, body); TimedOut and NetworkError as PTB's."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = bool(request_data and request_data.contains_files)
        timeout = _timeout(
            self._given(read_timeout, "read"),
            self._media_write_timeout if files else self._given(write_timeout, "write"),
            self._given(connect_timeout, "connect"),
            self._given(pool_timeout, "pool"),
            files,
        )
        tls = (self._tls or system_tls()) if url.startswith("https:") else True
        try:
            body, headers = _body(request_data)
            async with self._session.request(
                method, url, headers=headers, data=body, timeout=timeout, ssl=tls
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:  # aiohttp's connect timeout covers the pool wait too
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err

    def _given(self, value, name: str) -> float | None:
        return self._timeouts[name] if isinstance(value, DefaultValue) else value


def _body(request_data: RequestData | None) -> tuple[bytes | aiohttp.FormData | None, dict]:
    """The parameters as multipart/form-data, which Telegram takes for every method (PTB sends
    it whenever files go too); files as aiohttp's FormData."""
    if request_data is None:
        return None, _HEADERS
    fields = request_data.json_parameters
    if not request_data.contains_files:
        return _form(fields)
    # Names as they are (UTF-8), as httpx sends them: aiohttp would percent-encode 周报.xlsx.
    form = aiohttp.FormData(fields, quote_fields=False)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form, _HEADERS


def _form(fields: dict[str, str]) -> tuple[bytes, dict]:
    # Built here as one string: percent-encoding a card's Chinese text byte by byte (urlencode)
    # cost ~50 µs a call, aiohttp's FormData and MultipartWriter more; this costs ~3 µs.
    # Names are PTB's parameter names (ASCII words); the boundary is one no value contains.
    boundary = secrets.token_hex(16)
    while any(boundary in value for value in fields.values()):
        boundary = secrets.token_hex(16)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    parts.append(f"--{boundary}--\r\n")
    headers = _HEADERS | {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return "".join(parts).encode(), headers


@lru_cache(maxsize=64)
def _timeout(
    read: float | None, write: float | None, connect: float | None, pool: float | None, files: bool
) -> aiohttp.ClientTimeout:
    """HTTPXRequest's four timeouts in aiohttp's terms (built once per combination).

    aiohttp has no write timeout: an upload gets a total of write + read instead, so a stalled
    one still ends; the pool wait and the connect together bound getting a connection.
    """
    total = write + read if files and write is not None and read is not None else None
    acquire = pool + connect if pool is not None and connect is not None else None
    return aiohttp.ClientTimeout(total=total, connect=acquire, sock_connect=connect, sock_read=read)
