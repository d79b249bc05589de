"""Time-to-first-token and decode tokens/s of `OpenMind.answer()` with the three projectors, same vision tower, same
LLM, same weights, same run:

    mlp            every patch is a token (729 for SigLIP so400m-384)
    token_pooling  2 x 2 average pooling   (196)
    pixel_shuffle  3 x 3 space-to-depth     (81)

Sizes: `tiny` (the CPU preset: 64 patches → 64 / 16 / 9 tokens), `small` (so400m's 27 x 27 patch grid on a narrow
2-layer tower, a 512-wide 4-layer Qwen2: the real token counts at CPU cost) and, on a GPU, `full` (SigLIP so400m +
a Llama-3-8B-shaped LLM, random weights, bf16).

    python benchmarks/model.py                 # CPU tiny + small; adds full when CUDA is available
    python benchmarks/model.py --quick         # fewer repeats
"""
import argparse, platform, statistics, time
import numpy as np, torch
from openmind import shapes
from openmind.model import OpenMind, TINY_DIR

KINDS = (('mlp', 1), ('token_pooling', 2), ('pixel_shuffle', 3))
SMALL_VISION = dict(image_size=384, patch_size=14, hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=4)
SMALL_LLM = dict(model_type='qwen2', hidden_size=512, intermediate_size=1408, num_hidden_layers=4, num_attention_heads=8,
                 num_key_value_heads=2, max_position_embeddings=2048)
FULL_LLM = dict(model_type='llama', hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                num_key_value_heads=8, max_position_embeddings=8192, rope_theta=500000.0)
SIZES = {'tiny': dict(vision='tiny', llm='tiny'),
         'small': dict(vision=SMALL_VISION, llm=SMALL_LLM, tokenizer=str(TINY_DIR / 'tokenizer')),
         'full': dict(vision='siglip-so400m-384', llm=FULL_LLM, tokenizer=str(TINY_DIR / 'tokenizer'))}


def build(size, kind, factor, device, dtype):
    "One model per projector kind; every kind gets the same vision tower and LLM weights (seed 0)."
    torch.manual_seed(0)
    prev = torch.get_default_dtype(); torch.set_default_dtype(dtype)
    try:
        with torch.device(device):   # an 8B model is built where it runs, in its dtype
            m = OpenMind.from_config('tiny', projector=kind, projector_factor=factor, **SIZES[size])
    finally: torch.set_default_dtype(prev)
    return m.to(device, dtype).eval()


def timed(fn, reps, sync):
    fn(); sync(); ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); sync(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def measure(size, reps, device='cpu', dtype=torch.float32, new_tokens=32):
    image = shapes.render(shapes.sample_scene(np.random.default_rng(0)))
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    rows = []
    for kind, factor in KINDS:
        m = build(size, kind, factor, device, dtype)
        ask = lambda n: m.answer(image, 'how many objects are there?', max_new_tokens=n, min_new_tokens=n)
        ttft = timed(lambda: ask(1), reps, sync)
        total = timed(lambda: ask(new_tokens + 1), max(1, reps // 2), sync)
        rows.append(dict(size=size, kind=kind, tokens=m.n_image_tokens, ttft=ttft, decode=new_tokens / (total - ttft)))
        del m
        if device == 'cuda': torch.cuda.empty_cache()
    base = rows[0]
    for r in rows: r['ttft_speedup'], r['reduction'] = base['ttft'] / r['ttft'], base['tokens'] / r['tokens']
    return rows


def table(rows, absolute):
    head = "| size | projector | image tokens | token reduction | TTFT speed-up vs mlp | decode speed vs mlp |"
    if absolute: head += " TTFT ms | decode tok/s |"
    print(head + "\n" + "|---" * (head.count('|') - 1) + "|")
    base = {r['size']: r['decode'] for r in rows if r['kind'] == 'mlp'}
    for r in rows:
        line = (f"| {r['size']} | {r['kind']} | {r['tokens']} | {r['reduction']:.2f}x | {r['ttft_speedup']:.2f}x | "
                f"{r['decode'] / base[r['size']]:.2f}x |")
        if absolute: line += f" {r['ttft'] * 1e3:.1f} | {r['decode']:.1f} |"
        print(line)


if __name__ == '__main__':
    p = argparse.ArgumentParser(); p.add_argument('--quick', action='store_true'); a = p.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    reps = 3 if a.quick else 9
    table(measure('tiny', 3 * reps) + measure('small', max(2, reps // 3)), absolute=False)   # tiny runs are ms-long: more repeats
    if torch.cuda.is_available():
        print(f"\nGPU: {torch.cuda.get_device_name()} — SigLIP so400m-384 + Llama-3-8B-shaped LLM, random weights, bf16, batch 1")
        table(measure('full', 5, 'cuda', torch.bfloat16), absolute=True)
    else: print("\nno GPU: the full-size (so400m + 8B, bf16) rows were not run")
