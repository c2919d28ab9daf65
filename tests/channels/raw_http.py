"""An HTTP/1.1 client on a bare socket, to see when a server answers an oversized upload.

``urllib`` and ``aiohttp`` send the whole body before they read the answer; a test of
"refused before reading" has to send the head, a little of the body, and then look
whether the answer is already there.
"""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass
from typing import Dict, Optional
from urllib.parse import urlsplit

CHUNK = 64 * 1024


@dataclass
class Upload:
    """What happened to one upload."""

    status: Optional[int]  # the status the server answered with (None: no answer)
    sent: int  # body bytes the client got into the socket before the server answered
    answered_after: float  # seconds from the head to the answer
    closed: bool  # the server closed the connection without taking the rest


def _status(sock: socket.socket, timeout: float) -> Optional[int]:
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (TimeoutError, ConnectionError):
        pass
    if not data.startswith(b"HTTP/1."):
        return None
    return int(data.split(b" ", 2)[1])


def _answer_waiting(sock: socket.socket, wait: float = 0.0) -> bool:
    readable, _, _ = select.select([sock], [], [], wait)
    return bool(readable)


def upload(
    url: str,
    total: int,
    headers: Dict[str, str],
    *,
    declared_length: Optional[int] = None,
    chunked: bool = False,
    answer_within: float = 10.0,
) -> Upload:
    """POST a body of ``total`` bytes (``x`` repeated) and stop once the server answers.

    ``declared_length``: the Content-Length sent (default: ``total``, honest); with
    ``chunked`` there is none. The body goes in 64 KiB pieces; before each piece the
    client looks whether an answer has arrived, and stops sending if so. Afterwards it
    tries to send the rest, to learn whether the server still takes it (``closed``).
    """
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=answer_within)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHUNK)
    try:
        head = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        if chunked:
            head.append("Transfer-Encoding: chunked")
        else:
            head.append(f"Content-Length: {total if declared_length is None else declared_length}")
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        start = time.monotonic()
        piece = b"x" * CHUNK
        frame = f"{CHUNK:x}\r\n".encode() + piece + b"\r\n" if chunked else piece
        sent = 0
        status: Optional[int] = None
        closed = False
        # a little of the body, then give an honest server the chance to answer at once
        try:
            sock.sendall(frame)
            sent += CHUNK
        except OSError:
            closed = True
        # (a chunked body has no length to judge by: the server must read on)
        if _answer_waiting(sock, 0.0 if chunked else 5.0):
            status = _status(sock, answer_within)
        while status is None and not closed and sent < total:
            try:
                sock.sendall(frame)
                sent += CHUNK
            except OSError:
                closed = True
                break
            if _answer_waiting(sock):
                status = _status(sock, answer_within)
        answered_after = time.monotonic() - start
        if status is None and not closed:
            status = _status(sock, answer_within)
        sent_before_answer = sent
        # does the server still take the rest?
        if not closed:
            try:
                deadline = time.monotonic() + answer_within
                while sent < total and time.monotonic() < deadline:
                    sock.sendall(frame)
                    sent += CHUNK
                closed = sent < total
            except OSError:
                closed = True
        return Upload(status, sent_before_answer, answered_after, closed)
    finally:
        sock.close()
