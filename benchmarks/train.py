"""Training throughput and peak memory of the OpenMind trainer, with its peers in the same run.

CPU (always): the tiny default (`openmind/configs/tiny.yaml`: five modes, batch 16 each) on the shapes world, three ways:

    per-mode        the trainer: each mode's backward right after its forward
    summed          all five losses summed, one backward (what the trainer avoids)
    checkpointing   the trainer with gradient_checkpointing=true

    samples/s (median over timed steps), the peak of one step from the profiler's memory timeline, and the
    `openmind.memory` estimate of that peak — ratios against per-mode.

Speed (`--speed`): the tiny default as `python -m openmind.train` runs it, four (or more) trainers built alike from one seed
and stepped in turn, 5 steps each (one of them a `layout` step), so the machine's drift falls on all alike:

    made            data_cache=false, every grounding slot, overlap=false: every batch decoded, processed and tokenized when it is
                    drawn, the adapter's tokens padded to max_boxes (30), one mode after another (the path before all three)
    kept            data_cache=auto: each item made on first use and kept (exact: the same batches); 30 slots, one after another
    kept+slots      ... and the adapter's slots as many as the batch's fullest scene needs (exact: padding slots are masked)
    kept+slots+overlap  ... and the layout mode's forward and backward in a second thread beside the other modes, one thread
                    each (overlap=true; the default `auto` chooses it where timing says it pays) — the default on such a CPU
    kept+compile    kept+slots, and every LLM decoder layer and vision encoder layer compiled (`Module.compile(dynamic=True)`)
    kept+bf16       kept+slots, each step under torch.autocast('cpu', bfloat16), what mixed_precision=bf16 does on a CPU (one process
                    holds one Accelerator state, so the variant autocasts itself); pays on CPUs with bf16 dot products (AVX512-BF16, AMX)

    steps/s over the timed steps, after `--warm` steps each, every kept item made beforehand (the
    steady state; making them all once is timed and reported: a run pays it over its first epochs);
    seconds per step by part (drawing batches, each mode's forward + backward, clipping + AdamW); the losses at step 1
    (made and kept agree to two-thread rounding) and at the last step; and, once, what a run pays besides steps: imports, setup, an evaluation, a checkpoint.

GPU (when CUDA is available): the full-size preset's architecture (SigLIP so400m + Llama-3-8B, frozen, bf16, random
weights, built from `openmind.memory.KNOWN_ARCHS` — no download) on the same shapes data, batch 1 and doubling until
out of memory: step time, tokens/s, MFU (`openmind.memory.flops_per_token` / `peak_flops`), peak memory
(`torch.cuda.max_memory_allocated`) and the estimate.

    python benchmarks/train.py            # CPU part; GPU part too when CUDA is available
    python benchmarks/train.py --speed    # the default run's steps/s with its items made every step vs kept (data_cache), by part
    python benchmarks/train.py --speed --compile   # ... and kept + torch.compile of every LLM and encoder layer
    python benchmarks/train.py --lanes    # each lane of an overlapped step on one thread: FLOPs, GFLOP/s, kernels, bare peers
    python benchmarks/train.py --quick    # fewer steps
    python benchmarks/train.py --gpu-dry-run   # the GPU part's code on the CPU, small model, batch 1 (about a minute)
"""
import argparse, os, platform, statistics, subprocess, sys, time
from pathlib import Path
import torch
os.environ.setdefault('TQDM_DISABLE', '1')
from transformers.utils import logging as hf_logging
from openmind import shapes
from openmind.memory import estimate, profile_memory, KNOWN_ARCHS
from openmind.model import OpenMind, TINY_DIR
from openmind.config import resolve_config
from openmind.trainer import Trainer

hf_logging.disable_progress_bar(); hf_logging.set_verbosity_error()
DATA = Path('data/shapes')


def summed_step(tr, window):
    "All modes' weighted losses summed, then one backward."
    with tr.acc.autocast():
        loss = sum(tr.weights[m] * tr.model(m, **{k: v.to(tr.acc.device) if torch.is_tensor(v) else v for k, v in b.items()}).loss
                   for mb in window for m, b in mb.items()) / sum(tr.weights.values())
    tr.acc.backward(loss); tr.acc.clip_grad_norm_(tr.params, 1.0); tr.opt.step(); tr.opt.zero_grad(set_to_none=True)


def timed(tr, step, n, warmup=2):
    "Median seconds per step and samples per step."
    times = []
    for k in range(warmup + n):
        window = [{m: next(s) for m, s in tr.streams.items()} for _ in range(tr.c.accumulation)]
        if tr.acc.device.type == 'cuda': torch.cuda.synchronize()
        t0 = time.perf_counter(); step(tr, window)
        if tr.acc.device.type == 'cuda': torch.cuda.synchronize()
        if k >= warmup: times.append(time.perf_counter() - t0)
    return statistics.median(times), sum(len(b['input_ids']) for b in window[0].values()) * tr.c.accumulation, window


def cpu(n):
    shapes.ensure_shapes(DATA)
    base = resolve_config('tiny', ['out=/tmp/openmind-bench'])
    rows = []
    for name, c, step in [('per-mode', base, Trainer.train_step), ('summed', base, summed_step),
                          ('checkpointing', base.model_copy(update={'gradient_checkpointing': True}), Trainer.train_step)]:
        torch.manual_seed(0); tr = Trainer(c).setup_data()
        sec, samples, window = timed(tr, step, n)
        _, tl = profile_memory(lambda: step(tr, window))
        est = estimate(c, device='cpu').peak(per_mode=name != 'summed')
        rows.append((name, samples / sec, tl.peak, est))
    print(f"\n### CPU: tiny default, 5 modes × batch 16 ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__})\n")
    print('| variant | samples/s | vs per-mode | peak MiB (profiler) | vs per-mode | estimated peak MiB | estimate / measured |')
    print('|---|---|---|---|---|---|---|')
    for name, sps, peak, est in rows:
        print(f'| {name} | {sps:.1f} | {sps / rows[0][1]:.2f}x | {peak / 2**20:.1f} | {peak / rows[0][2]:.2f}x | {est / 2**20:.1f} | {est / peak:.2f} |')


def parted(tr, autocast=None):
    "Wrap a trainer so each step's time is recorded by part: drawing batches, each mode's forward + backward, the rest."
    tr.parts, inner, acc_inner = {}, tr._backward, tr.accumulate
    def backward(m, *a):   # under overlap, `layout` runs in its own thread: its time overlaps the other modes'
        t = time.perf_counter(); v = inner(m, *a); tr.parts[m] = tr.parts.get(m, 0.0) + time.perf_counter() - t; return v
    def accumulate(window):
        t = time.perf_counter(); r = acc_inner(window); tr.parts['forward + backward'] = tr.parts.get('forward + backward', 0.0) + time.perf_counter() - t; return r
    tr._backward, tr.accumulate = backward, accumulate
    def step():
        c, t0 = tr.c, time.perf_counter()
        window = [{m: next(tr.streams[m]) for m in tr.streams if tr.step % c.modes[m].every == 0} for _ in range(c.accumulation)]
        t1 = time.perf_counter(); before = tr.parts.get('forward + backward', 0.0)
        with torch.autocast('cpu', autocast, enabled=autocast is not None): log = tr.train_step(window)
        t2 = time.perf_counter()
        tr.parts['data'] = tr.parts.get('data', 0.0) + t1 - t0
        tr.parts['clip + AdamW'] = tr.parts.get('clip + AdamW', 0.0) + (t2 - t1) - (tr.parts['forward + backward'] - before)
        return log, t2 - t0
    return step


def make_every_item(tr):
    "Every kept item of every mode made now, as a run makes them over its first epochs."
    for st in tr.streams.values():
        for i in range(len(st.ds)): st.ds[i]


def speed(steps, warm, compile_=False, bf16=False, block=5):
    shapes.ensure_shapes(DATA)
    t0 = time.perf_counter(); subprocess.run([sys.executable, '-c', 'import openmind.trainer'], check=True); imports = time.perf_counter() - t0
    seq = ['overlap=false']   # each variant: name, overrides, and whether every grounding slot is padded (as before slots were trimmed)
    variants = [('made', ['data_cache=false', *seq], True), ('kept', seq, True), ('kept+slots', seq, False), ('kept+slots+overlap', ['overlap=true'], False)] \
               + ([('kept+compile', seq, False)] if compile_ else []) + ([('kept+bf16', seq, False)] if bf16 else [])
    trs, setup, fill = {}, {}, {}
    for name, ov, all_slots in variants:
        t0 = time.perf_counter(); torch.manual_seed(0)
        tr = Trainer(resolve_config('tiny', ['out=/tmp/openmind-speed-' + name, *ov])).setup_data()
        if all_slots: tr.layout.slots = tr.layout.adapter.config.max_boxes
        if name.endswith('compile'):
            for layer in [*tr.model.base_llm.model.layers, *tr.model.encoder.tower.encoder.layers]: layer.compile(dynamic=True)
        trs[name] = (tr, parted(tr, torch.bfloat16 if name.endswith('bf16') else None)); setup[name] = time.perf_counter() - t0
        if tr.kept.get('captioning'):   # every kept item made now, as a run makes them over its first epochs: the steps timed are the steady state
            t0 = time.perf_counter(); make_every_item(tr); fill[name] = time.perf_counter() - t0
    timed_s, logs, first, loss1 = {n: 0.0 for n in trs}, {}, {}, {}
    for k in range(0, warm + steps, block):
        for name, (tr, step) in trs.items():
            for _ in range(block):
                log, dt = step(); logs[name] = log
                if tr.step == 1: first[name], loss1[name] = dt, log['loss']
                if k >= warm: timed_s[name] += dt
            if k + block == warm: tr.parts.clear()   # parts over the timed steps only
    tr, _ = trs['kept+slots+overlap']
    t0 = time.perf_counter(); tr.evaluate(); ev = time.perf_counter() - t0
    t0 = time.perf_counter(); tr.save_checkpoint(); ck = time.perf_counter() - t0
    print(f"\n### Speed: the tiny default, {steps} timed steps each after {warm} ({platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__})\n")
    parts = ['data', *tr.streams, 'forward + backward', 'clip + AdamW']
    print('| variant | steps/s | vs made | vs kept | ' + ' | '.join(parts) + ' | loss at step 1 | at the last step |')
    print('|---|---|---|---|' + '---|' * (len(parts) + 2))
    base, kept = steps / timed_s['made'], steps / timed_s['kept']
    for name, (t, _) in trs.items():
        per = lambda p: f"{t.parts.get(p, 0.0) / steps:.3f}"
        print(f"| {name} | {steps / timed_s[name]:.3f} | {steps / timed_s[name] / base:.2f}x | {steps / timed_s[name] / kept:.2f}x | "
              + ' | '.join(per(p) for p in parts) + f" | {loss1[name]:.6f} | {logs[name]['loss']:.6f} |")
    print(f"\nseconds per step by part (mean over the timed steps; a mode's time is its forward + backward, averaged over all steps; "
          f"'forward + backward' is all modes' wall time, less than their sum where layout ran beside them)")
    print(f"once per run: imports {imports:.1f} s (a fresh `import openmind.trainer`), setup " + ', '.join(f'{n} {s:.1f} s' for n, s in setup.items())
          + '; making every kept item once ' + ', '.join(f'{n} {s:.1f} s' for n, s in fill.items()) + f"; first step " + ', '.join(f'{n} {s:.1f} s' for n, s in first.items()) + f"; an evaluation (eval_batches={tr.c.eval_batches}) {ev:.1f} s; a checkpoint {ck:.1f} s")


def lanes(steps=8):
    """The two lanes of an overlapped step on one thread each, alone and beside each other as `overlap` runs them: FLOPs (matmuls and
    convolutions: `torch.utils.flop_counter` has no formula for the CPU attention kernels), seconds, the kernels that take
    the time; and, in the same run, the peers that bound them on this core: bare matmuls of the language model's shapes, and the UNet's attention three ways beside `exp`
    alone over its scores (the least any exact attention does twice, forward and backward's recompute)."""
    import torch.nn.functional as F
    from torch.profiler import profile, ProfilerActivity
    from torch.utils.flop_counter import FlopCounterMode
    from torch.nn.attention import sdpa_kernel, SDPBackend
    shapes.ensure_shapes(DATA); torch.set_num_threads(1); torch.manual_seed(0)
    tr = Trainer(resolve_config('tiny', ['out=/tmp/openmind-lanes', 'overlap=true'])).setup_data()   # a lane alone runs on this thread
    make_every_item(tr)   # the steady state
    def lane(modes):   # one step's forwards and backwards of `modes`, those with `every: k` on their steps only
        tr.accumulate([{m: next(tr.streams[m]) for m in modes if tr.step % tr.c.modes[m].every == 0}])
        tr.opt.zero_grad(set_to_none=True); tr.step += 1
    def ms(fn, n=10):
        for _ in range(3): fn()
        t0 = time.perf_counter()
        for _ in range(n): fn()
        return (time.perf_counter() - t0) / n * 1e3
    print(f"\n### Lanes on one thread each ({platform.machine()}, torch {torch.__version__}): the tiny default's step, {steps} timed steps\n")
    print('| lane | s a step | GFLOP a step (matmuls, convolutions) | GFLOP/s | where the time goes (self time, PyTorch profiler) |\n|---|---|---|---|---|')
    secs, gflop, model = {}, {}, [m for m in tr.streams if m != 'layout']
    for name, modes in [('model modes', model), ('layout', ['layout'])]:
        for _ in range(4): lane(modes)
        with FlopCounterMode(display=False) as fc: lane(modes); lane(modes)   # two steps: `every: 2` modes once
        secs[name], gflop[name] = ms(lambda: lane(modes), steps) / 1e3, fc.get_total_flops() / 2e9
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(3): lane(modes)
        ka = {e.key: e.self_cpu_time_total for e in prof.key_averages()}; tot = sum(ka.values())
        top = ', '.join(f"{k.removeprefix('aten::')} {v / tot:.0%}" for k, v in sorted(ka.items(), key=lambda kv: -kv[1])[:5])
        print(f"| {name} | {secs[name]:.3f} | {gflop[name]:.1f} | {gflop[name] / secs[name]:.1f} | {top} |")
    both = ms(lambda: lane([*model, 'layout']), steps) / 1e3   # the counters see one thread only: FLOPs are the lanes' sum
    print(f"| both beside each other, on two cores (the overlapped step) | {both:.3f} | {sum(gflop.values()):.1f} | {sum(gflop.values()) / both:.1f} | |")
    packed = sum(secs.values()) / 2
    print(f"\nthe least a step can take on two cores, both lanes perfectly packed: {packed:.3f} s ({1 / packed:.2f} steps/s); "
          f"the overlapped step took {both / packed:.2f}x that")
    print('\nbare matmuls of the language model\'s shapes, one thread: ' + ', '.join(
        f"{M}x{K}x{N} {2 * M * K * N / ms(lambda: a @ b, 30) / 1e6:.0f} GFLOP/s"
        for M, K, N in [(1000, 128, 512), (1000, 512, 128), (512, 1000, 128)] for a, b in [(torch.randn(M, K), torch.randn(K, N))]))
    B, H, D = 16, 8, 8   # the UNet's attention at batch 16: 8 heads of 8 channels, in diffusers' (B, L, H*D) layout
    def qkv(L, Lk): return [torch.randn(B, l, H * D).view(B, l, H, D).transpose(1, 2).requires_grad_() for l in (L, Lk, Lk)]
    def math_kernel(q, k, v):
        with sdpa_kernel(SDPBackend.MATH): return F.scaled_dot_product_attention(q, k, v)
    def written(q, k, v): return torch.softmax(q @ k.transpose(-1, -2) * D ** -0.5, -1) @ v
    print('\n| UNet attention, batch 16, forward + backward, ms | flash (what PyTorch picks) | math | written out | exp over the scores |\n|---|---|---|---|---|')
    for L, Lk, what in [(256, 256, 'self-attention at 16 x 16'), (256, 77, 'cross-attention at 16 x 16 to 77 text tokens'), (64, 64, 'self-attention at 8 x 8')]:
        q, k, v = qkv(L, Lk); s = torch.randn(B, H, L, Lk); o = torch.empty_like(s)
        row = [ms(lambda: f(q, k, v).sum().backward()) for f in (F.scaled_dot_product_attention, math_kernel, written)]
        print(f"| {what} | " + ' | '.join(f'{x:.1f}' for x in row) + f" | {ms(lambda: torch.exp(s, out=o)):.1f} |")


DRY_LLM = dict(hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
DRY_VISION = dict(image_size=384, patch_size=14, hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4)


def full_model(dry_run=False):
    """SigLIP so400m + Llama-3-8B shapes, random weights, bf16 backbones, fp32 new parts, built on the GPU.
    `dry_run`: the same towers 2 layers deep and narrow, on the CPU (so400m's 729 patches, Llama-3's vocabulary)."""
    llm = KNOWN_ARCHS['meta-llama/Meta-Llama-3-8B-Instruct']
    torch.manual_seed(0); prev = torch.get_default_dtype(); torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device('cpu' if dry_run else 'cuda'):
            m = OpenMind.from_config('llama3-8b', llm={**llm, **DRY_LLM} if dry_run else llm, tokenizer=str(TINY_DIR / 'tokenizer'),
                                     vision=DRY_VISION if dry_run else 'siglip-so400m-384', cond='tiny', cond_dim=64)
    finally: torch.set_default_dtype(prev)
    for p in m.new_parameters().values(): p.data = p.data.float()
    return m


def gpu(n, dry_run=False):
    "`dry_run`: the same code on the CPU, a small model, batch 1 only (checks the path; its numbers mean nothing)."
    shapes.ensure_shapes(DATA)
    model, rows = full_model(dry_run), []
    name = 'cpu (dry run)' if dry_run else torch.cuda.get_device_name()
    for bs in (1,) if dry_run else (1, 2, 4, 8, 16, 32):
        c = resolve_config('llama3-8b', ['out=/tmp/openmind-bench-gpu', 'accumulation=1', 'num_workers=2',
             *[f'modes.{m}.batch_size={bs}' for m in ('captioning', 'vqa', 'grounding', 'retrieval', 'generation')]])
        try:
            if not dry_run: torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
            tr = Trainer(c, model=model).setup_data()
            sec, samples, window = timed(tr, Trainer.train_step, n)
            speed = tr._speed(window, sec)
            est = estimate(c.model_copy(update={'model_args': {'llm': 'meta-llama/Meta-Llama-3-8B-Instruct', 'vision': 'google/siglip-so400m-patch14-384',
                                                  'cond': 'tiny', 'cond_dim': 64}}), device='cuda')
            rows.append((bs, sec, speed['tokens_per_s'], speed.get('mfu'), 0 if dry_run else torch.cuda.max_memory_allocated(), est.peak()))
            del tr
        except torch.OutOfMemoryError:
            break
    arch = 'the same shapes 2 layers deep and narrow' if dry_run else 'SigLIP so400m + Llama-3-8B'
    print(f"\n### GPU: {name}, {arch} (frozen, bf16, random weights), 5 modes, gradient checkpointing\n")
    print('| batch per mode | step s | steps/s | tokens/s | MFU | peak GiB (max_memory_allocated) | estimated GiB |')
    print('|---|---|---|---|---|---|---|')
    for bs, sec, tps, mfu, peak, est in rows:
        print(f"| {bs} | {sec:.3f} | {1 / sec:.2f} | {tps:.0f} | {'n/a' if mfu is None else f'{mfu:.1%}'} | {peak / 2**30:.1f} | {est / 2**30:.1f} |")


if __name__ == '__main__':
    p = argparse.ArgumentParser(); p.add_argument('--quick', action='store_true'); p.add_argument('--gpu-only', action='store_true')
    p.add_argument('--gpu-dry-run', action='store_true', help="run the GPU part's code on the CPU with a small model, batch 1, one timed step")
    p.add_argument('--speed', action='store_true', help="only the speed part: items made every step vs kept, by part")
    p.add_argument('--steps', type=int, default=100, help='--speed: timed steps per variant'); p.add_argument('--warm', type=int, default=5)
    p.add_argument('--compile', action='store_true', help='--speed: also kept + torch.compile of the LLM and encoder layers')
    p.add_argument('--bf16', action='store_true', help='--speed: also kept + mixed_precision=bf16 (autocast on the CPU)')
    p.add_argument('--lanes', action='store_true', help="only the two lanes of an overlapped step on one thread each: FLOPs, seconds, kernels, and their bare peers")
    a = p.parse_args()
    if a.lanes: lanes(); sys.exit()
    if a.speed: speed(a.steps, a.warm, a.compile, a.bf16); sys.exit()
    if not (a.gpu_only or a.gpu_dry_run): cpu(3 if a.quick else 10)
    if a.gpu_dry_run: gpu(1, dry_run=True)
    elif torch.cuda.is_available(): gpu(3 if a.quick else 10)
