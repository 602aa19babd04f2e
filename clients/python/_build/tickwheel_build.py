"""A PEP 517 build backend for this one pure-Python package, standard library only.

Why not setuptools: pip builds in an isolated environment and would fetch setuptools
from PyPI, which machines without PyPI access cannot do (Debian's pip also refuses
--no-build-isolation installs into the system Python by default). This backend needs
nothing: it zips the ``tickwheel`` package with the metadata a wheel must have
(PEP 427: METADATA, WHEEL, RECORD with sha256 digests). ``pip install -e`` is
served by a ``.pth`` file pointing at this directory (PEP 660).
"""
import base64
import hashlib
import io
import os
import tarfile
import zipfile

NAME = "tickwheel_client"
DIST_NAME = "tickwheel-client"
VERSION = "0.1.0"
PACKAGE = "tickwheel"
REQUIRES_PYTHON = ">=3.9"
SUMMARY = "Python client of the tickwheel scheduler's HTTP API, and a Celery apply_async(countdown=...) replacement"
TAG = "py3-none-any"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIST_INFO = f"{NAME}-{VERSION}.dist-info"


def _metadata() -> str:
    readme = ""
    readme_path = os.path.join(HERE, "README.md")
    if os.path.exists(readme_path):
        with open(readme_path, encoding="utf-8") as handle:
            readme = handle.read()
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {DIST_NAME}\n"
        f"Version: {VERSION}\n"
        f"Summary: {SUMMARY}\n"
        "License: MIT\n"
        f"Requires-Python: {REQUIRES_PYTHON}\n"
        "Description-Content-Type: text/markdown\n"
        f"\n{readme}"
    )


def _wheel_file() -> str:
    return f"Wheel-Version: 1.0\nGenerator: tickwheel_build {VERSION}\nRoot-Is-Purelib: true\nTag: {TAG}\n"


def _package_files():
    root = os.path.join(HERE, PACKAGE)
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py") or name == "py.typed":
                path = os.path.join(directory, name)
                yield os.path.relpath(path, HERE).replace(os.sep, "/"), path


def _write_wheel(wheel_directory: str, entries) -> str:
    """entries: (archive name, bytes). Adds the dist-info files and RECORD."""
    filename = f"{NAME}-{VERSION}-{TAG}.whl"
    entries = list(entries) + [
        (f"{DIST_INFO}/METADATA", _metadata().encode("utf-8")),
        (f"{DIST_INFO}/WHEEL", _wheel_file().encode("utf-8")),
    ]
    record = io.StringIO()
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as wheel:
        for archive_name, data in entries:
            wheel.writestr(archive_name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
            record.write(f"{archive_name},sha256={digest},{len(data)}\n")
        record.write(f"{DIST_INFO}/RECORD,,\n")
        wheel.writestr(f"{DIST_INFO}/RECORD", record.getvalue())
    return filename


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


# ---------------------------------------------------------------- PEP 517 / PEP 660 hooks

def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    target = os.path.join(metadata_directory, DIST_INFO)
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(target, "METADATA"), "w", encoding="utf-8") as handle:
        handle.write(_metadata())
    with open(os.path.join(target, "WHEEL"), "w", encoding="utf-8") as handle:
        handle.write(_wheel_file())
    return DIST_INFO


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, ((name, _read(path)) for name, path in _package_files()))


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, [(f"__editable__.{NAME}.pth", (HERE + "\n").encode("utf-8"))])


def build_sdist(sdist_directory, config_settings=None):
    base = f"{NAME}-{VERSION}"
    filename = f"{base}.tar.gz"
    files = [("pyproject.toml", os.path.join(HERE, "pyproject.toml")), ("README.md", os.path.join(HERE, "README.md")),
             ("_build/tickwheel_build.py", os.path.abspath(__file__))] + list(_package_files())
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as sdist:
        for archive_name, path in files:
            if os.path.exists(path):
                sdist.add(path, arcname=f"{base}/{archive_name}")
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        data = _metadata().encode("utf-8")
        info.size = len(data)
        sdist.addfile(info, io.BytesIO(data))
    return filename
