"""Event images: type and size checked, re-encoded as JPEG (which drops EXIF, GPS included), stored by a random
name under instance/uploads/events."""

from __future__ import annotations

import io
import secrets
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from app.core.errors import DomainError

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding
MAX_SIDE = 1600
ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}


class InvalidImage(DomainError):
    status_code = 422


def upload_dir() -> Path:
    """Where event images live (created on first use)."""
    path = Path(current_app.instance_path) / "uploads" / "events"
    path.mkdir(parents=True, exist_ok=True)
    return path


def reencode(data: bytes) -> bytes:
    """Check and re-encode an uploaded image; raises InvalidImage with a message for the user."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_BYTES:
        raise InvalidImage(_l("画像は5MB以下にしてください。"))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ALLOWED_FORMATS:
                raise InvalidImage(_l("画像はJPEG、PNG、WebP、GIFのどれかにしてください。"))
            if probe.width * probe.height > MAX_PIXELS:
                raise InvalidImage(_l("画像が大きすぎます。"))
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = image.convert("RGB")
            image.thumbnail((MAX_SIDE, MAX_SIDE))
            out = io.BytesIO()
            # A fresh encode carries no EXIF, XMP or ICC metadata from the upload.
            image.save(out, format="JPEG", quality=85, optimize=True)
            return out.getvalue()
    except InvalidImage:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise InvalidImage(_l("画像を読み込めませんでした。別の画像をお試しください。")) from None


def store(data: bytes) -> str:
    """Re-encode DATA and write it under a new random name; returns the name."""
    encoded = reencode(data)
    name = f"{secrets.token_hex(16)}.jpg"
    (upload_dir() / name).write_bytes(encoded)
    return name


def path_of(name: str) -> Path | None:
    """The file of a stored image name, or None for names that are not ours."""
    if not name or "/" in name or "\\" in name or not name.endswith(".jpg"):
        return None
    path = upload_dir() / name
    return path if path.is_file() else None
