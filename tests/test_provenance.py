"""olc.provenance: what produced a result (version, git commit of the checkout, time, libraries, host)."""

import dataclasses
import datetime
import os
import subprocess
import sys

import numpy
import scipy

import olc
from olc.provenance import git_info, provenance

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(olc.__file__)))


def _git(*args):
    return subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True, check=True).stdout.strip()


def test_provenance_names_versions_commit_time_and_config():
    @dataclasses.dataclass
    class Cfg:
        lr: float = 0.1
        seed: int = 7

    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    p = provenance(Cfg())
    stamp = datetime.datetime.fromisoformat(p["timestamp"])
    assert stamp.tzinfo is not None and before <= stamp <= datetime.datetime.now(datetime.timezone.utc)
    assert p["olc"] == olc.__version__ and p["numpy"] == numpy.__version__ and p["scipy"] == scipy.__version__
    assert p["python"] == ".".join(map(str, sys.version_info[:3])) and p["cpu_count"] == os.cpu_count()
    assert p["config"] == {"lr": 0.1, "seed": 7} and p["seed"] == 7
    assert provenance({"a": 1}, seed=3)["seed"] == 3 and provenance()["config"] is None
    if os.path.isdir(os.path.join(ROOT, ".git")) or os.path.isfile(os.path.join(ROOT, ".git")):
        assert p["git"]["commit"] == _git("rev-parse", "HEAD")
        assert p["git"]["dirty"] == bool(_git("status", "--porcelain", "--untracked-files=no"))
    else:
        assert git_info() is None


def test_torch_is_not_imported_for_provenance():
    code = "import sys, olc.provenance as p; r = p.provenance(); print('torch' in sys.modules, 'torch' in r)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}).stdout.split()
    assert out == ["False", "True"]
