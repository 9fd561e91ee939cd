#!/usr/bin/env python3
# Show arguments: prints what a quick action with arguments passes, exactly as received.
"""Copy into Toru's scripts directory and chmod +x, then make a quick action
of it with arguments (docs/tasks.md#arguments). Each value arrives twice:

- as a positional argument, in the order the action declares them
  (sys.argv[1], sys.argv[2]… — "$1", "$2"… in a shell script); an optional
  value left empty is "", a bool is "true"/"false", an int is decimal;
- as the environment variable TORU_ARG_<NAME> (the name in upper case).

A password is only in TORU_ARG_<NAME> (its positional place is ""): a
command line is visible to every local user in `ps`, the environment is not.
No shell ever parses a value; in a shell script keep it that way: quote
"$1" / "$TORU_ARG_BRANCH" and never hand a value to eval or `sh -c`.
"""
import os
import sys

for number, value in enumerate(sys.argv[1:], 1):
    print(f"argv[{number}]=[{value}]")
print(f"{len(sys.argv) - 1} positional arguments")
for name in sorted(n for n in os.environ if n.startswith("TORU_ARG_")):
    value = os.environ[name]
    if any(word in name for word in ("PASSWORD", "SECRET", "TOKEN")):
        value = f"({len(value)} characters)"  # never print a secret into the task's output
    else:
        value = f"[{value}]"
    print(f"{name}={value}")
