"""``soundscape vary``: N seeded variations of a generator or of a sample file, as WAV files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # heavy imports (numba) stay out of CLI start-up
    import numpy as np

    from ..generators import Generator

NAME = "vary"
HELP = "write N seeded variations of a generator (e.g. footstep, impact) or of a sample file"
DESCRIPTION = (
    "Write N variations for auditioning or baking. SOURCE is a generator name (see "
    "docs/generators.md; one-shots such as impact and footstep render until they finish, "
    "continuous ones for --seconds) or an audio file (pitch, spectral tilt and envelope "
    "perturbation; --param pitch=CENTS tilt=DB envelope=DB set the largest change). Every file is "
    "labelled as generated (generator or source, version, seed, variation) in its LIST/INFO comment."
)
MAX_N = 1000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SOURCE", help="generator name or path to an audio file")
    p.add_argument("-n", type=int, default=8, help=f"number of variations (1..{MAX_N}, default 8)")
    p.add_argument("-o", "--output", required=True, type=Path, help="folder to write the WAV files into")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0); variation k uses (seed, k)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="K=V",
        help="generator parameter (e.g. material=metal) or sample amount (pitch=, tilt=, envelope=)",
    )
    p.add_argument(
        "--seconds", type=float, default=3.0, help="length for continuous generators (default 3 s)"
    )
    p.add_argument("--rate", type=int, default=48000, help="sample rate for generators (default 48000)")
    p.add_argument("--format", choices=("pcm16", "pcm24", "float32"), default="pcm16", help="sample format")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")


def _parse_params(items: list[str]) -> dict[str, object]:
    from ..errors import EngineError

    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise EngineError(f"--param {item!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            out[key.strip()] = value.strip()
    return out


def _render_generator(gen: Generator, seconds: float) -> np.ndarray:
    """A one-shot until it finishes (trimmed), a continuous generator for ``seconds``."""
    import numpy as np

    rate = gen.sample_rate
    if gen.oneshot:
        blocks, limit = [], 30 * rate  # a one-shot longer than 30 s is cut there
        done = 0
        while not gen.finished and done < limit:
            blocks.append(gen.render(1024))
            done += 1024
        y = np.concatenate(blocks)
        last = np.flatnonzero(np.abs(y).max(axis=1) > 1e-5)  # trim the silent tail of the last block
        return y[: (last[-1] + 1 if last.shape[0] else 1)]
    total = round(seconds * rate)
    return np.concatenate([gen.render(min(1024, total - i)) for i in range(0, total, 1024)])


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..errors import AudioFileError, EngineError
    from ..generators import GENERATORS, VERSION, create_generator
    from ..generators.variation import VariationAmounts, vary_sample
    from ..sinks.wav import WavSink

    if not 1 <= args.n <= MAX_N:
        raise EngineError(f"-n {args.n}: must be within 1..{MAX_N}")
    if args.seed < 0:
        raise EngineError(f"--seed {args.seed}: must be >= 0")
    if not 0.0 < args.seconds <= 600.0:
        raise EngineError(f"--seconds {args.seconds}: must be within (0, 600]")
    params = _parse_params(args.param)
    source = args.source
    path = Path(source)
    is_generator = source in GENERATORS
    if not is_generator and not path.is_file():
        from ..hints import suggestion

        close = suggestion(source, GENERATORS)
        hint = f"; {close}" if close else ""
        raise EngineError(
            f"SOURCE={source!r} is neither a generator ({', '.join(sorted(GENERATORS))}) nor a file{hint}"
        )

    if is_generator:
        stem = source
        # Validate once up front so a typo fails before any file is written.
        create_generator(source, sample_rate=args.rate, seed=args.seed, params=params)
    else:
        import miniaudio

        amounts = VariationAmounts.from_params(params)
        try:
            info = miniaudio.get_file_info(str(path))
            decoded = miniaudio.decode_file(
                str(path), miniaudio.SampleFormat.FLOAT32, info.nchannels, info.sample_rate
            )
        except (miniaudio.MiniaudioError, OSError) as exc:
            raise AudioFileError(f"SOURCE={source!r}: cannot decode ({exc})") from exc
        rate, channels = decoded.sample_rate, decoded.nchannels
        audio = np.asarray(decoded.samples, dtype=np.float32).reshape(-1, channels)
        stem = path.stem

    out_dir: Path = args.output
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = [out_dir / f"{stem}_s{args.seed}_v{k:03d}.wav" for k in range(args.n)]
    if not args.force:
        existing = [t for t in targets if t.exists()]
        if existing:
            raise AudioFileError(
                f"{existing[0]} exists (and {len(existing) - 1} more); use --force to overwrite"
            )
    if not is_generator and any(t.resolve() == path.resolve() for t in targets):
        raise AudioFileError(f"output {path} would overwrite the source")

    for k, target in enumerate(targets):
        meta: dict[str, object] = {"generated": True, "seed": args.seed, "variation": k}
        if is_generator:
            gen = create_generator(source, sample_rate=args.rate, seed=args.seed, params=params, variation=k)
            y = _render_generator(gen, args.seconds)
            meta.update(generator=source, generator_version=VERSION, params=gen.params)
            sr, ch = args.rate, 2
        else:
            y, drawn = vary_sample(audio, rate, args.seed, k, amounts)
            meta.update(source=path.name, method="sample-variation", generator_version=VERSION, **drawn)
            sr, ch = rate, channels
        with WavSink(target, sr, ch, args.format, meta) as sink:
            sink.write(y)
        print(f"wrote {target} ({y.shape[0] / sr:.2f} s)")
    return 0
