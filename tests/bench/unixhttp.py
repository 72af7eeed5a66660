"""HTTP over the daemon's Unix socket, for the bench scripts (standard library only)."""

import http.client
import json
import socket


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("agentmux.local", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def unix(sock, method, path, body=None, timeout=30):
    """One request; (status, the JSON answer or None)."""
    c = UnixHTTP(sock, timeout)
    c.request(method, path, body=json.dumps(body) if body is not None else None)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, (json.loads(data) if data else None)
