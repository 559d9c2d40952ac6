#!/usr/bin/python3
"""Start wireguard-go with a control socket the audit account may use.

wireguard-go creates /var/run/wireguard/IFACE.sock with mode 0700 and exits
as soon as anything changes that file's attributes (it watches it with
inotify IN_ATTRIB), so the socket cannot be chmod-ed afterwards. Instead we
create it ourselves (root:GROUP, mode 0660), then exec wireguard-go in the
foreground with WG_UAPI_FD, its documented way of receiving a ready socket.
The PID stays the same across the exec, so the lab records wireguard-go's.
usage: wg-launch.py IFACE GROUP
"""
import grp
import os
import socket
import sys

iface, group = sys.argv[1], sys.argv[2]
path = "/var/run/wireguard/%s.sock" % iface
os.makedirs("/var/run/wireguard", mode=0o755, exist_ok=True)
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
os.chown(path, 0, grp.getgrnam(group).gr_gid)
os.chmod(path, 0o660)
s.listen(16)
os.set_inheritable(s.fileno(), True)
env = dict(os.environ, WG_UAPI_FD=str(s.fileno()), WG_PROCESS_FOREGROUND="1")
os.execvpe("wireguard-go", ["wireguard-go", "-f", iface], env)
