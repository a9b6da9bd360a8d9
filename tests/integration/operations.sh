#!/bin/bash
# What operators watch, on the lab, with the lab's volume set up as a
# storage domain (a file in a sync.d directory, the alerts and the target
# RPO in it): a DR cycle writes its metrics for node_exporter's textfile
# collector, which promtool accepts; a real node_exporter, on loopback with
# that collector alone, serves them with the cycle's figures; `gdr-sync
# check` (every domain) says OK with the fresh point, CRITICAL once the
# target RPO is shorter than its age. A cycle that fails (its secondary
# volume, overridden by a flag, does not exist) alerts a webhook listening
# on loopback, a command hook, and a local mailbox through a real MTA
# (Debian's exim4, local delivery only), its report saying the RPO is
# breached; with alert_on failure the successful cycle before it told no
# one.
source "$(dirname "$0")/lib.sh"
require_lab
for tool in prometheus-node-exporter promtool curl /usr/sbin/sendmail; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/install-deps --lab installs it)"
done
start_agent
state=$(mktemp -d /tmp/gdr-ops-XXXXXX)
gdr_files >"$state/gdr-before"
exporter_pid="" webhook_pid="" made_user=""
MAILUSER=gdr-lab-mail
cleanup() {
  local pid
  for pid in $exporter_pid $webhook_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  flatten_lab_vms "$state/gdr-before"
  stop_agent
  if [ -n "$made_user" ]; then userdel "$MAILUSER" 2>/dev/null || true; fi
  rm -f "/var/mail/$MAILUSER"
  rm -rf "$state"
}
trap cleanup EXIT
mkdir -p "$state/textfile"
metrics=$state/textfile/gdr.prom
# A mailbox of the lab's own (exim4 delivers nothing to root).
if ! id "$MAILUSER" >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir / --shell /usr/sbin/nologin "$MAILUSER"
  made_user=yes
fi
rm -f "/var/mail/$MAILUSER"
# A webhook on loopback: each POST's body to a file of its own.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$port" "$state/webhook" <<'EOF' &
import http.server, os, sys
port, out = int(sys.argv[1]), sys.argv[2]
os.makedirs(out, exist_ok=True)
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        n = len(os.listdir(out))
        with open(os.path.join(out, "%d.json" % n), "wb") as f:
            f.write(body)
        with open(os.path.join(out, "%d.auth" % n), "w") as f:
            f.write(self.headers.get("Authorization", ""))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Hook).serve_forever()
EOF
webhook_pid=$!
echo "gdr-lab-token" >"$state/token"
mkdir -m 0750 "$state/sync.d"
(
  umask 077
  cat >"$state/sync.d/lab.conf" <<CONF
# The lab's volume as a storage domain.
hosts = $AGENT_URL
volume = $GDR_LAB_PRIMARY
secondary = $GDR_LAB_SECONDARY_URL
state_dir = $state/sync
interval = 15m
target_rpo = 1h
timeout = 5m
metrics_file = $metrics
alert_webhook = http://127.0.0.1:$port/alerts
alert_token_file = $state/token
alert_command = cat >$state/hook.json; echo "\$GDR_STATUS \$GDR_OUTCOME \$GDR_RPO_BREACHED" >$state/hook.env
alert_mail = $MAILUSER@localhost
CONF
)
DOMAIN=(--config-dir "$state/sync.d" --domain lab "${TLS_ARGS[@]}")

note "a DR cycle of domain lab (the default layout), its metrics written for the textfile collector"
"$BIN/gdr-sync" "${DOMAIN[@]}" --json >"$state/cycle.json" 2>"$state/cycle.log" ||
  fail "the cycle failed: $(cat "$state/cycle.json" "$state/cycle.log")"
[ "$(json_get 'd["domain"], d["rpo"]["breached"], d["rpo"]["target"]' <"$state/cycle.json")" = "lab False 3600" ] ||
  fail "the report's domain and RPO: $(json_get 'd.get("domain"), d.get("rpo")' <"$state/cycle.json")"
point=$(json_get 'd["recoveryPoint"]' <"$state/cycle.json")
[ "$(stat -c %a "$metrics")" = 644 ] || fail "the metrics file is not readable by the exporter: $(stat -c %a "$metrics")"
promtool check metrics <"$metrics" || fail "promtool rejects the metrics: $(cat "$metrics")"

note "node_exporter serves them"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prometheus-node-exporter --web.listen-address="127.0.0.1:$port" --collector.disable-defaults \
  --collector.textfile --collector.textfile.directory="$state/textfile" >"$state/exporter.log" 2>&1 &
exporter_pid=$!
for ((i = 0; i < 100; i++)); do
  curl -sf "http://127.0.0.1:$port/metrics" >"$state/scrape.txt" 2>/dev/null && break
  kill -0 "$exporter_pid" 2>/dev/null || fail "node_exporter stopped: $(cat "$state/exporter.log")"
  sleep 0.1
done
scraped() { # scraped SERIES -> its value in the scrape, or nothing
  awk -v s="$1" 'index($0, s " ") == 1 {print $2}' "$state/scrape.txt"
}
[ "$(scraped 'node_textfile_scrape_error')" = 0 ] || fail "the textfile collector could not read the file: $(cat "$state/scrape.txt")"
[ "$(scraped 'gdr_cycle_success{volume="gdr-primary"}')" = 1 ] || fail "no successful cycle in the scrape: $(grep gdr_ "$state/scrape.txt")"
# Exposed as floats: compare as numbers.
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) == float(sys.argv[2]) else 1)' \
  "$(scraped 'gdr_recovery_point_timestamp_seconds{volume="gdr-primary"}')" "$point" ||
  fail "the scraped recovery point is not the cycle's $point: $(grep gdr_recovery "$state/scrape.txt")"
[ -n "$(scraped 'gdr_cycle_step_duration_seconds{step="georep",volume="gdr-primary"}')" ] ||
  fail "no georep step duration in the scrape: $(grep gdr_cycle_step "$state/scrape.txt")"
[ "$(scraped 'gdr_rpo_target_seconds{volume="gdr-primary"}')" = 3600 ] ||
  fail "the domain's target RPO is not in the scrape: $(grep gdr_rpo "$state/scrape.txt")"
vms=$(scraped 'gdr_vms{state="protected",volume="gdr-primary"}')
[ "$vms" = "$(json_get 'len(d["vms"])' <"$state/cycle.json")" ] || fail "protected VMs: $vms"
note "scraped: $(grep -c '^gdr_' "$state/scrape.txt") gdr series"

note "gdr-sync check (every domain): OK with the fresh point, CRITICAL past the target RPO"
out=$("$BIN/gdr-sync" check --config-dir "$state/sync.d") || fail "check is not OK after a fresh cycle: $out"
[[ $out == "GDR OK - domain lab: recovery point "*" | rpo="*";1800;3600;0 "* ]] || fail "check: $out"
note "$out"
sleep 2
rc=0
out=$("$BIN/gdr-sync" check "${DOMAIN[@]}" --rpo-warning 1s --target-rpo 1s) || rc=$?
[ "$rc" = 2 ] && [[ $out == "GDR CRITICAL - domain lab: "* ]] || fail "check past the target RPO (exit $rc): $out"

note "the successful cycle told no one (--alert-on failure, the default)"
[ -z "$(ls "$state/webhook")" ] || fail "the webhook heard of a success: $(ls "$state/webhook")"
[ ! -e "$state/hook.json" ] && [ ! -e "/var/mail/$MAILUSER" ] || fail "the command or the mailbox heard of a success"
[ "$(json_get '"alerts" in d' <"$state/cycle.json")" = False ] || fail "deliveries in a success's report"

note "a cycle that fails (its secondary volume does not exist) alerts the webhook, the command and the mailbox"
# The flags override the domain's file; a target RPO of 1 s is breached.
rc=0
"$BIN/gdr-sync" "${DOMAIN[@]}" --secondary "$GDR_LAB_HOST::gdr-no-such-volume" --timeout 2m --target-rpo 1s \
  --rpo-warning 1s --json >"$state/failed.json" 2>"$state/failed.log" || rc=$?
[ "$rc" = 1 ] || fail "the failing cycle exited $rc, not 1 (failed, merged back): $(cat "$state/failed.json" "$state/failed.log")"
flow=$(json_get 'd["flowId"]' <"$state/failed.json")
[ "$(json_get '[a["target"] for a in d["alerts"] if a["ok"]]' <"$state/failed.json")" = "['webhook', 'command', 'mail']" ] ||
  fail "deliveries: $(json_get 'd["alerts"]' <"$state/failed.json")"
[ "$(json_get 'd["flowId"] + " " + d["status"]' <"$state/webhook/0.json")" = "$flow failed" ] ||
  fail "the webhook got: $(cat "$state/webhook/0.json")"
[ "$(cat "$state/webhook/0.auth")" = "Bearer gdr-lab-token" ] || fail "the webhook's token: $(cat "$state/webhook/0.auth")"
[ "$(json_get 'd["flowId"]' <"$state/hook.json")" = "$flow" ] || fail "the command hook got: $(cat "$state/hook.json")"
[ "$(json_get 'd["rpo"]["breached"], d["rpo"]["point"]' <"$state/failed.json")" = "True $point" ] ||
  fail "the failed cycle's RPO: $(json_get 'd["rpo"]' <"$state/failed.json")"
[ "$(cat "$state/hook.env")" = "failed 1 1" ] || fail "the command hook's environment: $(cat "$state/hook.env")"
for ((i = 0; i < 100; i++)); do
  grep -q "^X-GDR-Flow-Id: $flow" "/var/mail/$MAILUSER" 2>/dev/null && break
  sleep 0.2
done
grep -q "^X-GDR-Flow-Id: $flow" "/var/mail/$MAILUSER" 2>/dev/null || fail "no mail in /var/mail/$MAILUSER"
subject=$(grep -m1 '^Subject: ' "/var/mail/$MAILUSER")
[[ $subject == "Subject: gdr ALERT lab: "* ]] || fail "the mail's subject: $subject"
note "mailed: $subject"
note "ok"
