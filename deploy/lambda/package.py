"""Build the AWS Lambda zip of the landlord-restate services: the packages serving imports
(`services`, `telemetry`, `sealing`, `asl`) and the distribution's own dependencies, no
extras, as wheels for the runtime's Python version and architecture (restate-sdk is
compiled). The control plane (`provider`, the CLI), `local_stack` and the backends'
libraries (boto3, docker) stay out.

Usage: python deploy/lambda/package.py --output dist/lambda.zip [--python-version 3.12]
       [--arch arm64|x86_64] [--dry-run]
The defaults are the Runtime and Architecture of deploy/lambda/template.yaml.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "SERVED_PACKAGES",
    "TEMPLATE",
    "PackageError",
    "build",
    "main",
    "platform_tags",
    "prune",
    "template_defaults",
    "write_zip",
]

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "template.yaml"
REPO_ROOT = HERE.parents[1]

# Lambda architecture name -> the machine name in wheel platform tags.
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
# glibc of each Python runtime's OS: python3.11 runs on Amazon Linux 2, 3.12 and later on
# Amazon Linux 2023. A wheel built for a newer glibc would fail to import on Lambda.
RUNTIME_GLIBC_MINOR = {"3.11": 26, "3.12": 34, "3.13": 34, "3.14": 34}
# manylinux1/2010/2014 are the old names of manylinux_2_5/2_12/2_17.
_LEGACY_MANYLINUX = {5: "manylinux1", 12: "manylinux2010", 17: "manylinux2014"}
_OLDEST_GLIBC_MINOR = 5
# Zip entries get this time and these permissions, so the same tree gives the same bytes.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644
# Lambda's limit on the unzipped size of a function (zip packages).
UNZIPPED_LIMIT = 250 * 1024 * 1024
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024
# Metadata files that only pip reads (RECORD, INSTALLER) or that name this machine
# (direct_url.json holds the path of the wheel it was installed from).
_DIST_INFO_BLOAT = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")
# What the wheel is built from: the project's metadata and the packages serving imports.
SERVED_PACKAGES = ("services", "telemetry", "sealing", "asl")
_PROJECT_FILES = ("pyproject.toml", "README.md")
# Entries inside those packages the wheel build never needs.
_NOT_SOURCES = shutil.ignore_patterns(".*", "__pycache__", "*.egg-info", "*.zip")

Log = Callable[[str], None]


class PackageError(Exception):
    """A failure reported to the user as one line (bad input, pip failed, too large)."""


class TemplateLoader(yaml.SafeLoader):
    """YAML loader that reads CloudFormation short-form tags (!Ref, !Sub, ...) as plain data
    (the tests read every YAML file under deploy/ with it)."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    return None


TemplateLoader.add_multi_constructor("!", _any_tag)


def template_defaults(template: Path = TEMPLATE) -> tuple[str, str]:
    """(python version, architecture) the template deploys by default: its function's Runtime
    and its Architecture parameter's Default — the one source of truth for both."""
    try:
        document = yaml.load(template.read_text(encoding="utf-8"), Loader=TemplateLoader)  # noqa: S506
    except (OSError, yaml.YAMLError) as error:
        raise PackageError(f"cannot read {template.name}: {error}") from None
    if not isinstance(document, dict):
        raise PackageError(f"{template.name}: not a CloudFormation template")
    functions = [
        resource.get("Properties", {})
        for resource in (document.get("Resources") or {}).values()
        if resource.get("Type") == "AWS::Serverless::Function"
    ]
    runtime = functions[0].get("Runtime", "") if len(functions) == 1 else ""
    match = re.fullmatch(r"python(3\.\d+)", str(runtime))
    arch = str((document.get("Parameters") or {}).get("Architecture", {}).get("Default", ""))
    if match is None or arch not in MACHINES:
        raise PackageError(
            f"{template.name}: expected one AWS::Serverless::Function with Runtime pythonX.Y "
            f"and an Architecture parameter defaulting to one of {', '.join(MACHINES)}"
        )
    return match.group(1), arch


def platform_tags(python_version: str, arch: str) -> list[str]:
    """Every manylinux platform tag the Lambda runtime can load, newest first.

    pip does not widen an explicit `--platform` to older glibc versions, and restate-sdk's
    aarch64 wheels are manylinux_2_28 only, so each compatible tag is listed."""
    machine = MACHINES[arch]
    tags: list[str] = []
    for minor in range(RUNTIME_GLIBC_MINOR[python_version], _OLDEST_GLIBC_MINOR - 1, -1):
        tags.append(f"manylinux_2_{minor}_{machine}")
        legacy = _LEGACY_MANYLINUX.get(minor)
        if legacy is not None and (machine == "x86_64" or minor >= 17):
            tags.append(f"{legacy}_{machine}")
    return tags


def _pip(args: Sequence[str], *, what: str) -> str:
    """Run pip with this interpreter; its stdout, or PackageError with pip's own error line."""
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR:")]
        reason = (errors or lines or [f"exit status {result.returncode}"])[-1]
        raise PackageError(f"{what} failed: {reason}")
    return result.stdout


def _copy_sources(destination: Path) -> Path:
    """A copy of the project's metadata and served packages to build the wheel from (the wheel
    then holds only those packages), so the build writes nothing in the repo."""
    if not (REPO_ROOT / "pyproject.toml").is_file():
        raise PackageError(f"no pyproject.toml in {REPO_ROOT}: run from the repository")
    destination.mkdir(parents=True)
    for name in _PROJECT_FILES:
        shutil.copy2(REPO_ROOT / name, destination / name)
    for package in SERVED_PACKAGES:
        shutil.copytree(REPO_ROOT / package, destination / package, ignore=_NOT_SOURCES)
    return destination


def _install_args(python_version: str, arch: str) -> list[str]:
    platforms = [arg for tag in platform_tags(python_version, arch) for arg in ("--platform", tag)]
    return [
        "install",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        *platforms,
        "--no-compile",
        "--no-warn-script-location",
    ]


def prune(site: Path) -> int:
    """Delete what Lambda never reads: bytecode caches, console scripts (their shebangs name
    this machine's interpreter), packages' own test suites and pip's install records."""
    removed = 0
    bin_dir = site / "bin"
    if bin_dir.is_dir():
        shutil.rmtree(bin_dir)
        removed += 1
    for path in sorted(site.rglob("*"), reverse=True):
        relative = path.relative_to(site).parts
        if path.is_dir() and (
            path.name == "__pycache__" or (path.name == "tests" and len(relative) >= 2)
        ):
            shutil.rmtree(path)
            removed += 1
        elif path.is_file() and (
            path.suffix == ".pyc"
            or (
                len(relative) == 2
                and relative[0].endswith(".dist-info")
                and path.name in _DIST_INFO_BLOAT
            )
        ):
            path.unlink()
            removed += 1
    return removed


def _files(root: Path) -> list[tuple[str, Path]]:
    """Every file under `root` as (archive name, path), sorted by archive name."""
    found = [
        (path.relative_to(root).as_posix(), path) for path in root.rglob("*") if path.is_file()
    ]
    return sorted(found)


def write_zip(root: Path, output: Path) -> int:
    """Zip `root` into `output` deterministically (sorted entries, fixed times and modes);
    returns the unzipped size in bytes."""
    unzipped = 0
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name, path in _files(root):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100000 | FILE_MODE) << 16
            info.create_system = 3  # unix, so the mode above is honoured
            data = path.read_bytes()
            unzipped += len(data)
            archive.writestr(info, data, compresslevel=6)
    return unzipped


@contextlib.contextmanager
def _replacing(output: Path) -> Iterator[Path]:
    """A temporary file beside `output` that replaces it only when the block succeeds."""
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent)
    os.close(handle)
    partial = Path(name)
    try:
        yield partial
        partial.chmod(FILE_MODE)  # mkstemp makes it owner-only
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)


def _progress(line: str) -> None:
    """One progress line, flushed so a piped log shows each phase as it starts."""
    print(line, flush=True)


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def build(
    output: Path, python_version: str, arch: str, *, dry_run: bool = False, log: Log | None = None
) -> int | None:
    """Build the zip at `output` (or with `dry_run` only resolve the dependencies); returns
    the zip's size, or None for a dry run."""
    log = log or _progress
    if python_version not in RUNTIME_GLIBC_MINOR:
        raise PackageError(
            f"--python-version {python_version}: not a Lambda Python runtime this script knows "
            f"({', '.join(RUNTIME_GLIBC_MINOR)})"
        )
    if arch not in MACHINES:
        raise PackageError(f"--arch {arch}: use one of {', '.join(MACHINES)}")
    target = f"cp{python_version.replace('.', '')} manylinux {MACHINES[arch]}"
    phases = 3 if dry_run else 5
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="landlord-lambda-") as scratch:
        work = Path(scratch)
        served = ", ".join(SERVED_PACKAGES)
        log(f"[1/{phases}] copying the project metadata and {served} to a scratch directory")
        sources = _copy_sources(work / "src")
        log(f"[2/{phases}] building the landlord-restate wheel")
        _pip(
            ["wheel", "--no-deps", "--quiet", "--wheel-dir", str(work / "wheel"), str(sources)],
            what="building the project wheel",
        )
        wheels = sorted((work / "wheel").glob("*.whl"))
        if len(wheels) != 1:
            raise PackageError(f"building the project wheel gave {len(wheels)} wheels, not 1")
        site = work / "site"
        if dry_run:
            log(f"[3/{phases}] resolving runtime dependencies for {target} (dry run)")
            report = _pip(
                [
                    *_install_args(python_version, arch),
                    "--dry-run",
                    "--ignore-installed",
                    "--target",
                    str(site),
                    str(wheels[0]),
                ],
                what="resolving dependencies",
            )
            would = [line for line in report.splitlines() if line.startswith("Would install")]
            log(would[-1] if would else "nothing to install")
            log(f"resolved in {time.monotonic() - started:.0f}s; no zip written (dry run)")
            return None
        log(f"[3/5] installing it and its runtime dependencies for {target}")
        _pip(
            [
                *_install_args(python_version, arch),
                "--quiet",
                "--target",
                str(site),
                str(wheels[0]),
            ],
            what="installing dependencies",
        )
        log(f"[4/5] pruning caches, scripts, tests and install records ({prune(site)} removed)")
        log(f"[5/5] writing {output}")
        with _replacing(output) as partial:
            unzipped = write_zip(site, partial)
            if unzipped > UNZIPPED_LIMIT:
                raise PackageError(
                    f"unzipped size {_mib(unzipped)} exceeds Lambda's limit of "
                    f"{_mib(UNZIPPED_LIMIT)}"
                )
            size = partial.stat().st_size
    note = (
        " (over 50 MiB: deploy through S3, as sam deploy does)"
        if size > DIRECT_UPLOAD_LIMIT
        else ""
    )
    log(
        f"wrote {output}: {_mib(size)} zipped, {_mib(unzipped)} unzipped, "
        f"in {time.monotonic() - started:.0f}s{note}"
    )
    return size


def _parser(python_default: str, arch_default: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="package.py",
        description="Build the AWS Lambda zip of the landlord-restate services.",
    )
    parser.add_argument("--output", type=Path, required=True, help="zip file to write")
    parser.add_argument(
        "--python-version",
        default=python_default,
        choices=sorted(RUNTIME_GLIBC_MINOR),
        help=f"Lambda Python runtime (default {python_default}, from template.yaml)",
    )
    parser.add_argument(
        "--arch",
        default=arch_default,
        choices=sorted(MACHINES),
        help=f"Lambda architecture (default {arch_default}, from template.yaml)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="only check that every dependency resolves to a wheel for the target",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: 0 on success, 1 on a failure (one line on stderr), 2 on bad usage."""
    try:
        python_default, arch_default = template_defaults()
    except PackageError as error:
        print(f"package.py: error: {error}", file=sys.stderr)
        return 1
    args = _parser(python_default, arch_default).parse_args(argv)
    output: Path = args.output
    if output.suffix != ".zip" or output.is_dir():
        print(f"package.py: error: --output {output}: must be a .zip file path", file=sys.stderr)
        return 2
    try:
        build(output, args.python_version, args.arch, dry_run=args.dry_run)
    except PackageError as error:
        print(f"package.py: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
