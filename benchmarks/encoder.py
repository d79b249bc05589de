"""Images/s of OpenMind's VisionEncoder (+ Projector) against the bare transformers SiglipVisionModel, same weights,
same batch, same attention backend, in one run. On a GPU also: so400m in bf16, eager vs sdpa vs flash_attention_2
(and torch.compile), with peak memory.

    python benchmarks/encoder.py            # CPU: tiny and base-224; adds the GPU table when CUDA is available
    python benchmarks/encoder.py --quick    # fewer repeats
"""
import argparse, platform, statistics, time
import torch
from transformers import SiglipVisionConfig, SiglipVisionModel
from openmind.encoder import PRESETS, Projector, VisionEncoder


def timed(fn, x, reps, sync=lambda: None):
    "Median seconds of `fn(x)` over `reps` runs after one warm-up."
    with torch.no_grad():
        fn(x); sync()
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter(); fn(x); sync(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def pair(preset, batch, reps, device='cpu', dtype=torch.float32, backend='sdpa'):
    "The same weights as a bare tower and as VisionEncoder(feature_layer=None) [+ Projector], timed alternately."
    cfg = SiglipVisionConfig(**PRESETS[preset], vision_use_head=False)   # the encoder drops the pooling head; so does the peer
    cfg._attn_implementation = backend
    torch.manual_seed(0)
    bare = SiglipVisionModel(cfg).to(device, dtype).eval()
    enc = VisionEncoder(SiglipVisionModel(cfg), feature_layer=None, attn_implementation=backend).to(device, dtype)
    enc.tower.load_state_dict(bare.state_dict())
    enc2 = VisionEncoder(SiglipVisionModel(cfg), feature_layer=-2, attn_implementation=backend).to(device, dtype)
    proj = Projector(cfg.hidden_size, cfg.hidden_size).to(device, dtype)
    x = torch.randn(batch, 3, cfg.image_size, cfg.image_size, device=device, dtype=dtype)
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    fns = {'bare SiglipVisionModel': lambda x: bare(pixel_values=x).last_hidden_state,
           'VisionEncoder': enc, 'VisionEncoder + Projector': lambda x: proj(enc(x)),
           'VisionEncoder(-2) + Projector': lambda x: proj(enc2(x))}
    res = {k: [] for k in fns}
    for _ in range(3):                       # alternate rounds so drift hits all alike
        for k, f in fns.items(): res[k].append(timed(f, x, reps, sync))
    return {k: batch / statistics.median(v) for k, v in res.items()}


def cpu_table(quick):
    rows = []
    for preset, batch, reps in (('tiny', 64, 10 if quick else 30), ('siglip-base-224', 4, 2 if quick else 4)):
        r = pair(preset, batch, reps)
        base = r['bare SiglipVisionModel']
        for k, v in r.items(): rows.append((preset, batch, k, v, v / base))
    return rows


def gpu_table():
    rows = []
    backends = ['eager', 'sdpa']
    try: import flash_attn; backends.append('flash_attention_2')
    except ImportError: pass
    for backend in backends:
        torch.cuda.reset_peak_memory_stats()
        r = pair('siglip-so400m-384', 32, 10, 'cuda', torch.bfloat16, backend)
        peak = torch.cuda.max_memory_allocated() / 2**30
        for k, v in r.items(): rows.append((backend, k, v, peak))
    enc = VisionEncoder.from_config('siglip-so400m-384', feature_layer=-2).to('cuda', torch.bfloat16)
    comp = torch.compile(enc)
    x = torch.randn(32, 3, 384, 384, device='cuda', dtype=torch.bfloat16)
    rows.append(('sdpa + torch.compile', 'VisionEncoder(-2)', 32 / timed(comp, x, 10, torch.cuda.synchronize), torch.cuda.max_memory_allocated() / 2**30))
    return rows


if __name__ == '__main__':
    p = argparse.ArgumentParser(); p.add_argument('--quick', action='store_true'); a = p.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print("| preset | batch | model | images/s | vs bare tower |\n|---|---|---|---|---|")
    for preset, b, k, v, ratio in cpu_table(a.quick): print(f"| {preset} | {b} | {k} | {v:.1f} | {ratio:.3f} |")
    if torch.cuda.is_available():
        print(f"\nGPU: {torch.cuda.get_device_name()} — so400m-384, bf16, batch 32")
        print("| backend | model | images/s | peak GiB |\n|---|---|---|---|")
        for backend, k, v, peak in gpu_table(): print(f"| {backend} | {k} | {v:.1f} | {peak:.1f} |")
    else: print("\nno GPU: the so400m bf16 backend comparison was not run")
