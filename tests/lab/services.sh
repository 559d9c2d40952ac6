# shellcheck shell=bash
# tests/lab/services.sh — how each lab daemon is started. Sourced by up (first
# start) and by repair (restart after a break). Configuration files are written
# once by up; these functions only start a daemon from them and wait until it
# answers, so a repaired service is exactly the one up started.
# Requires lib.sh.

SETPRIV_PROM=(setpriv --reuid=prometheus --regid=prometheus --clear-groups)
SETPRIV_PG=(setpriv --reuid=postgres --regid=postgres --clear-groups)

# spawn_* only start; start_* also wait until the port answers. up spawns
# the 11 sshd and node exporters first and waits afterwards (a node exporter
# needs ~3 s before it listens).
spawn_sshd() { # every host but dead; routers listen on all their addresses
  spawn "$1" sshd -- /usr/sbin/sshd -D -e -f "$STATE/hosts/$1/sshd_config"
}
start_sshd() { spawn_sshd "$1" && wait_service "$1" sshd "$(host_addr "$1")" 22; }

spawn_node_exporter() {
  spawn "$1" node-exporter -- "${SETPRIV_PROM[@]}" /usr/bin/prometheus-node-exporter \
    --web.listen-address="$(host_addr "$1"):9100" \
    --collector.textfile.directory="$STATE/hosts/$1/textfile"
}
start_node_exporter() {
  spawn_node_exporter "$1" && wait_service "$1" node-exporter "$(host_addr "$1")" 9100
}

# ---- site-to-site VPN: wireguard-go (userspace: the kernel has no wireguard)
wg_if() { case $1 in r1) echo wg-site-a ;; r2) echo wg-site-b ;; esac; }

start_wireguard() {
  local h=$1 ifc addr route
  ifc=$(wg_if "$h")
  case $h in
    r1) addr=198.18.0.5/30 route=198.19.20.0/24 ;;   # site A: remote LAN via tunnel
    r2) addr=198.18.0.6/30 route=198.18.10.0/24 ;;   # site B: site A's LAN via tunnel
  esac
  spawn "$h" wireguard -- "$PY" "$LAB_SRC/wg-launch.py" "$ifc" "$(id -gn audit)"
  wait_until 10 "$h $ifc control socket" test -S "$STATE/hosts/$h/wgrun/$ifc.sock" ||
    { tail -n 20 "$STATE/logs/$h-wireguard.log" >&2; return 1; }
  lab_exec "$h" wg setconf "$ifc" "$STATE/hosts/$h/$ifc.conf"
  lab_exec "$h" ip addr add "$addr" dev "$ifc"
  lab_exec "$h" ip link set "$ifc" up
  lab_exec "$h" ip route replace "$route" dev "$ifc"
}

wg_handshake_age() { # seconds since the last handshake of HOST's tunnel
  local h=$1 ifc ts
  ifc=$(wg_if "$h")
  ts=$(lab_exec "$h" wg show "$ifc" latest-handshakes 2>/dev/null | awk '{print $2; exit}')
  [[ -n $ts && $ts != 0 ]] || return 1
  echo $(($(date +%s) - ts))
}

wait_handshake() { # the tunnel carries traffic: both ends did a handshake
  wait_until "${2:-25}" "WireGuard handshake on $1" wg_handshake_age "$1"
}

# ---- dc: OpenLDAP and DNS
start_slapd() {
  local D=$STATE/hosts/dc/ldap
  # -d 0: stay in the foreground (no debug output) so the PID is slapd's own.
  spawn dc slapd -- /usr/sbin/slapd -d 0 -f "$D/slapd.conf" \
    -h "ldap://198.18.10.10/ ldaps://198.18.10.10/" -u openldap -g openldap
  wait_service dc slapd 198.18.10.10 389 && wait_service dc slapd 198.18.10.10 636
}

start_dnsmasq() {
  spawn dc dnsmasq -- /usr/sbin/dnsmasq --keep-in-foreground \
    --conf-file="$STATE/hosts/dc/dns/dnsmasq.conf"
  wait_service dc dnsmasq 198.18.10.10 53
}

# FreeRADIUS answers only declared clients (the lab LAN, with
# LAB_RADIUS_SECRET): the check is a real Access-Request for alice.
start_radius() {
  spawn dc radius -- /usr/sbin/freeradius -f -l stdout -d "$STATE/hosts/dc/radius/raddb"
  wait_until 20 "FreeRADIUS accepts alice" radius_accepts_alice ||
    { tail -n 20 "$STATE/logs/dc-radius.log" >&2; return 1; }
}
radius_accepts_alice() {
  pid_alive dc-radius &&
    printf 'User-Name = "alice"\nUser-Password = "%s"\n' "$LAB_ALICE_PASSWORD" |
    radclient -t 1 -r 1 198.18.10.10:1812 auth "$LAB_RADIUS_SECRET" 2>&1 | grep -q 'Access-Accept'
}

# ---- db: PostgreSQL and MariaDB
start_postgres() {
  spawn db postgres -- "${SETPRIV_PG[@]}" "$PG_BIN/postgres" -D "$STATE/hosts/db/pg/data"
  wait_service db postgres 198.18.10.20 5432 60
}

start_mariadb() {
  local D=$STATE/hosts/db/mysql
  spawn db mariadb -- /usr/sbin/mariadbd --no-defaults --user=mysql \
    --datadir="$D/data" --socket="$D/mysqld.sock" --pid-file="$D/mariadbd.pid" \
    --bind-address=198.18.10.20 --port=3306 --skip-name-resolve \
    --innodb-buffer-pool-size=32M --max-connections=200 \
    --ssl-ca="$D/tls/ca.crt" --ssl-cert="$D/tls/db.crt" --ssl-key="$D/tls/db.key"
  wait_service db mariadb 198.18.10.20 3306 60
}

# ---- mon: Prometheus and Alertmanager
start_prometheus() {
  local D=$STATE/hosts/mon/prometheus
  spawn mon prometheus -- "${SETPRIV_PROM[@]}" /usr/bin/prometheus \
    --config.file="$D/prometheus.yml" --storage.tsdb.path="$D/data" \
    --storage.tsdb.retention.time=2d --web.listen-address=198.18.10.30:9090 \
    --web.console.templates="$D/consoles" --web.console.libraries="$D/console_libraries"
  wait_service mon prometheus 198.18.10.30 9090 60 &&
    wait_until 30 "Prometheus alerting rules loaded" prom_rules_at_least 1
}

prom_rule_count() { # number of alerting rules Prometheus has loaded
  curl -fsS --max-time 3 http://198.18.10.30:9090/api/v1/rules |
    "$PY" -c 'import json,sys; d=json.load(sys.stdin)
print(sum(1 for g in d["data"]["groups"] for r in g["rules"] if r.get("type")=="alerting"))'
}
prom_rules_at_least() { local n; n=$(prom_rule_count) && ((n >= $1)); }
prom_rules_none() { local n; n=$(prom_rule_count) && ((n == 0)); }

start_alertmanager() {
  local D=$STATE/hosts/mon/alertmanager
  spawn mon alertmanager -- "${SETPRIV_PROM[@]}" /usr/bin/prometheus-alertmanager \
    --config.file="$D/alertmanager.yml" --storage.path="$D/data" \
    --web.listen-address=198.18.10.30:9093 --cluster.listen-address=
  wait_service mon alertmanager 198.18.10.30 9093 30
}

# ---- backup: cron runs the borg job. cron's pid file is a fixed path
# (/run/crond.pid) and it reads the spool dir: both are private to it.
start_cron() {
  local D=$STATE/hosts/backup
  spawn backup cron --bind "$D/cron-run:/run" --bind "$D/cron-spool:/var/spool/cron/crontabs" \
    -- /usr/sbin/cron -f
  sleep 0.3
  pid_alive backup-cron || { tail -n 20 "$STATE/logs/backup-cron.log" >&2; return 1; }
}

# ---- DMZ: nginx backends and HAProxy
start_nginx() {
  local h=$1 D=$STATE/hosts/$1/nginx
  spawn "$h" nginx -- /usr/sbin/nginx -c "$D/nginx.conf" -p "$D/" -e "$D/logs/error.log" \
    -g 'daemon off;'
  wait_service "$h" nginx "$(host_addr "$h")" 80
}

start_haproxy() {
  spawn lb haproxy -- /usr/sbin/haproxy -db -f "$STATE/hosts/lb/haproxy.cfg"
  wait_service lb haproxy 198.51.100.10 80 && wait_service lb haproxy 198.51.100.10 8404
}

haproxy_up_backends() { # names of the backends HAProxy's health checks see UP
  curl -fsS --max-time 3 'http://198.51.100.10:8404/stats;csv' |
    awk -F, '$1 == "web" && $2 != "BACKEND" && $18 ~ /^UP/ { print $2 }'
}
haproxy_backend_count_is() { local n; n=$(haproxy_up_backends | wc -l) && ((n == $1)); }

# ---- hostile: misbehaving servers for the prober's robustness tests
start_hostile() {
  local D=$STATE/hosts/hostile
  spawn hostile hostile -- "$PY" "$LAB_SRC/hostile.py" --address 198.18.10.66 \
    --cert "$D/expired.crt" --key "$D/expired.key"
  wait_service hostile hostile 198.18.10.66 7443
}
