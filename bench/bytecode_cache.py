"""Bytecode caches for the benchmarks' Python children, as a user's Python has them.

A cold command on a user's machine reads each module's cached bytecode (__pycache__, written by the
first run, or by deploy/install.sh on a server); only a process that may not write it compiles every
module from source on every run. A machine with PYTHONDONTWRITEBYTECODE=1 and a clone without
scheduler/__pycache__ would time that compilation instead of the command.
"""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def with_bytecode(env: dict[str, str], folder: Path) -> dict[str, str]:
    """`env` with bytecode caches in `folder`, a temporary PYTHONPYCACHEPREFIX (nothing is written
    into the repository), filled here once, unmeasured."""
    env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(folder)
    paths = sysconfig.get_paths()
    skip = rf"^{re.escape(paths['stdlib'])}/site-packages/|/(test|tests|idlelib|lib2to3|tkinter|turtledemo|ensurepip)/"
    sources = dict.fromkeys([paths["stdlib"], paths["purelib"], paths["platlib"], str(ROOT / "scheduler")])
    command = [sys.executable, "-m", "compileall", "-q", "-j0", "-x", skip, *sources]
    subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    return env
