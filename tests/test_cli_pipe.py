"""The CLI's output gate: a reader that closes the pipe early (``| head``) ends the command quietly."""

from __future__ import annotations

import subprocess
import sys


def test_a_closed_stdout_pipe_is_no_traceback():
    # `baiseg config` prints a whole preset; the reader closes the pipe before the command writes (its imports take
    # longer than this process's next line), so every write of the command meets a closed pipe
    cmd = [sys.executable, "-c", "import sys; from baiseg.cli import main; sys.exit(main(['config', 'cpu_lite0']))"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()
    err = p.stderr.read().decode()
    rc = p.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert rc in (0, 141)
