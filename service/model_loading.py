"""One lock for loading models inside a server process.

transformers and diffusers build a model's modules on torch's meta device and then load the weights;
the switch to the meta device is process-global torch state, so two loads on two threads (a worker's
engine and the guard LLM, say) corrupt each other ("Cannot copy out of meta tensor"). Every in-process
model load in the service takes this lock; inference does not.
"""

import threading

MODEL_LOAD_LOCK = threading.Lock()
