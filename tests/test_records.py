"""senet_lib.records: the environment recorded with results, and the shipped results files."""

from __future__ import annotations

import json

import pytest
import torch

from senet_lib import __version__, records


def test_environment_names_versions_and_machine():
    env = records.environment()
    assert env["torch"] == torch.__version__ and env["senet_lib"] == __version__
    assert env["torch_threads"] == torch.get_num_threads() and env["cpu_count"] >= 1
    assert env["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert {"python", "torchvision", "timm", "numpy", "platform", "machine", "processor",
            "load_average_1_5_15_min", "cuda"} <= set(env)
    json.dumps(env)  # it goes into results files as it is


def test_every_shipped_results_file_loads_and_says_how_it_was_made():
    from importlib import resources

    names = sorted(p.name for p in (resources.files("senet_lib") / "results").iterdir()
                   if p.name.endswith(".json"))
    assert "bench_cpu.json" in names and "compare_photos.json" in names
    for name in names:
        res = records.load_results(name)
        assert isinstance(res, dict) and res["command"].startswith("python -m senet_lib."), name


@pytest.mark.parametrize("name,err,text", [
    ("../bench_cpu.json", ValueError, "file name ending in .json"),
    ("bench_cpu", ValueError, "file name ending in .json"),
    (None, ValueError, "got None"),
    ("nope.json", FileNotFoundError, "available: .*bench_cpu.json"),
])
def test_load_results_rejects_what_is_not_a_shipped_file(name, err, text):
    with pytest.raises(err, match=text):
        records.load_results(name)


def test_print_wrapped_keeps_lines_within_the_page(capsys):
    from torch import nn

    from senet_lib.notebook import PAGE_COLUMNS, print_wrapped

    layer = nn.Sequential(nn.BatchNorm2d(32), nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False))
    print_wrapped(layer)
    out = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in out) <= PAGE_COLUMNS < max(len(line) for line in str(layer).splitlines())
    assert " ".join(" ".join(out).split()) == " ".join(str(layer).split())  # nothing lost
    continued = [line for line in out if line.startswith("      ") and not line.strip().startswith("(")]
    assert continued  # a continuation is indented deeper than the line it continues
    print_wrapped("short", width=40)
    assert capsys.readouterr().out == "short\n"
    import pytest

    with pytest.raises(ValueError, match="width must be an int >= 20"):
        print_wrapped("x", width=5)
