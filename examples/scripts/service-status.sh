#!/bin/sh
# Service status: whether the usual system services are running (set SERVICES to choose which).
# Copy into Toru's scripts directory and chmod +x. Example for a quick action:
#   SERVICES="nginx postgresql" in Toru's environment, or edit the default list below.
set -u
SERVICES=${SERVICES:-"ssh sshd cron nginx apache2 docker postgresql mysql redis-server"}
green=$(printf '\033[32m') red=$(printf '\033[31m') dim=$(printf '\033[2m') off=$(printf '\033[0m')

if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  found=0 failed=0
  for service in $SERVICES; do
    state=$(systemctl is-active "$service" 2>/dev/null)
    # Units that do not exist here are skipped, not reported as down.
    if [ "$(systemctl show -p LoadState --value "$service" 2>/dev/null)" != "loaded" ]; then
      continue
    fi
    found=$((found + 1))
    since=$(systemctl show -p ActiveEnterTimestamp --value "$service" 2>/dev/null)
    if [ "$state" = "active" ]; then
      printf '%s●%s %-16s active   %ssince %s%s\n' "$green" "$off" "$service" "$dim" "${since:-?}" "$off"
    else
      failed=$((failed + 1))
      printf '%s●%s %-16s %s\n' "$red" "$off" "$service" "$state"
    fi
  done
  echo "$found services checked, $failed not active"
  [ "$failed" -eq 0 ]
else
  # No systemd (a container, say): look for the processes instead.
  echo "${dim}systemd is not running here; checking processes by name${off}"
  failed=0
  for service in $SERVICES; do
    if pgrep -x "$service" >/dev/null 2>&1; then
      printf '%s●%s %-16s running (pid %s)\n' "$green" "$off" "$service" "$(pgrep -x "$service" | head -n 1)"
    else
      printf '%s○%s %-16s not running\n' "$dim" "$off" "$service"
    fi
  done
fi
