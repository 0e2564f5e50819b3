"""Durable writes (olc._io) and the allocation guard (olc._validate.check_alloc)."""

import json
import os

import pytest

from olc._io import atomic_write_json, atomic_write_text
from olc._validate import available_memory, check_alloc
from olc.errors import OlcError, ResourceError


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "r.json"
    atomic_write_json(p, {"a": [1, 2]})
    atomic_write_json(p, {"a": [3]})
    assert json.loads(p.read_text()) == {"a": [3]}
    assert os.listdir(tmp_path) == ["r.json"]


def test_failed_write_keeps_the_previous_file(tmp_path):
    p = tmp_path / "r.json"
    atomic_write_text(p, "good")

    with pytest.raises(TypeError):            # not serialisable: nothing written
        atomic_write_json(p, {"x": object()})
    with pytest.raises(TypeError):
        atomic_write_text(p, 12345)             # the write itself fails midway (not a str)
    assert p.read_text() == "good"
    assert os.listdir(tmp_path) == ["r.json"]


def test_check_alloc_names_the_estimate_before_allocating(monkeypatch):
    assert check_alloc(1024, "x") == 1024
    with pytest.raises(ResourceError, match=r"GPC\(H=10\*\*6\).*909 TiB.*smaller H") as info:
        check_alloc(10 ** 15, "GPC(H=10**6)", "use a smaller H")
    assert isinstance(info.value, MemoryError) and isinstance(info.value, OlcError)
    monkeypatch.setenv("OLC_MEMORY_LIMIT", "1e6")
    assert available_memory() <= 10 ** 6
    with pytest.raises(ResourceError, match="977 KiB"):
        check_alloc(2e6, "buffer")


def test_atomic_bytes_and_clearing_what_interrupted_writes_left(tmp_path):
    from olc._io import atomic_write_bytes, remove_partial_writes

    atomic_write_bytes(tmp_path / "a.bin", b"\x00\x01")
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    for name in (".a.bin.x1.tmp", ".results.json.x2.tmp", ".keep.tmp", "b.tmp"):
        (tmp_path / name).write_text("half")
    assert remove_partial_writes(tmp_path, ["results.json"]) == [".results.json.x2.tmp"]
    assert sorted(remove_partial_writes(tmp_path)) == [".a.bin.x1.tmp", ".keep.tmp"]
    assert sorted(os.listdir(tmp_path)) == ["a.bin", "b.tmp"]
