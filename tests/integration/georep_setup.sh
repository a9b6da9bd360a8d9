#!/bin/bash
# The GlusterHost verbs a geo-replication session is set up with, on the
# lab's glusterd (standing for the secondary's pool): geoRepKeysGet runs
# gsec_create and returns keys with their forced command; geoRepKeysUpdate
# merges them into an unprivileged user's authorized_keys, once;
# geoRepMountBrokerSetup refuses a group that does not exist (gluster's
# files untouched), then sets up gluster's mount broker for that user
# (glusterd.vol names the root, the group and the user's volumes, on every
# node that answered), and partial only adds a volume. Everything the
# broker changed is put back afterwards. geoRepSessionList finds the lab's
# session by each of VDSM's filters, and nothing by another's.
# `gdr-sync setup` refuses a secondary volume that holds a file (no
# session, root's authorized_keys as they were), then on the emptied
# volume creates the session (no-verify, keys through the agents), leaves
# it Created with rsync-options --ignore-times, and run again only
# configures it.
source "$(dirname "$0")/lib.sh"
require_lab
GEO=gdr-lab-geo
VOLFILE=/etc/glusterfs/glusterd.vol
GEOREP_DIR=/var/lib/glusterd/geo-replication
LOG_DIR=/var/log/glusterfs/geo-replication-secondaries
CLI_LOG=/var/log/glusterfs/cli.log
state=$(mktemp -d /tmp/gdr-georep-setup-XXXXXX)
made_user=""
# What gluster's peer script changes: the file, the group and mode of its
# directories and logs. Kept to be put back.
cp -p "$VOLFILE" "$state/glusterd.vol"
find "$GEOREP_DIR" "$LOG_DIR" "$CLI_LOG" -printf '%G\t%m\t%p\n' 2>/dev/null >"$state/rights"
restore() {
  cp -p "$state/glusterd.vol" "$VOLFILE"
  local group mode path
  while IFS=$'\t' read -r group mode path; do
    chgrp "$group" "$path" 2>/dev/null || true
    chmod "$mode" "$path" 2>/dev/null || true
  done <"$state/rights"
  rm -rf "$GDR_LAB_DIR/mountbroker-root"
}
cleanup() {
  stop_agent
  restore
  if [ -n "$made_user" ]; then
    userdel "$GEO" 2>/dev/null || true
    groupdel "$GEO" 2>/dev/null || true
  fi
  rm -rf "$state"
}
trap cleanup EXIT
if ! id "$GEO" >/dev/null 2>&1; then
  groupadd --system "$GEO"
  useradd --system --gid "$GEO" --home-dir "$state/home" --create-home --shell /bin/sh "$GEO"
  made_user=yes
fi
cat >"$state/agent.conf" <<EOF
georep_key_users = root, $GEO
georep_mountbroker_root = $GDR_LAB_DIR/mountbroker-root
EOF
start_agent --config "$state/agent.conf"
trap cleanup EXIT  # start_agent set its own
call() { "$BIN/gdr-client" -s "$AGENT_SOCK" "$@"; }

note "geoRepKeysGet: gsec_create's keys, each with its forced command"
keys=$(call GlusterHost geoRepKeysGet) || fail "geoRepKeysGet: $keys"
count=$(json_get 'len(d["geoRepPubKeys"])' <<<"$keys")
[ "$count" -ge 1 ] || fail "no keys: $keys"
[ "$(json_get 'all(k.startswith("command=") for k in d["geoRepPubKeys"])' <<<"$keys")" = True ] ||
  fail "a key without its forced command: $keys"
pubkeys=$(json_get 'json.dumps(d["geoRepPubKeys"])' <<<"$keys")

note "geoRepKeysUpdate: into $GEO's authorized_keys, once"
added=$(call GlusterHost geoRepKeysUpdate userName="$GEO" geoRepPubKeys="$pubkeys") || fail "geoRepKeysUpdate: $added"
[ "$(json_get 'd["added"]' <<<"$added")" = "$count" ] || fail "not every key added: $added"
again=$(call GlusterHost geoRepKeysUpdate userName="$GEO" geoRepPubKeys="$pubkeys") || fail "again: $again"
[ "$(json_get '(d["added"], d["present"])' <<<"$again")" = "(0, $count)" ] || fail "the second update was not idempotent: $again"
authorized=$state/home/.ssh/authorized_keys
[ "$(stat -c '%U %a' "$authorized")" = "$GEO 600" ] || fail "authorized_keys is $(stat -c '%U %a' "$authorized")"
[ "$(wc -l <"$authorized")" = "$count" ] || fail "authorized_keys holds $(wc -l <"$authorized") lines, not $count"

note "geoRepMountBrokerSetup: a group that does not exist is refused, nothing changed"
set +e
refused=$(call GlusterHost geoRepMountBrokerSetup remoteUserName="$GEO" remoteGroupName=gdr-lab-nosuch \
  remoteVolumeName="$GDR_LAB_SECONDARY" 2>&1)
rc=$?
set -e
[ "$rc" = 1 ] && [[ "$refused" == "3106: no group 'gdr-lab-nosuch'"* ]] || fail "a missing group: exit $rc, $refused"
cmp -s "$VOLFILE" "$state/glusterd.vol" || fail "glusterd.vol changed by a refused set-up"
[ ! -e "$GDR_LAB_DIR/mountbroker-root" ] || fail "the broker's root was made by a refused set-up"

note "geoRepMountBrokerSetup: the root, the group and the user's volume, on every node"
setup=$(call GlusterHost geoRepMountBrokerSetup remoteUserName="$GEO" remoteGroupName="$GEO" \
  remoteVolumeName="$GDR_LAB_SECONDARY") || fail "geoRepMountBrokerSetup: $setup"
uuid=$(sed -n 's/^UUID=//p' /var/lib/glusterd/glusterd.info)
[ "$(json_get 'd["nodes"]' <<<"$setup")" = "['$uuid']" ] || fail "not applied on this node ($uuid): $setup"
[ "$(json_get 'd["mountBrokerRoot"]' <<<"$setup")" = "$GDR_LAB_DIR/mountbroker-root" ] || fail "root: $setup"
[ "$(stat -c '%a' "$GDR_LAB_DIR/mountbroker-root")" = 711 ] || fail "the broker's root is not 0711"
grep -q "option mountbroker-root $GDR_LAB_DIR/mountbroker-root\$" "$VOLFILE" || fail "glusterd.vol: $(cat "$VOLFILE")"
grep -q "option geo-replication-log-group $GEO\$" "$VOLFILE" || fail "glusterd.vol: $(cat "$VOLFILE")"
grep -q "option mountbroker-geo-replication.$GEO $GDR_LAB_SECONDARY\$" "$VOLFILE" || fail "glusterd.vol: $(cat "$VOLFILE")"
[ "$(stat -c '%G' "$GEOREP_DIR")" = "$GEO" ] || fail "$GEOREP_DIR is not the group's"

note "partial: another volume for the same user, the broker left as it is"
call GlusterHost geoRepMountBrokerSetup remoteUserName="$GEO" remoteGroupName="$GEO" remoteVolumeName=gdr-lab-other \
  partial=true >/dev/null || fail "the partial set-up failed"
volumes=$(sed -n "s/^ *option mountbroker-geo-replication.$GEO //p" "$VOLFILE" | tr ',' '\n' | sort | paste -sd,)
[ "$volumes" = "gdr-lab-other,$GDR_LAB_SECONDARY" ] || fail "the user's volumes: $volumes"

note "geoRepSessionList: the lab's session, by VDSM's filters"
sessions() { call GlusterVolume geoRepSessionList "$@" | json_get '[(s["volumeName"], s["remoteVolumeName"]) for s in d["sessions"]]'; }
lab_session="[('$GDR_LAB_PRIMARY', '$GDR_LAB_SECONDARY')]"
[ "$(sessions)" = "$lab_session" ] || fail "all sessions: $(sessions)"
[ "$(sessions volumeName="$GDR_LAB_PRIMARY" remoteHost="$GDR_LAB_HOST" remoteVolumeName="$GDR_LAB_SECONDARY" \
  remoteUserName=root)" = "$lab_session" ] || fail "every filter matching: $(sessions)"
[ "$(sessions remoteVolumeName=gdr-lab-other)" = "[]" ] || fail "another secondary volume matched"
[ "$(sessions remoteUserName="$GEO")" = "[]" ] || fail "another user matched"

note "everything the broker changed is put back"
restore
cmp -s "$VOLFILE" "$state/glusterd.vol" || fail "glusterd.vol not restored"
find "$GEOREP_DIR" "$LOG_DIR" "$CLI_LOG" -printf '%G\t%m\t%p\n' 2>/dev/null | diff - "$state/rights" >/dev/null ||
  fail "gluster's directories not put back as they were"

note "gdr-sync setup: a secondary that is not empty is refused, nothing changed"
DR=gdr-lab-setup
dr_brick=$GDR_LAB_DIR/bricks/$DR
drop_dr() {
  if gluster --mode=script volume geo-replication "$GDR_LAB_PRIMARY" "$GDR_LAB_HOST::$DR" status 2>/dev/null | grep -q "$DR"; then
    gluster --mode=script volume geo-replication "$GDR_LAB_PRIMARY" "$GDR_LAB_HOST::$DR" delete >/dev/null || true
  fi
  if gluster --mode=script volume info "$DR" >/dev/null 2>&1; then
    gluster --mode=script volume stop "$DR" force >/dev/null || true
    gluster --mode=script volume delete "$DR" >/dev/null || true
  fi
  rm -rf "$dr_brick"
}
trap 'drop_dr; cleanup' EXIT
drop_dr
mkdir -p "$dr_brick"
gluster --mode=script volume create "$DR" "$GDR_LAB_HOST:$dr_brick" force >/dev/null
gluster --mode=script volume start "$DR" >/dev/null
on_dr() { # on_dr COMMAND...: run in a FUSE mount of the new volume
  local mnt
  mnt=$(mktemp -d)
  glusterfs --volfile-server="$GDR_LAB_HOST" --volfile-id="$DR" "$mnt"
  (cd "$mnt" && "$@") || { umount "$mnt"; rmdir "$mnt"; fail "on $DR: $*"; }
  umount "$mnt"
  rmdir "$mnt"
}
on_dr touch stray.img
setup() {
  "$BIN/gdr-sync" setup --hosts "unix:$AGENT_SOCK" --volume "$GDR_LAB_PRIMARY" --secondary "$GDR_LAB_HOST::$DR" \
    --secondary-agent "unix:$AGENT_SOCK" --json
}
cp -p /root/.ssh/authorized_keys "$state/root-keys" 2>/dev/null || : >"$state/root-keys"
set +e
report=$(setup)
rc=$?
set -e
[ "$rc" = 1 ] || fail "a secondary holding a file: exit $rc, $report"
[[ "$(json_get 'd["failure"]' <<<"$report")" == "empty: the secondary volume $DR is not empty (it holds stray.img)"* ]] ||
  fail "the refusal does not say why: $report"
[ "$(sessions remoteVolumeName="$DR")" = "[]" ] || fail "a session was created to a secondary that is not empty"
cmp -s /root/.ssh/authorized_keys "$state/root-keys" || fail "root's authorized_keys changed by a refused set-up"

note "gdr-sync setup: on the emptied secondary, the session is created, left Created, set to compare every file, the secondary read-only"
on_dr rm stray.img
report=$(setup) || fail "the set-up failed: $report"
[ "$(json_get '(d["status"], d["created"], d["existed"])' <<<"$report")" = "('success', True, False)" ] ||
  fail "set-up: $report"
[ "$(json_get '[s["step"] for s in d["steps"]]' <<<"$report")" = \
  "['existing', 'empty', 'keys', 'authorize', 'create', 'config', 'protect', 'status']" ] || fail "steps: $report"
# Read-only to ordinary clients, as push-pem would have left it.
[ "$(gluster --mode=script volume get "$DR" features.read-only | awk 'NR > 2 { print $2 }')" = on ] ||
  fail "the set-up left $DR writable by any client"
[ "$(sessions remoteVolumeName="$DR")" = "[('$GDR_LAB_PRIMARY', '$DR')]" ] || fail "no session to $DR: $(sessions)"
[[ "$(json_get 'd["workers"]' <<<"$report")" == *"$GDR_LAB_PRIMARY_BRICK Created"* ]] || fail "workers: $report"
gluster --mode=script volume geo-replication "$GDR_LAB_PRIMARY" "$GDR_LAB_HOST::$DR" config rsync-options |
  grep -q -- --ignore-times || fail "the session's rsync-options lack --ignore-times"
report=$(setup) || fail "the set-up run again failed: $report"
[ "$(json_get '(d["created"], d["existed"])' <<<"$report")" = "(False, True)" ] || fail "run again: $report"
note "ok"
