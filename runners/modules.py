"""One lock for building torch modules in this process.

diffusers' and transformers' `from_pretrained` build a model's modules under accelerate's
`init_empty_weights`, which patches `torch.nn.Module.register_parameter` for the whole process,
not for the calling thread: a module another thread builds meanwhile gets its parameters on the
meta device, without data. Beside a thread loading a tiny pipeline again and again, 777-895 of
3,000 `Conv2d`s built in the main thread had meta weights (tensors and buffers made meanwhile
were unaffected); so a runner injecting a LoRA while another runner loads its pipeline, or the
tiny models built beside a loading runner, got weights that are not there ("Cannot copy out of
meta tensor"). Every pipeline load, LoRA load or fuse and tiny-model build takes this lock;
inference does not build parameters and runs without it.
"""

from __future__ import annotations

import threading

BUILDING_MODULES = threading.RLock()
"""Held while torch modules are built or loaded (re-entrant: a load fuses adapters)."""
