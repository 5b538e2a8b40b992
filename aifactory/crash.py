"""An internal error (a bug, never bad input): its full trace goes to a file, one line to the user.

CI tells the exit codes apart: 1 is a mandatory policy violation, 2 refused input, 3 a crash.
"""

from __future__ import annotations

import os
import tempfile
import traceback

EXIT_CODE = 3


def report(error: BaseException) -> str:
    """Write the trace of `error` to a new file; the one line that says what happened and where."""
    what = f"{type(error).__name__}: {error}".splitlines()[0][:200] if str(error) else type(error).__name__
    try:
        handle, path = tempfile.mkstemp(prefix="aifactory-crash-", suffix=".txt")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write("".join(traceback.format_exception(error)))
    except OSError as failure:
        return f"aifactory: internal error ({what}); the trace could not be written ({failure.strerror}). Please report it."
    return f"aifactory: internal error ({what}); full trace in {path}. Please report it with that file."
