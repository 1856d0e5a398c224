"""senet_lib.attention: chapter 7's report in one call, and the claims chapter 7 makes.

The parts are tested in test_gates.py (recording, measures), test_removal.py and
test_figures.py; here, the report on timm's SE-ResNet-50 (offline, random weights) and the
chapter's sentences about the shipped checkpoint.
"""

from __future__ import annotations

import math
from itertools import pairwise

import pytest
import torch
from gate_models import hook_count, random_images, small_se_resnet

from senet_lib.attention import AttentionReport, attention_report
from senet_lib.gates import group_by_stage, record_gates, saturation_by_block, specificity_by_block
from senet_lib.networks import timm_legacy_seresnet50
from senet_lib.photos import photo_views
from senet_lib.removal import removal_study


def test_report_on_a_small_model_matches_its_parts():
    model, x = small_se_resnet(), random_images()
    y = torch.arange(4).repeat_interleave(3)
    report = attention_report(model, x, y, agreement=False, batch_size=5)
    assert isinstance(report, AttentionReport) and report.last_stage == "layer3"
    gates = record_gates(model, x, batch_size=5)       # the same batches as the report's
    assert list(report.gates) == list(gates)
    assert report.specificity == specificity_by_block(gates, y)
    assert report.saturation == saturation_by_block(gates)
    shuffled = y[torch.randperm(12, generator=torch.Generator().manual_seed(0))]
    assert report.chance == specificity_by_block(gates, shuffled)
    assert report.removal == removal_study(model, x, y, ["layer3.0.se"], batch_size=5)
    assert hook_count(model) == 0
    with pytest.raises(ValueError, match="one label per row"):
        attention_report(model, x, y[:3])
    with pytest.raises(TypeError, match="agreement"):
        attention_report(model, x, y, agreement=1)


def test_timm_path_offline_with_pretrained_false():
    pytest.importorskip("timm")
    torch.manual_seed(0)
    model, info = timm_legacy_seresnet50(pretrained=False)
    assert len(info["class_names"]) == 1000 and len(info["mean"]) == 3
    imgs, labels = photo_views(["chelsea", "coffee"], per_photo=2, size=64, seed=0)
    from senet_lib.data import normalize

    report = attention_report(model, normalize(imgs, info["mean"], info["std"]), labels)
    assert len(report.gates) == 16 and report.last_stage == "layer4"
    assert report.gates["layer4.2.se_module"].shape == (4, 2048)
    assert set(report.specificity) == set(report.saturation) == set(report.gates)
    assert all(math.isfinite(v) for v in report.specificity.values())
    assert report.removal.names == ["layer4.0.se_module", "layer4.1.se_module", "layer4.2.se_module"]
    expected = sum(p.numel() for n in report.removal.names for p in model.get_submodule(n).parameters())
    assert report.removal.params_saved == expected
    assert report.removal.accuracy_full == 1.0        # agreement with itself
    assert hook_count(model) == 0


def test_timm_legacy_rejects_non_bool():
    with pytest.raises(TypeError, match="pretrained"):
        timm_legacy_seresnet50("yes")


# ---- the claims chapter 7 makes about the shipped checkpoint --------------------------------


def test_chapter7_claims_hold_for_the_shipped_checkpoint():
    """Chapter 7's prose describes the shipped SE-ResNet; if the checkpoint is retrained, this
    test says which sentence to re-read."""
    from senet_lib.data import normalize, photo_patches

    try:
        from senet_lib.checkpoints import load_trained

        model, meta = load_trained("se")
    except (ImportError, FileNotFoundError, RuntimeError) as e:
        pytest.skip(f"no shipped checkpoint: {e}")
    gen = meta["dataset"]["generator"]
    test = photo_patches("test", gen["per_class_test"], seed=gen["seed"])
    x, y = normalize(test.images, meta["mean"], meta["std"]), test.labels
    gates, logits = record_gates(model, x, return_logits=True)
    names = list(gates)
    spec = specificity_by_block(gates, y)
    shuffled = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(0))]
    chance = specificity_by_block(gates, shuffled)
    # "in every block the gates separate the photographs far better than shuffled labels"
    assert all(spec[n] > 3 * chance[n] for n in names), (spec, chance)
    # "the per-stage means do not rise steadily with depth, from block to block the specificity
    # goes up and down"
    stages = group_by_stage(names)
    by_stage = [sum(spec[n] for n in stages[s]) / len(stages[s]) for s in stages]
    assert by_stage != sorted(by_stage), by_stage
    assert any(spec[b] < spec[a] for a, b in pairwise(names)), spec
    # "none of our blocks saturates"
    assert all(h < 0.01 and lo < 0.01 for h, lo in saturation_by_block(gates).values())
    # "replacing one [last block] by the identity multiplies its channels by 1 where the block
    # multiplied them by about one half"
    assert 0.35 < float(gates[stages[list(stages)[-1]][-1]].mean()) < 0.65
    removal = {s: removal_study(model, x, y, stages[s], reference=(gates, logits)) for s in stages}
    *_earlier, last = removal.values()
    # (the removal verdicts are written by the chapter's code from these numbers)
    # "SE adds less than one percent ... the last stage holds most of SE's parameters"
    assert last.se_overhead_before < 0.01 and last.params_saved > 0.5 * last.se_params_full
