"""Exactly-once resume of the keyed Arrow steps: checkpoint files and the input position.

A keyed step (:func:`entroseg.arrow.segment_stream` and its siblings) given
``checkpoint=PATH`` writes, every ``checkpoint_every`` input batches, one file holding
every key's state (the checkpoint bytes of its :class:`entroseg.Segmenter`, profiler,
planner or detector, so estimator, rule engine and online calibration alike) and the
position of the stream: input rows and batches consumed, a SHA-256 of the values
consumed, and output rows and batches emitted. Restarted with the same arguments and
the same path, the step restores the states, skips the input already consumed (checking
its row count and digest) and emits exactly the rows that follow the checkpoint's
``output_rows``.

File layout (version 1), all integers little-endian::

    offset  size  field
    0       16    magic b"entroseg-resume\\n"
    16      4     version (uint32, 1)
    20      8     payload length in bytes (uint64)
    28      32    SHA-256 of the payload
    60      ...   payload: an Arrow IPC stream of one table, columns ``key`` (the key
                  column's type; null without a key column) and ``state`` (large
                  binary: the key's checkpoint bytes), in the order the keys first
                  appeared; its schema metadata ``entroseg.resume`` holds JSON with
                  the run's ``fingerprint`` and ``position``.

A checkpoint is written to a temporary file in the same directory, flushed, fsynced and
renamed over ``PATH`` (then the directory is fsynced), so ``PATH`` always holds a whole
checkpoint: the last one or the one before. A torn or altered file fails the length or
digest check and raises :class:`entroseg.CheckpointError` naming it; a checkpoint of a
run with other arguments raises :class:`CheckpointMismatchError` naming what differs.
Nothing is ever resumed silently wrong. The payload is Arrow data and JSON, never pickle:
reading a checkpoint runs no code from it.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from entroseg._entroseg import CheckpointError, InvalidParameterError

__all__ = ["CheckpointMismatchError", "ResumePosition", "read_position"]

MAGIC = b"entroseg-resume\n"
VERSION = 1
_HEADER = struct.Struct("<16sIQ32s")
_METADATA_KEY = b"entroseg.resume"


class CheckpointMismatchError(CheckpointError):
    """A checkpoint belongs to a run with other arguments or another input; its message
    names the file and each difference (a :class:`entroseg.CheckpointError`, so a
    ``ValueError``)."""


@dataclass(frozen=True)
class ResumePosition:
    """Where a checkpointed stream stands.

    Attributes
    ----------
    input_rows, input_batches
        Input consumed (the rows a resumed run skips).
    output_rows, output_batches
        Output emitted before the checkpoint: a consumer that resumes keeps exactly the
        first ``output_rows`` rows it wrote and drops the rest (they are emitted again).
    checkpoints
        How many checkpoints the run has written, this one included (1, 2, ...).
    finished
        True when the stream ended: every row is in the first ``output_rows``.
    input_sha256
        SHA-256 of the values of the first ``input_rows`` rows, checked on resume.
    """

    input_rows: int = 0
    input_batches: int = 0
    output_rows: int = 0
    output_batches: int = 0
    checkpoints: int = 0
    finished: bool = False
    input_sha256: str = hashlib.sha256().hexdigest()


def _normalise(value: Any) -> Any:
    """JSON-shaped values (tuples as lists, numpy scalars as numbers, others as repr),
    so that a fingerprint compares equal to itself after a round trip through JSON."""
    return json.loads(json.dumps(value, sort_keys=True, default=repr))


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse directory fsync
        pass
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes) -> None:
    """``path`` holds ``data`` or what it held before, never a mix: write a temporary
    file beside it, fsync, rename over it, fsync the directory."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_directory(path.parent)


def commit_file(written: Path, path: Path) -> None:
    """Makes the complete file ``written`` (beside ``path``) durable and renames it over
    ``path``: readers see the old file or the new one, never part of it."""
    with open(written, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(written, path)
    _fsync_directory(path.parent)


def _encode(
    fingerprint: dict[str, Any], position: ResumePosition, keys: Any, states: list[bytes]
) -> bytes:
    import pyarrow as pa

    meta = json.dumps({"fingerprint": fingerprint, "position": asdict(position)}, sort_keys=True)
    table = pa.table(
        {"key": keys, "state": pa.array(states, pa.large_binary())},
        metadata={_METADATA_KEY: meta.encode()},
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    payload: bytes = sink.getvalue().to_pybytes()
    digest = hashlib.sha256(payload).digest()
    return _HEADER.pack(MAGIC, VERSION, len(payload), digest) + payload


@dataclass
class Checkpoint:
    """A checkpoint file read back: what :func:`read_checkpoint` returns."""

    path: Path
    fingerprint: dict[str, Any]
    position: ResumePosition
    keys: Any  # a pyarrow Array
    states: list[bytes]


def read_checkpoint(path: str | os.PathLike[str]) -> Checkpoint | None:
    """The checkpoint at ``path``, or None when there is no file.

    Raises
    ------
    CheckpointError
        When the file is not a checkpoint, is of another version, is truncated or its
        payload does not match its SHA-256 (the message names the file).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    where = f"checkpoint {str(path)!r}"
    if len(data) < _HEADER.size:
        raise CheckpointError(
            f"{where} is truncated: {len(data)} bytes, shorter than its {_HEADER.size}-byte "
            "header; delete it to start again from the first row"
        )
    magic, version, length, digest = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise CheckpointError(f"{where} is not an entroseg resume checkpoint (magic {magic!r})")
    if version != VERSION:
        raise CheckpointError(
            f"{where} has format version {version}; this entroseg reads version {VERSION}"
        )
    payload = data[_HEADER.size :]
    if len(payload) != length:
        raise CheckpointError(
            f"{where} is truncated or torn: its header announces {length} payload bytes, "
            f"the file holds {len(payload)}"
        )
    if hashlib.sha256(payload).digest() != digest:
        raise CheckpointError(
            f"{where} is corrupt: the SHA-256 of its {length}-byte payload does not match "
            "its header"
        )
    import pyarrow as pa

    try:
        table = pa.ipc.open_stream(pa.py_buffer(payload)).read_all()
        meta = json.loads(table.schema.metadata[_METADATA_KEY])
        position = ResumePosition(**meta["position"])
        states = table.column("state").to_pylist()
        keys = table.column("key").combine_chunks()
    except (pa.ArrowInvalid, KeyError, TypeError, ValueError) as exc:  # pragma: no cover
        # Only reachable with a payload whose SHA-256 was recomputed after altering it.
        raise CheckpointError(
            f"{where} has a valid digest but an unreadable payload: {exc}"
        ) from None
    return Checkpoint(path, meta["fingerprint"], position, keys, states)


def read_position(path: str | os.PathLike[str]) -> ResumePosition | None:
    """Where the checkpoint at ``path`` stands (None when there is none); see
    :func:`entroseg.arrow.resume_position`."""
    saved = read_checkpoint(path)
    return None if saved is None else saved.position


def check_fingerprint(path: Path, saved: dict[str, Any], current: dict[str, Any]) -> None:
    """Raises :class:`CheckpointMismatchError` naming every argument that differs."""
    if saved == current:
        return
    diffs = []
    for name in sorted(saved.keys() | current.keys()):
        a, b = saved.get(name, "<absent>"), current.get(name, "<absent>")
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            for option in sorted(a.keys() | b.keys()):
                if a.get(option, "<absent>") != b.get(option, "<absent>"):
                    diffs.append(
                        f"{name} {option}: checkpoint has {a.get(option, '<absent>')!r}, "
                        f"this run {b.get(option, '<absent>')!r}"
                    )
        else:
            diffs.append(f"{name}: checkpoint has {a!r}, this run {b!r}")
    raise CheckpointMismatchError(
        f"checkpoint {str(path)!r} was written by a run with other arguments ("
        + "; ".join(diffs)
        + "): rerun with the same arguments, or delete it to start again from the first row"
    )


def check_every(checkpoint: Any, every: Any) -> int:
    """``every`` (input batches between checkpoints) when it is an int >= 1, and
    ``checkpoint`` a path or None; otherwise a typed error naming the value."""
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise InvalidParameterError(
            f"checkpoint_every must be an int >= 1 (input batches), got {every!r}"
        )
    if checkpoint is not None and not isinstance(checkpoint, str | os.PathLike):
        raise TypeError(f"checkpoint must be a file path, got {type(checkpoint).__name__}")
    return every


class Resumer:
    """The checkpointing of one run of a keyed step.

    The step reads its input through :meth:`input` (which skips what a checkpoint
    consumed), builds its states from :meth:`restore`, calls :meth:`emitted` for each
    output batch it is about to yield, :meth:`after_batch` once the output of an input
    batch has been taken by the consumer (so after the ``yield``: the consumer has then
    received every batch counted), and :meth:`finish` after the last output batch.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        every: int,
        fingerprint: dict[str, Any],
        on_checkpoint: Callable[[ResumePosition], None] | None,
        key_type: Any,
    ) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise FileNotFoundError(
                f"checkpoint {str(self.path)!r}: its directory {str(self.path.parent)!r} does "
                "not exist"
            )
        self.key_type = key_type  # the key column's Arrow type in the output; None: no key
        self.every = every
        self.fingerprint = _normalise(fingerprint)
        self.on_checkpoint = on_checkpoint
        self.saved = read_checkpoint(self.path)
        if self.saved is not None:
            check_fingerprint(self.path, self.saved.fingerprint, self.fingerprint)
        self.position = ResumePosition() if self.saved is None else self.saved.position
        self._digest = hashlib.sha256()
        self._since = 0

    @property
    def finished(self) -> bool:
        """True when the checkpoint says the stream already ended: nothing to emit."""
        return self.position.finished

    def restore(self, router: Any, rebuild: Callable[[bytes], Any]) -> dict[Any, Any]:
        """The per-key states of the checkpoint (in the order keys first appeared), the
        router told each key's Arrow value."""
        states: dict[Any, Any] = {}
        if self.saved is None:
            return states
        keys = self.saved.keys
        for i, blob in enumerate(self.saved.states):
            key = keys[i].as_py()
            if router.key_index is not None:
                router.key_rows[key] = keys.slice(i, 1)
            states[key] = rebuild(blob)
        return states

    def input(self, reader: Any, digest_of: Callable[[Any], bytes]) -> Iterator[Any]:
        """The reader's batches after the checkpoint's input position; the skipped rows
        are checked against the checkpoint (count and digest)."""
        skip = self.position.input_rows
        seen = 0
        batches = iter(reader)
        for batch in batches:
            if seen == skip:
                self._check_skipped(seen)
                self._consume(batch, digest_of)
                yield batch
                break
            n = batch.num_rows
            if seen + n <= skip:
                self._digest.update(digest_of(batch))
                seen += n
                continue
            # The run that wrote the checkpoint cut its batches elsewhere: split this one.
            take = skip - seen
            self._digest.update(digest_of(batch.slice(0, take)))
            seen = skip
            self._check_skipped(seen)
            rest = batch.slice(take)
            self._consume(rest, digest_of)
            yield rest
            break
        else:
            self._check_skipped(seen)
            return
        for batch in batches:
            self._consume(batch, digest_of)
            yield batch

    def _check_skipped(self, seen: int) -> None:
        skip = self.position.input_rows
        if seen != skip:
            raise CheckpointMismatchError(
                f"checkpoint {str(self.path)!r} consumed {skip:,} input rows but the input "
                f"holds only {seen:,}: it was written for another input"
            )
        if self._digest.hexdigest() != self.position.input_sha256:
            raise CheckpointMismatchError(
                f"checkpoint {str(self.path)!r}: the first {skip:,} input rows differ from "
                "those the checkpointed run consumed (SHA-256 of their values): it was "
                "written for another input"
            )

    def _consume(self, batch: Any, digest_of: Callable[[Any], bytes]) -> None:
        self._digest.update(digest_of(batch))
        self.position = replace(
            self.position,
            input_rows=self.position.input_rows + batch.num_rows,
            input_batches=self.position.input_batches + 1,
        )

    def emitted(self, batch: Any) -> Any:
        """Counts an output batch (returns it)."""
        self.position = replace(
            self.position,
            output_rows=self.position.output_rows + batch.num_rows,
            output_batches=self.position.output_batches + 1,
        )
        return batch

    def after_batch(
        self, router: Any, states: dict[Any, Any], state_of: Callable[[Any], bytes]
    ) -> None:
        """Writes a checkpoint every ``every`` input batches."""
        self._since += 1
        if self._since < self.every:
            return
        self._since = 0
        import pyarrow as pa

        keys = list(states)
        if router.key_index is None:
            key_array = pa.nulls(len(keys))
        elif keys:
            key_array = pa.concat_arrays([router.key_rows[k] for k in keys])
        else:
            key_array = pa.array([], self.key_type)
        self._write(key_array, [state_of(states[k]) for k in keys], finished=False)

    def finish(self) -> None:
        """Writes the final checkpoint: the stream ended, every row is emitted."""
        import pyarrow as pa

        key_type = pa.null() if self.key_type is None else self.key_type
        self._write(pa.array([], key_type), [], finished=True)

    def _write(self, keys: Any, states: list[bytes], *, finished: bool) -> None:
        position = replace(
            self.position,
            checkpoints=self.position.checkpoints + 1,
            finished=finished,
            input_sha256=self._digest.hexdigest(),
        )
        if self.on_checkpoint is not None:
            self.on_checkpoint(position)
        write_atomically(self.path, _encode(self.fingerprint, position, keys, states))
        self.position = position
