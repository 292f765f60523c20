"""Generate the Python gRPC stubs in `service/api/gen/` from `proto/veriframe/v1/*.proto`.

    python -m veriframe.service.api.codegen           # regenerate (commit the result)
    python -m veriframe.service.api.codegen --check   # exit 1 if the committed stubs are stale

protoc writes `from veriframe.v1 import common_pb2`; we generate into a temporary directory and
rewrite those lines into relative imports (`from . import common_pb2`), so the stubs import as
`veriframe.service.api.gen.<name>_pb2` with no sys.path tricks. Output depends only on the .proto files and
the grpcio-tools version, so the check is reproducible.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO / "proto"
PROTO_PACKAGE = "veriframe/v1"
GEN_DIR = Path(__file__).resolve().parent / "gen"

_INIT = '"""Generated from proto/veriframe/v1 by `python -m veriframe.service.api.codegen`: do not edit."""\n'
_IMPORT_RE = re.compile(r"^from veriframe\.v1 import (\w+_pb2)", re.MULTILINE)


def generate() -> dict[str, str]:
    """Run protoc and return {file name: content} of the stubs as they should be committed."""
    import grpc_tools
    from grpc_tools import protoc

    protos = sorted((PROTO_ROOT / PROTO_PACKAGE).glob("*.proto"))
    if not protos:
        raise SystemExit(f"no .proto files under {PROTO_ROOT / PROTO_PACKAGE}")
    well_known = Path(grpc_tools.__file__).resolve().parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"-I{well_known}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *[str(p.relative_to(PROTO_ROOT)) for p in protos],
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed (see the messages above)")
        out: dict[str, str] = {"__init__.py": _INIT}
        for path in sorted((Path(tmp) / PROTO_PACKAGE).iterdir()):
            out[path.name] = _IMPORT_RE.sub(r"from . import \1", path.read_text())
    return out


def committed() -> dict[str, str]:
    if not GEN_DIR.is_dir():
        return {}
    files = sorted(p for p in GEN_DIR.iterdir() if p.is_file() and p.suffix in (".py", ".pyi"))
    return {p.name: p.read_text() for p in files}


def stale_files(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    """Names that differ, are missing or are extra."""
    return sorted(n for n in expected.keys() | actual.keys() if expected.get(n) != actual.get(n))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m veriframe.service.api.codegen", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if service/api/gen is stale")
    args = parser.parse_args(argv)
    expected = generate()
    if args.check:
        stale = stale_files(expected, committed())
        if stale:
            print(
                f"service/api/gen is stale ({', '.join(stale)}): "
                "run `python -m veriframe.service.api.codegen`",
                file=sys.stderr,
            )
            return 1
        print("service/api/gen is up to date")
        return 0
    GEN_DIR.mkdir(exist_ok=True)
    for name in stale_files(expected, committed()):
        target = GEN_DIR / name
        if name in expected:
            target.write_text(expected[name])
        else:
            target.unlink()
    print(f"wrote {len(expected)} files to {GEN_DIR.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
