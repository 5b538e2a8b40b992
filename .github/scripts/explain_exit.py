"""Turn an aifactory exit status into one GitHub annotation that says what happened.

    python3 .github/scripts/explain_exit.py preview|diff STACK STATUS

aifactory exits 1 for a mandatory policy violation (for `diff`: a new one, or a crossed limit),
2 for bad input, 3 for an internal error; anything else is unexpected. Prints a `::error` line
for a failure (nothing for 0) and exits with STATUS, so a step can end with it.
"""

from __future__ import annotations

import re
import sys

MEANINGS = {
    "preview": {
        1: "mandatory policy violations: pulumi up would refuse this stack",
        2: "bad input: the stack config or an option was refused (every problem is listed above); nothing was judged",
        3: "internal error in aifactory, a bug and not a verdict on the stack: the log above says where the trace was written",
    },
    "diff": {
        1: "the change adds a mandatory policy violation or crosses a cost/power limit",
        2: "bad input: a preview document or an option was refused (see above); nothing was compared",
        3: "internal error in aifactory diff, a bug and not a verdict on the change: the log above says where the trace was written",
    },
}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in MEANINGS or not re.fullmatch(r"\d{1,3}", argv[2]):
        print("usage: explain_exit.py preview|diff STACK STATUS", file=sys.stderr)
        return 2
    command, stack, status = argv[0], argv[1], int(argv[2])
    if status != 0:
        title = re.sub(r"[^A-Za-z0-9_.-]", "_", stack)
        meaning = MEANINGS[command].get(status, f"aifactory {command} ended with unexpected exit status {status}")
        print(f"::error title={title}::{meaning}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
