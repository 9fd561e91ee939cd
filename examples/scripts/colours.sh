#!/bin/sh
# ANSI colour demo: the 16 basic colours, bold, underline, 256 colours and true colour, as Toru's task view shows them.
# Copy into Toru's scripts directory and chmod +x.
esc=$(printf '\033')

echo "Basic colours (30-37) and their bright versions (90-97):"
for code in 30 31 32 33 34 35 36 37; do printf '%s[%sm %s %s[0m' "$esc" "$code" "$code" "$esc"; done; echo
for code in 90 91 92 93 94 95 96 97; do printf '%s[%sm %s %s[0m' "$esc" "$code" "$code" "$esc"; done; echo

echo "Backgrounds (40-47):"
for code in 40 41 42 43 44 45 46 47; do printf '%s[%s;97m %s %s[0m' "$esc" "$code" "$code" "$esc"; done; echo

printf '%s[1mbold%s[0m  %s[2mdim%s[0m  %s[3mitalic%s[0m  %s[4munderline%s[0m  %s[7minverse%s[0m\n' \
  "$esc" "$esc" "$esc" "$esc" "$esc" "$esc" "$esc" "$esc" "$esc" "$esc"

echo "256 colours (48;5;N, backgrounds):"
n=16
while [ $n -lt 232 ]; do
  printf '%s[48;5;%sm  %s[0m' "$esc" "$n" "$esc"
  n=$((n + 1))
  [ $(((n - 16) % 36)) -eq 0 ] && echo
done
n=232
while [ $n -lt 256 ]; do printf '%s[48;5;%sm  %s[0m' "$esc" "$n" "$esc"; n=$((n + 1)); done; echo

echo "True colour (48;2;R;G;B):"
i=0
while [ $i -lt 64 ]; do
  printf '%s[48;2;%s;%s;%sm %s[0m' "$esc" $((i * 4)) $((255 - i * 4)) 128 "$esc"
  i=$((i + 1))
done; echo
printf '%s[32m✔ done%s[0m\n' "$esc" "$esc"
