# shellcheck shell=bash
# shellcheck disable=SC2034  # globals used by the scripts that source this file
# tests/lab/lib.sh — shared by up, down, status, break, repair, exec.
#
# The lab is a set of Linux network namespaces (one per host, names "lc-*")
# joined by veth pairs and by bridges that live inside the switch namespace
# lc-sw, so the root namespace only ever gets ONE lab link: lcv-audit, the
# auditor's port on the LAN (198.18.10.250). Every daemon is started by us,
# in the foreground, with its own config under $STATE, and its PID recorded in
# $STATE/pids/<host>-<service>.pid as "PID STARTTIME" (the start time lets us
# refuse to signal a recycled PID).
#
# Network rule: addresses only from 198.18.0.0/15 and 198.51.100.0/24.
# Nothing here ever touches eth0, the default route, 192.0.2.0/24 or
# 203.0.113.0/24.

STATE="${LABCHECK_LAB_DIR:-/tmp/labcheck-lab}"
STATE=${STATE%/}
case $STATE in
  /?*) ;;
  *) echo "[lab] error: LABCHECK_LAB_DIR must be an absolute path other than /" >&2; exit 2 ;;
esac
LAB_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY=/usr/bin/python3          # Debian's python, never a pyenv shim
NS_PREFIX=lc-
AUDITOR_IF=lcv-audit         # the only lab link in the root namespace
AUDITOR_IP=198.18.10.250
LAB_DOMAIN=lab.test

# Ranges the lab owns. up refuses to start if any of them is already routed.
LAB_RANGES=(198.18.10.0/24 198.51.100.0/24 198.19.20.0/24 198.18.0.0/30)
# Routes the auditor gets through r1 (the LAN is directly connected).
AUDITOR_ROUTES=(198.51.100.0/24 198.19.20.0/24 198.18.0.0/30)

# host  zone    address        gateway
HOST_TABLE="
dc      lan     198.18.10.10   198.18.10.1
db      lan     198.18.10.20   198.18.10.1
mon     lan     198.18.10.30   198.18.10.1
backup  lan     198.18.10.40   198.18.10.1
hostile lan     198.18.10.66   198.18.10.1
dead    lan     198.18.10.99   198.18.10.1
lb      dmz     198.51.100.10  198.51.100.1
web1    dmz     198.51.100.11  198.51.100.1
web2    dmz     198.51.100.12  198.51.100.1
remote  remote  198.19.20.10   198.19.20.1
r1      router  198.18.10.1    -
r2      router  198.18.0.2     -
"
# Hosts that run sshd + node exporter (every host but the dead one).
SSH_HOSTS=(dc db mon backup lb web1 web2 remote hostile r1 r2)
# Every namespace the lab creates (lc-sw is the switch holding the bridges).
ALL_NS=(sw r1 r2 dc db mon backup hostile dead lb web1 web2 remote)

# Extra addresses answered (and dropped) by lc-dead for timeout benchmarks.
DEAD_EXTRA_FIRST=100
DEAD_EXTRA_LAST=119

# The host whose sshd key is swapped by the hostkey-changed scenario.
HOSTKEY_VICTIM=db

SCENARIOS=(vpn-down backup-stale lb-backend-down ldap-down dbms-down
           monitoring-no-alerts flat-network hostkey-changed)

# Debian packages the lab needs (binary names checked after install).
LAB_PACKAGES=(
  iproute2 nftables util-linux procps openssl ca-certificates curl
  netcat-openbsd python3 openssh-server openssh-client
  slapd ldap-utils dnsmasq-base freeradius freeradius-utils
  postgresql-15 postgresql-client-15 mariadb-server mariadb-client
  nginx-light haproxy wireguard-go wireguard-tools
  prometheus prometheus-alertmanager prometheus-node-exporter
  borgbackup cron
)

PG_BIN=/usr/lib/postgresql/15/bin

# ---------------------------------------------------------------- messages
if [[ -t 1 && -z ${NO_COLOR:-} ]]; then
  C_OK=$'\e[32m' C_BAD=$'\e[31m' C_WARN=$'\e[33m' C_DIM=$'\e[2m' C_END=$'\e[0m'
else
  C_OK='' C_BAD='' C_WARN='' C_DIM='' C_END=''
fi
log()  { printf '%s[lab +%ss]%s %s\n' "$C_DIM" "$SECONDS" "$C_END" "$*"; }
warn() { printf '%s[lab] warning:%s %s\n' "$C_WARN" "$C_END" "$*" >&2; }
die()  { printf '%s[lab] error:%s %s\n' "$C_BAD" "$C_END" "$*" >&2; exit 1; }

require_root() {
  [[ $(id -u) -eq 0 ]] && return 0
  local cmd why
  cmd=$(basename "$0")
  case $cmd in
    up) why="install Debian packages, create network namespaces, veth links and
  bridges, load nftables rules, create the 'audit' user, or start sshd,
  slapd, postgres, mariadbd... as their own users" ;;
    down) why="stop the lab daemons (they run as root and as service users), delete
  the lc-* namespaces and the lcv-audit link, remove /etc/netns/lc-* or the
  'audit' user" ;;
    status) why="read the daemons' PID files and process start times, run wg and nft
  inside the namespaces, or list the borg repository (all root-only)" ;;
    break | repair) why="signal the lab daemons, change r1's nftables rules, or touch the
  root-owned borg repository and host keys" ;;
    *) why="enter the lab's network namespaces" ;;
  esac
  cat >&2 <<EOF
[lab] error: tests/lab/$cmd must run as root: without root it cannot
  $why.
  Nothing was done. Run: sudo tests/lab/$cmd $*
EOF
  exit 1
}

# ---------------------------------------------------------------- host table
host_field() { # host_field HOST COLUMN(2=zone 3=address 4=gateway)
  awk -v h="$1" -v c="$2" '$1 == h { print $c }' <<<"$HOST_TABLE"
}
host_addr() { host_field "$1" 3; }
host_zone() { host_field "$1" 2; }
host_gw()   { host_field "$1" 4; }
ns_of()     { echo "${NS_PREFIX}$1"; }

# All addresses a host answers on (routers have several; known_hosts lists all).
host_all_addrs() {
  case $1 in
    r1) echo 198.18.10.1 198.51.100.1 198.18.0.1 ;;
    r2) echo 198.18.0.2 198.19.20.1 ;;
    *)  host_addr "$1" ;;
  esac
}

# ---------------------------------------------------------------- pid files
# Start time of a live process: field 22 of /proc/PID/stat (counted after
# the "(comm)" part, which may contain spaces). A zombie counts as dead:
# daemons outlive up and are reaped by PID 1, which may take a while.
proc_starttime() {
  local s
  s=$(<"/proc/$1/stat") 2>/dev/null || return 1
  s=${s##*) }
  # shellcheck disable=SC2086
  set -- $s
  [[ $1 != Z && $1 != X ]] || return 1
  echo "${20}"
}

pid_file() { echo "$STATE/pids/$1.pid"; }

pid_record() { # pid_record NAME PID
  local st
  st=$(proc_starttime "$2") || st=0
  echo "$2 $st" >"$(pid_file "$1")"
}

pid_get() { # prints the PID if the recorded process is still the same one
  local f pid st now
  f=$(pid_file "$1")
  [[ -r $f ]] || return 1
  read -r pid st <"$f" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  now=$(proc_starttime "$pid") || return 1
  [[ $now == "$st" ]] || return 1
  echo "$pid"
}

pid_alive() { pid_get "$1" >/dev/null; }

# pid_stop NAME [SIGNAL] — signal the recorded PID only, wait up to 15 s,
# then SIGKILL it; the pid file is removed either way.
pid_stop() {
  local name=$1 sig=${2:-TERM} pid i
  if pid=$(pid_get "$name"); then
    kill -s "$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
      pid_alive "$name" || break
      sleep 0.1
    done
    if pid_alive "$name"; then
      warn "$name (pid $pid) ignored SIG$sig for 15 s: sending SIGKILL"
      kill -s KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$(pid_file "$name")"
}

# ---------------------------------------------------------------- running things on a host
# Every lab process runs through this wrapper: `ip netns exec` gives the
# host's network namespace and its /etc/netns/lc-HOST overlay (hosts,
# resolv.conf, cron.d, ...); unshare gives it its own hostname (UTS) and a
# private mount namespace where we bind per-host directories, e.g. the
# routers' /run/wireguard (wireguard-go's control-socket directory is a fixed
# path, so without this r1 would also list r2's interface in `wg show`).
# All steps exec, so the PID we record is the daemon's own PID.
WRAP_SH='h=$1; shift
while [ "$1" != "--" ]; do
  mount --bind "${1%%:*}" "${1#*:}" || { echo "lab-wrap: cannot bind $1" >&2; exit 111; }
  shift
done
shift
hostname "$h"
exec "$@"'

host_binds() { # default bind mounts for every process of a host
  case $1 in
    r1 | r2) echo "$STATE/hosts/$1/wgrun:/run/wireguard" ;;
  esac
}

# lab_exec HOST CMD... — run a command on a lab host, in the foreground.
lab_exec() {
  local host=$1; shift
  local binds=()
  # shellcheck disable=SC2207
  binds=($(host_binds "$host"))
  ip netns exec "$(ns_of "$host")" unshare --mount --uts -- \
    sh -c "$WRAP_SH" lab-wrap "$host" "${binds[@]}" -- "$@"
}

# spawn HOST NAME [--bind SRC:DST]... -- CMD... — start a daemon in the
# background (its own session, stdin closed, output to $STATE/logs) and
# record its PID as HOST-NAME.
spawn() {
  local host=$1 name=$2; shift 2
  local binds=() pid
  # shellcheck disable=SC2207
  binds=($(host_binds "$host"))
  while [[ $1 != -- ]]; do
    case $1 in
      --bind) binds+=("$2"); shift 2 ;;
      *) die "spawn: unknown option $1" ;;
    esac
  done
  shift
  local logf="$STATE/logs/$host-$name.log"
  setsid ip netns exec "$(ns_of "$host")" unshare --mount --uts -- \
    sh -c "$WRAP_SH" lab-wrap "$host" "${binds[@]}" -- "$@" \
    </dev/null >>"$logf" 2>&1 &
  pid=$!
  # The exec chain (setsid, ip, unshare, sh, setpriv...) keeps this PID and
  # its start time, so it can be recorded right away.
  pid_record "$host-$name" "$pid"
}

# ---------------------------------------------------------------- waits
# wait_until TIMEOUT_S DESCRIPTION CMD... — poll CMD every 0.2 s.
wait_until() {
  local timeout=$1 desc=$2; shift 2
  local deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  "$@" >/dev/null 2>&1 && return 0
  warn "timed out after ${timeout}s waiting for: $desc"
  return 1
}

tcp_open() { # tcp_open ADDR PORT [TIMEOUT_S] — from the current namespace
  timeout "${3:-2}" bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# wait_service HOST NAME ADDR PORT [TIMEOUT] — the daemon's port answers
# (from the root namespace); fails early, with its log, if the daemon died.
wait_service() {
  local host=$1 name=$2 addr=$3 port=$4 timeout=${5:-30}
  local deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if ! pid_alive "$host-$name"; then
      warn "$host/$name died during start-up; last log lines:"
      tail -n 20 "$STATE/logs/$host-$name.log" >&2 || true
      return 1
    fi
    tcp_open "$addr" "$port" 1 && return 0
    sleep 0.2
  done
  warn "$host/$name: $addr:$port not answering after ${timeout}s; last log lines:"
  tail -n 20 "$STATE/logs/$host-$name.log" >&2 || true
  return 1
}

# ---------------------------------------------------------------- misc
load_env() { # the secrets of the current lab
  [[ -r $STATE/env ]] || return 1
  # shellcheck disable=SC1091
  source "$STATE/env"
}

lab_present() { # anything of ours exists?
  local n
  [[ -d $STATE ]] && return 0
  ip link show "$AUDITOR_IF" >/dev/null 2>&1 && return 0
  for n in "${ALL_NS[@]}"; do
    [[ -e /run/netns/$(ns_of "$n") ]] && return 0
  done
  return 1
}

# borg with the lab's repository and passphrase (run on the backup host so
# archives are named after it and cron's view and ours agree).
lab_borg() {
  lab_exec backup env BORG_REPO="$STATE/hosts/backup/repo" \
    BORG_PASSPHRASE="$BORG_PASSPHRASE" BORG_BASE_DIR="$STATE/hosts/backup/borg-home" \
    borg "$@"
}
