"""One lock for loading models inside a server process.

transformers and diffusers build a model's modules on torch's meta device and then load the weights;
the switch to the meta device is process-global torch state, so two loads on two threads (a worker's
engine and the guard LLM, say) corrupt each other ("Cannot copy out of meta tensor"). Every in-process
model load that can overlap another takes this lock (a worker's engines, the guard); inference does
not. The screening classifier loads at server start under it too (in tests several servers share a
process, and one may start while another's worker loads its engine).
"""

import threading

MODEL_LOAD_LOCK = threading.Lock()
