#!/bin/sh
# Builds the binary RPM into DIR and checks it: it holds what an
# installation needs, each file with the mode it must have; rpmlint finds
# no error (rpm/gdr.rpmlintrc lists the intended findings, each with why);
# and the systemd units, installed from the package into a scratch root
# with two storage domains configured, pass `systemd-analyze verify`.
set -eu
out=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
rpm=$(RPM_OUT="$out" "$root/scripts/build-rpm" | tail -n1)
files=$(rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpm")
status=0
expect() { # expect PERMS PATH ("-" PERMS: any mode)
  line=$(printf '%s\n' "$files" | awk -v p="$2" '$2 == p')
  if [ -z "$line" ]; then
    echo "missing $2"; status=1
  elif [ "$1" != - ] && [ "${line%% *}" != "$1" ]; then
    echo "$2 has mode ${line%% *}, not $1"; status=1
  fi
}
for f in /usr/bin/gdr-agent /usr/bin/gdr-client /usr/bin/gdr-sync /usr/lib/systemd/system/gdr-agent.service \
    /usr/lib/systemd/system/gdr-sync@.service /usr/lib/systemd/system/gdr-sync@.timer /etc/logrotate.d/gdr \
    /var/lib/gdr /usr/share/doc/gdr/sync-domain.conf.example; do
  expect - "$f"
done
expect -rw------- /etc/gdr/agent.conf  # may hold the events token
expect drwxr-x--- /etc/gdr/sync.d      # the domains' files name commands gdr-sync runs
# Every unit has its scriptlets: enabled by preset, stopped on removal,
# restarted on upgrade.
scripts=$(rpm -qp --scripts "$rpm")
for unit in gdr-agent.service gdr-sync@.timer; do
  printf '%s\n' "$scripts" | grep -q "preset .*$unit" || { echo "no %systemd_post for $unit"; status=1; }
  printf '%s\n' "$scripts" | grep -q "disable --now .*$unit" || { echo "no %systemd_preun for $unit"; status=1; }
done
printf '%s\n' "$scripts" | grep -q "try-restart gdr-agent.service" || { echo "no restart of gdr-agent on upgrade"; status=1; }

echo "== rpmlint"
lint=$(rpmlint -r "$root/rpm/gdr.rpmlintrc" "$rpm" 2>&1) || true
printf '%s\n' "$lint" | grep -E ': (E|W): ' || true
if printf '%s\n' "$lint" | grep -qE ': E: '; then echo "rpmlint found errors"; status=1; fi
printf '%s\n' "$lint" | grep -qE '[0-9]+ packages and [0-9]+ specfiles checked' || { echo "rpmlint did not run:"; printf '%s\n' "$lint"; status=1; }

echo "== systemd-analyze verify"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
(cd "$scratch" && rpm2cpio "$rpm" | cpio -idm --quiet)
# What gdr's units name that is not gdr's (timers.target, sysinit.target,
# /bin/kill) is the host's.
cp -a /usr/lib/systemd/system/. "$scratch/usr/lib/systemd/system/" 2>/dev/null || true
mkdir -p "$scratch/usr/bin" && cp /bin/kill "$scratch/usr/bin/kill" && ln -s usr/bin "$scratch/bin"
cp -a "$scratch/usr/share/doc/gdr/sync-domain.conf.example" "$scratch/etc/gdr/sync.d/gold.conf"
sed 's/^volume = .*/volume = bronze/' "$scratch/etc/gdr/sync.d/gold.conf" > "$scratch/etc/gdr/sync.d/bronze.conf"
verify() { # verify UNIT...: verified with no finding at all
  findings=$(systemd-analyze --root="$scratch" verify "$@" 2>&1) && [ -z "$findings" ]
}
if verify gdr-agent.service gdr-sync@gold.service gdr-sync@gold.timer gdr-sync@bronze.service gdr-sync@bronze.timer; then
  echo "gdr-agent.service, gdr-sync@{gold,bronze}.{service,timer}: verified"
else
  echo "systemd-analyze verify: $findings"; status=1
fi
# The verification has teeth: a timer with a bad value is refused.
sed -i 's/^OnUnitInactiveSec=.*/OnUnitInactiveSec=every minute/' "$scratch/usr/lib/systemd/system/gdr-sync@.timer"
if verify gdr-sync@gold.timer; then echo "systemd-analyze verify passed a broken timer"; status=1; fi

# The example, as shipped, is a domain's file gdr-sync reads.
line=$("$scratch/usr/bin/gdr-sync" check --config-dir "$scratch/etc/gdr/sync.d" --domain gold \
  --state-dir "$scratch/var/lib/gdr/sync/gold" || true)
case $line in
  "GDR UNKNOWN - domain gold: no DR cycle has run"*) ;;
  *) echo "the example domain file does not read: $line"; status=1 ;;
esac
[ $status = 0 ] && echo "$rpm: every file in place"
exit $status
