"""The one place that writes a generated project to disk, atomically.

:func:`write_tree` writes ``{relative path: text or bytes}`` into a fresh temporary directory
beside ``outdir`` and renames it into place only when every file is written: a failure at
any point leaves ``outdir`` exactly as it was (absent, or the previous project).  Files are
written in sorted order, text as UTF-8 with ``\\n`` line ends, so equal inputs give
byte-identical trees.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path, PurePosixPath
from typing import Mapping, Union

from hlsgen.errors import InputError, OutputExistsError
from hlsgen.names import terminal

__all__ = ["write_tree", "check_relative_path", "check_outdir_name"]

Content = Union[str, bytes]
# Files a user runs directly keep an executable bit.
_EXECUTABLE_SUFFIXES = (".sh",)
MAX_NAME_BYTES = 200  # of OUTDIR's last component: ".NAME.tmp-XXXXXXXX" must stay <= 255


def check_relative_path(path: str) -> PurePosixPath:
    """A project-relative POSIX path without '..', absolute parts or empty segments."""
    pure = PurePosixPath(path)
    if (not path or pure.is_absolute() or "\\" in path or any(
            part in ("", ".", "..") for part in path.split("/"))):
        raise AssertionError(f"generated file path {path!r} is not a plain relative path")
    return pure


def check_outdir_name(outdir: Path) -> None:
    """Refuse an output directory name the staging directory beside it cannot extend."""
    name = Path(outdir).name
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise InputError(f"output directory name {terminal(name, 60)} is longer than "
                         f"{MAX_NAME_BYTES} bytes (the staging directory beside it must fit "
                         "the file system's 255); choose a shorter -o")


def write_tree(outdir: Path, files: Mapping[str, Content], *, force: bool = False,
               protect: tuple[Path, ...] = ()) -> Path:
    """Write ``files`` as the complete content of ``outdir``; return its resolved path.

    An existing ``outdir`` is replaced only with ``force`` (it must then be a directory).
    ``protect``: input files (the model, data) that must not live inside ``outdir``, since
    replacing it would delete them.
    """
    outdir = Path(outdir).expanduser().absolute()
    check_outdir_name(outdir)
    for path in files:
        check_relative_path(path)
    _check_target(outdir, force, protect)
    parent = outdir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot create the parent directory of {outdir}: {err.strerror}; "
                         "choose another -o") from None
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.tmp-", dir=parent))
    except OSError as err:
        raise InputError(f"cannot write into {terminal(parent)}: {err.strerror}; choose "
                         "another -o") from None
    try:
        _fill(staging, files)
        _replace(staging, outdir)
    except OSError as err:  # disk full, file size limit, quota, ...
        shutil.rmtree(staging, ignore_errors=True)
        raise InputError(f"cannot write the project to {terminal(outdir)}: {err.strerror}; "
                         "nothing was written (free space, raise the limit or choose another "
                         "-o)") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return outdir


def _check_target(outdir: Path, force: bool, protect: tuple[Path, ...]) -> None:
    if outdir.exists() or outdir.is_symlink():
        if not force:
            raise OutputExistsError(f"output directory {outdir} already exists; pass --force "
                                    "to replace it (its whole content is deleted) or choose "
                                    "another -o")
        if outdir.is_symlink() or not outdir.is_dir():
            raise OutputExistsError(f"output path {outdir} exists and is not a directory; "
                                    "--force only replaces a directory: choose another -o")
    real = outdir.resolve()
    if real == Path.cwd().resolve() or real in Path.cwd().resolve().parents:
        raise InputError(f"output directory {outdir} is the current directory or one of its "
                         "parents; generate into a new subdirectory instead")
    for item in protect:
        item = Path(item).resolve()
        if item == real or real in item.parents:
            raise InputError(f"output directory {outdir} contains the input {item}; replacing "
                             "it would delete that file: choose another -o")


def _fill(staging: Path, files: Mapping[str, Content]) -> None:
    umask = _umask()
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it private; a project is not
    for path in sorted(files):
        content = files[path]
        target = staging.joinpath(*PurePosixPath(path).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        with open(target, "wb") as handle:
            handle.write(data)
        if path.endswith(_EXECUTABLE_SUFFIXES):
            target.chmod(target.stat().st_mode | (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
                         & ~umask)


def _replace(staging: Path, outdir: Path) -> None:
    if not outdir.exists():
        os.rename(staging, outdir)
        return
    # Move the old tree aside first so that a failed rename can put it back.
    old = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.old-", dir=outdir.parent))
    old.rmdir()
    os.rename(outdir, old)
    try:
        os.rename(staging, outdir)
    except BaseException:
        os.rename(old, outdir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
