"""A 2-iteration training run saves the boundary maps of ``train.val_images`` fixed validation images at each
validation, sends validation scalars and images to TensorBoard when asked (a recording stand-in writer here), and
``baiseg report`` shows the run."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import pytest

from baiseg.config import ConfigError, load_config
from baiseg.engine import trainer
from baiseg.report import build_report
from tests.report.test_report_build import read_summary

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from engine_tiny_model import build_tiny  # noqa: E402

BASE = ["data.train=synthetic", "data.val=synthetic", "data.crop_size=64", "data.num_workers=0", "train.batch_size=2",
        "model.iabm_dim=8", "train.log_every=1", "train.device=cpu", "train.iters=2", "train.val_every=1",
        "train.val_max_images=1", "train.ckpt_every=2"]  # fmt: skip


class RecordingWriter:
    """Stands in for ``torch.utils.tensorboard.SummaryWriter``: records what is added."""

    def __init__(self) -> None:
        self.scalars: list[tuple[str, float, int]] = []
        self.images: list[tuple[str, tuple[int, ...], int]] = []
        self.closed = False

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars.append((tag, float(value), step))

    def add_image(self, tag: str, image, step: int, dataformats: str = "CHW") -> None:
        assert dataformats == "HWC" and image.ndim == 3 and image.shape[2] == 3 and image.dtype.name == "uint8"
        self.images.append((tag, image.shape, step))

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def test_val_images_tensorboard_and_run_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = RecordingWriter()
    monkeypatch.setattr(trainer, "_tensorboard", lambda run_dir: writer)
    cfg = load_config(None, BASE + [f"train.out_dir={tmp_path}", "train.val_images=2", "train.tensorboard=true"])
    run = trainer.train(cfg, name="tiny", build_fn=build_tiny, progress=False)
    steps = sorted(p.name for p in (run / "val_images").iterdir())
    assert steps == ["000001", "000002"]
    pngs = sorted((run / "val_images" / "000002").glob("*.png"))
    assert len(pngs) == 2 and cv2.imread(str(pngs[0])).shape[2] == 3
    tags = {t for t, _, _ in writer.scalars}
    assert {"train/loss", "train/lr", "val/val_boundary_f", "val/val_map50_gt"} <= tags
    image_tags = {t.split("/")[1] for t, _, _ in writer.images}
    assert image_tags == {"boundary", "instances"} and len(writer.images) == 2 * 2 * 2 and writer.closed
    s = read_summary(build_report([run], tmp_path / "report").parent)
    assert [st["iteration"] for st in s["val_images"]] == [1, 2] and len(s["val_images"][0]["images"]) == 2
    assert "val_images: 2" in s["config"]


def test_val_images_zero_writes_none(tmp_path: Path) -> None:
    cfg = load_config(None, BASE + [f"train.out_dir={tmp_path}", "train.val_images=0", "train.iters=1"])
    run = trainer.train(cfg, name="none", build_fn=build_tiny, progress=False)
    assert not (run / "val_images").exists()


def test_negative_val_images_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="val_images"):
        load_config(None, ["train.val_images=-1"])


def test_real_tensorboard_events(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason="the optional extra baiseg[tb] is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = load_config(None, BASE + [f"train.out_dir={tmp_path}", "train.val_images=1", "train.tensorboard=true",
                                    "train.iters=1"])  # fmt: skip
    run = trainer.train(cfg, name="tb", build_fn=build_tiny, progress=False)
    acc = EventAccumulator(str(run / "tb"))
    acc.Reload()
    assert {"train/loss", "train/lr", "val/val_boundary_f"} <= set(acc.Tags()["scalars"])
    assert {t.split("/")[1] for t in acc.Tags()["images"]} == {"boundary", "instances"}
