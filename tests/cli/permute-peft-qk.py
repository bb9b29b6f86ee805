"""permute-peft-qk.py IN OUT N_HEADS N_KV_HEADS: copies the PEFT adapter directory IN to OUT with
the rows of every q_proj and k_proj lora_B put in llama.cpp's GGUF order (convert_hf_to_gguf.py
LlamaModel.permute: HF row h*hd + j*(hd/2) + i goes to row h*hd + 2i + j; k over the KV heads):
what an export that forgot to keep Hugging Face's row order would write.  Standard library only;
F32 tensors only."""
import json
import os
import shutil
import struct
import sys

src, dst, n_heads, n_kv = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.makedirs(dst, exist_ok=True)
shutil.copy(os.path.join(src, "adapter_config.json"), dst)
with open(os.path.join(src, "adapter_model.safetensors"), "rb") as f:
    blob = bytearray(f.read())
n = struct.unpack("<Q", blob[:8])[0]
header = json.loads(blob[8:8 + n])
moved = 0
for name, t in header.items():
    if name == "__metadata__" or not name.endswith("lora_B.weight"):
        continue
    heads = n_heads if ".q_proj." in name else n_kv if ".k_proj." in name else 0
    if not heads:
        continue
    assert t["dtype"] == "F32", name
    rows, r = t["shape"]
    start, end = (8 + n + o for o in t["data_offsets"])
    width = 4 * r
    old = [bytes(blob[start + i * width:start + (i + 1) * width]) for i in range(rows)]
    hd = rows // heads
    for h in range(heads):
        for i in range(hd // 2):
            for j in range(2):
                row = h * hd + 2 * i + j
                blob[start + row * width:start + (row + 1) * width] = old[h * hd + j * (hd // 2) + i]
    assert end == start + rows * width, name
    moved += 1
with open(os.path.join(dst, "adapter_model.safetensors"), "wb") as f:
    f.write(blob)
print("permuted the rows of %d lora_B matrices" % moved)
