"""The architecture registry (baiseg/architectures.py): every entry resolves, and the layers dispatch through it."""

from __future__ import annotations

import inspect

import pytest

from baiseg.architectures import ARCHITECTURES, get_architecture, resolve
from baiseg.config import ModelConfig, load_config
from baiseg.engine.run_dir import METRIC_FIELDS
from baiseg.errors import BaisegError

TINY = ["model.backbone=test_efficientnet", "model.pretrained=false"]


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_every_entry_resolves(name):
    arch = get_architecture(name)
    assert arch.name == name
    assert callable(resolve(arch.builder))
    assert inspect.isclass(resolve(arch.task))
    segmenter = resolve(arch.segmenter)
    assert callable(getattr(segmenter, "from_loaded", None)) and segmenter.architecture is arch
    assert set(arch.metrics) <= set(METRIC_FIELDS)  # metrics.csv has a column for each


def test_config_accepts_exactly_the_registered_architectures():
    assert ModelConfig.ARCHS == tuple(ARCHITECTURES)
    with pytest.raises(BaisegError, match="model.arch"):
        get_architecture("yolo")


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_build_model_and_task_for_follow_the_registry(name):
    from baiseg.engine.tasks import task_for
    from baiseg.models import build_model

    cfg = load_config(None, [f"model.arch={name}", *TINY])
    arch = get_architecture(name)
    model = build_model(cfg.model, load_weights=False)
    for path in arch.components:  # the submodules 'baiseg info' counts exist
        obj = model
        for part in path.split("."):
            obj = getattr(obj, part)
    assert type(task_for(cfg)) is resolve(arch.task)
