"""Regenerate the gRPC modules from ``proto/bftx/api/grpc/bftx.proto``.

``python -m bftx.api.grpc.generate`` rewrites ``bftx_pb2.py``, ``bftx_pb2.pyi``
and ``bftx_pb2_grpc.py`` beside this file with grpcio-tools (pinned in the dev
extra, so every machine produces the same bytes). The generated modules are
committed; a test regenerates them into a temporary directory and fails if
they differ, so an edited .proto without regenerated code cannot land.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]  # src/bftx/api/grpc/generate.py -> the repository
PROTO_ROOT = ROOT / "proto"
PROTO_FILE = PROTO_ROOT / "bftx" / "api" / "grpc" / "bftx.proto"
PACKAGE_DIRECTORY = Path(__file__).resolve().parent
GENERATED = ("bftx_pb2.py", "bftx_pb2.pyi", "bftx_pb2_grpc.py")


def generate(output: Path) -> list[Path]:
    """Write the generated modules under ``output`` (as ``bftx/api/grpc/...``); return them."""
    from grpc_tools import protoc  # dev-only dependency

    well_known = resources.files("grpc_tools") / "_proto"
    arguments = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={output}",
        f"--pyi_out={output}",
        f"--grpc_python_out={output}",
        str(PROTO_FILE),
    ]
    if protoc.main(arguments) != 0:
        raise RuntimeError(f"protoc failed on {PROTO_FILE}")
    directory = output / "bftx" / "api" / "grpc"
    return [directory / name for name in GENERATED]


def main() -> None:
    with tempfile.TemporaryDirectory() as temporary:
        for path in generate(Path(temporary)):
            shutil.copyfile(path, PACKAGE_DIRECTORY / path.name)
            print(f"wrote {PACKAGE_DIRECTORY / path.name}", file=sys.stderr)


if __name__ == "__main__":
    main()
