# shellcheck shell=bash
# tests/lab/scenarios.sh — what `break SCENARIO` breaks and `repair SCENARIO`
# restores. Each scenario breaks exactly one thing; repair brings back the
# state up built (same configuration, same data; restarted daemons get new
# PIDs). Both are idempotent. A marker in $STATE/broken/ tells status (and
# the next break) what is currently broken. Requires lib.sh and services.sh.

scenario_description() {
  case $1 in
    vpn-down) echo "stop r1's WireGuard (wg-site-a gone): the remote site 198.19.20.0/24 is unreachable" ;;
    backup-stale) echo "pause the backup job and leave only a 10-day-old borg archive (limit: 7 days)" ;;
    lb-backend-down) echo "stop nginx on web2: HAProxy has a single live backend (web1)" ;;
    ldap-down) echo "stop slapd on dc (389 and 636 refused); DNS SRV records still point to it" ;;
    dbms-down) echo "stop PostgreSQL and MariaDB on db (5432 and 3306 refused)" ;;
    monitoring-no-alerts) echo "reload Prometheus with an empty rule file: no alerting rules" ;;
    flat-network) echo "remove r1's nftables filter: every zone reaches every other (web1 -> db:5432 opens)" ;;
    hostkey-changed) echo "give $HOSTKEY_VICTIM's sshd a new host key that is not in known_hosts" ;;
    *) return 1 ;;
  esac
}

list_scenarios() {
  local s
  echo "scenarios:"
  for s in "${SCENARIOS[@]}"; do
    printf '  %-22s %s\n' "$s" "$(scenario_description "$s")"
  done
}

mark_broken() { : >"$STATE/broken/$1"; }
mark_repaired() { rm -f "$STATE/broken/$1"; }
is_broken() { [[ -e $STATE/broken/$1 ]]; }

# TCP connect from a lab host (e.g. web1) — the vantage point of a flow.
tcp_from() { # tcp_from HOST ADDR PORT
  lab_exec "$1" timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$2" "$3" 2>/dev/null
}
tcp_blocked_from() { ! tcp_from "$@"; }
tcp_closed() { ! tcp_open "$@"; }

# ------------------------------------------------------------------ vpn-down
break_vpn-down() {
  pid_stop r1-wireguard # wireguard-go removes wg-site-a and its route on exit
  wait_until 10 "remote site unreachable" tcp_closed 198.19.20.10 22 2
}
repair_vpn-down() {
  pid_alive r1-wireguard || start_wireguard r1
  wait_handshake r1 30
  wait_until 20 "remote site reachable through the tunnel" tcp_open 198.19.20.10 22 2
}

# ------------------------------------------------------------------ backup-stale
break_backup-stale() {
  local D=$STATE/hosts/backup old
  : >"$D/paused" # the cron job keeps running but skips (a silently failing job)
  lab_borg delete --lock-wait 120 --glob-archives '*' >>"$STATE/logs/backup-borg.log" 2>&1
  old=$(date -d '10 days ago' +%Y-%m-%dT%H:%M:%S)
  lab_borg create --umask 0027 --lock-wait 120 --timestamp "$old" "::backup-$old" "$D/data" \
    >>"$STATE/logs/backup-borg.log" 2>&1
}
repair_backup-stale() {
  rm -f "$STATE/hosts/backup/paused"
  lab_exec backup "$STATE/hosts/backup/backup.sh" >>"$STATE/logs/backup-job.log" 2>&1
}

# ------------------------------------------------------------------ lb-backend-down
break_lb-backend-down() {
  pid_stop web2-nginx
  wait_until 15 "HAProxy marks web2 DOWN" haproxy_backend_count_is 1
}
repair_lb-backend-down() {
  pid_alive web2-nginx || start_nginx web2
  wait_until 15 "HAProxy marks web2 UP" haproxy_backend_count_is 2
}

# ------------------------------------------------------------------ ldap-down
break_ldap-down() { pid_stop dc-slapd; }
repair_ldap-down() { pid_alive dc-slapd || start_slapd; }

# ------------------------------------------------------------------ dbms-down
break_dbms-down() {
  pid_stop db-postgres INT # fast shutdown
  pid_stop db-mariadb
}
repair_dbms-down() {
  pid_alive db-postgres || start_postgres
  pid_alive db-mariadb || start_mariadb
}

# ------------------------------------------------------------------ monitoring-no-alerts
break_monitoring-no-alerts() {
  local D=$STATE/hosts/mon/prometheus
  printf '# emptied by tests/lab/break monitoring-no-alerts\ngroups: []\n' >"$D/rules/lab.rules.yml"
  kill -HUP "$(pid_get mon-prometheus)" # reload configuration and rules
  wait_until 20 "Prometheus has no alerting rules" prom_rules_none
}
repair_monitoring-no-alerts() {
  local D=$STATE/hosts/mon/prometheus
  cp "$D/rules.healthy/lab.rules.yml" "$D/rules/lab.rules.yml"
  if pid_alive mon-prometheus; then
    kill -HUP "$(pid_get mon-prometheus)"
  else
    start_prometheus
  fi
  wait_until 20 "Prometheus alerting rules loaded" prom_rules_at_least 3
}

# ------------------------------------------------------------------ flat-network
break_flat-network() {
  lab_exec r1 nft delete table inet lab
  wait_until 10 "web1 reaches db:5432 (DMZ -> LAN open)" tcp_from web1 198.18.10.20 5432
}
repair_flat-network() {
  lab_exec r1 nft -f "$STATE/hosts/r1/nftables.conf"
  wait_until 10 "web1 -> db:5432 blocked again" tcp_blocked_from web1 198.18.10.20 5432
}

# ------------------------------------------------------------------ hostkey-changed
break_hostkey-changed() {
  local K=$STATE/hostkeys/$HOSTKEY_VICTIM/ssh_host_ed25519_key
  if [[ ! -e $K.lab-original ]]; then
    mv "$K" "$K.lab-original"
    mv "$K.pub" "$K.pub.lab-original"
  fi
  rm -f "$K" "$K.pub"
  ssh-keygen -q -t ed25519 -N '' -C "root@$HOSTKEY_VICTIM.lab.test (reinstalled)" -f "$K"
  pid_stop "$HOSTKEY_VICTIM-sshd"
  start_sshd "$HOSTKEY_VICTIM"
}
repair_hostkey-changed() {
  local K=$STATE/hostkeys/$HOSTKEY_VICTIM/ssh_host_ed25519_key
  if [[ -e $K.lab-original ]]; then
    mv -f "$K.lab-original" "$K"
    mv -f "$K.pub.lab-original" "$K.pub"
    pid_stop "$HOSTKEY_VICTIM-sshd"
  fi
  pid_alive "$HOSTKEY_VICTIM-sshd" || start_sshd "$HOSTKEY_VICTIM"
}

# ------------------------------------------------------------------ entry points
scenario_main() { # scenario_main break|repair SCENARIO
  local action=$1 s=${2:-}
  if [[ -z $s ]] || ! scenario_description "$s" >/dev/null; then
    [[ -n $s ]] && echo "unknown scenario: $s" >&2
    echo "usage: tests/lab/$action SCENARIO" >&2
    list_scenarios >&2
    exit 2
  fi
  [[ -r $STATE/env ]] || die "the lab is not up (no $STATE/env): run tests/lab/up first"
  load_env
  mkdir -p "$STATE/broken"
  local t0=$SECONDS
  if [[ $action == break ]]; then
    if is_broken "$s"; then
      log "$s is already broken (tests/lab/repair $s to undo)"
      return 0
    fi
    log "breaking $s: $(scenario_description "$s")"
    "break_$s" || die "could not break $s"
    mark_broken "$s"
    log "$s broken in $((SECONDS - t0)) s; tests/lab/status shows it"
  else
    log "repairing $s"
    "repair_$s" || die "could not repair $s"
    mark_repaired "$s"
    log "$s repaired in $((SECONDS - t0)) s"
  fi
}
