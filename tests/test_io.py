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
