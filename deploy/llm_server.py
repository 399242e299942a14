"""Serves a GGUF model over llama.cpp's OpenAI-compatible HTTP API, from the xllamacpp wheel.

Usage: llm_server.py MODEL.gguf PORT [CONTEXT_TOKENS]

xllamacpp starts the server inside this process, so the process only has to stay alive;
SIGTERM or SIGINT stops it.
"""

import signal
import sys

import xllamacpp


def main() -> None:
    model, port = sys.argv[1], int(sys.argv[2])
    context = int(sys.argv[3]) if len(sys.argv) > 3 else 8192
    params = xllamacpp.CommonParams()
    params.model.path = model
    params.port = port
    params.n_ctx = context
    # Two cores here: one request decodes at a time, and more threads than cores only contend.
    params.cpuparams.n_threads = 2
    params.cpuparams_batch.n_threads = 2
    server = xllamacpp.Server(params)
    print(f"llm_server: {model} at {server.listening_address}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
