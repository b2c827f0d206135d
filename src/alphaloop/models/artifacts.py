"""Model artifacts on disk: saved once, made read-only, and checked by SHA-256 at every load.

A version's artifact is the directory its estimator's ``save(path)`` wrote
(or a directory saved before), moved into ``<root>/models/<name>/v<N>/`` by
:meth:`~alphaloop.models.registry.ModelRegistry.register`. Its files are
made read-only and their digest (:func:`artifact_sha256`) is recorded with
the version; loading recomputes the digest and refuses a modified artifact.
"""

from __future__ import annotations

import hashlib
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from alphaloop.models.errors import ArtifactTamperedError, RegistryError

if TYPE_CHECKING:
    from alphaloop.models.registry_records import ModelVersion

__all__ = ["SavableEstimator", "artifact_sha256", "save_artifact", "verify_artifact"]


class SavableEstimator(Protocol):
    """What the registry needs from an estimator: ``save(path)`` writes a directory."""

    def save(self, path: str | Path) -> object: ...


def artifact_sha256(path: Path) -> str:
    """SHA-256 of an artifact directory: its file names and contents, in sorted order.

    The digest covers, for every regular file in sorted relative-path order,
    the line ``<relative/posix/path> NUL <sha256 of the content> LF``; renaming,
    adding, removing or editing any file changes it. Symbolic links are refused.
    """
    if not path.is_dir():
        raise RegistryError(f"artifact directory {path} is missing")
    digest = hashlib.sha256()
    for file in sorted(path.rglob("*"), key=lambda p: p.relative_to(path).as_posix()):
        if file.is_symlink():
            raise RegistryError(f"artifact {path} contains a symbolic link: {file.name}")
        if not file.is_file():
            continue
        content = hashlib.sha256()
        with file.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                content.update(chunk)
        rel = file.relative_to(path).as_posix()
        digest.update(f"{rel}\0{content.hexdigest()}\n".encode())
    return digest.hexdigest()


def _make_read_only(path: Path) -> None:
    for file in path.rglob("*"):
        if file.is_file():
            file.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def save_artifact(name: str, estimator: SavableEstimator | str | Path, artifact: Path) -> None:
    """Write ``estimator`` (or copy a saved directory) into the new directory ``artifact``."""
    if isinstance(estimator, str | Path):
        source = Path(estimator)
        if not source.is_dir():
            raise RegistryError(f"saved model directory {source} does not exist")
        shutil.copytree(source, artifact, symlinks=True)
    else:
        estimator.save(artifact)
    if not artifact.is_dir() or not any(p.is_file() for p in artifact.rglob("*")):
        raise RegistryError(
            f"saving model {name!r} wrote no files into a directory at {artifact}",
            hint="the estimator's save(path) must write its files into the directory path",
        )


def verify_artifact(version: ModelVersion) -> None:
    """Raise :class:`ArtifactTamperedError` unless the artifact matches its SHA-256."""
    try:
        actual = artifact_sha256(version.artifact_path)
    except RegistryError as exc:
        raise ArtifactTamperedError(f"artifact of {version.ref} is unusable: {exc}") from exc
    if actual != version.artifact_sha256:
        raise ArtifactTamperedError(
            f"artifact of {version.ref} at {version.artifact_path} was modified after "
            f"registration (sha256 {actual[:12]}..., "
            f"registered {version.artifact_sha256[:12]}...)",
            hint="do not use it; register a retrained model as a new version",
        )


def _default_loader() -> Callable[[Path], Any]:
    """Load an artifact: a :class:`~alphaloop.models.rolling_model.RollingModel` for a
    rolling-model directory, an :class:`~alphaloop.models.estimators.Estimator` otherwise."""

    def load(path: Path) -> Any:
        from alphaloop.models.estimators import Estimator
        from alphaloop.models.rolling_model import RollingModel, is_rolling_directory

        if is_rolling_directory(path):
            return RollingModel.load(path)
        return Estimator.load(path)

    return load
