"""`toru.pyz license generate|check`: plugin licence keys (DESIGN §7, §6a).

The algorithm lives in the SDK (`toru_plugin.license`), which the pyz
carries; this is only its command line. The secret comes from the
environment (`TORU_LICENSE_SECRET`) so it never shows in `ps` or shell
history, and it is never printed.
"""

import argparse
import sys

from toru_plugin import license as licensing

from toru.config import Parser

SECRET_ENV = "TORU_LICENSE_SECRET"
DESCRIPTION = f"""\
Make and check licence keys for plugins that use toru_plugin.license.
The secret is read from {SECRET_ENV} (never from the command line, never printed).

  toru license generate --instance ID [--expiry YYYY-MM-DD | --never]
  toru license check KEY --instance ID        (or: toru license --validate KEY --instance ID)
  toru license check KEY                       (no instance: prints the instance and expiry the key is for)

The original generator's spellings work too: `toru license --instance-id ID
--expiry DATE` (no verb) generates, `toru license --validate KEY` checks.

A key is valid through its expiry date (UTC); --expiry defaults to never.
Exit status: 0 valid key / key made, 1 invalid key (the reason is printed), 2 usage error."""


def build_parser():
    parser = Parser(prog="toru license", usage="toru license {generate,check} [options]",
                    description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", choices=("generate", "check"), help="what to do")
    parser.add_argument("key", nargs="?", help="the key to check (check only)")
    parser.add_argument("--instance", "--instance-id", dest="instance", metavar="ID",
                        help="the Toru instance id (Settings, or GET /api/instance)")
    parser.add_argument("--expiry", metavar="DATE", help="YYYY-MM-DD or never (generate; default never)")
    parser.add_argument("--never", action="store_true", help="the key never expires (generate)")
    parser.add_argument("--validate", metavar="KEY", help="check KEY (the original generator's spelling)")
    return parser


def main(argv, environ):
    parser = build_parser()
    if not argv:
        parser.error("say what to do: generate or check")
    args = parser.parse_args(argv)
    # No verb: --validate checks, anything else generates (the original generator's spelling).
    mode = "check" if args.validate is not None else args.command or "generate"
    key = args.validate if args.validate is not None else args.key
    if args.validate is not None and args.key is not None and args.key != args.validate:
        parser.error("give the key once (KEY or --validate KEY)")
    if mode == "generate" and not args.instance:
        parser.error("--instance ID is required")
    if mode == "generate":
        if key is not None:
            parser.error("generate takes no KEY (did you mean check?)")
        if args.never and args.expiry not in (None, licensing.NEVER):
            parser.error("--never and --expiry DATE contradict each other")
    else:
        if key is None:
            parser.error("check needs the KEY to check")
        if args.expiry is not None or args.never:
            parser.error("--expiry/--never are for generate; a key carries its own expiry")
    secret = environ.get(SECRET_ENV)
    if not secret:
        parser.exit(2, f"toru license: {SECRET_ENV} is not set: export the secret your plugin checks keys with\n")
    if mode == "generate":
        return generate(parser, args, secret)
    return check(key, args.instance, secret)


def generate(parser, args, secret):
    expiry = licensing.NEVER if args.never or args.expiry is None else args.expiry
    try:
        expiry = licensing.parse_expiry(expiry)
        key = licensing.generate_license(args.instance, expiry, secret)
    except ValueError as e:
        parser.error(str(e))
    result = licensing.validate_license(key, args.instance, secret)
    if result.reason == "expired":
        print(f"toru license: note: {expiry} is already past, so this key is expired", file=sys.stderr)
    print(key)
    return 0


def check(key, instance, secret):
    if instance:
        result = licensing.validate_license(key, instance, secret)
    else:
        result = licensing.read_license(key, secret)
    if result.valid:
        when = "never expires" if result.expiry == licensing.NEVER else f"valid through {result.expiry} (UTC)"
        print(f"valid key for instance {result.instance_id}, {when}")
        return 0
    print(f"invalid key ({result.reason}): {result.message}")
    return 1
