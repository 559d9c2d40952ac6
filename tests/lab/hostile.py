#!/usr/bin/python3
"""Misbehaving servers for labcheck's robustness tests (lc-hostile, 198.18.10.66).

Real servers will not misbehave on demand, so this stdlib-only script does:
  7001  tarpit: accepts, never sends a byte, keeps the socket open until the
        client closes it (probes must give up on their own timeout)
  7002  a 5 MB banner (probes must cap what they read)
  7003  a banner with invalid UTF-8, HTML/XML markup, quotes, "]]>" and "&amp;"
        (reports must decode lossily and escape everything they quote)
  7443  HTTPS with an EXPIRED self-signed certificate (2020-01-01 .. 2021-01-01)
Started by tests/lab/up; one thread per connection, all bound to --address.
"""
import argparse
import socket
import socketserver
import ssl
import threading

HUGE_BANNER = b"220 " + b"A" * (5 * 1024 * 1024) + b"\r\n"
NASTY_BANNER = (
    b"220 nasty \xff\xfe\xc3\x28 \xed\xa0\x80 "
    b"<script>alert(1)</script> \"quotes\" 'single' ]]> &amp; <b>bold</b>"
    b" \x1b[31mred\x1b[0m\r\n"
)
HTTP_BODY = b"<!doctype html><title>expired</title><p>this certificate expired in 2021</p>\n"


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class Tarpit(socketserver.BaseRequestHandler):
    def handle(self):
        # Read (and discard) until the client closes; never answer.
        try:
            while self.request.recv(4096):
                pass
        except OSError:
            pass


class Huge(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            self.request.sendall(HUGE_BANNER)
        except OSError:
            pass  # the client stopped reading early: that is the point


class Nasty(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            self.request.sendall(NASTY_BANNER)
            self.request.settimeout(5)
            self.request.recv(1024)
        except OSError:
            pass


def make_tls_handler(context):
    class ExpiredHttps(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(10)
            try:
                conn = context.wrap_socket(self.request, server_side=True)
            except (OSError, ssl.SSLError):
                return  # clients that verify certificates abort here
            try:
                data = b""
                while b"\r\n\r\n" not in data and len(data) < 16384:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nServer: hostile-expired\r\n"
                    + b"Content-Length: " + str(len(HTTP_BODY)).encode() + b"\r\n"
                    + b"Connection: close\r\n\r\n" + HTTP_BODY
                )
            except (OSError, ssl.SSLError):
                pass
            finally:
                try:
                    conn.close()
                except OSError:
                    pass

    return ExpiredHttps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--address", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    args = ap.parse_args()

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)

    servers = [
        Server((args.address, 7001), Tarpit),
        Server((args.address, 7002), Huge),
        Server((args.address, 7003), Nasty),
        Server((args.address, 7443), make_tls_handler(context)),
    ]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    print("hostile: listening on %s ports 7001 7002 7003 7443" % args.address, flush=True)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
