"""Type stubs for MicroPython's `mongoose` module (pythongoose), for editors and type checkers.

The module itself is native (Rust + C); these stubs only describe its Python API. A test checks
that every name here exists in the built module and the other way round.
"""

from typing import Any, Callable, Dict, Optional, Union

_Buffer = Union[bytes, bytearray, memoryview]
_Body = Union[str, bytes, bytearray, memoryview, dict, list, None]
_Reply = Union[_Body, tuple, "File", "Template"]

def init(
    api: Union[Callable[[str], _Reply], dict[str, Callable[[str], _Reply]], None] = None,
    auth: Optional[Callable[[str, str], Any]] = None,
    *,
    url: str = "http://0.0.0.0:8000",
    max_header_size: int = 8192,
    max_body_size: int = 65536,
    request_timeout_ms: int = 10000,
    idle_timeout_ms: int = 60000,
    cors: Optional[str] = None,
    cert: Union[str, _Buffer, None] = None,
    key: Union[str, _Buffer, None] = None,
) -> None:
    """Starts the HTTP server. `api(body)` serves /api/<name> (or a dict of name -> handler);
    `auth(user, password)` accepts with any truthy value. RuntimeError if already started.
    `cors`: an origin ("*") for Access-Control-Allow-Origin, and 204 answers to preflights.
    `https://` URLs need `cert` (certificate chain, PEM) and `key` (its private key, PEM: EC
    P-256); a key the built-in TLS cannot use is a ValueError here."""

def listen(url: str, *, cert: Union[str, _Buffer, None] = None, key: Union[str, _Buffer, None] = None) -> None:
    """Adds another listener for the same routes (e.g. https:// on 8443 beside http:// on 8000).
    RuntimeError before init(); OSError when the address is taken."""

def static(prefix: str, directory: str, *, index: str = "index.html", max_age: int = 3600, auth: bool = False) -> None:
    """Serves GET/HEAD of the files under `directory` (read through the VFS) for paths under
    `prefix`: Content-Type, ETag/304, Cache-Control, Range, `.gz` siblings, index files."""

def route(
    pattern: str,
    handler: Callable[["Request"], _Reply],
    methods: Union[str, list[str], tuple[str, ...], None] = None,
    auth: bool = True,
    *,
    on_chunk: Optional[Callable[["Request", bytes], Any]] = None,
    max_body_size: Optional[int] = None,
) -> Callable[["Request"], _Reply]:
    """Adds (or replaces) a route: `*` matches in one segment, `#` the rest of the path. With
    `on_chunk`, the body streams to `on_chunk(request, chunk)` and `handler` gets an empty body."""

def poll(ms: int = 0) -> None:
    """Runs the event loop once (HTTP server and MQTT clients), waiting at most `ms` ms."""

def close() -> None:
    """Closes the server, every MQTT client and every connection."""

def memory(limit: Optional[int] = None) -> Dict[str, int]:
    """C-heap bytes the module holds: {"used", "peak", "limit", "refused"}; limit=N sets the
    budget for what network input may make it allocate (0: none)."""
    ...

def websocket(
    pattern: str,
    on_message: Callable[["WebSocket", Union[str, bytes]], Any],
    *,
    on_open: Optional[Callable[["WebSocket"], Any]] = None,
    on_close: Optional[Callable[["WebSocket", int], Any]] = None,
    auth: bool = True,
    max_message_size: int = 16384,
    ping_interval_s: int = 20,
) -> None:
    """Accepts WebSocket upgrades on `pattern`: text frames arrive as str, binary as bytes."""

def sse(
    pattern: str,
    *,
    on_open: Optional[Callable[["EventStream"], Any]] = None,
    on_close: Optional[Callable[["EventStream"], Any]] = None,
    auth: bool = True,
    keepalive_s: int = 15,
) -> None:
    """Serves Server-Sent Events streams on `pattern`."""

def broadcast(pattern: str, data: Union[str, _Buffer], *, event: Optional[str] = None) -> int:
    """Sends to every open WebSocket/SSE peer of the endpoint registered with `pattern`;
    returns how many got it (a peer reading too slowly is dropped, not counted)."""

class WebSocket:
    id: int
    path: str
    query: str
    is_open: bool

    def send(self, data: Union[str, _Buffer]) -> None: ...
    def close(self, code: int = 1000, reason: Optional[str] = None) -> None: ...

class EventStream:
    id: int
    path: str
    query: str
    is_open: bool

    def send(self, data: str, event: Optional[str] = None, id: Optional[str] = None) -> None: ...
    def close(self) -> None: ...

class File:
    """A handler's reply: the file at `path`, streamed (same rules as static files)."""

    path: str
    content_type: Optional[str]
    headers: Optional[Dict[str, Union[str, int]]]

    def __init__(self, path: str, content_type: Optional[str] = None, headers: Optional[Dict[str, Union[str, int]]] = None) -> None: ...

class Template:
    """A handler's reply: the file at `path` with each {{name}} replaced by the HTML-escaped
    str(values[name]), streamed. A name without a value is a 500 (printed)."""

    path: str
    values: Any

    def __init__(self, path: str, values: Any) -> None: ...

class Request:
    """The request a route handler gets; valid only during the handler call."""

    method: str
    path: str
    query: str
    body: bytes
    text: str
    headers: dict[str, str]

    def header(self, name: str, default: Any = None) -> Union[str, Any]: ...
    def json(self) -> Any: ...

class MQTTclient:
    # The session-present flag of the latest CONNACK (read it in on_connect).
    @property
    def session_present(self) -> bool: ...
    def __init__(
        self,
        on_connect: Optional[Callable[[], Any]] = None,
        on_publish: Optional[Callable[[str, bytes], Any]] = None,
        *,
        on_disconnect: Optional[Callable[[str], Any]] = None,
        on_status: Optional[Callable[[int, str], Any]] = None,
    ) -> None: ...
    def connect(
        self,
        url: str,
        user: Union[str, _Buffer, None] = None,
        pwd: Union[str, _Buffer, None] = None,
        will_topic: Optional[str] = None,
        will_msg: Union[str, _Buffer, None] = None,
        will_qos: int = 0,
        will_retain: bool = False,
        *,
        client_id: Optional[str] = None,
        keepalive: int = 60,
        clean_session: bool = True,
        reconnect: bool = True,
        max_inflight: int = 8,
        max_queue: int = 32,
        max_queue_bytes: int = 1048576,
        ack_timeout_ms: int = 10000,
        connect_timeout_ms: int = 10000,
        reconnect_min_ms: int = 1000,
        reconnect_max_ms: int = 60000,
        max_packet_size: int = 65536,
        wait_ms: int = 0,
        ca: Union[str, _Buffer, None] = None,
        cert: Union[str, _Buffer, None] = None,
        key: Union[str, _Buffer, None] = None,
        server_name: Optional[str] = None,
        insecure: bool = False,
    ) -> Optional[bool]:
        """Starts connecting and returns None; with wait_ms > 0, polls until CONNACK and returns
        the session-present flag, or raises OSError (refused, or ETIMEDOUT: still trying).
        `mqtts://` verifies the broker's chain against `ca` (PEM) and its name (the URL's host, or
        `server_name`); without `ca` it needs `insecure=True`. `cert`/`key`: a client certificate.
        A certificate that does not verify stops the client (on_disconnect gets the reason)."""
    def pub(self, topic: str, msg: Union[str, _Buffer], qos: int = 0, retain: bool = False) -> Optional[int]: ...
    def sub(self, topic: Union[str, list[tuple[str, int]]], qos: int = 0) -> int: ...
    def unsub(self, topic: Union[str, list[str]]) -> int: ...
    def disconnect(self) -> None: ...
    def is_connected(self) -> bool: ...
    def pending(self) -> int: ...
