"""Exactly-once resume of the keyed Arrow steps and of ``entroseg segment --checkpoint``.

The kill tests run a multi-key Parquet ingest (6 devices interleaved at random, 200 to
240 input batches) in real child processes and SIGKILL them: at a random *event* (an
output batch committed, or the rename that commits a part file, a checkpoint or the
output; see ``_resume_children``), after a random time, or (the real ``python -m
entroseg`` command, killed from outside) a random delay after a random checkpoint. Each
chain kills and resumes one run several times, then lets it finish; the output must
equal, byte for byte, that of an uninterrupted run (for the CLI, of a run without
--checkpoint). The children fork from a forkserver that has imported pyarrow and
entroseg once, so a run costs its work, not an interpreter start. In all, the chains
kill more than 50 runs (``test_enough_kill_points``).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import _resume_children as children
import entroseg
import numpy as np
import pytest
from entroseg import cli
from hypothesis import example, given, settings
from hypothesis import strategies as st

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
from entroseg.arrow import (  # noqa: E402
    CheckpointMismatchError,
    change_point_stream,
    merge_stream,
    profile_stream,
    resume_position,
    segment_stream,
)

KEYS = ["dev-a", "dev-b", "dev-c", "dev-d", "dev-e", "dev-f"]
ROWS = 60_000  # 200 input batches of children.BATCH_ROWS rows
SEGMENT = children.SEGMENT_OPTIONS

#: Short series miss the online target; the warning is tested in test_calibration.py.
pytestmark = pytest.mark.filterwarnings("ignore:target_len=.* missed:UserWarning")


def keyed_table(rows: int, keys: list[str], seed: int) -> Any:
    """Rows of several devices interleaved at random; each device's series changes
    regime (random walk, noise, sine) every few thousand of its rows."""
    rng = np.random.default_rng(seed)
    owner = rng.integers(0, len(keys), rows)
    x = np.empty(rows)
    for i in range(len(keys)):
        mine = np.flatnonzero(owner == i)
        t = np.arange(len(mine))
        regime = (t // 1500 + i) % 3
        walk = np.cumsum(rng.standard_normal(len(mine)))
        x[mine] = np.where(
            regime == 0,
            walk,
            np.where(regime == 1, rng.standard_normal(len(mine)), np.sin(t / 3.0)),
        )
    return pa.table({"device": pa.array([keys[i] for i in owner]), "x": x})


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("resume") / "readings.parquet"
    pq.write_table(keyed_table(ROWS, KEYS, 0), path, row_group_size=5000)
    return path


@pytest.fixture(scope="module")
def forkserver() -> Any:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(
        [
            "pyarrow",
            "pyarrow.parquet",
            "entroseg",
            "entroseg.arrow",
            "entroseg.cli",
            "_resume_children",
        ]
    )
    return ctx


def run_child(
    ctx: Any, target: Callable[..., Any], args: tuple[Any, ...], after: float | None = None
) -> int:
    """Runs ``target(*args)`` in a child; ``after``: SIGKILL it after that many seconds.
    Returns the exit code (-9 when killed)."""
    proc = ctx.Process(target=target, args=args)
    proc.start()
    if after is not None:
        proc.join(after)
        if proc.exitcode is None:
            os.kill(proc.pid, signal.SIGKILL)
    proc.join(60)
    assert proc.exitcode is not None, "a child hung"
    return int(proc.exitcode)


def kill_chain(
    run: Callable[[int | None, float | None], int],
    draw: Callable[[], tuple[int | None, float | None]],
    kills: int,
) -> int:
    """Runs, killing each run at ``draw()`` (an event or a time), until ``kills`` runs
    died or one finished; then runs to the end. Returns the number of runs killed."""
    killed = 0
    while killed < kills:
        code = run(*draw())
        if code == -signal.SIGKILL:
            killed += 1
            continue
        assert code == 0, f"a run failed with exit code {code}"
        break
    else:
        assert run(None, None) == 0
    print(f"killed {killed} runs")
    return killed


#: Runs killed by each chain of this module (test_enough_kill_points checks the total).
KILLS: list[int] = []


def remaining(checkpoint: Path) -> float:
    """The share of the input a resumed run still has to read (1 before the first
    checkpoint), so that kill points are drawn where the run still is."""
    position = resume_position(checkpoint)
    return 1.0 if position is None else 1.0 - position.input_rows / ROWS


def table_bytes(table: Any) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return bytes(sink.getvalue().to_pybytes())


def read_batches(out: Path) -> Any:
    files = sorted(out.glob("batch-*.arrow"))
    return pa.concat_tables([pa.ipc.open_file(f).read_all() for f in files])


# ---- the Arrow step, killed ---------------------------------------------------------


@pytest.fixture(scope="module")
def arrow_reference(
    source: Path, forkserver: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[bytes, int, float]:
    """The uninterrupted checkpointed run: its output, its event count and its time."""
    out = tmp_path_factory.mktemp("arrow-reference")
    start = time.perf_counter()
    args = (str(source), str(out / "batches"), str(out / "run.ckpt"), 3, None)
    assert run_child(forkserver, children.arrow_run, args) == 0
    seconds = time.perf_counter() - start
    table = read_batches(out / "batches")
    # The same rows as a run without checkpoints, in the same batches.
    plain = segment_stream(
        entroseg.arrow.open_stream(source, batch_size=children.BATCH_ROWS),
        value_column="x",
        key_column="device",
        **SEGMENT,
    ).read_all()
    assert table.equals(plain)
    assert len(table) > 2000
    assert resume_position(out / "run.ckpt").finished  # type: ignore[union-attr]
    return table_bytes(table), int((out / "batches" / "events").read_text()), seconds


@pytest.mark.parametrize("chain", range(5))
def test_arrow_step_killed_at_random_points_resumes_exactly(
    chain: int,
    source: Path,
    forkserver: Any,
    arrow_reference: tuple[bytes, int, float],
    tmp_path: Path,
) -> None:
    want, events, seconds = arrow_reference
    rng = np.random.default_rng(100 + chain)
    every = int(rng.integers(1, 6))
    args = (str(source), str(tmp_path / "batches"), str(tmp_path / "run.ckpt"), every)

    def run(kill_at: int | None, after: float | None) -> int:
        return run_child(forkserver, children.arrow_run, (*args, kill_at), after)

    def draw() -> tuple[int | None, float | None]:
        left = remaining(tmp_path / "run.ckpt")
        if rng.random() < 0.75:  # a deterministic point: any commit or rename
            return int(rng.integers(1, max(2, int(events * left)) + 1)), None
        return None, float(rng.uniform(0.0, seconds * left))  # a truly timed kill

    KILLS.append(kill_chain(run, draw, kills=8))
    assert table_bytes(read_batches(tmp_path / "batches")) == want


# ---- the CLI, killed ----------------------------------------------------------------


def cli_argv(source: Path, out: Path, checkpoint: Path | None, every: int = 2) -> list[str]:
    argv = [
        "segment",
        str(source),
        "--key",
        "device",
        "--column",
        "x",
        "--quiet",
        "--method",
        "permutation",
        "--order",
        "3",
        "--window",
        "24",
        "--target-len",
        "16",
        "--max-len",
        "80",
        "--batch-size",
        "250",
        "-o",
        str(out),
    ]
    if checkpoint is not None:
        argv += ["--checkpoint", str(checkpoint), "--checkpoint-every", str(every)]
    return argv


@pytest.fixture(scope="module", params=[".parquet", ".csv"])
def cli_reference(
    request: pytest.FixtureRequest,
    source: Path,
    forkserver: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[str, bytes, float]:
    """The output of an uninterrupted run without --checkpoint, and the time of one
    with it."""
    suffix: str = request.param
    tmp = tmp_path_factory.mktemp("cli-reference")
    plain = tmp / f"plain{suffix}"
    assert run_child(forkserver, children.cli_run, (cli_argv(source, plain, None), None)) == 0
    start = time.perf_counter()
    argv = cli_argv(source, tmp / f"checked{suffix}", tmp / "run.ckpt")
    assert run_child(forkserver, children.cli_run, (argv, None)) == 0
    seconds = time.perf_counter() - start
    assert (tmp / f"checked{suffix}").read_bytes() == plain.read_bytes()
    assert not (tmp / "run.ckpt").exists() and not (tmp / "run.ckpt.parts").exists()
    return suffix, plain.read_bytes(), seconds


@pytest.mark.parametrize("chain", range(2))
def test_cli_killed_at_random_points_resumes_exactly(
    chain: int,
    source: Path,
    forkserver: Any,
    cli_reference: tuple[str, bytes, float],
    tmp_path: Path,
) -> None:
    suffix, want, seconds = cli_reference
    rng = np.random.default_rng(200 + chain + len(suffix))
    every = int(rng.integers(1, 5))
    out, checkpoint = tmp_path / f"segments{suffix}", tmp_path / "run.ckpt"
    argv = cli_argv(source, out, checkpoint, every)
    # A part file and a checkpoint per checkpoint, and the output file at the end.
    renames = 2 * (ROWS // 250 // every + 1) + 1

    def run(kill_at: int | None, after: float | None) -> int:
        return run_child(forkserver, children.cli_run, (argv, kill_at), after)

    # First the last renames of a whole run: chain 0 dies as it renames its output
    # into place, and again as the rerun (from the finished checkpoint) does; chain 1
    # as it renames its final checkpoint.
    forced = [[renames, 1], [renames - 1]][chain]

    def draw() -> tuple[int | None, float | None]:
        if forced:
            return forced.pop(0), None
        left = remaining(checkpoint)
        if rng.random() < 0.7:
            return int(rng.integers(1, max(2, int(renames * left)) + 1)), None
        return None, float(rng.uniform(0.0, seconds * left))

    KILLS.append(kill_chain(run, draw, kills=6))
    assert out.read_bytes() == want
    assert not checkpoint.exists()


def test_cli_profile_killed_at_random_points_resumes_exactly(
    source: Path, forkserver: Any, tmp_path: Path
) -> None:
    """``entroseg profile --key`` (a profile per input row, Parquet written batch by
    batch) with --checkpoint: killed and resumed, its file equals a run without it."""
    argv = [
        "profile",
        str(source),
        "--key",
        "device",
        "--column",
        "x",
        "--quiet",
        "--order",
        "3",
        "--window",
        "32",
        "--batch-size",
        "600",
    ]
    want = tmp_path / "plain.parquet"
    assert run_child(forkserver, children.cli_run, ([*argv, "-o", str(want)], None)) == 0
    out, checkpoint = tmp_path / "profile.parquet", tmp_path / "run.ckpt"
    argv += ["-o", str(out), "--checkpoint", str(checkpoint), "--checkpoint-every", "3"]
    renames = 2 * (ROWS // 600 // 3 + 1) + 1
    rng = np.random.default_rng(5)

    def run(kill_at: int | None, after: float | None) -> int:
        return run_child(forkserver, children.cli_run, (argv, kill_at), after)

    def draw() -> tuple[int | None, float | None]:
        return int(rng.integers(1, max(2, int(renames * remaining(checkpoint))) + 1)), None

    KILLS.append(kill_chain(run, draw, kills=4))
    assert out.read_bytes() == want.read_bytes()
    assert not checkpoint.exists()


def test_the_entroseg_command_killed_from_outside_resumes_exactly(
    source: Path, cli_reference: tuple[str, bytes, float], tmp_path: Path
) -> None:
    """The real command, ``python -m entroseg segment``, killed from outside: once its
    checkpoint count reaches a random target, after a random delay of up to 20 ms (so
    anywhere in the work between two checkpoints, or in a write)."""
    suffix, want, _ = cli_reference
    out, checkpoint = tmp_path / f"segments{suffix}", tmp_path / "run.ckpt"
    command = [sys.executable, "-m", "entroseg", *cli_argv(source, out, checkpoint, 4)]
    checkpoints = ROWS // 250 // 4 + 1
    rng = np.random.default_rng(7 + len(suffix))

    def done() -> int:
        position = resume_position(checkpoint)
        return 0 if position is None else position.checkpoints

    def run(target: int | None, _: float | None) -> int:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while proc.poll() is None:
            if target is not None and done() >= target:
                time.sleep(float(rng.uniform(0.0, 0.02)))
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        code = proc.wait(60)
        assert proc.stderr is not None
        assert code in (0, -signal.SIGKILL), proc.stderr.read().decode()
        proc.stderr.close()
        return code

    def draw() -> tuple[int | None, float | None]:
        return done() + int(rng.integers(1, max(2, checkpoints - done()))), None

    KILLS.append(kill_chain(run, draw, kills=3))
    assert out.read_bytes() == want


def test_enough_kill_points() -> None:
    """The chains above, when they all ran, killed at least 50 runs in total."""
    if len(KILLS) < 5 + 4 + 1 + 2:
        pytest.skip("only some of the kill chains ran")
    assert sum(KILLS) >= 50, KILLS


# ---- in process: any checkpoint, any stop -------------------------------------------

SMALL = keyed_table(3000, ["a", "b", "c"], 1)


def consume(stream: Any, sink: list[Any], stop_after: int | None) -> None:
    """Reads ``stream`` into ``sink``, abandoning it after ``stop_after`` batches (as a
    consumer that dies: the generator never resumes, no later checkpoint is written)."""
    for i, batch in enumerate(stream):
        if i == stop_after:
            return
        sink.append(batch)


def interrupted_then_resumed(
    make: Callable[..., Any], checkpoint: Path, every: int, stop_after: int
) -> Any:
    sink: list[Any] = []
    first = make(checkpoint=checkpoint, checkpoint_every=every)
    consume(first, sink, stop_after)
    schema = first.schema
    del first
    position = resume_position(checkpoint)
    kept = 0 if position is None else position.output_rows
    table = pa.Table.from_batches(sink, schema).slice(0, kept)
    rest = make(checkpoint=checkpoint, checkpoint_every=every).read_all()
    return pa.concat_tables([table, rest])


@settings(max_examples=20)
@given(
    batch_rows=st.integers(40, 700),
    every=st.integers(1, 4),
    stop_after=st.integers(0, 60),
)
@example(batch_rows=3000, every=1, stop_after=0)  # one batch, killed before its output
@example(batch_rows=40, every=1, stop_after=7)  # many small batches
def test_resume_at_any_batch_boundary_equals_one_run(
    batch_rows: int, every: int, stop_after: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    def make(**resume: Any) -> Any:
        return segment_stream(
            SMALL.to_reader(max_chunksize=batch_rows),
            value_column="x",
            key_column="device",
            **SEGMENT,
            **resume,
        )

    checkpoint = tmp_path_factory.mktemp("hyp") / "run.ckpt"
    # No process dies here, so fsync (about 10 ms a call on this disk) proves nothing.
    with mock.patch.object(os, "fsync", lambda fd: None):
        got = interrupted_then_resumed(make, checkpoint, every, stop_after)
    assert got.equals(make().read_all())


def merge_options() -> dict[str, Any]:
    return {"block": 8, "ratio": 0.5, "levels": 2, "window": 4}


STEPS: dict[str, Callable[..., Any]] = {
    "segment_merge": lambda src, **kw: segment_stream(
        src, value_column="x", key_column="device", merge=merge_options(), **SEGMENT, **kw
    ),
    "profile": lambda src, **kw: profile_stream(
        src, value_column="x", key_column="device", order=3, window=16, **kw
    ),
    "merge": lambda src, **kw: merge_stream(
        src, key_column="device", profile_column="x", **merge_options(), **kw
    ),
    "change_points": lambda src, **kw: change_point_stream(
        src, value_column="x", key_column="device", window=256, **kw
    ),
    "no_key": lambda src, **kw: segment_stream(src, value_column="x", **SEGMENT, **kw),
}


@pytest.mark.parametrize("step", sorted(STEPS))
@pytest.mark.parametrize("stop_after", [0, 3, 9, 1000])
def test_every_keyed_step_resumes_exactly(step: str, stop_after: int, tmp_path: Path) -> None:
    table = keyed_table(12_000, ["a", "b", "c"], 3)

    def make(**resume: Any) -> Any:
        return STEPS[step](table.to_reader(max_chunksize=500), **resume)

    got = interrupted_then_resumed(make, tmp_path / "run.ckpt", 2, stop_after)
    want = make().read_all()
    assert len(want) > 0
    assert got.equals(want)


@pytest.mark.parametrize("kind", ["int64", "dictionary_with_nulls", "large_string", "date"])
def test_keys_of_any_type_come_back_from_a_checkpoint(kind: str, tmp_path: Path) -> None:
    """The checkpoint stores the keys as Arrow data of the key column's type (a null key
    is a key of its own), so the resumed rows carry exactly the keys of one run."""
    codes = pa.compute.index_in(SMALL["device"], value_set=pa.array(["a", "b", "c"]))
    keys = {
        "int64": codes.cast(pa.int64()),
        "dictionary_with_nulls": pa.DictionaryArray.from_arrays(
            pa.array(codes.to_numpy(), pa.int32(), mask=codes.to_numpy() == 1),
            pa.array(["x", "y", "z"]),
        ),
        "large_string": SMALL["device"].cast(pa.large_string()),
        "date": codes.cast(pa.int32()).cast(pa.date32()),
    }[kind]
    table = pa.table({"device": keys, "x": SMALL["x"]})

    def make(**resume: Any) -> Any:
        return segment_stream(
            table.to_reader(max_chunksize=250),
            value_column="x",
            key_column="device",
            **SEGMENT,
            **resume,
        )

    got = interrupted_then_resumed(make, tmp_path / "run.ckpt", 2, 5)
    assert got.equals(make().read_all())


def test_resume_with_other_batches_gives_each_key_the_same_rows(tmp_path: Path) -> None:
    """A checkpoint counts rows, not batches: a resumed run that cuts its input elsewhere
    skips exactly the rows consumed (splitting a batch) and continues each key."""
    checkpoint = tmp_path / "run.ckpt"
    sink: list[Any] = []
    consume(
        segment_stream(
            SMALL.to_reader(max_chunksize=170),
            value_column="x",
            key_column="device",
            checkpoint=checkpoint,
            checkpoint_every=3,
            **SEGMENT,
        ),
        sink,
        8,
    )
    kept = pa.Table.from_batches(sink).slice(0, resume_position(checkpoint).output_rows)  # type: ignore[union-attr]
    rest = segment_stream(
        SMALL.to_reader(max_chunksize=400),
        value_column="x",
        key_column="device",
        checkpoint=checkpoint,
        **SEGMENT,
    ).read_all()
    got = pa.concat_tables([kept, rest])
    for key in ["a", "b", "c"]:
        x = SMALL.filter(pa.compute.equal(SMALL["device"], key))["x"].to_numpy()
        rows = got.filter(pa.compute.equal(got["device"], key))
        assert rows["start"].to_pylist() == entroseg.segment(x, **SEGMENT).starts.tolist()


# ---- what a resume refuses ----------------------------------------------------------


@pytest.fixture
def checkpoint(tmp_path: Path) -> Iterator[Path]:
    """A checkpoint of a run abandoned after 5 batches (2 checkpoints written)."""
    path = tmp_path / "run.ckpt"
    consume(
        segment_stream(
            SMALL.to_reader(max_chunksize=300),
            value_column="x",
            key_column="device",
            checkpoint=path,
            checkpoint_every=2,
            **SEGMENT,
        ),
        [],
        5,
    )
    assert resume_position(path).checkpoints == 2  # type: ignore[union-attr]
    yield path


def resume(path: Path, **options: Any) -> Any:
    opts = {**SEGMENT, **options}
    return segment_stream(
        SMALL.to_reader(max_chunksize=300),
        value_column="x",
        key_column="device",
        checkpoint=path,
        checkpoint_every=2,
        **opts,
    )


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[: len(b) // 2], "is truncated or torn: its header announces"),
        (lambda b: b[:30], "is truncated: 30 bytes, shorter than its 60-byte header"),
        (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "is corrupt: the SHA-256 of its"),
        (lambda b: b[:100] + bytes([b[100] ^ 0x40]) + b[101:], "is corrupt"),
        (lambda b: b"x" + b[1:], "is not an entroseg resume checkpoint"),
        (lambda b: b[:16] + (9).to_bytes(4, "little") + b[20:], "has format version 9"),
        (lambda b: b"", "is truncated: 0 bytes"),
    ],
)
def test_a_torn_or_corrupt_checkpoint_raises_naming_the_file(
    checkpoint: Path, damage: Callable[[bytes], bytes], message: str
) -> None:
    checkpoint.write_bytes(damage(checkpoint.read_bytes()))
    with pytest.raises(entroseg.CheckpointError, match=message) as info:
        resume(checkpoint)
    assert str(checkpoint) in str(info.value)
    assert not isinstance(info.value, CheckpointMismatchError)
    assert isinstance(info.value, ValueError)


def test_resume_with_other_arguments_names_what_differs(checkpoint: Path) -> None:
    with pytest.raises(
        CheckpointMismatchError, match=r"spec window: checkpoint has 24, this run 32"
    ):
        resume(checkpoint, window=32)
    with pytest.raises(
        CheckpointMismatchError, match=r"value_column: checkpoint has 'x', this run 'y'"
    ):
        segment_stream(
            SMALL.append_column("y", SMALL["x"]).to_reader(max_chunksize=300),
            value_column="y",
            key_column="device",
            checkpoint=checkpoint,
            **SEGMENT,
        ).read_all()
    with pytest.raises(
        CheckpointMismatchError,
        match=r"step: checkpoint has 'segment_stream', this run 'profile_stream'",
    ):
        profile_stream(
            SMALL, value_column="x", key_column="device", order=3, window=24, checkpoint=checkpoint
        )
    assert entroseg.arrow.CheckpointMismatchError is entroseg.CheckpointMismatchError


def test_resume_on_another_input_raises(checkpoint: Path) -> None:
    other = SMALL.set_column(1, "x", pa.array(SMALL["x"].to_numpy() + 1.0))
    stream = segment_stream(
        other.to_reader(max_chunksize=300),
        value_column="x",
        key_column="device",
        checkpoint=checkpoint,
        **SEGMENT,
    )
    with pytest.raises(CheckpointMismatchError, match=r"the first 1,200 input rows differ"):
        stream.read_all()
    short = segment_stream(
        SMALL.slice(0, 1000).to_reader(max_chunksize=300),
        value_column="x",
        key_column="device",
        checkpoint=checkpoint,
        **SEGMENT,
    )
    with pytest.raises(
        CheckpointMismatchError, match=r"consumed 1,200 input rows but the input holds only 1,000"
    ):
        short.read_all()


def test_checkpoint_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(
        entroseg.InvalidParameterError,
        match=r"checkpoint_every must be an int >= 1 \(input batches\), got 0",
    ):
        segment_stream(
            SMALL, value_column="x", checkpoint=tmp_path / "c", checkpoint_every=0, **SEGMENT
        )
    with pytest.raises(
        ValueError, match="on_checkpoint is called at checkpoints: give checkpoint="
    ):
        segment_stream(SMALL, value_column="x", on_checkpoint=print, **SEGMENT)
    with pytest.raises(FileNotFoundError, match=r"its directory .*nowhere' does not exist"):
        segment_stream(SMALL, value_column="x", checkpoint=tmp_path / "nowhere" / "c", **SEGMENT)
    with pytest.raises(TypeError, match="checkpoint must be a file path, got int"):
        segment_stream(SMALL, value_column="x", checkpoint=3, **SEGMENT)  # type: ignore[arg-type]


def test_a_finished_checkpoint_resumes_to_nothing(tmp_path: Path) -> None:
    path = tmp_path / "run.ckpt"
    whole = resume(path).read_all()
    position = resume_position(path)
    assert position is not None and position.finished and position.output_rows == len(whole)
    assert position.input_rows == len(SMALL)
    assert len(resume(path).read_all()) == 0
    assert resume_position(tmp_path / "absent") is None


def test_cli_refuses_a_corrupt_checkpoint_and_other_flags(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint = tmp_path / "run.ckpt"
    checkpoint.write_bytes(b"entroseg-resume\n" + bytes(10))
    assert cli.main(cli_argv(source, tmp_path / "o.parquet", checkpoint)) == 2
    err = capsys.readouterr().err
    assert f"checkpoint {str(checkpoint)!r} is truncated" in err
    assert cli.main(["segment", str(source), "--column", "x", "--checkpoint", "c"]) == 2
    assert "--checkpoint resumes the keyed streaming step: give --key" in capsys.readouterr().err
    assert cli.main(["segment", str(source), "--key", "device", "--checkpoint-every", "3"]) == 2
    assert "give --checkpoint" in capsys.readouterr().err
    assert cli.main(["segment", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--checkpoint PATH checkpoint file (resumed when present)" in help_text
    assert "--checkpoint-every N input batches between checkpoints" in help_text
