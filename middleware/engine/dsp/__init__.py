"""DSP kernels of the engine: pure functions over numpy arrays, per-sample loops compiled by numba.

Every kernel takes (input block, parameters, caller-owned state arrays), updates the state in place and
gives the same output whether a signal is processed in one call or split into blocks of any length.
Blocks are float32 ``(frames, 2)``; state and arithmetic are float64. Validation (raising EngineError)
happens in the Python-level constructors and coefficient functions, never inside the kernels.

Modules (imported explicitly, not re-exported here, so importing one kernel does not load them all):

- ``filters``  RBJ biquads and one-pole low/high-pass with per-sample coefficient ramps
- ``reverb``   Freeverb-style stereo reverb (``Reverb`` class around one kernel)
- ``limiter``  look-ahead brick-wall limiter (``Limiter``, ``latency_frames``)
- ``resample`` load-time Kaiser windowed-sinc resampler
- ``pan``      equal-power pan law and distance attenuation curves
- ``spatial``  listener geometry, Doppler, Brown-Duda spherical-head binaural renderer
- ``dynamics`` envelope follower and ducking curve
"""
