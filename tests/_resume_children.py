"""What the kill-and-resume tests run in child processes (test_resume.py).

Each function is one run of a checkpointed keyed ingest that may be killed with SIGKILL:
either by the parent after a random time, or by itself at its ``kill_at``-th *event*.
Events are the points where a crash matters: an output batch made durable by the
consumer, and every ``os.replace`` (the rename that commits a part file, a checkpoint or
the CLI's final output; the file is complete by then, so a kill there leaves a stray
temporary file and the previous state). The count restarts in every run.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

#: The step's and the CLI's options in every run (a resume must repeat them).
SEGMENT_OPTIONS: dict[str, Any] = {
    "method": "permutation",
    "order": 3,
    "window": 24,
    "target_len": 16.0,
    "calibration": "online",
    "max_len": 80,
}


class _Killer:
    def __init__(self, kill_at: int | None) -> None:
        self.kill_at = kill_at
        self.events = 0

    def event(self) -> None:
        self.events += 1
        if self.events == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


def _arm(kill_at: int | None) -> _Killer:
    killer = _Killer(kill_at)
    replace = os.replace

    def replace_then_maybe_die(src: Any, dst: Any) -> None:
        killer.event()  # before the rename: the new file is complete but not committed
        replace(src, dst)

    os.replace = replace_then_maybe_die  # type: ignore[assignment]
    # A SIGKILL leaves the page cache to the kernel, so what a killed process wrote
    # survives without fsync; fsync guards against losing power, which these tests do
    # not simulate, and costs about 10 ms a call on this machine's disk. (The
    # `python -m entroseg` chains keep the real fsync.)
    os.fsync = lambda fd: None
    return killer


def arrow_run(source: str, out_dir: str, checkpoint: str, every: int, kill_at: int | None) -> None:
    """``segment_stream`` over a Parquet file; the consumer writes each output batch to
    its own file ``out_dir/batch-NNNNNNNN.arrow`` (atomically) before asking for the next
    one. On resume it deletes the batch files the checkpoint does not count (emitted after
    it; the step emits them again). A run that completes writes its event count to
    ``out_dir/events``."""
    import pyarrow as pa
    from entroseg._resume import write_atomically
    from entroseg.arrow import open_stream, resume_position, segment_stream

    killer = _arm(kill_at)
    out = Path(out_dir)
    out.mkdir(exist_ok=True)
    position = resume_position(checkpoint)
    kept = 0 if position is None else position.output_batches
    for f in out.glob("batch-*.arrow"):
        if int(f.stem.split("-")[1]) >= kept:
            f.unlink()
    reader = open_stream(source, batch_size=BATCH_ROWS)
    stream = segment_stream(
        reader,
        value_column="x",
        key_column="device",
        checkpoint=checkpoint,
        checkpoint_every=every,
        **SEGMENT_OPTIONS,
    )
    n = kept
    for batch in stream:  # (a kill here leaves the batch uncommitted)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, batch.schema) as writer:
            writer.write_batch(batch)
        write_atomically(out / f"batch-{n:08d}.arrow", sink.getvalue().to_pybytes())
        n += 1
        killer.event()
    (out / "events").write_text(str(killer.events))


def cli_run(argv: list[str], kill_at: int | None) -> None:
    """``entroseg.cli.main(argv)`` with the kill armed; exits with its exit code."""
    from entroseg import cli

    _arm(kill_at)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)  # the summary is not what these tests read
    sys.exit(cli.main(argv))


#: Rows per input batch of the Arrow step's runs.
BATCH_ROWS = 300


def crashing_actor(markers: list[str], crash_at: list[int], method: str = "push") -> type:
    """A :class:`entroseg.ray._StreamActor` whose process exits (as if killed) at its
    ``crash_at[i]``-th call of ``method`` (``"push"``, ``"snapshot"`` or ``"finish"``)
    while the file ``markers[i]`` exists (removed first, so each crash happens once; a
    restarted actor counts its calls from 0 again)."""
    from entroseg.ray import _StreamActor

    class CrashingActor(_StreamActor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.calls = 0

        def _maybe_crash(self) -> None:
            self.calls += 1
            for marker, at in zip(markers, crash_at, strict=True):
                if self.calls == at and os.path.exists(marker):
                    os.remove(marker)
                    os._exit(1)

        def push(self, keys: list[object], values: list[Any]) -> Any:
            if method == "push":
                self._maybe_crash()
            return super().push(keys, values)

        def snapshot(self) -> Any:
            if method == "snapshot":
                self._maybe_crash()
            return super().snapshot()

        def finish(self) -> Any:
            if method == "finish":
                self._maybe_crash()
            return super().finish()

    return CrashingActor
