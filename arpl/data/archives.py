"""Archives fetched from the web (TinyImageNet's zip, ImageNet-O's tar), unpacked so that a download or an
extraction that fails halfway leaves nothing a rerun could take for the complete data set."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from arpl.data.checksums import DataNotFoundError


def fetch_archive(url: str, root: str | Path, folder: str, md5: str | None = None) -> Path:
    """Download ``url`` and unpack it into ``root/folder``, all or nothing.

    The archive is downloaded (and checked against ``md5`` where one is published) and unpacked inside a hidden
    temporary folder in ``root``; only the complete ``folder`` is then moved into place, in one rename. A failure
    at any point removes the temporary folder (after a hard kill it stays behind under a hidden name), so the next
    run finds no ``folder`` and fetches again. Raises :class:`DataNotFoundError` naming the URL and the fix."""
    from torchvision.datasets.utils import download_and_extract_archive

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=root, prefix=f".{folder}.partial.") as scratch:
            download_and_extract_archive(url, download_root=scratch, md5=md5)
            unpacked = Path(scratch) / folder
            if not unpacked.is_dir():
                raise RuntimeError(f"the archive holds no {folder}/ folder")
            os.replace(unpacked, root / folder)
    except (RuntimeError, OSError) as error:
        raise DataNotFoundError(f"download of {url} failed: {error}. Nothing was left in {root}. Fix: rerun on a "
                                f"machine with internet, or download {url.rsplit('/', 1)[-1]} by hand and unpack it "
                                f"into {root} (it holds {folder}/)") from error
    return root / folder
