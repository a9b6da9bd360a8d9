#!/bin/sh
# Builds the binary RPM into DIR and checks that it holds what an
# installation needs, each file with the mode it must have.
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
    /usr/lib/systemd/system/gdr-sync.timer /etc/logrotate.d/gdr /var/lib/gdr; do
  expect - "$f"
done
expect -rw------- /etc/gdr/agent.conf  # may hold the events token
[ $status = 0 ] && echo "$rpm: every file in place"
exit $status
