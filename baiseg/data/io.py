"""Reading images and label PNGs with one-line, actionable errors.

Every reader accepts what users bring (RGBA, grayscale, 16-bit, palette or index PNGs, RGB-coloured label maps) and
returns the canonical arrays of docs/ARCHITECTURE.md; anything it cannot convert raises ``DataError``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from baiseg.errors import DataError

Image.MAX_IMAGE_PIXELS = None  # replaced by our own bound below, which names the file and the setting

#: Default bound on the pixels of one image (PIL's own error threshold): a 300-byte PNG may declare 60000 x 60000.
DEFAULT_MAX_IMAGE_PIXELS = 178_956_970

#: Suffixes (lower case) of the files taken as images, the package's one list: folders read by ``baiseg predict`` and
#: ``baiseg report``, the image folders of the dataset formats (voc, pngs, folders). In order of preference where one
#: stem has several (``voc.find_image``).
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def max_image_pixels() -> int:
    """The bound on width x height of an image we decode: ``$BAISEG_MAX_IMAGE_PIXELS`` (0 = no bound) or
    ``DEFAULT_MAX_IMAGE_PIXELS``."""
    raw = os.environ.get("BAISEG_MAX_IMAGE_PIXELS", "").strip()
    if not raw:
        return DEFAULT_MAX_IMAGE_PIXELS
    try:
        value = int(float(raw))
    except (ValueError, OverflowError):
        raise DataError(f"BAISEG_MAX_IMAGE_PIXELS must be a number of pixels (0 = no bound), got {raw!r}") from None
    if value < 0:
        raise DataError(f"BAISEG_MAX_IMAGE_PIXELS must be >= 0 (0 = no bound), got {value}")
    return value


def voc_palette(n: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map (bit-interleaved), used by VOC palette PNGs and our visualisations.

    Returns:
        uint8 array n x 3; entry 255 is (224, 224, 192), VOC's void colour.
    """
    pal = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[i] = (r, g, b)
    return pal


def _open(path: Path, what: str) -> Image.Image:
    if not path.is_file():
        raise DataError(f"{what} '{path}' does not exist: check the path in the dataset YAML or restore the file")
    limit = max_image_pixels()
    try:
        img = Image.open(path)
        w, h = img.size
        if limit and w * h > limit:
            img.close()
            raise DataError(
                f"{what} '{path}' declares {w}x{h} = {w * h} pixels, above the bound of {limit}: shrink it, or raise "
                "BAISEG_MAX_IMAGE_PIXELS if the file is trusted"
            )
        tile = getattr(img, "tile", None) or [()]
        img.info["baiseg_rawmode"] = str(tile[0][3]) if len(tile[0]) > 3 else ""  # load() forgets the tiles
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"{what} '{path}' cannot be read ({e}): re-export it as PNG/JPEG or remove it") from None
    return img


#: The bit depths an image's maximum is matched to (8-, 10-, 12-, 14-, 16-, 24- and 32-bit sensors and files).
_BIT_DEPTHS = (8, 10, 12, 14, 16, 24, 32)


def to_uint8(arr: np.ndarray, path: Path | None = None) -> np.ndarray:
    """Scale any image to 0-255 uint8 by an explicit policy; nothing is ever clipped.

    - uint8: as it is; bool: 0 / 255.
    - float with every value in [0, 1]: x 255.
    - float with values slightly outside [0, 1] (a range narrower than 2 after the shift below, e.g. -0.01..1.01 of
      a resampled 0..1 image): refused, since read on the 8-bit scale it would be black and clipping is no policy.
    - any other integer or float image: its values are shifted by the minimum when that is negative, then divided
      by the full scale of the smallest bit depth (8, 10, 12, 14, 16, 24, 32 bits) that holds its maximum: a 12-bit
      microscopy image stored as uint16, int32 or float32 (0..4095) is read as 12-bit, a full 16-bit image as 16-bit.
    - NaN or infinite values: refused (DataError naming the file).
    """
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    if not arr.size:
        return arr.astype(np.uint8)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            where = f"image '{path}'" if path else "the image"
            raise DataError(f"{where} holds NaN or infinite values: replace them (e.g. by 0) before reading it")
        lo, hi = float(arr.min()), float(arr.max())
        if lo >= 0.0 and hi <= 1.0:
            return np.rint(arr.astype(np.float64) * 255.0).astype(np.uint8)
        if hi - min(lo, 0.0) < 2.0:
            where = f"image '{path}'" if path else "the image"
            raise DataError(f"{where} holds float values in [{lo:.4g}, {hi:.4g}]: slightly outside [0, 1], it would be "
                            "read on the 8-bit scale (black); rescale it to [0, 1] (or to 0..255)")  # fmt: skip
    else:
        lo, hi = float(arr.min()), float(arr.max())
    a = arr.astype(np.float64)
    if lo < 0:
        a, hi = a - lo, hi - lo
    full = next((2.0**b - 1 for b in _BIT_DEPTHS if hi <= 2.0**b - 1), hi)
    return np.rint(a * (255.0 / full)).astype(np.uint8)


def _wide_colour(img: Image.Image, path: Path) -> np.ndarray:
    """A 16-bit colour image (PNG ``RGB;16``): Pillow keeps only each value's high byte (a 12-bit image becomes
    0..15), so its uint16 values are read by OpenCV and scaled by ``to_uint8``'s policy."""
    if img.mode not in ("RGB", "RGBA"):
        return np.asarray(img)
    import cv2

    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.shape[:2] != (img.height, img.width):
        raise DataError(f"image '{path}' is a 16-bit colour image that cannot be decoded: save it as 8-bit or gray")
    return arr[..., [2, 1, 0, 3][: arr.shape[2]]]


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read any common image file as RGB.

    Grayscale is replicated to three channels, alpha is dropped, 16-bit (gray and colour) and float images are scaled
    to 8 bits by ``to_uint8``'s policy, palette/CMYK images are converted. EXIF orientation is not applied
    (annotations refer to the stored pixels).

    Returns:
        uint8 array H x W x 3 (RGB, 0-255).
    """
    p = Path(path)
    img = _open(p, "image")
    if img.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "1"):
        img = img.convert("RGBA" if img.mode == "PA" else "RGB")
    arr = _wide_colour(img, p) if ";16" in img.info.get("baiseg_rawmode", "") else np.asarray(img)
    if arr.ndim == 3 and arr.shape[2] in (2, 4):  # LA / RGBA: drop alpha
        arr = arr[..., :-1]
    if arr.ndim == 3 and arr.shape[2] == 1:  # gray (+ dropped alpha), or a one-channel multi-page array
        arr = arr[..., 0]
    arr = to_uint8(arr, p)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"image '{p}' has unsupported shape {arr.shape}: convert it to an RGB PNG or JPEG")
    return np.ascontiguousarray(arr)


def _colours_to_index(arr: np.ndarray, path: Path) -> np.ndarray:
    """Map an RGB label image to indices through the VOC colour map; unknown colours are an error."""
    pal = voc_palette().astype(np.int64)
    code = (arr[..., 0].astype(np.int64) << 16) | (arr[..., 1].astype(np.int64) << 8) | arr[..., 2]
    pal_code = (pal[:, 0] << 16) | (pal[:, 1] << 8) | pal[:, 2]
    lut = {int(c): i for i, c in reversed(list(enumerate(pal_code)))}
    uniq, inv = np.unique(code, return_inverse=True)
    unknown = [int(u) for u in uniq if int(u) not in lut]
    if unknown:
        u = unknown[0]
        raise DataError(
            f"label PNG '{path}' is an RGB image with {len(unknown)} colour(s) outside the VOC palette "
            f"(e.g. RGB {(u >> 16) & 255, (u >> 8) & 255, u & 255}): save it as an index or palette PNG"
        )
    idx = np.array([lut[int(u)] for u in uniq], dtype=np.int64)
    return idx[inv.reshape(code.shape)]


def read_label_png(path: str | os.PathLike) -> np.ndarray:
    """Read a label map (semantic or instance ids) from an index, palette, 16-bit or RGB-coloured PNG.

    Palette PNGs give their indices; grayscale / 16-bit PNGs give their values; an RGB(A) PNG whose channels are
    equal gives one channel (16-bit colour PNGs at their 16 bits), otherwise its colours are converted through the VOC
    colour map.

    Returns:
        int64 array H x W of label ids (>= 0).
    """
    p = Path(path)
    img = _open(p, "label PNG")
    if img.mode in ("P", "L", "1", "I", "I;16", "I;16B", "I;16L", "LA", "PA"):
        if img.mode in ("LA", "PA"):
            img = img.getchannel(0)
        arr = np.asarray(img).astype(np.int64)
    elif img.mode in ("RGB", "RGBA"):
        wide = ";16" in img.info.get("baiseg_rawmode", "")  # Pillow would keep each 16-bit value's high byte
        arr = (_wide_colour(img, p) if wide else np.asarray(img))[..., :3]
        if np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2]):
            arr = arr[..., 0].astype(np.int64)
        elif wide:
            raise DataError(f"label PNG '{p}' is a 16-bit colour image whose channels differ: save the ids as a "
                            "single-channel (8- or 16-bit) or palette PNG")  # fmt: skip
        else:
            arr = _colours_to_index(arr, p)
    else:
        raise DataError(f"label PNG '{p}' has unsupported mode {img.mode}: save it as an 8-bit index or palette PNG")
    if arr.ndim != 2:
        raise DataError(f"label PNG '{p}' has shape {arr.shape}, expected H x W: save it as a single-channel PNG")
    if arr.size and arr.min() < 0:
        raise DataError(f"label PNG '{p}' holds negative values: label ids must be >= 0")
    return arr


def read_rgb_ids(path: str | os.PathLike) -> np.ndarray:
    """Read a COCO panoptic PNG: segment id = R + 256 G + 65536 B.

    Returns:
        int64 array H x W of segment ids (0 = unlabeled).
    """
    p = Path(path)
    img = _open(p, "panoptic PNG")
    if img.mode not in ("RGB", "RGBA") or ";16" in img.info.get("baiseg_rawmode", ""):
        raise DataError(f"panoptic PNG '{p}' has mode {img.mode} ({img.info.get('baiseg_rawmode') or 'no raw mode'}), "
                        "expected 8-bit RGB (id = R + 256 G + 65536 B)")  # fmt: skip
    arr = np.asarray(img)[..., :3].astype(np.int64)
    return arr[..., 0] + 256 * arr[..., 1] + 65536 * arr[..., 2]


def check_same_size(image: np.ndarray, label: np.ndarray, image_path: str, label_path: str) -> None:
    """Raise DataError when a label map does not have the image's H x W."""
    if image.shape[:2] != label.shape[:2]:
        h, w = label.shape[:2]
        ih, iw = image.shape[:2]
        raise DataError(
            f"mask '{label_path}' is {h}x{w} but image '{image_path}' is {ih}x{iw}: "
            "the mask must have the image's size (re-export it or fix the pairing)"
        )


def check_semantic_ids(semantic: np.ndarray, num_classes: int, source: str = "the semantic map") -> None:
    """Raise a one-line BaisegError unless every id of ``semantic`` is 0, 1..``num_classes`` or 255 (void).

    Args:
        semantic: int H x W ids (any integer dtype: 16-bit PNG values are checked before any cast).
        num_classes: K, the number of thing classes.
        source: what to name in the message (a file path).
    """
    a = np.asarray(semantic)
    if a.dtype.kind not in "iub":
        raise DataError(f"{source} has dtype {a.dtype}: give integer semantic ids (0, 1..{num_classes}, 255)")
    if a.size == 0:
        return
    bad = (a < 0) | ((a > num_classes) & (a != 255))
    if bad.any():
        vals = np.unique(a[bad])
        shown = ", ".join(str(int(v)) for v in vals[:5]) + (" ..." if vals.size > 5 else "")
        raise DataError(
            f"{source} holds ids {shown} outside 0 (background), 1..{num_classes} (the model's classes) and 255 "
            "(void): map them to the model's classes"
        )


def read_semantic_map(folder: str | os.PathLike, image_id: str, shape: tuple[int, int], num_classes: int) -> np.ndarray:
    """The external semantic map of one image (``--semantic DIR`` / ``--semantic-dir``: another segmenter's output):
    ``folder/<image_id>.png``, checked for presence, size and ids (0, 1..``num_classes``, 255). The one reader that
    ``predict``, ``evaluate`` and ``pseudo`` use.

    Returns:
        uint8 H x W semantic ids.

    Raises:
        DataError: one line naming the file and the fix.
    """
    path = Path(folder) / f"{image_id}.png"
    if not path.is_file():
        raise DataError(f"semantic map '{path}' is missing: the semantic folder needs one <image id>.png per image")
    sem = read_label_png(path)
    if sem.shape != tuple(shape):
        raise DataError(f"semantic map '{path}' is {sem.shape[0]}x{sem.shape[1]}, the image is {shape[0]}x{shape[1]}: "
                        "write the maps at the original image resolution")  # fmt: skip
    check_semantic_ids(sem, num_classes, source=f"semantic map '{path}'")
    return sem.astype(np.uint8)
