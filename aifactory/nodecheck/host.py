"""Everything the checks ask of the machine, in one place, so tests feed recorded outputs instead."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Dict, List, NamedTuple, Optional, Tuple


class Result(NamedTuple):
    returncode: int  # 127: the command is not installed
    stdout: str


class Host:
    """The real machine."""

    def run(self, argv: List[str], timeout: float = 120.0) -> Result:
        if shutil.which(argv[0]) is None:
            return Result(127, "")
        try:
            done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                                  universal_newlines=True)
        except subprocess.TimeoutExpired:
            return Result(124, "timed out after %.0f s" % timeout)
        except OSError as e:
            return Result(126, str(e))
        return Result(done.returncode, done.stdout)

    def has(self, command: str) -> bool:
        return shutil.which(command) is not None

    def read(self, path: str) -> Optional[str]:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return None

    def listdir(self, path: str) -> List[str]:
        try:
            return sorted(os.listdir(path))
        except OSError:
            return []


class RecordedHost(Host):
    """A machine made of recorded outputs: `commands` maps a command line (argv joined by spaces) to
    its result, `files` maps a path to its content; a directory lists the recorded paths below it."""

    def __init__(self, commands: Dict[str, Tuple[int, str]], files: Dict[str, str]) -> None:
        self.commands = dict(commands)
        self.files = dict(files)
        self.ran: List[str] = []

    def run(self, argv: List[str], timeout: float = 120.0) -> Result:
        line = " ".join(argv)
        self.ran.append(line)
        if line not in self.commands:
            return Result(127, "")
        rc, out = self.commands[line]
        return Result(rc, out)

    def has(self, command: str) -> bool:
        return any(line.split(" ", 1)[0] == command for line in self.commands)

    def read(self, path: str) -> Optional[str]:
        return self.files.get(path)

    def listdir(self, path: str) -> List[str]:
        prefix = path.rstrip("/") + "/"
        return sorted({p[len(prefix):].split("/", 1)[0] for p in self.files if p.startswith(prefix)})
