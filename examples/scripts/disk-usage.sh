#!/bin/sh
# Disk usage report: every real filesystem, fullest first, with the biggest directories of the fullest one.
# Copy into Toru's scripts directory and chmod +x. WARN_AT (default 80) and
# CRIT_AT (default 90) are the percentages shown in yellow and red; DU_SECONDS
# (default 30) bounds the directory scan, which can take long on a big disk.
set -u
WARN_AT=${WARN_AT:-80}
CRIT_AT=${CRIT_AT:-90}
red=$(printf '\033[31m') yellow=$(printf '\033[33m') green=$(printf '\033[32m') bold=$(printf '\033[1m') off=$(printf '\033[0m')

echo "${bold}Disk usage on $(hostname) at $(date '+%Y-%m-%d %H:%M')${off}"
# -P: one line per filesystem; pseudo filesystems are left out.
df -P -h -x tmpfs -x devtmpfs -x squashfs -x overlay 2>/dev/null | awk 'NR > 1' | sort -k5 -n -r |
while read -r fs size used avail pct mount; do
  n=${pct%\%}
  colour=$green
  [ "$n" -ge "$WARN_AT" ] && colour=$yellow
  [ "$n" -ge "$CRIT_AT" ] && colour=$red
  printf '%s%5s%s  %6s of %6s used, %6s free  %s (%s)\n' "$colour" "$pct" "$off" "$used" "$size" "$avail" "$mount" "$fs"
done

fullest=$(df -P -x tmpfs -x devtmpfs -x squashfs -x overlay 2>/dev/null | awk 'NR > 1' | sort -k5 -n -r | awk 'NR == 1 {print $6}')
if [ -n "$fullest" ]; then
  echo
  echo "${bold}Largest directories directly under $fullest${off}"
  # -x: stay on that filesystem; errors (permission denied) are not the point here.
  timeout "${DU_SECONDS:-30}" du -x -h -d 1 "$fullest" 2>/dev/null | sort -h -r | head -n 10
fi
