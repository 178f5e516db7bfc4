"""Accessibility: player hearing profiles and the processing that adapts the mix to them (issue 17).

- ``profile``       the player profile (audiogram, mono, dynamic-range mode, bus volumes, dialogue boost):
                    every field's range and default declared once, loaded from YAML/JSON or a msgpack map
- ``prescription``  audiogram -> insertion gains by a published fitting rule (NAL-R, half-gain)
- ``compensation``  ``HearingCompensation``, the master-chain effect instance, and ``apply_profile`` for
                    offline renders; its kernels live in ``middleware/engine/dsp/hearing.py``

This package sits above the engine: it imports engine DSP kernels, the engine never imports it.
"""
