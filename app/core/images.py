"""Uploaded images (event images, organization logos): type and size checked, re-encoded as JPEG (which drops
EXIF, GPS included), stored by a random name under instance/uploads/<kind>."""

from __future__ import annotations

import io
import secrets
from pathlib import Path

from flask import Response, abort, current_app, request
from flask_babel import lazy_gettext as _l

from app.core.errors import DomainError

MAX_BYTES = 5 * 1024 * 1024
# Width x height read from the header, checked before any pixel is decoded: a 24-megapixel camera photo (6000 x
# 4000) passes; decoding one costs ~100 MB and a second of CPU, so larger ones (and decompression bombs, a few KB
# of PNG that claim 40 000 x 40 000) are refused with a form error before they can tie up a worker.
MAX_PIXELS = 25_000_000
MAX_SIDE = 1600
ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
KINDS = ("events", "logos")
LOGO_SIDE = 400  # logos show small (cards: 32 px, organization page: up to 160 px)


class InvalidImage(DomainError):
    status_code = 422


def upload_dir(kind: str = "events") -> Path:
    """Where images of KIND ('events' or 'logos') live (created on first use)."""
    if kind not in KINDS:
        raise ValueError(kind)
    path = Path(current_app.instance_path) / "uploads" / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def reencode(data: bytes, *, max_side: int = MAX_SIDE) -> bytes:
    """Check and re-encode an uploaded image; raises InvalidImage with a message for the user."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_BYTES:
        raise InvalidImage(_l("画像は5MB以下にしてください。"))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ALLOWED_FORMATS:
                raise InvalidImage(_l("画像はJPEG、PNG、WebP、GIFのどれかにしてください。"))
            if probe.width * probe.height > MAX_PIXELS:
                raise InvalidImage(_l("画像の画素数が多すぎます(2500万画素まで)。"
                                      "画像を小さくしてから、もう一度送ってください。"))
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            if image.format == "JPEG":
                image.draft("RGB", (max_side, max_side))  # decode at a reduced scale: less memory and CPU
            image.load()
            image = image.convert("RGB")
            image.thumbnail((max_side, max_side))
            out = io.BytesIO()
            # A fresh encode carries no EXIF, XMP or ICC metadata from the upload.
            image.save(out, format="JPEG", quality=85, optimize=True)
            return out.getvalue()
    except InvalidImage:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise InvalidImage(_l("画像を読み込めませんでした。別の画像をお試しください。")) from None


def store(data: bytes, *, kind: str = "events", max_side: int = MAX_SIDE) -> str:
    """Re-encode DATA and write it under a new random name in KIND's folder; returns the name."""
    encoded = reencode(data, max_side=max_side)
    name = f"{secrets.token_hex(16)}.jpg"
    (upload_dir(kind) / name).write_bytes(encoded)
    return name


def path_of(name: str, *, kind: str = "events") -> Path | None:
    """The file of a stored image name, or None for names that are not ours."""
    if not name or "/" in name or "\\" in name or not name.endswith(".jpg"):
        return None
    path = upload_dir(kind) / name
    return path if path.is_file() else None


def jpeg_response(path: Path | None, *, max_age: int = 3600) -> Response:
    """A stored image as a cacheable, conditional response (ETag, 304); 404 when PATH is None.

    Images are small (re-encoded, at most MAX_SIDE px): read whole rather than keep a file handle open."""
    if path is None:
        abort(404)
    response = Response(path.read_bytes(), mimetype="image/jpeg")
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.add_etag()
    return response.make_conditional(request)
