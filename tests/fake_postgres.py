"""A stand-in for a PostgreSQL server, as far as the start of a connection.

The test server runs without SSL and trusts every user, so it cannot ask for
a password or offer SSL. This one speaks the protocol's first messages to
libpq: it answers the SSL request ("N": no SSL, as a server with ``ssl = off``
does; "S": yes, after which libpq sets up SSL on its side first), asks for a
password, and refuses with the error a real server sends.
"""

from __future__ import annotations

import socket
import struct
import threading
from types import TracebackType

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104

PASSWORD_FAILED = ("28P01", 'password authentication failed for user "alice"')
TOO_MANY_CLIENTS = ("53300", "sorry, too many clients already")


class FakePostgres:
    """Listens on 127.0.0.1:``port`` until closed; counts the connections made.

    ``ssl``: the answer to an SSL request (b"N" or b"S"). ``password``: ask
    for a cleartext password before refusing. ``error``: the (SQLSTATE,
    message) the server refuses with.
    """

    def __init__(
        self, ssl: bytes = b"N", password: bool = True, error: tuple[str, str] = PASSWORD_FAILED
    ) -> None:
        self.ssl, self.password, self.error = ssl, password, error
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, user: str = "alice", query: str = "") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/db{'?' + query if query else ''}"

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> "FakePostgres":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:  # closed
                return
            self.connections += 1
            with conn:
                try:
                    self._talk(conn)
                except OSError:
                    pass

    def _talk(self, conn: socket.socket) -> None:
        while True:
            length, code = struct.unpack("!ii", _read(conn, 8))
            _read(conn, length - 8)
            if code == GSSENC_REQUEST:
                conn.sendall(b"N")
            elif code == SSL_REQUEST:
                conn.sendall(self.ssl)
                if self.ssl == b"S":  # a TLS handshake would follow: libpq gives up first
                    return
            else:  # the startup message
                break
        if self.password:
            conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
            _read(conn, 1)
            (length,) = struct.unpack("!i", _read(conn, 4))
            _read(conn, length - 4)
        sqlstate, message = self.error
        fields = b"".join(
            key + value.encode() + b"\0"
            for key, value in [(b"S", "FATAL"), (b"V", "FATAL"), (b"C", sqlstate), (b"M", message)]
        )
        conn.sendall(b"E" + struct.pack("!i", len(fields) + 5) + fields + b"\0")


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise OSError("the client closed the connection")
        data += chunk
    return data
