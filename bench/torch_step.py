"""The benchmark model's training step in PyTorch, for a side-by-side comparison.

Same architecture as adapterkit's CharLM (pre-LN decoder, exact GELU, learned positions,
separate q/k/v/out projections), same shapes, AdamW. Prints one JSON object.
Usage: python3 bench/torch_step.py --threads 1 --reps 5
"""
import argparse, json, math, os, statistics, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x, mask):
        b, t, d = x.shape
        split = lambda y: y.view(b, t, self.h, d // self.h).transpose(1, 2)
        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        s = q @ k.transpose(-2, -1) / math.sqrt(d // self.h) + mask
        y = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
        return self.out_proj(y)


class LinearAdapter(nn.Module):
    """NeMo's LinearAdapter, pre-norm: LN, down, swish, up (zero init)."""

    def __init__(self, d, dim):
        super().__init__()
        self.module = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, dim, bias=False), nn.SiLU(), nn.Linear(dim, d, bias=False))
        nn.init.zeros_(self.module[3].weight)

    def forward(self, x):
        return x + self.module(x)


class LoraLinear(nn.Module):
    """PEFT's lora.Linear: the frozen base plus scaling·B(A(x)), A Kaiming-uniform, B zero."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base, self.scaling = base, alpha / r
        self.lora_A = nn.Linear(base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)
        nn.init.zeros_(self.lora_B.weight)

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scaling


class Block(nn.Module):
    def __init__(self, d, h, ff):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.self_attn = Attention(d, h)
        self.fc1, self.fc2 = nn.Linear(d, ff), nn.Linear(ff, d)
        self.adapter = None

    def forward(self, x, mask):
        x = x + self.self_attn(self.norm1(x), mask)
        x = x + self.fc2(F.gelu(self.fc1(self.norm2(x))))
        return self.adapter(x) if self.adapter is not None else x


class CharLM(nn.Module):
    def __init__(self, vocab, d, layers, h, ff, max_len):
        super().__init__()
        self.tok_emb, self.pos_emb = nn.Embedding(vocab, d), nn.Embedding(max_len, d)
        self.blocks = nn.ModuleList(Block(d, h, ff) for _ in range(layers))
        self.norm, self.lm_head = nn.LayerNorm(d), nn.Linear(d, vocab)

    def forward(self, ids):
        t = ids.shape[1]
        mask = torch.full((t, t), float("-inf")).triu(1)
        x = self.tok_emb(ids) + self.pos_emb.weight[:t]
        for blk in self.blocks:
            x = blk(x, mask)
        return self.lm_head(self.norm(x))


def blas_library():
    """The BLAS shared library actually loaded into this process."""
    with open("/proc/self/maps") as f:
        libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
    return ", ".join(sorted(os.path.realpath(p) for p in libs)) or "unknown"


def time_steps(model, params, ids, targets, reps):
    opt = torch.optim.AdamW(params, lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(ids).reshape(-1, model.lm_head.out_features), targets.reshape(-1))
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    times, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return statistics.median(times), statistics.median(cpu)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--vocab", type=int, default=96)
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--d-ff", type=int, default=1024)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--adapter-dim", type=int, default=32)
    ap.add_argument("--lora-r", type=int, default=8)
    ap.add_argument("--lora-alpha", type=int, default=16)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = CharLM(a.vocab, a.d_model, a.layers, a.heads, a.d_ff, a.seq_len)
    ids = torch.randint(0, a.vocab, (a.batch, a.seq_len))
    targets = torch.randint(0, a.vocab, (a.batch, a.seq_len))
    full, full_cpu = time_steps(model, list(model.parameters()), ids, targets, a.reps)
    for p in model.parameters():
        p.requires_grad_(False)
    for blk in model.blocks:
        blk.adapter = LinearAdapter(a.d_model, a.adapter_dim)
    adapter_params = [p for blk in model.blocks for p in blk.adapter.parameters()]
    adapter, adapter_cpu = time_steps(model, adapter_params, ids, targets, a.reps)
    # LoRA on q_proj and v_proj of every block (the adapters above removed, the base still frozen).
    for blk in model.blocks:
        blk.adapter = None
        attn = blk.self_attn
        attn.q_proj, attn.v_proj = (LoraLinear(m, a.lora_r, a.lora_alpha) for m in (attn.q_proj, attn.v_proj))
    lora_params = [p for n, p in model.named_parameters() if "lora_" in n]
    lora, lora_cpu = time_steps(model, lora_params, ids, targets, a.reps)
    print(json.dumps({"threads": a.threads, "fullStepMs": full, "adapterStepMs": adapter, "fullStepCpuMs": full_cpu, "adapterStepCpuMs": adapter_cpu, "loraStepMs": lora, "loraStepCpuMs": lora_cpu, "blas": blas_library(), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
