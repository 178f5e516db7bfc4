"""Teach mode: keep the mix the designer set as an example, retrain the director, accept or discard.

- **keep**: the director's inputs as the daemon last evaluated them (``director_tick`` telemetry)
  and the weights the designer chose become one line of the scene's examples file (the director's
  ``examples`` when it is JSON lines, else ``<scene>.teach.jsonl``), checked like training checks.
- **train**: ``soundscape train director`` runs in a background process writing a *candidate*
  model beside the current one (``director.v3.onnx``: a new file, never the shipped model); its
  progress bar is parsed for the page, and its card's leave-one-out section (model vs the nearest-
  example and inverse-distance baselines) is shown when it ends.
- **accept**: the scene's ``director: model:`` value (only that scalar, as ``soundscape train
  --use`` does) is pointed at the candidate; the studio's hot reload then sends ``load_scene`` and
  the daemon loads the new model, whose name and version appear on the layer weights.
- **discard**: the candidate and its card are deleted.

Every file written stays inside the scene's folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from ..commands._common import UsageError
from ..commands.train import model_line, use_model
from ..errors import ProtocolError
from ..ml.cards import card_path, plan_output, read_card, utc_now
from ..ml.examples import FeatureSpec, teach_path

STEPS_RANGE = (50, 20000)  # optimiser steps the page may ask for
_PROGRESS = re.compile(r"(train director|leave-one-out)\s*\[[#-]*\]\s*([\d.]+)%")


class Teach:
    """The studio extension behind the Teach tab (``ops`` are its WebSocket commands)."""

    ops = ("teach_keep", "teach_train", "teach_accept", "teach_discard", "teach_ab")

    def __init__(self, studio: Any) -> None:
        self.studio = studio
        self.state: dict[str, Any] = {"phase": "idle", "kept": 0, "progress": 0.0, "stage": "", "ab": "model"}
        self._proc: asyncio.subprocess.Process | None = None
        self.candidate: Path | None = None
        self._watcher: asyncio.Future | None = None  # the task reading the training's progress

    # ------------------------------------------------------------------------------ plumbing
    def routes(self, app: Any) -> None:  # everything goes over the WebSocket
        return None

    def status(self) -> dict[str, Any]:
        return {**self.state, "steps_range": STEPS_RANGE}

    def _set(self, **kw: Any) -> None:
        self.state.update(kw)
        self.studio.bump()

    def _scene(self):
        panel = self.studio.panel
        if panel is None or panel.scene is None:
            raise ProtocolError("teach mode needs the scene file (soundscape studio SCENE.yaml)")
        if panel.scene.director is None:
            raise ProtocolError(f"scene '{panel.scene.name}' has no director section: nothing to teach")
        return panel.scene

    def _inside(self, path: Path) -> Path:
        root = self.studio.panel.root
        p = Path(path).resolve()
        if not p.is_relative_to(root):
            raise ProtocolError(f"{path}: outside the scene folder {root}; the studio writes only inside it")
        return p

    async def handle(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        return await getattr(self, op[len("teach_") :])(args)

    # ------------------------------------------------------------------------------ keep
    def examples_file(self) -> Path:
        scene = self._scene()
        d = scene.director
        if d.examples is not None and Path(d.examples).suffix.lower() == ".jsonl":
            return self._inside(scene.root / d.examples)
        return self._inside(teach_path(scene))

    def current_inputs(self) -> dict[str, Any]:
        """The director's inputs now: what the daemon evaluated last, else telemetry and defaults."""
        scene = self._scene()
        latest = self.studio.link.latest
        tick = latest.get("director_tick") or {}
        tel = latest.get("scene") or {}
        env: dict[str, Any] = dict(scene.default_env())
        env.update(tel.get("params") or {})
        env.update(tel.get("states") or {})
        env.update(self.studio.switches)  # what the studio set, unless telemetry says what plays now
        env.update(tel.get("switches") or {})
        env.update(tick.get("inputs") or {})
        out = {}
        for name in scene.director.inputs:
            v = env.get(name)
            out[name] = round(v, 6) if isinstance(v, float) else v
        return out

    async def keep(self, args: dict[str, Any]) -> dict[str, Any]:
        scene = self._scene()
        d = scene.director
        weights = args.get("weights")
        if not isinstance(weights, dict) or not weights:
            raise ProtocolError("teach_keep: give weights {layer_uid: 0..1} for the director's outputs")
        clean = {}
        for uid, w in weights.items():
            if uid not in d.outputs:
                raise ProtocolError(
                    f"weight for '{uid}': not a director output; outputs: {', '.join(d.outputs)}"
                )
            if (
                isinstance(w, bool)
                or not isinstance(w, (int, float))
                or not math.isfinite(w)
                or not 0 <= w <= 1
            ):
                raise ProtocolError(f"weight '{uid}'={w!r}: must be a number within 0..1")
            clean[uid] = round(float(w), 6)
        inputs = args.get("inputs") or self.current_inputs()
        spec = FeatureSpec.from_scene(scene)
        for k, v in inputs.items():
            problem = spec.check_value(k, v)
            if problem:
                raise ProtocolError(problem)
        path = self.examples_file()
        line = json.dumps({"inputs": inputs, "weights": clean, "source": "studio", "time": utc_now()})
        await asyncio.get_running_loop().run_in_executor(None, _append_line, path, line)
        self._set(
            kept=self.state["kept"] + 1, last_kept={"inputs": inputs, "weights": clean, "file": path.name}
        )
        self.studio.link.note("teach", {"status": "kept", "file": path.name, "inputs": inputs})
        return {"file": path.name, "inputs": inputs, "weights": clean}

    # ------------------------------------------------------------------------------ train
    def current_model(self) -> Path:
        scene = self._scene()
        d = scene.director
        if d.model is None:
            raise ProtocolError(f"{scene.file.name}: director names no model: add 'model:' to train one")
        return Path(d.model) if Path(d.model).is_absolute() else scene.root / d.model

    def candidate_path(self) -> Path:
        """Where ``soundscape train`` will write: a new versioned file beside the current model
        (``cards.plan_output``: never an existing file), numbered by the trainer itself."""
        return self._inside(plan_output(self.current_model())[0])

    async def train(self, args: dict[str, Any]) -> dict[str, Any]:
        if self._proc is not None:
            raise ProtocolError("training is already running")
        scene = self._scene()
        steps = args.get("steps")
        if steps is not None and (
            not isinstance(steps, int) or not STEPS_RANGE[0] <= steps <= STEPS_RANGE[1]
        ):
            raise ProtocolError(
                f"steps={steps!r}: must be an integer within {STEPS_RANGE[0]}..{STEPS_RANGE[1]}"
            )
        cand = self.candidate_path()
        self.candidate = cand
        # no --out: the trainer picks this same next-version path and numbers it
        cmd = [sys.executable, "-m", "middleware.cli", "train", "director", str(scene.file)]
        if steps is not None:
            cmd += ["--steps", str(steps)]
        self._proc = await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        self._set(phase="training", progress=0.0, stage="train director", result=None, error=None,
                  candidate=cand.name)  # fmt: skip
        self._watcher = asyncio.ensure_future(self._watch(self._proc, cand))
        return {"candidate": cand.name}

    async def _watch(self, proc: asyncio.subprocess.Process, cand: Path) -> None:
        assert proc.stderr is not None and proc.stdout is not None
        tail = ""
        while chunk := await proc.stderr.read(256):
            tail = (tail + chunk.decode("utf-8", "replace"))[-4000:]
            found = _PROGRESS.findall(tail)
            if found:
                stage, pct = found[-1]
                self._set(stage=stage, progress=float(pct) / 100.0)
        out = (await proc.stdout.read()).decode("utf-8", "replace")
        code = await proc.wait()
        self._proc = None
        if code != 0 or not cand.is_file():
            err = [ln for ln in re.split(r"[\r\n]+", tail) if ln.strip() and not _PROGRESS.search(ln)]
            self._discard_files(cand)
            self._set(phase="failed", error=err[-1] if err else f"training exited with {code}")
            self.studio.link.note("teach", {"status": "training failed", "message": self.state["error"]})
            return
        card = read_card(cand)
        self._set(phase="trained", progress=1.0, result=_result(card, out))
        self.studio.link.note(
            "teach", {"status": "trained", "model": card.get("model"), "version": card.get("version")}
        )

    # ------------------------------------------------------------------------------ accept / discard
    async def accept(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.state.get("phase") != "trained" or self.candidate is None:
            raise ProtocolError("nothing to accept: train a candidate first")
        scene = self._scene()
        rel = self.candidate.relative_to(scene.root).as_posix()
        # the same one-value, atomic rewrite as `soundscape train --use`; the studio's watcher then
        # reloads the scene in the daemon, which loads the new model
        try:
            use_model(scene.file, scene.root, self.current_model(), self.candidate)
        except UsageError as exc:
            raise ProtocolError(str(exc)) from None
        accepted = self.candidate.name
        self.candidate = None
        self._set(phase="accepted", accepted=accepted)
        self.studio.link.note("teach", {"status": "accepted", "model": accepted})
        return {"model": rel}

    async def discard(self, args: dict[str, Any]) -> dict[str, Any]:
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
        if self.candidate is not None:
            self._discard_files(self.candidate)
        name = self.candidate.name if self.candidate else None
        self.candidate = None
        self._set(phase="idle", progress=0.0, result=None)
        self.studio.link.note("teach", {"status": "discarded", "model": name})
        return {"discarded": name}

    def _discard_files(self, cand: Path) -> None:
        for p in (cand, card_path(cand)):
            with contextlib.suppress(FileNotFoundError):
                self._inside(p).unlink()

    # ------------------------------------------------------------------------------ A/B
    async def ab(self, args: dict[str, Any]) -> dict[str, Any]:
        """Play the scene's rules (A) or its model (B) for comparison, over the protocol only:
        A loads a copy of the scene without its ``model:`` line (the runtime then plays the rules),
        B loads the scene file itself. The copy is a hidden file beside the scene, deleted once the
        daemon has loaded it; an edit of the scene (hot reload) plays the model again."""
        play = args.get("play")
        if play not in ("rules", "model"):
            raise ProtocolError(f"play={play!r}: must be 'rules' or 'model'")
        scene = self._scene()
        link = self.studio.link
        if play == "model":
            await asyncio.wrap_future(link.submit("load_scene", path=scene.file.name))
        else:
            _, start, end, text = model_line(scene.file, scene.root, self.current_model())
            a, b = text.rfind("\n", 0, start) + 1, text.find("\n", end)
            variant = text[:a] + text[(b + 1 if b >= 0 else len(text)) :]
            tmp = self._inside(scene.root / f".{scene.file.stem}.rules.yaml")
            tmp.write_text(variant, encoding="utf-8")
            try:
                await asyncio.wrap_future(link.submit("load_scene", path=tmp.name))
            finally:
                tmp.unlink(missing_ok=True)
        self._set(ab=play)
        link.note("teach", {"status": f"A/B: playing the {play}"})
        return {"playing": play}


def _append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    with open(path, "a", encoding="utf-8") as f:
        if text and not text.endswith("\n"):
            f.write("\n")
        f.write(line + "\n")


def _result(card: dict[str, Any], printed: str) -> dict[str, Any]:
    ev = card.get("evaluation") or {}
    return {
        "model": card.get("model"),
        "version": card.get("version"),
        "file": card.get("file"),
        "examples": (card.get("examples") or {}).get("count"),
        "train_mae": (card.get("training") or {}).get("train_mae"),
        "mae": ev.get("mae"),
        "mae_per_output": ev.get("mae_per_output"),
        "model_vs_baselines": ev.get("model_vs_baselines"),
        "wins_at": ev.get("model_wins_most_at"),
        "loses_at": ev.get("model_loses_most_at"),
        "report": printed.strip(),
    }


__all__ = ["Teach"]
